//go:build !scanonly

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lockdown-sec/lockdown/internal/netpol/enforce"
	nslab "github.com/lockdown-sec/lockdown/internal/netpol/enforce/lab"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

var enforceTestdata = filepath.Join("..", "netpol", "enforce", "testdata")

// conformanceFlow is one "# flow: allow|deny FROM -> TO PORT" line of a
// policy set: the verdict derived by hand from Calico's semantics.
type conformanceFlow struct {
	allow          bool
	from, to, port string
}

func readFlows(t *testing.T, path string) []conformanceFlow {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []conformanceFlow
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "# flow: ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 5 || f[2] != "->" || (f[0] != "allow" && f[0] != "deny") {
			t.Fatalf("%s: bad flow line %q", path, line)
		}
		out = append(out, conformanceFlow{allow: f[0] == "allow", from: f[1], to: f[3], port: f[4]})
	}
	return out
}

// probeFor turns a flow's destination and port into a probe.
func probeFor(t *testing.T, w *nslab.World, f conformanceFlow) nslab.Probe {
	t.Helper()
	dst, ok := w.Addr[f.to]
	if !ok {
		a, err := netip.ParseAddr(f.to)
		if err != nil {
			t.Fatalf("flow %v: unknown destination %q", f, f.to)
		}
		dst = a
	}
	up := strings.ToUpper(f.port)
	switch {
	case strings.HasPrefix(up, "ICMP"):
		return nslab.Probe{Proto: "icmp", Dst: dst}
	case strings.HasSuffix(up, "/UDP"):
		return nslab.Probe{Proto: "udp", Dst: dst, Port: portNum(t, f.port)}
	}
	return nslab.Probe{Proto: "tcp", Dst: dst, Port: portNum(t, f.port)}
}

func portNum(t *testing.T, s string) uint16 {
	n, _, _ := strings.Cut(s, "/")
	p, err := netip.ParseAddrPort("0.0.0.0:" + n)
	if err != nil {
		t.Fatalf("port %q: %v", s, err)
	}
	return p.Port()
}

