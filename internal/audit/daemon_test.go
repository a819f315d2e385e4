package audit_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/audit"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// testDaemon is a second dockerd started by the test (testutil.Dockerd:
// its own network namespace, data root, exec root, pidfile and unix
// socket DIR/d.sock). Its TCP listener, if any, is on 127.0.0.1 inside
// that namespace.
type testDaemon struct {
	dir  string
	sock string
	pid  int
}

// startDaemon starts dockerd with args; daemonJSON, when not nil, is
// written to DIR/daemon.json and passed with --config-file. "DIR" in args
// and in daemonJSON strings is replaced by the daemon's directory.
func startDaemon(t *testing.T, args []string, daemonJSON map[string]any) *testDaemon {
	t.Helper()
	d := testutil.NewDockerd(t, args...)
	if daemonJSON != nil {
		b, err := json.Marshal(daemonJSON)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(d.Dir, "daemon.json")
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(b), "DIR", d.Dir)), 0o644); err != nil {
			t.Fatal(err)
		}
		d.Args = append(d.Args, "--config-file", p)
	}
	d.Start(t)
	return &testDaemon{dir: d.Dir, sock: d.Sock, pid: d.PID}
}

// writeTLS writes a CA, a server certificate for 127.0.0.1 and its key
// into dir with the modes the CIS benchmark asks for.
func writeTLS(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	c := testutil.NewCA(t, "lockdown test CA")
	srv := c.Issue(t, "127.0.0.1", x509.ExtKeyUsageServerAuth, "127.0.0.1")
	return testutil.WriteFile(t, dir, "ca.pem", c.CertPEM(), 0o444), testutil.WriteFile(t, dir, "cert.pem", srv.CertPEM(), 0o444),
		testutil.WriteFile(t, dir, "key.pem", srv.KeyPEM(t), 0o400)
}

