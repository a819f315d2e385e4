package audit_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/audit"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// podmanService starts `podman system service` on a socket of its own,
// with its own storage root and run root (vfs), and returns the socket and
// a podman command line for the same storage.
func podmanService(t *testing.T) (sock string, podman func(args ...string) (string, error)) {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireCmd(t, "podman")
	dir, err := os.MkdirTemp("", "ld15pod")
	if err != nil {
		t.Fatal(err)
	}
	sock = filepath.Join(dir, "p.sock")
	base := []string{"--root", dir + "/root", "--runroot", dir + "/run", "--storage-driver", "vfs"}
	logf, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("podman", append(base, "system", "service", "--time=0", "unix://"+sock)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start podman system service: %v", err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		logf.Close()
		exec.Command("podman", append(base, "rm", "-af")...).Run()
		testutil.UnmountUnder(dir)
		os.RemoveAll(dir)
	})
	podman = func(args ...string) (string, error) {
		out, err := exec.Command("podman", append(base, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		eng, err := audit.NewEngine("unix://" + sock)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err = eng.Info(ctx)
			cancel()
			eng.Close()
			if err == nil {
				return sock, podman
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("podman system service did not answer on %s: %v\n%s", sock, err, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestPodman audits a real Podman service through its Docker-compatible
// API: the engine level for real; containers only created, since Podman
// cannot start them on these machines (runc cannot set the rlimits: a
// host limit), and audited with --all.
func TestPodman(t *testing.T) {
	sock, podman := podmanService(t)
	eng, err := audit.NewEngine("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	cfg := audit.Config{Engine: eng, Advisories: goAdvisories(t), Getenv: func(string) string { return "" }}
	rep, err := audit.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.Target.Kind != "podman-engine" || !strings.HasPrefix(rep.Meta["engine"], "Podman ") {
		t.Errorf("target %+v, engine %q; want a podman-engine named Podman", rep.Target, rep.Meta["engine"])
	}
	if !strings.Contains(rep.Meta["hostChecks"], "the engine is Podman") {
		t.Errorf("hostChecks = %q, want the Podman reason", rep.Meta["hostChecks"])
	}
	got := map[string]string{}
	for _, f := range rep.Findings {
		if f.Scope == audit.ScopeDaemon {
			got[f.RuleID] = f.Status
		}
	}
	S, P, F := model.StatusSkip, model.StatusPass, model.StatusFail
	want := map[string]string{
		"LD-DKR-101": S, "LD-DKR-102": S, "LD-DKR-104": S, // not Docker Engine, no containerd
		"LD-DKR-103": F,                                   // Debian's runc 1.1.5 has Go advisories
		"LD-DKR-112": S, "LD-DKR-115": S, "LD-DKR-121": S, // no such settings in Podman
		"LD-DKR-117": P, "LD-DKR-123": P, "LD-DKR-110": P, "LD-DKR-116": F, "LD-DKR-130": F,
		"LD-DKR-126": S, "LD-DKR-118": S, // daemon.json settings: none in Podman
	}
	for id, w := range want {
		if got[id] != w {
			f := find(rep.Findings, "daemon", id)
			t.Errorf("%s = %s (%+v), want %s", id, got[id], f, w)
		}
	}
	if f := find(rep.Findings, "daemon", "LD-DKR-103"); f == nil || !strings.Contains(f.Evidence, "runc 1.1.5") {
		t.Errorf("LD-DKR-103 = %+v, want runc's version from the OCI Runtime (runc) component", f)
	}
	if f := find(rep.Findings, "daemon", "LD-DKR-116"); f == nil || !strings.Contains(f.Remediation, "containers.conf") {
		t.Errorf("LD-DKR-116 fix = %+v, want the containers.conf setting", f)
	}

	// Containers: created through Podman; starting one is a host limit.
	if out, err := podman("import", testutil.Data(t, "rootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz"), "ld15/alpine:3.20.3"); err != nil {
		t.Fatalf("podman import: %v: %s", err, out)
	}
	if out, err := podman("create", "--name", "ld15-pod", "--label", "lockdown.test=ld15", "--network", "none", "--cap-add", "SYS_ADMIN", "ld15/alpine:3.20.3", "sleep", "60"); err != nil {
		t.Fatalf("podman create: %v: %s", err, out)
	}
	if out, err := podman("start", "ld15-pod"); err == nil {
		t.Log("podman started the container: its process list is audited too")
	} else {
		t.Logf("podman cannot start containers on this machine (host limit: %s); auditing ld15-pod created, not started", out)
	}
	cfg.Containers, cfg.AllContainers, cfg.Include = []string{"ld15-pod"}, true, []string{"container"}
	rep, err = audit.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run on the container: %v", err)
	}
	cgot := map[string]string{}
	for _, f := range rep.Findings {
		if f.Subject == "ld15-pod" {
			cgot[f.RuleID] = f.Status
		}
	}
	for id, w := range map[string]string{
		"LD-CTR-302": F, "LD-CTR-303": P /* Podman drops NET_RAW by default */, "LD-CTR-308": F, "LD-CTR-319": F,
		"LD-CTR-329": model.StatusInfo, "LD-CTR-301": P, "LD-CTR-310": P,
	} {
		if cgot[id] != w {
			t.Errorf("ld15-pod %s = %s, want %s", id, cgot[id], w)
		}
	}
	if diff := gocmp.Diff(len(containerIDs), len(cgot)); diff != "" {
		t.Errorf("per-container results on Podman (-want +got):\n%s", diff)
	}
}
