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
		// pypa/packaging tests/test_version.py test_invalid_versions: a local
		// version with a non-ASCII letter that [a-z] matches under
		// re.IGNORECASE without re.ASCII; the reproducer of packaging issue
		// #469 (tests/test_specifiers.py); ASCII capitals stay valid.
		{PEP440(), "1.0+\u0130", false, "packaging test_version.py test_invalid_versions"},
		{PEP440(), "1.2+\u0130\u0131\u017f\u212a", false, "packaging issue #469, test_specifiers.py"},
		{PEP440(), "1.0+\u212a", false, "packaging: local segment matched with re.ASCII"},
		{PEP440(), "1.0+ABC.1", true, "packaging test_version.py: local versions are case-insensitive"},
		{PEP440(), "\u0660\u0661\u0662.\u0663\u0664\u0665.\u0666\u0667\u0668\u0669", false, "packaging test_version.py: versions need standard numbers"},
		// RubyGems lib/rubygems/version.rb ANCHORED_VERSION_PATTERN:
		// \A\s*([0-9]+(?>\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?)?\s*\z
		// — the first segment is digits only, so "1beta" (no "." before the
		// letters) does not match and Gem::Version.new raises
		// "Malformed version number string 1beta"; "1.beta", "1.0beta" and
		// "1-beta" are pre-releases. (The issue text says 1beta is a
		// pre-release; RubyGems, the reference, says malformed.) Checked
		// with RubyGems 3.3.15 (Debian 12's ruby 3.1): Gem::Version.new.
		{RubyGems(), "1beta", false, "rubygems version.rb ANCHORED_VERSION_PATTERN; Gem::Version.new raises"},
		{RubyGems(), "1b", false, "rubygems 3.3.15: Malformed version number string 1b"},
		{RubyGems(), "1.beta", true, "rubygems version.rb"},
		{RubyGems(), "1.0beta", true, "rubygems 3.3.15: segments [1, 0, \"beta\"]"},
		{RubyGems(), "1-beta", true, "rubygems 3.3.15: segments [1, \"pre\", \"beta\"]"},
		{RubyGems(), " 1.0 ", true, "rubygems version.rb: \\s* around, stripped"},
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
		{RubyGems(), "1.0beta", "1", -1},              // rubygems 3.3.15 <=>
		{RubyGems(), "1-beta", "1.pre.beta", 0},       // rubygems 3.3.15 <=>
		{RubyGems(), "1.0.0beta1", "1.0.0.beta.1", 0}, // rubygems 3.3.15 <=>
		{PEP440(), "\u00a01.0\u2003", "1.0", 0},
		{PEP440(), "1.0+ABC.1", "1.0+abc.1", 0},
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

