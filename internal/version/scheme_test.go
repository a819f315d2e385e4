package version

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/semver"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		s    Scheme
		in   string
		want string // part of the message
	}{
		{Dpkg(), "", "empty version"},
		{Dpkg(), "a:1.0", "epoch is not a number"},
		{Dpkg(), "1.0-", "empty revision"},
		{Dpkg(), "abc", "does not start with a digit"},
		{Dpkg(), "1.0_1", "invalid character"},
		{Dpkg(), "1.0-1_2", "invalid character in revision"},
		{Dpkg(), "1.0 1", "whitespace"},
		{APK(), "", "empty version"},
		{APK(), "a1", "does not start with a digit"},
		{APK(), "1.0_foo", "unknown suffix"},
		{APK(), "1.0-1", "invalid character"},
		{APK(), "1.0A", "invalid character"},
		{APK(), "1.0ab", "invalid character"},
		{APK(), "1.0_rc.1", "invalid character"},
		{RPM(), "", "empty version"},
		{RPM(), "x:1.0", "epoch is not a number"},
		{RPM(), "1:2:3", "more than one"},
		{RPM(), "1.0-", "empty release"},
		{RPM(), "-1", "empty version part"},
		{Semver(), "", "empty version"},
		{Semver(), "1.2.3.4", "too many numbers"},
		{Semver(), "01.2.3", "leading zero"},
		{Semver(), "1.2.3-01", "leading zero"},
		{Semver(), "1.2.3-", "empty pre-release"},
		{Semver(), "1.2.3-a..b", "empty pre-release identifier"},
		{Semver(), "1.2.3+", "empty build"},
		{Semver(), "1.2.x", "not a number"},
		{Semver(), "1.2.3-a_b", "invalid character"},
		{Go(), "go1.x", "not a Go release tag"},
		{Go(), "(devel)", "not a number"},
		{Go(), "devel", "not a number"},
		{PEP440(), "1.0-foo", "not a PEP 440 version"},
		{PEP440(), "", "not a PEP 440 version"},
		{PEP440(), "1.0+", "not a PEP 440 version"},
		{Maven(), "", "empty version"},
		{Maven(), "1.0 beta", "invalid character"},
		{RubyGems(), "1.0 beta", "malformed"},
		{RubyGems(), "a.b", "malformed"},
		{NuGet(), "1.2.3.4.5", "too many numbers"},
		{Packagist(), "dev-master", "does not start with a number"},
	}
	for _, tc := range tests {
		v, err := tc.s.Parse(tc.in)
		if err == nil {
			t.Errorf("%s Parse(%q) = %v, want error", tc.s.Name(), tc.in, v)
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Input != tc.in || pe.Scheme != tc.s.Name() {
			t.Errorf("%s Parse(%q) error %#v does not name the input and scheme", tc.s.Name(), tc.in, err)
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.s.Name()) {
			t.Errorf("%s Parse(%q) error = %q, want it to contain %q", tc.s.Name(), tc.in, err, tc.want)
		}
	}
}

// TestGoMatchesXModSemver checks the Go scheme against golang.org/x/mod/semver
// on every pair of module versions in the Go table.
func TestGoMatchesXModSemver(t *testing.T) {
	var vs []string
	for _, tc := range goCases {
		for _, v := range []string{tc.a, tc.b} {
			if strings.HasPrefix(v, "v") && semver.IsValid(v) {
				vs = append(vs, v)
			}
		}
	}
	if len(vs) < 50 {
		t.Fatalf("only %d module versions in the Go table", len(vs))
	}
	g := Go()
	for _, a := range vs {
		for _, b := range vs {
			x, _ := g.Parse(a)
			y, _ := g.Parse(b)
			if got, want := g.Compare(x, y), semver.Compare(a, b); got != want {
				t.Errorf("Go Compare(%q, %q) = %d, x/mod/semver says %d", a, b, got, want)
			}
		}
	}
}

// Mixed inputs: a Version from another scheme is re-parsed; a Version that
// cannot be re-parsed falls back to comparing strings, never a panic.
func TestCompareForeignVersion(t *testing.T) {
	d, _ := Dpkg().Parse("1.0-1")
	s, _ := Semver().Parse("1.0.0")
	// dpkg "1.0-1" read as SemVer is 1.0.0-1, older than 1.0.0.
	if got := Semver().Compare(s, d); got != 1 {
		t.Errorf("Semver Compare(1.0.0, dpkg 1.0-1) = %d, want 1", got)
	}
	bad, _ := RPM().Parse("1:2")
	if got := Semver().Compare(bad, s); got != strings.Compare("1:2", "1.0.0") {
		t.Errorf("Semver Compare(rpm 1:2, 1.0.0) = %d, want string order", got)
	}
	if got := Semver().Compare(nil, nil); got != 0 {
		t.Errorf("Compare(nil, nil) = %d, want 0", got)
	}
}

// Smaller tables for the schemes beyond the nine required.

