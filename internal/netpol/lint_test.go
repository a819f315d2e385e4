package netpol

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/netpol/load"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

func loadDir(t *testing.T, dir string) *Config {
	t.Helper()
	res, err := load.Load(context.Background(), []string{dir}, nil, load.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Build(res.Objects, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestLint(t *testing.T) {
	cfg := loadDir(t, filepath.Join("testdata", "lint"))
	p := filepath.Join("testdata", "lint", "policies.yaml")
	w := filepath.Join("testdata", "lint", "workloads.yaml")
	type row struct{ rule, sev, subject, loc, title string }
	var got []row
	for _, f := range Lint(cfg) {
		if f.Kind != model.KindPolicyLint || f.Scope != "policy" || f.Status != model.StatusWarn {
			t.Errorf("finding %s: kind/scope/status = %s/%s/%s", f.RuleID, f.Kind, f.Scope, f.Status)
		}
		got = append(got, row{f.RuleID, f.Severity.String(), f.Subject, f.Location, f.Title})
	}
	at := func(file string, line int) string { return fmt.Sprintf("%s:%d", file, line) }
	want := []row{
		{LintMissingTier, "HIGH", "lost.p", at(p, 38), `policy refers to tier "lost", which is not defined`},
		{LintShadowedRule, "LOW", "prod/shadow", at(p, 10), "ingress rule 1 is never reached"},
		{LintAllowWorld, "HIGH", "world", at(p, 24), "ingress rule 0 allows from anywhere (0.0.0.0/0) on every port and protocol"},
		{LintAllowWorld, "MEDIUM", "world", at(p, 26), "ingress rule 1 allows from anywhere (::/0) with restrictions: protocol TCP, source nets ::/0, destination ports 443"},
		{LintAllowWorld, "MEDIUM", "prod/shadow", at(p, 14), "ingress rule 2 allows from anywhere (0.0.0.0/0, ::/0) with restrictions: protocol UDP"},
		{LintSelectsNothing, "LOW", "prod/nobody", at(p, 31), "policy selects no endpoint"},
		{LintNoDefaultDeny, "MEDIUM", "dev", at(w, 5), "namespace dev has workloads with no default-deny ingress policy"},
		{LintNoDefaultDeny, "LOW", "dev", at(w, 5), "namespace dev has workloads with no default-deny egress policy"},
		{LintDanglingSelector, "MEDIUM", "prod/partners", at(p, 52), "ingress rule 0 source selector matches no endpoint or network set"},
		{LintAllowDenyOverlap, "MEDIUM", "prod/b-deny", at(p, 73), "Allow and Deny cover the same traffic in tier default"},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(row{})); diff != "" {
		t.Errorf("Lint findings (-want +got):\n%s", diff)
	}
}

func TestLintWithoutEndpoints(t *testing.T) {
	res, err := load.Load(context.Background(), []string{filepath.Join("testdata", "lint", "policies.yaml")}, nil, load.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Build(res.Objects, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range Lint(cfg) {
		ids = append(ids, f.RuleID)
	}
	// No workloads: only the checks that need none.
	want := []string{LintMissingTier, LintShadowedRule, LintAllowWorld, LintAllowWorld, LintAllowWorld}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("Lint without endpoints (-want +got):\n%s", diff)
	}
}

func TestSubsumes(t *testing.T) {
	tcp, udp := ProtoTCP, ProtoUDP
	r := func(f func(*Rule)) *Rule {
		x := &Rule{Action: ActionAllow}
		f(x)
		return x
	}
	pfx := func(s string) []netipPrefix { return []netipPrefix{mustPrefix(t, s)} }
	tests := []struct {
		name string
		a, b *Rule
		want bool
	}{
		{"empty covers all", r(func(*Rule) {}), r(func(x *Rule) { x.Protocol = &tcp }), true},
		{"protocol mismatch", r(func(x *Rule) { x.Protocol = &tcp }), r(func(x *Rule) { x.Protocol = &udp }), false},
		{"wider net", r(func(x *Rule) { x.Src.Nets = pfx("10.0.0.0/8") }), r(func(x *Rule) { x.Src.Nets = pfx("10.1.0.0/16") }), true},
		{"narrower net", r(func(x *Rule) { x.Src.Nets = pfx("10.1.0.0/16") }), r(func(x *Rule) { x.Src.Nets = pfx("10.0.0.0/8") }), false},
		{"port range covers", r(func(x *Rule) { x.Protocol = &tcp; x.Dst.Ports = []PortMatch{{Lo: 1, Hi: 1024}} }),
			r(func(x *Rule) { x.Protocol = &tcp; x.Dst.Ports = []PortMatch{{Lo: 80, Hi: 80}, {Lo: 443, Hi: 443}} }), true},
		{"port outside", r(func(x *Rule) { x.Protocol = &tcp; x.Dst.Ports = []PortMatch{{Lo: 1, Hi: 1024}} }),
			r(func(x *Rule) { x.Protocol = &tcp; x.Dst.Ports = []PortMatch{{Lo: 8080, Hi: 8080}} }), false},
		{"notNets excluded by the other too", r(func(x *Rule) { x.Src.NotNets = pfx("10.0.0.0/8") }),
			r(func(x *Rule) { x.Src.NotNets = pfx("10.0.0.0/8") }), true},
		{"notNets not excluded", r(func(x *Rule) { x.Src.NotNets = pfx("10.0.0.0/8") }), r(func(*Rule) {}), false},
		{"notNets disjoint from nets", r(func(x *Rule) { x.Src.NotNets = pfx("10.0.0.0/8") }),
			r(func(x *Rule) { x.Src.Nets = pfx("192.168.0.0/16") }), true},
	}
	for _, tt := range tests {
		if got := (&linter{}).subsumes(tt.a, tt.b); got != tt.want {
			t.Errorf("subsumes(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestLintAllowWorldOpenSource: an ingress rule with no source restriction
// allows from 0.0.0.0/0 and ::/0 just like one that names them.
func TestLintAllowWorldOpenSource(t *testing.T) {
	text := `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: open, namespace: prod}
spec:
  podSelector: {}
  ingress:
  - {}
  - from: [{podSelector: {}}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: g}
spec:
  ingress:
  - action: Allow
    ipVersion: 6
  - action: Allow
    protocol: TCP
    source: {notNets: [10.0.0.0/8]}
  - action: Allow
    source: {selector: app == 'x'}
  - action: Deny
  egress:
  - action: Allow
`
	objs, _, err := load.Parse("f.yaml", []byte(text), load.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Build(objs, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range Lint(cfg) {
		if f.RuleID == LintAllowWorld {
			got = append(got, f.Severity.String()+" "+f.Location+" "+f.Title)
		}
	}
	want := []string{
		"HIGH f.yaml:7 ingress rule 0 allows from anywhere (0.0.0.0/0, ::/0) on every port and protocol",
		"HIGH f.yaml:15 ingress rule 0 allows from anywhere (::/0) on every port and protocol",
		"MEDIUM f.yaml:17 ingress rule 1 allows from anywhere (0.0.0.0/0, ::/0) with restrictions: protocol TCP, source notNets 10.0.0.0/8",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Lint allow-world findings (-want +got):\n%s", diff)
	}
}

// TestK8sRuleIndex: a Kubernetes rule expands to one rule per peer and
// port, but findings and explanations name the rule as the user wrote it.
func TestK8sRuleIndex(t *testing.T) {
	text := `apiVersion: v1
kind: Pod
metadata: {name: db, namespace: b, labels: {app: db}}
spec: {containers: [{name: c, image: x}]}
status: {podIP: 10.0.0.3}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: b, labels: {app: web, tier: x}}
spec: {containers: [{name: c, image: x}]}
status: {podIP: 10.0.0.2}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ks, namespace: b}
spec:
  podSelector: {}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: web}}
    - podSelector: {matchLabels: {app: web, tier: x}}
  - from:
    - podSelector: {matchLabels: {app: db}}
    ports:
    - port: 80
    - port: 443
  - from:
    - podSelector: {matchLabels: {app: db}}
    ports:
    - port: 443
`
	objs, _, err := load.Parse("f.yaml", []byte(text), load.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Build(objs, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range Lint(cfg) {
		if f.RuleID == LintShadowedRule {
			got = append(got, f.Location+" "+f.Title+": "+f.Evidence)
		}
	}
	want := []string{
		"f.yaml:19 part of ingress rule 0 (a peer and port combination) is never reached: ingress rule 0 Allow is shadowed by ingress rule 0 (Allow) of the same policy at f.yaml:19",
		"f.yaml:27 ingress rule 2 is never reached: ingress rule 2 Allow is shadowed by ingress rule 1 (Allow) of the same policy at f.yaml:22",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("shadowed findings (-want +got):\n%s", diff)
	}
	src, _ := cfg.Endpoint("b/db")
	dst, _ := cfg.Endpoint("b/web")
	v := cfg.Evaluate(PortProto{Protocol: ProtoTCP, Port: 443, ICMPType: -1}.Flow(EndpointPeer(src, 4), EndpointPeer(dst, 4), 4))
	last := v.Ingress.Steps[len(v.Ingress.Steps)-1]
	if !v.Allowed || last.Kind != "rule" || last.Rule != 1 || last.Source.Line != 22 {
		t.Errorf("Evaluate(b/db -> b/web 443) = %v, deciding step %+v; want allowed by ingress rule 1 at f.yaml:22", v.Allowed, last)
	}
}

// TestLintConflictKey: Allow and Deny with the same ICMP type and code
// conflict; rules naming different services do not.
func TestLintConflictKey(t *testing.T) {
	text := `apiVersion: v1
kind: Pod
metadata: {name: db, namespace: b, labels: {app: db}}
spec: {containers: [{name: c, image: x}]}
status: {podIP: 10.0.0.3}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: a, namespace: b}
spec:
  order: 1
  selector: app == 'db'
  ingress:
  - {action: Allow, protocol: ICMP, icmp: {type: 8, code: 0}}
  - {action: Allow, source: {services: {name: s1, namespace: b}}}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: d, namespace: b}
spec:
  order: 2
  selector: has(app)
  ingress:
  - {action: Deny, protocol: ICMP, icmp: {type: 8, code: 0}}
  - {action: Deny, source: {services: {name: s2, namespace: b}}}
`
	objs, _, err := load.Parse("f.yaml", []byte(text), load.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Build(objs, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range Lint(cfg) {
		if f.RuleID == LintAllowDenyOverlap || f.RuleID == LintShadowedRule {
			got = append(got, f.RuleID+" "+f.Location)
		}
	}
	want := []string{LintAllowDenyOverlap + " f.yaml:24"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

// lintWorld is issue 11's lint scale: n policies (4 in 5 Calico, 1 in 5
// Kubernetes) in 3 tiers over 5,000 pods in 200 namespaces.
func lintWorld(tb testing.TB, n int) *Config {
	tb.Helper()
	r := rand.New(rand.NewPCG(2026, 15))
	g := &gen{r: r, spec: genSpec{
		namespaces: 200, pods: 5000, policies: n * 4 / 5, k8sPolicies: n / 5,
		tiers: 3, sets: 20, apps: 10, replicas: 5,
	}}
	return g.build(tb)
}

// BenchmarkLint lints 5,000, 10,000 and 20,000 policies over 5,000
// endpoints: time grows about linearly (8,000 policies took 48 s when every
// rule was compared with every earlier one and every selector with every
// endpoint).
func BenchmarkLint(b *testing.B) {
	for _, n := range []int{5000, 10000, 20000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			cfg := lintWorld(b, n)
			b.ReportAllocs()
			var found int
			cpu0 := testutil.CPUTime()
			for b.Loop() {
				found = len(Lint(cfg))
			}
			// CPU time per lint: on a shared machine the wall time also
			// counts the time other processes had the cores.
			b.ReportMetric((testutil.CPUTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(found), "findings")
		})
	}
}
