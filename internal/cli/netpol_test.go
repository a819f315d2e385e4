//go:build !scanonly

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

func runNetpolCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = Run(context.Background(), append([]string{"netpol"}, args...), &o, &e)
	return code, o.String(), e.String()
}

var netpolDemo = filepath.Join("..", "netpol", "testdata", "demo")

func TestNetpolCLI(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec:\n  ingress:\n  - action: Allow\n    destination: {ports: [443]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(empty, []byte("---\n# nothing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     []string
		code     int
		stdout   string // substring
		stderr   string // substring
		exactOut string
	}{
		{name: "validate", args: []string{"validate", netpolDemo}, code: 0,
			exactOut: "valid: 2 files, 1 GlobalNetworkPolicy, 1 Tier, 2 Namespace, 3 NetworkPolicy (Kubernetes), 3 Pod; 4 enforced policies, 0 staged, 2 tiers, 0 network sets, 3 endpoints; 0 warnings\n"},
		{name: "validate empty", args: []string{"validate", empty}, code: 0,
			exactOut: "valid: 1 files, no resources; 0 enforced policies, 0 staged, 1 tiers, 0 network sets, 0 endpoints; 0 warnings\n"},
		{name: "validate bad", args: []string{"validate", bad}, code: 2,
			stdout: "ERROR  " + bad + ":7: GlobalNetworkPolicy g: spec.ingress[0].destination.ports: ports need protocol TCP, UDP, SCTP or UDPLite",
			stderr: bad + ":7: GlobalNetworkPolicy g: spec.ingress[0].destination.ports: ports need protocol TCP, UDP, SCTP or UDPLite\n"},
		{name: "check bad input is one line", args: []string{"check", bad, "--from", "a", "--to", "b", "--port", "80"}, code: 2,
			stderr: "lockdown: " + bad + ":7: GlobalNetworkPolicy g: spec.ingress[0].destination.ports: ports need protocol TCP, UDP, SCTP or UDPLite\n"},
		{name: "check allow", args: []string{"check", netpolDemo, "--from", "shop/frontend", "--to", "shop/db", "--port", "5432/TCP"}, code: 0,
			exactOut: "ALLOW  shop/frontend -> shop/db  5432/TCP\n"},
		{name: "check deny explained", args: []string{"check", netpolDemo, "--from", "frontend", "--to", "10.0.2.30", "--port", "9090", "--explain"}, code: 0,
			stdout: "DENY   shop/frontend -> monitoring/prometheus  9090/TCP\n\negress of shop/frontend denies:\n   tier default (order 1000000, defaultAction Deny)\n"},
		{name: "check external IP", args: []string{"check", netpolDemo, "--from", "203.0.113.9", "--to", "shop/db", "--port", "5432"}, code: 0,
			exactOut: "DENY   203.0.113.9 -> shop/db  5432/TCP\n"},
		{name: "check unknown endpoint", args: []string{"check", netpolDemo, "--from", "nope", "--to", "shop/db", "--port", "5432"}, code: 2,
			stderr: `lockdown: --from: no endpoint "nope"`},
		{name: "check bad port", args: []string{"check", netpolDemo, "--from", "db", "--to", "frontend", "--port", "70000/TCP"}, code: 2,
			stderr: `lockdown: --port: invalid port "70000/TCP"`},
		{name: "matrix csv", args: []string{"matrix", netpolDemo, "--format", "csv", "--port", "5432/TCP"}, code: 0,
			stdout: "shop/frontend,shop/db,5432,TCP,allow\n"},
		{name: "matrix bad format", args: []string{"matrix", netpolDemo, "--format", "png"}, code: 2,
			stderr: `lockdown: unknown --format "png": matrix writes table, csv, json, dot, svg`},
		{name: "lint fail-on medium", args: []string{"lint", netpolDemo, "--fail-on", "medium"}, code: 1, stdout: "NETPOL-NO-DEFAULT-DENY"},
		{name: "lint fail-on high", args: []string{"lint", netpolDemo, "--fail-on", "high"}, code: 0, stdout: "NETPOL-NO-DEFAULT-DENY"},
		{name: "lint bad fail-on", args: []string{"lint", netpolDemo, "--fail-on", "severe"}, code: 2, stderr: `--fail-on: unknown severity "severe"`},
		{name: "diff exit code", args: []string{"diff", filepath.Join(netpolDemo, "policies.yaml"), filepath.Join(netpolDemo, "..", "diff", "new-policies.yaml"),
			"--endpoints", filepath.Join(netpolDemo, "workloads.yaml"), "--exit-code"}, code: 1,
			stdout: "+ allow  shop/db -> monitoring/prometheus  8080/TCP\n"},
		{name: "diff no endpoints", args: []string{"diff", filepath.Join(netpolDemo, "policies.yaml"), filepath.Join(netpolDemo, "policies.yaml")}, code: 2,
			stderr: "no endpoints to compare"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runNetpolCLI(t, c.args...)
			if code != c.code {
				t.Errorf("netpol %v exit = %d, want %d\nstdout: %s\nstderr: %s", c.args, code, c.code, out, errOut)
			}
			if c.exactOut != "" && out != c.exactOut {
				t.Errorf("netpol %v stdout =\n%q\nwant\n%q", c.args, out, c.exactOut)
			}
			if !strings.Contains(out, c.stdout) {
				t.Errorf("netpol %v stdout lacks %q:\n%s", c.args, c.stdout, out)
			}
			if !strings.Contains(errOut, c.stderr) {
				t.Errorf("netpol %v stderr lacks %q:\n%s", c.args, c.stderr, errOut)
			}
			if c.code == 2 && strings.Count(errOut, "\n") != 1 {
				t.Errorf("netpol %v: bad input must be one line on stderr, got:\n%s", c.args, errOut)
			}
		})
	}
}

// TestNetpolFromDocker checks a flow between containers read from the real
// engine.
func TestNetpolFromDocker(t *testing.T) {
	image := testutil.AlpineImage(t, "lockdown-test/alpine:3.20.3")
	pfx := testutil.UniquePrefix(t, "ldcli")
	// An internal network (no way out) that a and b share; c is on none.
	network := pfx + "net"
	testutil.Docker(t, "network", "create", "--internal", network)
	t.Cleanup(func() { exec.Command("docker", "network", "rm", network).Run() })
	a, b, c := pfx+"a", pfx+"b", pfx+"c"
	testutil.RunContainer(t, a, "--network", network, "--label", "app=a", "--label", "projectcalico.org/namespace=np", image, "sleep", "300")
	testutil.RunContainer(t, b, "--network", network, "--label", "app=b", "--label", "projectcalico.org/namespace=np", "--expose", "80", image, "sleep", "300")
	testutil.RunContainer(t, c, "--network", "none", "--label", "app=c", "--label", "projectcalico.org/namespace=np", image, "sleep", "300")
	pol := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(pol, []byte("apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: b, namespace: np}\nspec:\n  selector: app == 'b'\n  ingress: [{action: Deny, source: {selector: app == 'a'}}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runNetpolCLI(t, "check", pol, "--from-docker", "--from", a, "--to", b, "--port", "80/TCP")
	if code != 0 || out != "DENY   np/"+a+" -> np/"+b+"  80/TCP\n" {
		t.Errorf("check --from-docker exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = runNetpolCLI(t, "check", pol, "--from-docker", "--from", b, "--to", a, "--port", "80/TCP")
	if code != 0 || out != "ALLOW  np/"+b+" -> np/"+a+"  80/TCP\n" {
		t.Errorf("check --from-docker exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// No policy selects c, but it shares no network with b: no path.
	code, out, errOut = runNetpolCLI(t, "check", pol, "--from-docker", "--from", c, "--to", b, "--port", "80/TCP", "--explain")
	want := "DENY   np/" + c + " -> np/" + b + "  80/TCP\n  the containers share no Docker network: Docker gives them no path to each other, whatever the policies say\n"
	if code != 0 || out != want {
		t.Errorf("check --from-docker exit %d, stdout %q, stderr %q; want stdout %q", code, out, errOut, want)
	}
}

func TestNetpolLintJSON(t *testing.T) {
	code, out, errOut := runNetpolCLI(t, "lint", netpolDemo, "--format", "json")
	if code != 0 {
		t.Fatalf("lint exit %d: %s", code, errOut)
	}
	var rep model.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("lint json: %v\n%s", err, out)
	}
	if rep.Kind != "netpol-lint" || len(rep.Findings) != 2 {
		t.Fatalf("lint report kind %q with %d findings, want netpol-lint with 2", rep.Kind, len(rep.Findings))
	}
	f := rep.Findings[0]
	want := model.Finding{Kind: model.KindPolicyLint, RuleID: "NETPOL-NO-DEFAULT-DENY", Severity: model.SeverityMedium, Status: model.StatusWarn,
		Subject: "monitoring", Scope: "policy", Location: filepath.Join(netpolDemo, "workloads.yaml") + ":8"}
	if f.Kind != want.Kind || f.RuleID != want.RuleID || f.Severity != want.Severity || f.Subject != want.Subject || f.Scope != want.Scope || f.Location != want.Location || f.Status != want.Status {
		t.Errorf("first finding = %+v, want %+v", f, want)
	}
	code, out, _ = runNetpolCLI(t, "lint", netpolDemo, "--format", "sarif")
	if code != 0 || !strings.Contains(out, `"NETPOL-NO-DEFAULT-DENY"`) {
		t.Errorf("lint sarif exit %d:\n%.300s", code, out)
	}
}

func TestNetpolMatrixSVGToFile(t *testing.T) {
	testutil.RequireCmd(t, "dot")
	out := filepath.Join(t.TempDir(), "m.svg")
	code, _, errOut := runNetpolCLI(t, "matrix", netpolDemo, "--format", "svg", "-o", out)
	if code != 0 {
		t.Fatalf("matrix svg exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile(out)
	if err != nil || !bytes.Contains(b, []byte("<svg")) {
		t.Errorf("matrix svg wrote %.100q, %v", b, err)
	}
}

// TestNetpolCheckIPFamily: an IPv6 address of a dual-stack pod makes the
// flow IPv6, so ipVersion: 6 rules apply.
func TestNetpolCheckIPFamily(t *testing.T) {
	f := filepath.Join(t.TempDir(), "v6.yaml")
	if err := os.WriteFile(f, []byte(`apiVersion: v1
kind: Pod
metadata: {name: d1, namespace: a, labels: {app: d}}
spec: {containers: [{name: c, image: x}]}
status: {podIP: 10.0.1.1, podIPs: [{ip: 10.0.1.1}, {ip: "fd00::1"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: d2, namespace: a, labels: {app: e}}
spec: {containers: [{name: c, image: x}]}
status: {podIP: 10.0.1.2, podIPs: [{ip: 10.0.1.2}, {ip: "fd00::2"}]}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: v6only, namespace: a}
spec:
  selector: app == 'e'
  ingress:
  - action: Allow
    ipVersion: 6
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args   []string
		code   int
		out    string
		stderr string
	}{
		{[]string{"--from", "fd00::1", "--to", "fd00::2"}, 0, "ALLOW  a/d1 -> a/d2  80/TCP\n", ""},
		{[]string{"--from", "a/d1", "--to", "fd00::2"}, 0, "ALLOW  a/d1 -> a/d2  80/TCP\n", ""},
		{[]string{"--from", "10.0.1.1", "--to", "a/d2"}, 0, "DENY   a/d1 -> a/d2  80/TCP\n", ""},
		{[]string{"--from", "a/d1", "--to", "a/d2", "--ip-version", "6"}, 0, "ALLOW  a/d1 -> a/d2  80/TCP\n", ""},
		{[]string{"--from", "10.0.1.1", "--to", "fd00::2"}, 2, "", "a flow has one IP family"},
		{[]string{"--from", "10.0.1.1", "--to", "a/d2", "--ip-version", "6"}, 2, "", "--ip-version 6 conflicts with the IPv4 address"},
	}
	for _, c := range cases {
		args := append([]string{"check", f, "--port", "80"}, c.args...)
		code, out, errOut := runNetpolCLI(t, args...)
		if code != c.code || out != c.out || !strings.Contains(errOut, c.stderr) {
			t.Errorf("netpol %v = exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr containing %q", args, code, out, errOut, c.code, c.out, c.stderr)
		}
	}
}

// validate lists every problem of a multi-file input, one "file:line:
// message" a line on stderr and in the JSON output, and exits 2; the other
// commands print the first and count the rest.
func TestNetpolValidateAllErrors(t *testing.T) {
	dir := filepath.Join("..", "netpol", "testdata", "errors")
	a, b, c := filepath.Join(dir, "a-kinds.yaml"), filepath.Join(dir, "b-policies.yaml"), filepath.Join(dir, "c-broken.yaml")
	want := []string{
		a + `:2: unknown kind "Deployment" (apiVersion apps/v1); want one of BGPConfiguration, BGPPeer, FelixConfiguration, GlobalNetworkPolicy, GlobalNetworkSet, HostEndpoint, IPPool, Namespace, NetworkPolicy, NetworkSet, Node, Pod, Profile, Service, ServiceAccount, StagedGlobalNetworkPolicy, StagedNetworkPolicy, Tier`,
		a + `:9: GlobalNetworkPolicy: unsupported apiVersion "projectcalico.org/v1" (want projectcalico.org/v3)`,
		b + `:5: NetworkPolicy shop/p: spec.selector: invalid selector "app = 'x'": expected '==' at position 5`,
		b + `:10: NetworkPolicy shop/p: spec.ingress[0].destination.ports[0]: port 70000 out of range 0-65535`,
		b + `:12: NetworkPolicy: unsupported apiVersion "networking.k8s.io/v1beta1" (want projectcalico.org/v3 or networking.k8s.io/v1)`,
		b + `:22: Pod shop/db: status.podIP: invalid IP "10.0.0.300"`,
		b + `:30: Pod shop/web: unknown field "prots"`,
		c + `:1: Namespace shop: duplicate (first defined at ` + a + `:5)`,
		c + `:7: invalid YAML: did not find expected ',' or ']'`,
	}

	code, out, errOut := runNetpolCLI(t, "validate", dir)
	if code != 2 {
		t.Errorf("netpol validate %s exit = %d, want 2", dir, code)
	}
	if got := errOut; got != strings.Join(want, "\n")+"\n" {
		t.Errorf("netpol validate %s stderr =\n%s\nwant\n%s", dir, got, strings.Join(want, "\n"))
	}
	var wantOut strings.Builder
	for _, w := range want {
		wantOut.WriteString("ERROR  " + w + "\n")
	}
	wantOut.WriteString("INVALID (9 errors): 3 files, 1 NetworkPolicy, 1 Pod, 2 Namespace; 0 warnings\n")
	if out != wantOut.String() {
		t.Errorf("netpol validate %s stdout =\n%s\nwant\n%s", dir, out, wantOut.String())
	}

	code, out, _ = runNetpolCLI(t, "validate", dir, "--format", "json")
	var v struct {
		Valid      bool     `json:"valid"`
		Errors     []string `json:"errors"`
		ErrorCount int      `json:"errorCount"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("validate --format json: %v\n%s", err, out)
	}
	if code != 2 || v.Valid || v.ErrorCount != 9 || !slices.Equal(v.Errors, want) {
		t.Errorf("validate --format json: exit %d, valid %v, errorCount %d, errors\n%s\nwant exit 2, false, 9,\n%s",
			code, v.Valid, v.ErrorCount, strings.Join(v.Errors, "\n"), strings.Join(want, "\n"))
	}

	for _, cmd := range [][]string{{"lint", dir}, {"matrix", dir}, {"check", dir, "--from", "a", "--to", "b", "--port", "80"}} {
		code, _, errOut := runNetpolCLI(t, cmd...)
		wantErr := "lockdown: " + want[0] + " (and 8 more; run lockdown netpol validate)\n"
		if code != 2 || errOut != wantErr {
			t.Errorf("netpol %v: exit %d, stderr %q; want 2, %q", cmd, code, errOut, wantErr)
		}
	}
}

func TestNetpolValidateErrorCap(t *testing.T) {
	var text strings.Builder
	for i := range 150 {
		fmt.Fprintf(&text, "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: n%d, namespace: x}\n", i)
	}
	f := filepath.Join(t.TempDir(), "many.yaml")
	if err := os.WriteFile(f, []byte(text.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runNetpolCLI(t, "validate", f)
	lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
	if code != 2 || len(lines) != 101 {
		t.Fatalf("validate 150 errors: exit %d, %d stderr lines; want 2, 101", code, len(lines))
	}
	if want := f + ":4: Namespace n0: metadata.namespace: Namespace is not namespaced"; lines[0] != want {
		t.Errorf("validate 150 errors: first line %q, want %q", lines[0], want)
	}
	if want := "… and 50 more errors"; lines[100] != want {
		t.Errorf("validate 150 errors: last line %q, want %q", lines[100], want)
	}
}

// A policy allowing only TCP 8000-8080 shows in matrix and diff without --port.
func TestNetpolPortRange(t *testing.T) {
	dir := filepath.Join("..", "netpol", "testdata", "ranges")
	pods, oldP, newP := filepath.Join(dir, "pods.yaml"), filepath.Join(dir, "old.yaml"), filepath.Join(dir, "new.yaml")
	code, out, errOut := runNetpolCLI(t, "matrix", pods, oldP, "--format", "csv")
	if code != 2 || !strings.Contains(errOut, "no ports in use") {
		t.Errorf("matrix (deny only): exit %d, stderr %q; want 2, no ports in use", code, errOut)
	}
	code, out, errOut = runNetpolCLI(t, "matrix", pods, newP, "--format", "csv")
	if code != 0 {
		t.Fatalf("matrix: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"r/client,r/api,8000,TCP,allow\n", "r/client,r/api,8080,TCP,allow\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("matrix csv lacks %q:\n%s", want, out)
		}
	}
	code, out, errOut = runNetpolCLI(t, "diff", oldP, newP, "--endpoints", pods)
	want := "Compared 2 endpoints and 1 external addresses on 2 ports: 2 flows newly allowed, 0 newly blocked\n" +
		"External addresses (each stands for the addresses in the same nets): 0.0.0.0\n" +
		"+ allow  r/client -> r/api  8000/TCP\n" +
		"+ allow  r/client -> r/api  8080/TCP\n"
	if code != 0 || out != want {
		t.Errorf("diff: exit %d, stdout\n%s\nwant 0,\n%s\nstderr: %s", code, out, want, errOut)
	}
}