func TestRubyGemsOrder(t *testing.T) {
	// Gem::Version#<=> (rubygems/version.rb).
	cases := []orderCase{
		{"1.0", "=", "1"}, {"1.0.0", "=", "1"}, {"1.0", "<", "1.0.1"},
		{"1.0.a", "<", "1.0"}, {"1.0.a1", "<", "1.0.a2"}, {"1.0.b1", ">", "1.0.a2"},
		{"1.0.rc1", "<", "1.0"}, {"1.0-rc1", "=", "1.0.pre.rc1"}, {"1.0-1", "<", "1.0"},
		{"5.2.4.3", ">", "5.2.4.2"}, {"5.2.4.3", "<", "5.2.5"}, {"6.0.0.beta1", "<", "6.0.0"},
		{"6.0.0.beta1", "<", "6.0.0.rc1"}, {"1.9", "<", "1.10"}, {"", "=", "0"},
		{"1.0.0.a", "=", "1.a"}, {"2.0.0.rc.1", "<", "2.0.0.rc.2"}, {"1.2.3", "=", "1.2.3.0.0"},
		{"0.9.9", "<", "1.0.a"}, {"1.0.a.1", "<", "1.0.b"},
	}
	s := RubyGems()
	for _, tc := range cases {
		a, err := s.Parse(tc.a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Parse(tc.b)
		if err != nil {
			t.Fatal(err)
		}
		if got := opOf(s.Compare(a, b)); got != tc.op {
			t.Errorf("RubyGems Compare(%q, %q) = %s, want %s", tc.a, tc.b, got, tc.op)
		}
		if got := opOf(s.Compare(b, a)); got != flip(tc.op) {
			t.Errorf("RubyGems Compare(%q, %q) = %s, want %s", tc.b, tc.a, got, flip(tc.op))
		}
	}
}

func TestNuGetOrder(t *testing.T) {
	// NuGet.Versioning VersionComparer.
	cases := []orderCase{
		{"1.0", "=", "1.0.0"}, {"1.0.0.0", "=", "1.0.0"}, {"1.0.0.1", ">", "1.0.0"},
		{"1.0.0.1", "<", "1.0.1"}, {"1.01", "=", "1.1"}, {"1.0.0-beta", "<", "1.0.0"},
		{"1.0.0-BETA", "=", "1.0.0-beta"}, {"1.0.0-alpha", "<", "1.0.0-Beta"},
		{"1.0.0-beta.2", "<", "1.0.0-beta.10"}, {"1.0.0+meta", "=", "1.0.0"},
		{"13.0.1", ">", "12.0.3"}, {"4.7.2", "<", "4.7.10"},
	}
	s := NuGet()
	for _, tc := range cases {
		a, err := s.Parse(tc.a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Parse(tc.b)
		if err != nil {
			t.Fatal(err)
		}
		if got := opOf(s.Compare(a, b)); got != tc.op {
			t.Errorf("NuGet Compare(%q, %q) = %s, want %s", tc.a, tc.b, got, tc.op)
		}
		if got := opOf(s.Compare(b, a)); got != flip(tc.op) {
			t.Errorf("NuGet Compare(%q, %q) = %s, want %s", tc.b, tc.a, got, flip(tc.op))
		}
	}
}

func TestPackagistOrder(t *testing.T) {
	// composer/semver normalisation + PHP version_compare.
	cases := []orderCase{
		{"1.0", "=", "1.0.0"}, {"v1.0.0", "=", "1.0.0.0"}, {"1.0.0-dev", "<", "1.0.0-alpha1"},
		{"1.0.0-alpha1", "<", "1.0.0-beta1"}, {"1.0.0-beta1", "<", "1.0.0-RC1"},
		{"1.0.0-RC1", "<", "1.0.0"}, {"1.0.0", "<", "1.0.0-pl1"}, {"1.0.0-beta2", ">", "1.0.0-beta1"},
		{"10.2.11", ">", "10.2.9"}, {"8.9.20", "<", "9.0.0"}, {"7.0.0-beta1", "<", "7.0.0"},
		{"2.4.1", ">", "2.4.0.1"}, {"1.0.0-rc.2", ">", "1.0.0-rc.1"}, {"5.4.0-p1", ">", "5.4.0"},
	}
	s := Packagist()
	for _, tc := range cases {
		a, err := s.Parse(tc.a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Parse(tc.b)
		if err != nil {
			t.Fatal(err)
		}
		if got := opOf(s.Compare(a, b)); got != tc.op {
			t.Errorf("Packagist Compare(%q, %q) = %s, want %s", tc.a, tc.b, got, tc.op)
		}
		if got := opOf(s.Compare(b, a)); got != flip(tc.op) {
			t.Errorf("Packagist Compare(%q, %q) = %s, want %s", tc.b, tc.a, got, flip(tc.op))
		}
	}
}

func TestCanonical(t *testing.T) {
	m, _ := parseMaven("1.0.0.Beta1")
	if got := m.Canonical(); got != "1-beta-1" {
		t.Errorf("Maven canonical(1.0.0.Beta1) = %q, want 1-beta-1", got)
	}
	m, _ = parseMaven("1.sp")
	if got := m.Canonical(); got != "1-sp" {
		t.Errorf("Maven canonical(1.sp) = %q, want 1-sp", got)
	}
	g, _ := parseGo("go1.21rc2")
	if got := g.Canonical(); got != "1.21.0-rc.2" {
		t.Errorf("Go canonical(go1.21rc2) = %q, want 1.21.0-rc.2", got)
	}
}
