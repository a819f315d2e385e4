package match

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lockdown-sec/lockdown/internal/ecosystem"
	"github.com/lockdown-sec/lockdown/internal/osv"
	"github.com/lockdown-sec/lockdown/internal/version"
)

func intro(v string) osv.Event { return osv.Event{Introduced: v} }
func fix(v string) osv.Event   { return osv.Event{Fixed: v} }
func last(v string) osv.Event  { return osv.Event{LastAffected: v} }
func limit(v string) osv.Event { return osv.Event{Limit: v} }

func rng(typ string, evs ...osv.Event) osv.Range { return osv.Range{Type: typ, Events: evs} }

func mustScheme(t testing.TB, eco string) version.Scheme {
	t.Helper()
	e, ok := ecosystem.Lookup(eco)
	if !ok || !e.Supported() {
		t.Fatalf("no version scheme for %q", eco)
	}
	return e.Scheme
}

// TestAffects covers the OSV schema's evaluation rules, with the schema's
// own examples (https://ossf.github.io/osv-schema/#affectedranges-field)
// and edge cases.
func TestAffects(t *testing.T) {
	withdrawn := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		eco       string
		a         osv.Affected
		withdrawn bool
		installed string
		hit       bool
		fixed     string
		errPart   string
	}{
		// Schema example: introduced 0, fixed.
		{name: "introduced 0 below fix", eco: "npm", a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("0"), fix("1.0.2"))}},
			installed: "0.0.1", hit: true, fixed: "1.0.2"},
		{name: "introduced 0 at fix", eco: "npm", a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("0"), fix("1.0.2"))}},
			installed: "1.0.2", hit: false},
		{name: "introduced 0 pre-release of fix", eco: "npm", a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("0"), fix("1.0.2"))}},
			installed: "1.0.2-rc.1", hit: true, fixed: "1.0.2"},
		// introduced / fixed bounds: [introduced, fixed).
		{name: "below introduced", eco: "npm", a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("1.0.0"), fix("1.2.0"))}},
			installed: "0.9.9", hit: false},
		{name: "at introduced", eco: "npm", a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("1.0.0"), fix("1.2.0"))}},
			installed: "1.0.0", hit: true, fixed: "1.2.0"},
		{name: "between", eco: "npm", a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("1.0.0"), fix("1.2.0"))}},
			installed: "1.1.9", hit: true, fixed: "1.2.0"},
		{name: "above fix", eco: "npm", a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("1.0.0"), fix("1.2.0"))}},
			installed: "1.2.1", hit: false},
		// Schema example: several introduced/fixed pairs in one range, events
		// given out of order (they are sorted before the walk).
		{name: "pairs unsorted, first interval", eco: "PyPI", a: osv.Affected{Ranges: []osv.Range{rng("ECOSYSTEM", intro("2.0"), fix("2.3"), intro("1.0"), fix("1.5"))}},
			installed: "1.4", hit: true, fixed: "1.5"},
		{name: "pairs unsorted, gap", eco: "PyPI", a: osv.Affected{Ranges: []osv.Range{rng("ECOSYSTEM", intro("2.0"), fix("2.3"), intro("1.0"), fix("1.5"))}},
			installed: "1.7", hit: false},
		{name: "pairs unsorted, second interval", eco: "PyPI", a: osv.Affected{Ranges: []osv.Range{rng("ECOSYSTEM", intro("2.0"), fix("2.3"), intro("1.0"), fix("1.5"))}},
			installed: "2.2.post1", hit: true, fixed: "2.3"},
		// last_affected is inclusive and gives no fixed version.
		{name: "at last_affected", eco: "Bitnami", a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("0"), last("2.4.1"))}},
			installed: "2.4.1", hit: true, fixed: ""},
		{name: "above last_affected", eco: "Bitnami", a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("0"), last("2.4.1"))}},
			installed: "2.4.2", hit: false},
		{name: "last_affected pre-release above", eco: "Bitnami", a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("2.0.0"), last("2.4.1"))}},
			installed: "2.4.2-rc.1", hit: false},
		// limit bounds the range, exclusive.
		{name: "below limit", eco: "npm", a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("0"), limit("2.0.0"))}},
			installed: "1.9.9", hit: true},
		{name: "at limit", eco: "npm", a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("0"), limit("2.0.0"))}},
			installed: "2.0.0", hit: false},
		{name: "limit and fix", eco: "npm", a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("1.0.0"), fix("1.5.0"), limit("3.0.0"))}},
			installed: "1.2.0", hit: true, fixed: "1.5.0"},
		{name: "two limits, below one", eco: "npm", a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("0"), limit("1.0.0"), limit("3.0.0"))}},
			installed: "2.0.0", hit: true},
		{name: "limit star", eco: "npm", a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("0"), limit("*"))}},
			installed: "99.0.0", hit: true},
		// Several ranges are OR-ed; fixed is the smallest fix above installed among matching ranges.
		{name: "second range matches", eco: "npm", a: osv.Affected{Ranges: []osv.Range{
			rng("SEMVER", intro("1.0.0"), fix("1.2.0")), rng("SEMVER", intro("2.0.0"), fix("2.3.0"))}},
			installed: "2.1.0", hit: true, fixed: "2.3.0"},
		{name: "overlapping ranges, smallest fix", eco: "npm", a: osv.Affected{Ranges: []osv.Range{
			rng("SEMVER", intro("0"), fix("3.0.0")), rng("SEMVER", intro("1.0.0"), fix("1.4.0"))}},
			installed: "1.2.0", hit: true, fixed: "1.4.0"},
		{name: "overlapping ranges, only wider matches", eco: "npm", a: osv.Affected{Ranges: []osv.Range{
			rng("SEMVER", intro("0"), fix("3.0.0")), rng("SEMVER", intro("1.0.0"), fix("1.4.0"))}},
			installed: "2.0.0", hit: true, fixed: "3.0.0"},
		{name: "fix below installed is not offered", eco: "npm", a: osv.Affected{Ranges: []osv.Range{
			rng("SEMVER", intro("0"), fix("1.0.0"), intro("2.0.0"))}},
			installed: "2.5.0", hit: true, fixed: ""},
		// Equal versions: introduced X, fixed X is empty.
		{name: "introduced equals fixed", eco: "npm", a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("1.0.0"), fix("1.0.0"))}},
			installed: "1.0.0", hit: false},
		// No introduced event (a not-affected entry): nothing matches.
		{name: "no introduced", eco: "Debian:12", a: osv.Affected{Ranges: []osv.Range{rng("ECOSYSTEM", fix("1.0-1"))}},
			installed: "0.9-1", hit: false},
		// versions list: exact string, then parsed equality.
		{name: "versions exact", eco: "PyPI", a: osv.Affected{Versions: []string{"1.0", "1.1"}},
			installed: "1.1", hit: true},
		{name: "versions parsed equal", eco: "PyPI", a: osv.Affected{Versions: []string{"1.0", "1.1"}},
			installed: "1.1.0", hit: true},
		{name: "versions miss", eco: "PyPI", a: osv.Affected{Versions: []string{"1.0", "1.1"}},
			installed: "1.2", hit: false},
		{name: "versions with unparsable entry", eco: "PyPI", a: osv.Affected{Versions: []string{"0.1dev-r1", "1.0"}},
			installed: "1.0.0", hit: true},
		{name: "versions exact, installed unparsable", eco: "PyPI", a: osv.Affected{Versions: []string{"0.1dev-r1"}},
			installed: "0.1dev-r1", hit: true},
		{name: "versions and range, fixed from range", eco: "Maven", a: osv.Affected{Versions: []string{"2.9.10"},
			Ranges: []osv.Range{rng("ECOSYSTEM", intro("2.9.0"), fix("2.9.10.1"))}},
			installed: "2.9.10", hit: true, fixed: "2.9.10.1"},
		// GIT ranges are ignored: only the versions list counts.
		{name: "GIT only, listed", eco: "PyPI", a: osv.Affected{Versions: []string{"2.0"},
			Ranges: []osv.Range{{Type: "GIT", Repo: "https://example.org/r", Events: []osv.Event{intro("0"), fix("abc123")}}}},
			installed: "2.0", hit: true},
		{name: "GIT only, not listed", eco: "PyPI", a: osv.Affected{
			Ranges: []osv.Range{{Type: "GIT", Repo: "https://example.org/r", Events: []osv.Event{intro("0"), fix("abc123")}}}},
			installed: "2.0", hit: false},
		// Withdrawn records affect nothing.
		{name: "withdrawn", eco: "npm", withdrawn: true, a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("0"))}},
			installed: "1.0.0", hit: false},
		// Ecosystem schemes.
		{name: "crates.io all versions", eco: "crates.io", a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("0.0.0-0"), fix("0.5.2"))}},
			installed: "0.0.1-alpha", hit: true, fixed: "0.5.2"},
		{name: "Go stdlib tag", eco: "Go", a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("0"), fix("1.19.12"), intro("1.20.0-0"), fix("1.20.7"))}},
			installed: "go1.20.1", hit: true, fixed: "1.20.7"},
		{name: "Go stdlib -0 marker", eco: "Go", a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("1.21.0-0"), fix("1.21.1"))}},
			installed: "1.21.0-rc.2", hit: true, fixed: "1.21.1"},
		{name: "Go pseudo-version", eco: "Go", a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("0"), fix("0.7.0"))}},
			installed: "v0.0.0-20200226121028-0de0cce0169b", hit: true, fixed: "0.7.0"},
		{name: "Debian epoch", eco: "Debian:12", a: osv.Affected{Ranges: []osv.Range{rng("ECOSYSTEM", intro("0"), fix("1:2.5.1-5"))}},
			installed: "2.6-1", hit: true, fixed: "1:2.5.1-5"},
		{name: "Debian binNMU of fixed", eco: "Debian:12", a: osv.Affected{Ranges: []osv.Range{rng("ECOSYSTEM", intro("0"), fix("1.2-3"))}},
			installed: "1.2-3+b1", hit: false},
		{name: "Alpine revision", eco: "Alpine:v3.16", a: osv.Affected{Ranges: []osv.Range{rng("ECOSYSTEM", intro("0.9.13"), fix("1.2.3-r4"))}},
			installed: "1.2.3-r3", hit: true, fixed: "1.2.3-r4"},
		{name: "RPM missing epoch is 0", eco: "AlmaLinux:8", a: osv.Affected{Ranges: []osv.Range{rng("ECOSYSTEM", intro("0"), fix("1:1.1.1k-6.el8_5"))}},
			installed: "1.1.1k-9.el8", hit: true, fixed: "1:1.1.1k-6.el8_5"},
		// Errors name the record and the bad version.
		{name: "installed unparsable", eco: "npm", a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("0"), fix("1.0.0"))}},
			installed: "not-a-version", errPart: "GHSA-test"},
		{name: "event unparsable", eco: "npm", a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("0"), fix("1.x"))}},
			installed: "1.0.0", errPart: `fixed event: parse SemVer version "1.x"`},
		{name: "limit unparsable", eco: "npm", a: osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("0"), limit("x"))}},
			installed: "1.0.0", errPart: "limit event"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := osv.Vulnerability{ID: "GHSA-test", Affected: []osv.Affected{tc.a}}
			if tc.withdrawn {
				v.Withdrawn = &withdrawn
			}
			hit, fixed, err := Affects(v, tc.a, mustScheme(t, tc.eco), tc.installed)
			if tc.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errPart) {
					t.Fatalf("Affects(%s) error = %v, want one containing %q", tc.installed, err, tc.errPart)
				}
				return
			}
			if err != nil {
				t.Fatalf("Affects(%s) error: %v", tc.installed, err)
			}
			if hit != tc.hit || fixed != tc.fixed {
				t.Errorf("Affects(%s) = %v, %q, want %v, %q", tc.installed, hit, fixed, tc.hit, tc.fixed)
			}
		})
	}
}

