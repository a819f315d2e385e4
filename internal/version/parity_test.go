package version

import (
	"strings"
	"testing"
)

// TestParityVectors: the classes of issue 14 where each ecosystem's own
// implementation is the reference, with its public test vectors (facts,
// cited per case).
func TestParityVectors(t *testing.T) {
	long := strings.Repeat("1", 255) + ".0.0" // node-semver test/fixtures/invalid-versions.js: "too long"
	for _, c := range []struct {
		scheme Scheme
		in     string
		valid  bool
		source string
	}{
		// golang.org/x/mod/semver (semver_test.go): shorthands only bare.
		{Go(), "v1", true, "x/mod semver_test.go"},
		{Go(), "v1.2", true, "x/mod semver_test.go"},
		{Go(), "v1-pre", false, "x/mod semver_test.go"},
		{Go(), "v1.2-pre", false, "x/mod semver_test.go"},
		{Go(), "v1.2+meta", false, "x/mod semver_test.go"},
		{Go(), "v1.2.3-pre", true, "x/mod semver_test.go"},
		{Go(), "v1.2.3+meta", true, "x/mod semver_test.go"},
		{Go(), "1.22.0-0", true, "Go vulndb: introduced markers"},
		// node-semver test/fixtures/valid-versions.js, invalid-versions.js and
		// loose parsing (classes/semver.js: trim, then ^[v=\s]*).
		{NPM(), "1.2.3-alpha-.-beta", true, "valid-versions.js"},
		{NPM(), "1.2.3+build.alpha.beta", true, "valid-versions.js"},
		{NPM(), " =v1.2.3 ", true, "loose: [v=\\s]* prefix, trimmed"},
		{NPM(), "=1.2.3", true, "loose"},
		{NPM(), long, false, "invalid-versions.js: too long"},
		{NPM(), "90071992547409910.0.0", false, "invalid-versions.js: MAX_SAFE_INTEGER0.0.0 too big"},
		{NPM(), "0.90071992547409910.0", false, "invalid-versions.js: too big"},
		{NPM(), "0.0.90071992547409910", false, "invalid-versions.js: too big"},
		{NPM(), "9007199254740991.0.0", true, "MAX_SAFE_INTEGER itself"},
		{NPM(), "hello, world", false, "invalid-versions.js"},
		{NPM(), "1.2", false, "node-semver: major.minor.patch"},
		// dpkg lib/dpkg/parsehelp.c parseversion(): epoch above INT_MAX.
		{Dpkg(), "2147483647:1.0-1", true, "dpkg parseversion: INT_MAX"},
		{Dpkg(), "2147483648:1.0-1", false, "dpkg parseversion: epoch in version is too big"},
		{Dpkg(), "99999999999999999999:1.0", false, "dpkg parseversion: epoch in version is too big"},
		// pypa/packaging version.py: the pattern is matched with Python's
		// Unicode \s around the version.
		{PEP440(), "\u00a01.0\u2003", true, "packaging: re.VERBOSE|re.IGNORECASE, str pattern: Unicode \\s"},
		{PEP440(), "\u30001.0.post1\u3000", true, "packaging: Unicode \\s"},
		// RubyGems lib/rubygems/version.rb ANCHORED_VERSION_PATTERN:
		// [0-9]+(?>\.[0-9a-zA-Z]+)*(-…)? — "1beta" has no "." before the
		// letters, so Gem::Version.new raises "Malformed version number
		// string"; "1.beta" is the pre-release. (The issue text says 1beta
		// is a pre-release; RubyGems, the reference, says malformed.)
		{RubyGems(), "1beta", false, "rubygems version.rb ANCHORED_VERSION_PATTERN"},
		{RubyGems(), "1.beta", true, "rubygems version.rb"},
	} {
		_, err := c.scheme.Parse(c.in)
		if (err == nil) != c.valid {
			t.Errorf("%s.Parse(%q) error = %v, want valid %v (%s)", c.scheme.Name(), c.in, err, c.valid, c.source)
		}
	}
	// Ordering facts of the same sources.
	for _, c := range []struct {
		scheme Scheme
		a, b   string
		want   int
	}{
		{NPM(), " =v1.2.3 ", "1.2.3", 0},
		{NPM(), "1.2.3-alpha", "1.2.3", -1},
		{Go(), "v1.2", "v1.2.0", 0},
		{RubyGems(), "1.beta", "1", -1},
		{PEP440(), "\u00a01.0\u2003", "1.0", 0},
	} {
		a, errA := c.scheme.Parse(c.a)
		b, errB := c.scheme.Parse(c.b)
		if errA != nil || errB != nil {
			t.Errorf("%s: parse %q, %q: %v %v", c.scheme.Name(), c.a, c.b, errA, errB)
			continue
		}
		if got := c.scheme.Compare(a, b); got != c.want {
			t.Errorf("%s.Compare(%q, %q) = %d, want %d", c.scheme.Name(), c.a, c.b, got, c.want)
		}
	}
}

// TestMavenZeroCanonical: every zero version has a canonical form that
// parses back to an equal version (maven-artifact ComparableVersion: "0",
// "000" and "0.0.0" are all equal to "0").
func TestMavenZeroCanonical(t *testing.T) {
	m := Maven()
	for _, in := range []string{"0", "000", "0.0", "0.0.0", "0-0", "0.final", "0-ga"} {
		v, err := m.Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		c := v.(MavenVersion).Canonical()
		back, err := m.Parse(c)
		if c == "" || err != nil || m.Compare(v, back) != 0 {
			t.Errorf("Canonical(%q) = %q: parses back %v, %v", in, c, back, err)
		}
	}
}
