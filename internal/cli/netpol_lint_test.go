//go:build !scanonly

package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/netpol"
)

// TestNetpolLintSelection: the lint rules take the same --check, --skip,
// --list-checks and --show-passed as the audit.
func TestNetpolLintSelection(t *testing.T) {
	code, out, _ := runNetpolCLI(t, "lint", "--list-checks")
	if code != ExitOK {
		t.Fatalf("--list-checks exit %d", code)
	}
	for _, in := range netpol.LintInfos() {
		if !strings.Contains(out, in.ID) || !strings.Contains(out, in.Title) {
			t.Errorf("--list-checks lacks %s %q:\n%s", in.ID, in.Title, out)
		}
	}
	ids := func(args ...string) []string {
		t.Helper()
		code, out, errOut := runNetpolCLI(t, append([]string{"lint", netpolDemo, "--format", "json"}, args...)...)
		if code != ExitOK {
			t.Fatalf("lint %v: exit %d: %s", args, code, errOut)
		}
		var rep model.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range rep.Findings {
			got = append(got, f.RuleID)
		}
		return got
	}
	all := ids()
	if len(all) != 2 || all[0] != netpol.LintNoDefaultDeny {
		t.Fatalf("lint demo = %v, want two %s", all, netpol.LintNoDefaultDeny)
	}
	if got := ids("--skip", netpol.LintNoDefaultDeny); len(got) != 0 {
		t.Errorf("--skip %s left %v", netpol.LintNoDefaultDeny, got)
	}
	if got := ids("--check", "default-deny"); len(got) != 2 {
		t.Errorf("--check default-deny (a tag) = %v, want the two findings", got)
	}
	if got := ids("--check", netpol.LintShadowedRule); len(got) != 0 {
		t.Errorf("--check %s = %v, want none", netpol.LintShadowedRule, got)
	}
	code, _, errOut := runNetpolCLI(t, "lint", netpolDemo, "--check", "NETPOL-NOPE")
	if code != ExitBadInput || !strings.Contains(errOut, `"NETPOL-NOPE" matches no check`) {
		t.Errorf("--check NETPOL-NOPE: exit %d, stderr %q; want 2 naming the selector", code, errOut)
	}
	code, out, _ = runNetpolCLI(t, "lint", netpolDemo, "--format", "table")
	if code != ExitOK || !strings.HasPrefix(out, "Target:") || !strings.Contains(out, "Summary\n  Results: 2 (WARN 2)") ||
		strings.Index(out, "Fix first") > strings.Index(out, "Failures, worst first") {
		t.Errorf("lint table does not start with the summary and the fixes:\n%s", out)
	}
}