func TestAffectsNoScheme(t *testing.T) {
	a := osv.Affected{Ranges: []osv.Range{rng("ECOSYSTEM", intro("0"))}}
	_, _, err := Affects(osv.Vulnerability{ID: "X-1"}, a, nil, "1.0")
	if !errors.Is(err, ErrNoScheme) {
		t.Fatalf("Affects without scheme error = %v, want ErrNoScheme", err)
	}
	// SEMVER ranges need no ecosystem scheme.
	a = osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("0"), fix("2.0.0"))}}
	hit, fixed, err := Affects(osv.Vulnerability{ID: "X-1"}, a, nil, "1.0.0")
	if err != nil || !hit || fixed != "2.0.0" {
		t.Fatalf("Affects(SEMVER, nil scheme) = %v, %q, %v; want true, 2.0.0, nil", hit, fixed, err)
	}
}

// FuzzAffects evaluates random SEMVER events: no panic, and the laws of
// the result: a miss has no fixed version; a hit's fixed version is above
// the installed one and, in a one-range entry, is itself not affected.
func FuzzAffects(f *testing.F) {
	f.Add("1.2.3", "0", "1.5.0", "", "", "2.0.0", "")
	f.Add("1.0.0", "1.0.0", "1.0.0", "", "", "", "")
	f.Add("2.4.1", "0", "", "2.4.1", "", "", "")
	f.Add("1.9.9", "0", "", "", "2.0.0", "", "")
	f.Add("0.0.1-alpha", "0.0.0-0", "0.5.2", "", "", "", "")
	f.Add("3.0.0", "1.0.0", "1.5.0", "", "3.0.0", "2.0.0", "2.5.0")
	f.Add("x", "0", "1", "", "", "", "")
	s := version.Semver()
	f.Fuzz(func(t *testing.T, installed, in1, fix1, last1, lim, in2, fix2 string) {
		var evs []osv.Event
		for _, e := range []osv.Event{intro(in1), fix(fix1), last(last1), limit(lim), intro(in2), fix(fix2)} {
			if e != (osv.Event{}) {
				evs = append(evs, e)
			}
		}
		a := osv.Affected{Ranges: []osv.Range{rng("SEMVER", evs...)}}
		v := osv.Vulnerability{ID: "FUZZ-1"}
		hit, fixed, err := Affects(v, a, s, installed)
		if err != nil {
			if hit && fixed != "" {
				t.Fatalf("error %v with a fixed version %q", err, fixed)
			}
			return
		}
		if !hit {
			if fixed != "" {
				t.Fatalf("Affects(%q) = miss with fixed %q", installed, fixed)
			}
			return
		}
		if fixed == "" {
			return
		}
		iv, _ := s.Parse(installed)
		fv, err := s.Parse(fixed)
		if err != nil {
			t.Fatalf("fixed %q does not parse: %v", fixed, err)
		}
		if s.Compare(fv, iv) <= 0 {
			t.Fatalf("Affects(%q) fixed = %q, not above installed", installed, fixed)
		}
		again, _, err := Affects(v, a, s, fixed)
		if err != nil || again {
			t.Fatalf("Affects(%q) fixed = %q, but Affects(%q) = %v, %v", installed, fixed, fixed, again, err)
		}
	})
}