// checkVerdict asks `lockdown netpol check` for the flow's verdict.
func checkVerdict(t *testing.T, paths []string, f conformanceFlow) bool {
	t.Helper()
	args := append([]string{"check"}, paths...)
	args = append(args, "--from", f.from, "--to", f.to, "--port", f.port, "--format", "json")
	code, out, errOut := runNetpolCLI(t, args...)
	if code != 0 {
		t.Fatalf("netpol check %v: exit %d: %s", f, code, errOut)
	}
	var v struct {
		Allowed bool `json:"allowed"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("netpol check %v: %v: %s", f, err, out)
	}
	return v.Allowed
}

// TestNetpolApplyConformance is the differential conformance suite: for
// every policy set in testdata/sets, `lockdown netpol apply` enforces it in
// a lab of network namespaces, and for every flow a real probe (TCP
// connect, UDP request/response, ICMP echo) between the lab's namespaces
// gives exactly the verdict of `lockdown netpol check` — which must also
// be the verdict written by hand in the set. It runs with br_netfilter
// (bridged traffic in the inet table) and without (a bridge-family
// table), detected by apply.
func TestNetpolApplyConformance(t *testing.T) {
	world := filepath.Join(enforceTestdata, "world.yaml")
	sets, err := filepath.Glob(filepath.Join(enforceTestdata, "sets", "*.yaml"))
	if err != nil || len(sets) < 8 {
		t.Fatalf("policy sets: %v (%d found, want at least 8)", err, len(sets))
	}
	n := 0
	for _, s := range sets {
		n += len(readFlows(t, s))
	}
	if n < 40 {
		t.Fatalf("%d flows, want at least 40", n)
	}
	for _, mode := range []struct {
		name     string
		brnf     bool
		families []string
	}{
		{"br_netfilter", true, []string{"inet"}},
		{"bridge family", false, []string{"inet", "bridge"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			w := nslab.NewWorld(t, nslab.Options{BrNetfilter: mode.brnf})
			state := t.TempDir()
			checked := 0
			for _, set := range sets {
				name := strings.TrimSuffix(filepath.Base(set), ".yaml")
				paths := []string{world, set}
				code, out, errOut := runNetpolCLI(t, append([]string{"apply", "--netns", w.Host.Path, "--state-dir", state}, paths...)...)
				if code != 0 || !strings.HasPrefix(out, "applied: table lockdown ("+strings.Join(mode.families, ", ")+")") {
					t.Fatalf("%s: apply = %d, %q, %q", name, code, out, errOut)
				}
				flows := readFlows(t, set)
				verdicts := make([]bool, len(flows))
				for i, f := range flows {
					verdicts[i] = checkVerdict(t, paths, f)
					if verdicts[i] != f.allow {
						t.Errorf("%s: netpol check %s -> %s %s = %v, the set says %v", name, f.from, f.to, f.port, verdicts[i], f.allow)
					}
				}
				got := make([]bool, len(flows))
				var wg sync.WaitGroup
				for i, f := range flows {
					src, ok := w.NS[f.from]
					if !ok {
						t.Fatalf("%s: no namespace for %q", name, f.from)
					}
					p := probeFor(t, w, f)
					wg.Go(func() {
						ok, err := src.Try(p)
						if err != nil {
							t.Errorf("%s: probe %s from %s: %v", name, p, f.from, err)
						}
						got[i] = ok
					})
				}
				wg.Wait()
				for i, f := range flows {
					checked++
					if got[i] != verdicts[i] {
						t.Errorf("%s: probe %s -> %s %s got through = %v, netpol check says %v", name, f.from, f.to, f.port, got[i], verdicts[i])
					}
				}
				if t.Failed() {
					ruleset, _ := w.Host.Exec("nft", "list", "ruleset")
					t.Logf("%s ruleset in force:\n%s", name, ruleset)
					t.FailNow()
				}
			}
			t.Logf("%d flows over %d policy sets: probe == netpol check", checked, len(sets))
			code, out, errOut := runNetpolCLI(t, "status", "--netns", w.Host.Path, "--state-dir", state, "--format", "json")
			if code != 0 {
				t.Fatalf("status = %d: %s", code, errOut)
			}
			var st enforce.Status
			if err := json.Unmarshal([]byte(out), &st); err != nil {
				t.Fatal(err)
			}
			if !st.Applied || st.Drift != enforce.DriftNone || !slices.Equal(st.Families, mode.families) {
				t.Errorf("status = applied %v, drift %q, families %v; want applied, no drift, %v", st.Applied, st.Drift, st.Families, mode.families)
			}
		})
	}
}

// TestNetpolApplyBadInput: a policy that does not compile, an endpoint
// without an address, a shared address, a missing namespace, bad flags,
// and not being root all exit 2 with a clear message — and the ruleset
// applied before stays in force, byte for byte (handles included).
func TestNetpolApplyBadInput(t *testing.T) {
	l := nslab.New(t, nslab.Options{BrNetfilter: true})
	state := t.TempDir()
	world := filepath.Join(enforceTestdata, "world.yaml")
	good := filepath.Join(enforceTestdata, "sets", "01-k8s-ingress.yaml")
	base := []string{"apply", "--netns", l.Host.Path, "--state-dir", state}
	if code, out, errOut := runNetpolCLI(t, append(base, world, good)...); code != 0 {
		t.Fatalf("apply = %d, %s %s", code, out, errOut)
	}
	dump := func() string {
		out, err := l.Host.Exec("nft", "-a", "list", "ruleset")
		if err != nil {
			t.Fatalf("nft list: %v %s", err, out)
		}
		return out
	}
	before := dump()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	broken := write("broken.yaml", "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec:\n  selector: app = 'x'\n")
	noIP := write("noip.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: pending, namespace: shop}\n")
	shared := write("shared.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: twin, namespace: dev}\nstatus: {podIP: 10.99.1.10}\n")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"policy does not compile", append(append([]string{}, base...), world, broken),
			"lockdown: " + broken + ":5: GlobalNetworkPolicy g: spec.selector: invalid selector \"app = 'x'\": expected '==' at position 5\n"},
		{"endpoint without IP", append(append([]string{}, base...), world, good, noIP),
			"lockdown: " + noIP + ":1: endpoint shop/pending has no IP address: Lockdown enforces by address\n"},
		{"address of two endpoints", append(append([]string{}, base...), world, good, shared),
			"lockdown: " + world + ":18: address 10.99.1.10 belongs to both dev/twin and shop/web\n"},
		{"no such namespace", []string{"apply", "--netns", "/nonexistent/ns", "--state-dir", state, world, good},
			"lockdown: network namespace /nonexistent/ns: open /nonexistent/ns: no such file or directory\n"},
		{"bad bridge mode", append(append([]string{}, base...), "--bridge", "vlan", world, good),
			"lockdown: --bridge: bridge mode \"vlan\": want auto, br_netfilter or bridge\n"},
		{"watch without docker", append(append([]string{}, base...), "--watch", world, good),
			"lockdown: --watch follows the Docker engine: it needs --from-docker\n"},
		{"remove with policies", append(append([]string{}, base...), "--remove", world),
			"lockdown: --remove takes no policies, --dry-run or --watch\n"},
		{"nothing to apply", []string{"apply"}, "lockdown: apply needs policy files (POLICIES...) and endpoints (in them or --from-docker)\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runNetpolCLI(t, c.args...)
			if code != ExitBadInput || errOut != c.want {
				t.Errorf("exit %d, stderr %q (stdout %q); want %d, %q", code, errOut, out, ExitBadInput, c.want)
			}
			if after := dump(); after != before {
				t.Errorf("the ruleset changed:\n%s\n---\n%s", before, after)
			}
		})
	}
	t.Run("not root", func(t *testing.T) {
		bin := testutil.LockdownBinary(t)
		// The world-readable copies of the inputs, for user nobody.
		pub, err := os.MkdirTemp("", "ld9-nobody-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(pub) })
		os.Chmod(pub, 0o755)
		var args []string
		for _, p := range []string{world, good} {
			b, _ := os.ReadFile(p)
			q := filepath.Join(pub, filepath.Base(p))
			os.WriteFile(q, b, 0o644)
			args = append(args, q)
		}
		for _, netnsArgs := range [][]string{{"--netns", l.Host.Path}, nil} {
			cmd := exec.Command(bin, append(append([]string{"netpol", "apply", "--state-dir", pub}, netnsArgs...), args...)...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != ExitBadInput {
				t.Fatalf("apply as nobody (%v): %v, stderr %q; want exit %d", netnsArgs, err, stderr.String(), ExitBadInput)
			}
			if !strings.Contains(stderr.String(), "nftables unavailable") || !strings.Contains(stderr.String(), "needs root or CAP_NET_ADMIN") ||
				strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("apply as nobody (%v): stderr %q, want one line saying nftables is unavailable without root", netnsArgs, stderr.String())
			}
		}
		if after := dump(); after != before {
			t.Errorf("the ruleset changed:\n%s\n---\n%s", before, after)
		}
	})
	code, out, _ := runNetpolCLI(t, "status", "--netns", l.Host.Path, "--state-dir", state, "--exit-code")
	if code != 0 || !strings.Contains(out, "drift          none") {
		t.Errorf("status after the bad inputs = %d:\n%s", code, out)
	}
}

// TestNetpolApplyWatchCLI runs `netpol apply --from-docker --watch` until
// interrupted: it applies at once (a policy that selects only a namespace
// no container is in, so the engine's other containers are untouched),
// reports on stderr, and exits 0 when interrupted, leaving the ruleset in
// force; --remove then deletes it.
func TestNetpolApplyWatchCLI(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireDocker(t)
	prefix := strings.TrimSuffix(testutil.UniquePrefix(t, "ld9"), "-")
	table := strings.ReplaceAll(prefix, "-", "_")
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policy, []byte("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: "+prefix+"}\nspec: {podSelector: {}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	args := []string{"netpol", "apply", policy, "--from-docker", "--watch", "--table", table, "--state-dir", state}
	t.Cleanup(func() { runNetpolCLI(t, "apply", "--remove", "--table", table, "--state-dir", state) })
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- Run(ctx, args, io.Discard, &stderr) }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stderr.String(), "lockdown: applied: ") {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no 'applied' line on stderr within 30s: %q", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("apply --watch exit %d after interrupt: %s", code, stderr.String())
	}
	code, out, errOut := runNetpolCLI(t, "status", "--table", table, "--state-dir", state, "--exit-code")
	if code != 0 || !strings.Contains(out, "drift          none") {
		t.Errorf("status after --watch = %d: %s %s", code, out, errOut)
	}
	if code, out, _ := runNetpolCLI(t, "apply", "--remove", "--table", table, "--state-dir", state); code != 0 || out != "removed: table "+table+"\n" {
		t.Errorf("--remove = %d, %q", code, out)
	}
	if code, out, _ := runNetpolCLI(t, "status", "--table", table, "--state-dir", state, "--exit-code"); code != ExitFindings || !strings.Contains(out, "drift          not applied") {
		t.Errorf("status after --remove = %d, %q; want exit 1, not applied", code, out)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
