package match

import (
	"testing"

	"github.com/lockdown-sec/lockdown/internal/osv"
	"github.com/lockdown-sec/lockdown/internal/version"
)

// TestFixedBy: "fixed" only for a version past a fix of a span it had
// entered; never for an affected version, one below every introduced
// event, or one only past a last_affected bound.
func TestFixedBy(t *testing.T) {
	two := aff("npm", "a", rng("SEMVER", intro("0"), fix("1.2.0"), intro("2.0.0"), fix("2.1.0")))
	later := aff("npm", "a", rng("SEMVER", intro("1.0.0"), fix("1.2.0")))
	bounded := aff("npm", "a", rng("SEMVER", intro("0"), last("1.4.0")))
	listed := aff("npm", "a", rng("SEMVER", intro("0"), fix("1.2.0")))
	listed.Versions = []string{"1.3.0"}
	for _, tc := range []struct {
		name      string
		a         osv.Affected
		installed string
		wantFixed string
		wantOK    bool
	}{
		{"past the first fix", two, "1.5.0", "1.2.0", true},
		{"past the second fix", two, "2.2.0", "2.1.0", true},
		{"in the second span", two, "2.0.5", "", false},
		{"in the first span", two, "1.1.0", "", false},
		{"below every introduced event", later, "0.9.0", "", false},
		{"past the fix of a later span", later, "1.3.0", "1.2.0", true},
		{"past last_affected only", bounded, "1.5.0", "", false},
		{"listed exactly", listed, "1.3.0", "", false},
		{"unparsable", two, "not-a-version", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := rec("GHSA-1", nil, tc.a)
			got, ok := FixedBy(v, tc.a, version.Semver(), tc.installed)
			if got != tc.wantFixed || ok != tc.wantOK {
				t.Errorf("FixedBy(%s) = %q, %v; want %q, %v", tc.installed, got, ok, tc.wantFixed, tc.wantOK)
			}
		})
	}
}
