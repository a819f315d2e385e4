package harden

import (
	"testing"

	"github.com/lockdown-sec/lockdown/internal/audit"
)

// TestCheckIDsExist: every audit check harden claims to fix is a
// container check of the audit (a renamed check breaks this test, not the
// claim silently).
func TestCheckIDsExist(t *testing.T) {
	scope := map[string]string{}
	for _, c := range audit.Checks() {
		scope[c.Info().ID] = c.Info().Scope
	}
	for _, id := range ContainerChecks {
		if scope[id] != audit.ScopeContainer {
			t.Errorf("%s: scope %q in the audit, want a container check", id, scope[id])
		}
	}
	p := &Plan{User: "0:0", UserNote: "needs root", CapAdd: []string{"NET_RAW"}, Network: "bridge", Memory: 64 << 20, NanoCPUs: 5e8, PidsLimit: 64,
		RestartPolicy: "on-failure:5", AppArmor: AppArmor{Name: "lockdown-x"}}
	fixed, left := fixes(p)
	got := map[string]bool{}
	for _, f := range fixed {
		got[f.Check] = true
	}
	for _, f := range left {
		if got[f.Check] {
			t.Errorf("%s both fixed and left", f.Check)
		}
		got[f.Check] = true
	}
	for _, id := range ContainerChecks {
		if !got[id] {
			t.Errorf("%s neither fixed nor left", id)
		}
	}
	for _, id := range []string{CheckNonRoot, CheckNetRaw, CheckDefaultBridge, CheckHealthcheck} {
		found := false
		for _, f := range left {
			found = found || f.Check == id
		}
		if !found {
			t.Errorf("%s not left for a root plan with NET_RAW on the default bridge without a test", id)
		}
	}
}
