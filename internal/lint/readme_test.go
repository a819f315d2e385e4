package lint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/lint/rule"
)

// mappingTables renders the rule mapping tables of the README from the
// rule list, the one place the mapping lives.
func mappingTables() string {
	var b strings.Builder
	b.WriteString("| rule | CIS | hadolint | title |\n|---|---|---|---|\n")
	for _, r := range rule.All() {
		if r.Scope != rule.ScopeDockerfile {
			continue
		}
		b.WriteString("| " + r.ID + " | " + dash(r.CIS) + " | " + dash(strings.Join(r.Hadolint, ", ")) + " | " + r.Title + " |\n")
	}
	b.WriteString("\n| rule | CIS | title |\n|---|---|---|\n")
	for _, r := range rule.All() {
		if r.Scope == rule.ScopeCompose {
			b.WriteString("| " + r.ID + " | " + r.CIS + " | " + r.Title + " |\n")
		}
	}
	b.WriteString("\n| rule | PSS control | Kyverno policy | Gatekeeper template |\n|---|---|---|---|\n")
	for _, r := range rule.All() {
		if r.Scope != rule.ScopeKubernetes {
			continue
		}
		ctl := r.Title
		if r.PSS != "" {
			ctl = r.PSS + " (" + r.PSSLevel + ")"
		}
		b.WriteString("| " + r.ID + " | " + ctl + " | " + dash(r.Kyverno) + " | " + dash(r.Gatekeeper) + " |\n")
	}
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// TestREADMEMapping: the README's rule tables are the rule list's (run
// with LOCKDOWN_UPDATE_README=1 to print them).
func TestREADMEMapping(t *testing.T) {
	want := mappingTables()
	if os.Getenv("LOCKDOWN_UPDATE_README") != "" {
		t.Log("\n" + want)
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range strings.Split(want, "\n\n") {
		if !strings.Contains(string(b), table) {
			t.Errorf("README.md does not hold this table of the rule list:\n%s", table)
		}
	}
}
