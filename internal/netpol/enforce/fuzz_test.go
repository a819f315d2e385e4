package enforce

import (
	"strings"
	"testing"
)

// FuzzParseCounterComment: the comments read back from the kernel (ours,
// or anything someone else put there) never panic the parser, and what it
// accepts names a policy, a direction, a rule and an action.
func FuzzParseCounterComment(f *testing.F) {
	for _, s := range []string{
		"policy=shop/knp.default.web-to-api dir=ingress rule=0 action=Allow",
		"policy=host-untracked stage=untracked dir=egress rule=1 action=Allow",
		"profile=kns.shop dir=egress rule=0 action=Allow",
		"tier=default dir=ingress end-of-tier deny",
		"dir=ingress default-deny: no policy or profile allowed it",
		"managed by lockdown netpol apply: changes here are drift",
		"policy= dir= rule=x action=",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, ok := parseCounterComment(s)
		if !ok {
			return
		}
		if k.Policy == "" || k.Direction == "" || k.Rule == "" || k.Action == "" {
			t.Fatalf("parseCounterComment(%q) = %+v: accepted with an empty field", s, k)
		}
		if strings.ContainsAny(k.Direction+k.Rule, " ") {
			t.Fatalf("parseCounterComment(%q) = %+v: a field with a space", s, k)
		}
	})
}

func TestParseCounterComment(t *testing.T) {
	for in, want := range map[string]RuleCounter{
		"policy=shop/a dir=ingress rule=2 action=Deny":             {Policy: "shop/a", Direction: "ingress", Rule: "2", Action: "Deny"},
		"policy=h stage=preDNAT dir=ingress rule=0 action=Allow":   {Policy: "h", Stage: "preDNAT", Direction: "ingress", Rule: "0", Action: "Allow"},
		"profile=kns.x dir=egress rule=0 action=Allow":             {Policy: "profile:kns.x", Direction: "egress", Rule: "0", Action: "Allow"},
		"tier=security dir=ingress end-of-tier deny":               {Policy: "tier:security", Direction: "ingress", Rule: "end-of-tier", Action: "Deny"},
		"dir=egress default-deny: no policy or profile allowed it": {Policy: "default", Direction: "egress", Rule: "default", Action: "Deny"},
	} {
		if got, ok := parseCounterComment(in); !ok || got != want {
			t.Errorf("parseCounterComment(%q) = %+v, %v; want %+v", in, got, ok, want)
		}
	}
	for _, in := range []string{"managed by lockdown netpol apply: changes here are drift", "IPv6 neighbour discovery and MLD", "policy=x rule=1"} {
		if got, ok := parseCounterComment(in); ok {
			t.Errorf("parseCounterComment(%q) = %+v, want not a counter", in, got)
		}
	}
}