// TestMavenNonASCII: maven-artifact's ComparableVersionTest (Maven 3.9:
// digitGreaterThanNonAscii, digitGreaterThanNonBmpCharacters,
// compareLowerCaseToUpperCaseNonASCII, nonAsciiDigits, lexicographicOrder):
// only ASCII 0-9 are digits; other digits and letters are qualifier text,
// lower-cased, compared as Java compares strings.
func TestMavenNonASCII(t *testing.T) {
	m := Maven()
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1", "\u00e9", 1},                             // digitGreaterThanNonAscii: 1 > é
		{"1", "\U0001d7e4", 1},                         // digitGreaterThanNonBmpCharacters: MATHEMATICAL SANS-SERIF DIGIT TWO is no digit
		{"1.\u00c9", "1.\u00e9", 0},                    // compareLowerCaseToUpperCaseNonASCII
		{"1", "\u0668", 1},                             // nonAsciiDigits: ARABIC-INDIC DIGIT EIGHT is no digit
		{"9", "\u0668", 1},                             // nonAsciiDigits
		{"zebra", "aardvark", 1},                       // lexicographicOrder
		{"\u03b6\u03ad\u03b2\u03c1\u03b1", "zebra", 1}, // lexicographicOrder: Greek zebra after zebra
		{"7", "J", 1},                                  // compareDigitToLetter
		// Java orders strings by UTF-16 code units: a character beyond the
		// BMP (surrogates D800-DFFF) before U+FF21 (FULLWIDTH A).
		{"1-\U0001d7e4", "1-\uff21", -1},
		{"1-\u0668\u0668", "1-\u0668", 1},
	} {
		a, errA := m.Parse(c.a)
		b, errB := m.Parse(c.b)
		if errA != nil || errB != nil {
			t.Errorf("Parse(%q), Parse(%q): %v, %v", c.a, c.b, errA, errB)
			continue
		}
		if got, back := m.Compare(a, b), m.Compare(b, a); got != c.want || back != -c.want {
			t.Errorf("Compare(%q, %q) = %d (back %d), want %d", c.a, c.b, got, back, c.want)
		}
	}
	for _, bad := range []string{"1.0\u00a0beta", "1.0\u2003", "1\x00", "1\xff", "1.0\u200b"} {
		if _, err := m.Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted: not printable text", bad)
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

// apk3Cases: apk-tools 3's test/unit/version.data, the rows that are new
// in it or that apk-tools 3 orders differently from apk-tools 2 (the rows
// both share are apkCases, run under APK3 as well).
var apk3Cases = []orderCase{
	{"8.2.0", "<", "8.2.001"},
	{"8.2.0015", "<", "8.2.002"}, // apk-tools 2: 15 > 2 after equal zero runs
	{"1.0~1234", "<", "1.0~2345"},
	{"1.0~1234-r1", "<", "1.0~2345-r0"},
	{"1.0~1234-r1", ">", "1.0~1234-r0"},
	{"6.0_pre1", "<", "6.0"},
	{"6.0_p1", ">", "6.0"},
	{"0.1.0_alpha_pre2", "<", "0.1.0_alpha"},
	// apk-tools 3 src/version.c (token_cmp, the end of
	// apk_version_compare_fuzzy): a leading zero compares as text; a hash
	// token is earlier in the order than the revision and the end.
	{"1.0", "<", "1.00"},
	{"1.00", "<", "1.001"},
	{"1.001", "<", "1.01"},
	{"1.01", "<", "1.1"},
	{"1.05", "<", "1.5"},
	{"1.0", "<", "1.0~abc"},
	{"1.0-r1", "<", "1.0~abc"},
	{"1.0~abc-r1", ">", "1.0-r1"},
	{"1.0_rc1~abc", "<", "1.0"},
}

// TestAPK3 runs apk-tools 3's vectors, its validity rows, apkCases (which
// apk-tools 3 orders alike but for the leading-zero rows it changed), and
// the choice of scheme by the image's apk-tools version.
func TestAPK3(t *testing.T) {
	s := APK3()
	var shared []orderCase
	for _, c := range apkCases {
		if c.a+c.op+c.b != "1.0>1.00" { // apk-tools 2's fraction reading; apk3Cases has 3's answer
			shared = append(shared, c)
		}
	}
	runOrder(t, s, append(shared, apk3Cases...))
	// test/unit/version.data: valid, then invalid ("!") rows.
	for _, in := range []string{"1.2", "0.1_pre2", "0.1_pre2~1234abcd", "0.1_p1_pre2", "0.1_alpha1_pre2", "0.1_git20240101_pre1"} {
		if _, err := s.Parse(in); err != nil {
			t.Errorf("Parse(%q): %v, want valid (apk-tools test/unit/version.data)", in, err)
		}
	}
	for _, in := range []string{"", "0.1bc", "0.1bc1", "0.1a1", "0.1a.1", "0.1_pre2~", "0.1_pre2~1234xbcd",
		"0.1_pre2~1234abcd_pre1", "0.1_pre2-r1~1234xbcd", "0.1_foobar", "0.1_foobar1", "0.1-pre1.1", "0.1-r",
		"0.1-r2_pre1", "0.1-r2_p3_pre1", "0.1-r2-r3", "0.1-r2.1", ".1", "a", "_pre1", "-r1", "0.1_", "0.1_-r0",
		"0.1__alpha", "0.1_1_alpha"} {
		if _, err := s.Parse(in); err == nil {
			t.Errorf("Parse(%q) accepted, want invalid (apk-tools test/unit/version.data)", in)
		}
	}
	// apk-tools 2 reads some of those (version.c of 2.14: a digit may follow
	// a letter, "-r" needs no number).
	for _, in := range []string{"0.1a1", "0.1-r"} {
		if _, err := APK().Parse(in); err != nil {
			t.Errorf("apk-tools 2 Parse(%q): %v, want valid", in, err)
		}
	}
	for in, want := range map[string]string{"3.0.0_rc4-r0": s.Name(), "3.0.1-r1": s.Name(), "10.1": s.Name(),
		"2.14.4-r1": APK().Name(), "": APK().Name(), "x": APK().Name()} {
		if got := APKFor(in).Name(); got != want {
			t.Errorf("APKFor(%q) = %s, want %s", in, got, want)
		}
	}
}