func auditDaemon(t *testing.T, d *testDaemon) *model.Report {
	t.Helper()
	eng, err := audit.NewEngine("unix://" + d.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	rep, err := audit.Run(context.Background(), audit.Config{Engine: eng, Include: []string{"daemon", "host", "swarm"}, HostChecks: audit.HostOn})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if want := "on (dockerd pid " + itoa(d.pid) + ")"; rep.Meta["hostChecks"] != want {
		t.Errorf("hostChecks = %q, want %q (the test's dockerd, not the host's)", rep.Meta["hostChecks"], want)
	}
	return rep
}

func itoa(i int) string { return big.NewInt(int64(i)).String() }

// TestSecondDaemon starts real dockerd instances configured unsafely and
// safely and checks the daemon results for each.
func TestSecondDaemon(t *testing.T) {
	testutil.RequireDocker(t)
	tlsDir := t.TempDir()
	ca, cert, key := writeTLS(t, tlsDir)
	cases := []struct {
		name   string
		args   []string
		json   map[string]any
		status map[string]string         // check ID → want status
		sev    map[string]model.Severity // check ID → want severity
		evid   map[string]string         // check ID → evidence must contain
	}{
		{
			name: "unsafe",
			args: []string{"-H", "unix://DIR/d.sock", "-H", "tcp://127.0.0.1:2375", "--debug", "--icc=true"},
			status: map[string]string{
				"LD-DKR-110": model.StatusFail, "LD-DKR-111": model.StatusFail, "LD-DKR-113": model.StatusFail,
				"LD-DKR-115": model.StatusFail, "LD-DKR-117": model.StatusFail,
				"LD-DKR-118": model.StatusFail, "LD-DKR-119": model.StatusWarn, "LD-DKR-124": model.StatusFail,
				"LD-DKR-126": model.StatusPass, "LD-HST-201": model.StatusPass, "LD-HST-202": model.StatusInfo,
				"LD-HST-204": model.StatusInfo, "LD-HST-206": model.StatusInfo, "LD-DKR-131": model.StatusPass,
				"LD-SWM-703": model.StatusSkip, "LD-DKR-129": model.StatusPass,
			},
			sev: map[string]model.Severity{"LD-DKR-113": model.SeverityCritical},
			evid: map[string]string{
				"LD-DKR-113": "/info Warnings: WARNING: API is accessible on http://127.0.0.1:2375 without encryption.",
				"LD-DKR-115": "com.docker.network.bridge.enable_icc=true",
				"LD-DKR-110": "/info Debug: true",
			},
		},
		{
			name: "safe",
			json: map[string]any{
				"hosts": []string{"unix://DIR/d.sock", "tcp://127.0.0.1:2376"},
				"icc":   false, "log-level": "info", "live-restore": true, "userland-proxy": false, "no-new-privileges": true,
				"tlsverify": true, "tlscacert": ca, "tlscert": cert, "tlskey": key,
				"default-ulimits": map[string]any{"nofile": map[string]any{"Name": "nofile", "Soft": 1024, "Hard": 4096}},
			},
			status: map[string]string{
				"LD-DKR-110": model.StatusPass, "LD-DKR-111": model.StatusPass, "LD-DKR-113": model.StatusPass,
				"LD-DKR-115": model.StatusPass, "LD-DKR-117": model.StatusPass,
				"LD-DKR-118": model.StatusPass, "LD-DKR-119": model.StatusPass, "LD-DKR-124": model.StatusPass,
				"LD-DKR-126": model.StatusPass, "LD-HST-201": model.StatusPass, "LD-HST-202": model.StatusPass,
				"LD-HST-204": model.StatusPass, "LD-HST-205": model.StatusPass, "LD-HST-206": model.StatusPass,
			},
			evid: map[string]string{
				"LD-DKR-115": "com.docker.network.bridge.enable_icc=false",
				"LD-DKR-119": "default-ulimits nofile=1024:4096",
				"LD-HST-206": key + " root:root 0400",
			},
		},
		{
			name: "tls-without-verify",
			json: map[string]any{
				"hosts": []string{"unix://DIR/d.sock", "tcp://127.0.0.1:2376"},
				"tls":   true, "tlscert": cert, "tlskey": key,
			},
			// A TCP listener without client verification never passes.
			status: map[string]string{"LD-DKR-113": model.StatusFail, "LD-DKR-110": model.StatusPass},
			sev:    map[string]model.Severity{"LD-DKR-113": model.SeverityHigh},
			// dockerd 20.10 warns in /info only about plain HTTP; TLS without
			// verification is read from daemon.json.
			evid: map[string]string{"LD-DKR-113": "hosts tcp://127.0.0.1:2376 with tls but without tlsverify"},
		},
		{
			// No default bridge: icc=true is not applicable now, but unsafe
			// if a bridge appears.
			name:   "no-bridge",
			args:   []string{"-H", "unix://DIR/d.sock", "--bridge", "none"},
			status: map[string]string{"LD-DKR-115": model.StatusInfo, "LD-DKR-113": model.StatusPass},
			evid:   map[string]string{"LD-DKR-115": "not applicable now: the daemon has no default bridge network (--bridge=none), but icc is true (default)"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := startDaemon(t, c.args, c.json)
			rep := auditDaemon(t, d)
			for id, want := range c.status {
				subject := scopeOf(id)
				f := find(rep.Findings, subject, id)
				if f == nil {
					t.Errorf("%s: no result", id)
					continue
				}
				if f.Status != want {
					t.Errorf("%s = %s (%s), want %s", id, f.Status, f.Evidence, want)
				}
			}
			for id, want := range c.sev {
				if f := find(rep.Findings, "daemon", id); f == nil || f.Severity != want {
					t.Errorf("%s severity = %+v, want %s", id, f, want)
				}
			}
			for id, want := range c.evid {
				subject := scopeOf(id)
				if f := find(rep.Findings, subject, id); f == nil || !strings.Contains(f.Evidence, want) {
					t.Errorf("%s evidence = %+v, want it to contain %q", id, f, want)
				}
			}
		})
	}
}

func scopeOf(id string) string {
	switch {
	case strings.HasPrefix(id, "LD-HST"):
		return "host"
	case strings.HasPrefix(id, "LD-SWM"):
		return "swarm"
	}
	return "daemon"
}

// dockerAt runs the docker CLI against the test daemon.
func (d *testDaemon) docker(t *testing.T, args ...string) string {
	t.Helper()
	return testutil.Docker(t, append([]string{"-H", "unix://" + d.sock}, args...)...)
}

// TestSwarm puts a second daemon (its own network namespace, sockets, data
// and exec root; never the main engine) in swarm mode and audits CIS
// section 7: an overlay network without encryption, one with, a service
// with a password in its environment, then autolock and certificate
// rotation before and after docker swarm update.
func TestSwarm(t *testing.T) {
	testutil.RequireDocker(t)
	d := startDaemon(t, []string{"-H", "unix://DIR/d.sock"}, nil)
	d.docker(t, "swarm", "init", "--advertise-addr", "127.0.0.1")
	d.docker(t, "network", "create", "--driver", "overlay", "--label", "lockdown.test=ld15", "ld15-plain")
	d.docker(t, "network", "create", "--driver", "overlay", "--opt", "encrypted", "--label", "lockdown.test=ld15", "ld15-enc")
	secret := filepath.Join(t.TempDir(), "s")
	if err := os.WriteFile(secret, []byte("not-a-real-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.docker(t, "secret", "create", "--label", "lockdown.test=ld15", "ld15-db", secret)
	d.docker(t, "service", "create", "--detach", "--no-resolve-image", "--replicas", "0", "--name", "ld15-web",
		"--label", "lockdown.test=ld15", "--env", "DB_PASSWORD=Tr0ub4dor-and-3", "--secret", "ld15-db", testImage, "sleep", "3600")

	status := func(rep *model.Report) map[string]string {
		out := map[string]string{}
		for _, f := range rep.Findings {
			if f.Scope == audit.ScopeSwarm || f.RuleID == "LD-DKR-131" || f.RuleID == "LD-DKR-117" {
				out[f.RuleID] = f.Status
			}
		}
		return out
	}
	rep := auditDaemon(t, d)
	want := map[string]string{
		"LD-DKR-131": model.StatusInfo, // swarm mode on: confirm it is needed
		"LD-DKR-117": model.StatusSkip, // live restore does not combine with swarm mode
		"LD-SWM-701": model.StatusPass, // one manager, one node
		"LD-SWM-702": model.StatusFail, // listens on 0.0.0.0:2377
		"LD-SWM-703": model.StatusFail, // ld15-plain (and ingress) unencrypted
		"LD-SWM-704": model.StatusFail, // DB_PASSWORD in the service environment
		"LD-SWM-705": model.StatusFail, // no autolock
		"LD-SWM-707": model.StatusPass, // default 90 days
	}
	if diff := gocmp.Diff(want, status(rep)); diff != "" {
		t.Errorf("swarm results (-want +got):\n%s", diff)
	}
	for id, ev := range map[string]string{
		"LD-SWM-703": "overlay networks without encryption: ingress, ld15-plain (encrypted: ld15-enc)",
		"LD-SWM-704": "service ld15-web ENV DB_PASSWORD=<redacted 15 chars> (secret-like name)",
		"LD-SWM-702": "the swarm listens on [::]:2377 (every interface)",
		"LD-SWM-701": "1 manager of 1 node",
	} {
		if f := find(rep.Findings, "swarm", id); f == nil || !strings.Contains(f.Evidence, ev) {
			t.Errorf("%s evidence = %+v, want it to contain %q", id, f, ev)
		}
	}
	for _, format := range []string{"json", "table", "sarif"} {
		if strings.Contains(writeReport(t, rep, format), "Tr0ub4dor-and-3") {
			t.Errorf("%s output contains the service's password", format)
		}
	}

	d.docker(t, "swarm", "update", "--autolock=true", "--cert-expiry", "2400h")
	rep = auditDaemon(t, d)
	got := status(rep)
	if got["LD-SWM-705"] != model.StatusPass || got["LD-SWM-707"] != model.StatusFail {
		t.Errorf("after swarm update: autolock %s, cert rotation %s; want PASS, FAIL", got["LD-SWM-705"], got["LD-SWM-707"])
	}
	if f := find(rep.Findings, "swarm", "LD-SWM-707"); f == nil || f.Evidence != "NodeCertExpiry 2400h0m0s (100 days, more than 90)" {
		t.Errorf("LD-SWM-707 = %+v", f)
	}
}
