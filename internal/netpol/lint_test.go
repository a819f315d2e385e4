package netpol

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/netpol/load"
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
	want := []string{LintMissingTier, LintShadowedRule, LintAllowWorld, LintAllowWorld}
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
		if got := subsumes(tt.a, tt.b); got != tt.want {
			t.Errorf("subsumes(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
