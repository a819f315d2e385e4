package version

import (
	"strings"
	"testing"

	"golang.org/x/mod/semver"
)

// fuzzScheme checks the laws every scheme must keep on any input: no
// panic; a parsed version prints as its input and equals itself; Compare
// is antisymmetric and (unless intransitive is set) transitive.
func fuzzScheme(f *testing.F, s Scheme, cases []orderCase, intransitive ...bool) {
	for _, tc := range cases {
		f.Add(tc.a, tc.b, tc.a)
		f.Add(tc.b, tc.a, tc.b+".1")
	}
	f.Fuzz(func(t *testing.T, x, y, z string) {
		a, errA := s.Parse(x)
		b, errB := s.Parse(y)
		c, errC := s.Parse(z)
		if errA == nil {
			if a.String() != x {
				t.Fatalf("%s Parse(%q).String() = %q", s.Name(), x, a.String())
			}
			if got := s.Compare(a, a); got != 0 {
				t.Fatalf("%s Compare(%q, itself) = %d", s.Name(), x, got)
			}
		} else if !strings.Contains(errA.Error(), s.Name()) {
			t.Fatalf("%s Parse(%q) error %q does not name the scheme", s.Name(), x, errA)
		}
		if errA != nil || errB != nil {
			return
		}
		ab, ba := s.Compare(a, b), s.Compare(b, a)
		if ab != -ba || ab < -1 || ab > 1 {
			t.Fatalf("%s Compare(%q, %q) = %d but Compare(%q, %q) = %d", s.Name(), x, y, ab, y, x, ba)
		}
		if errC != nil || len(intransitive) > 0 {
			return
		}
		bc, ac := s.Compare(b, c), s.Compare(a, c)
		if ab <= 0 && bc <= 0 && ac > 0 {
			t.Fatalf("%s not transitive: %q <= %q <= %q but %q > %q", s.Name(), x, y, z, x, z)
		}
		if ab == 0 && bc == 0 && ac != 0 {
			t.Fatalf("%s equality not transitive: %q = %q = %q but Compare(%q, %q) = %d", s.Name(), x, y, z, x, z, ac)
		}
	})
}

func FuzzParseDpkg(f *testing.F)   { fuzzScheme(f, Dpkg(), dpkgCases) }
func FuzzParseAPK(f *testing.F)    { fuzzScheme(f, APK(), apkCases) }
func FuzzParseAPK3(f *testing.F)   { fuzzScheme(f, APK3(), apk3Cases) }
func FuzzParseRPM(f *testing.F)    { fuzzScheme(f, RPM(), rpmCases) }
func FuzzParseSemver(f *testing.F) { fuzzScheme(f, Semver(), semverCases) }
func FuzzParsePEP440(f *testing.F) { fuzzScheme(f, PEP440(), pep440Cases) }

// Maven's ComparableVersion is not transitive on odd inputs, and neither is
// this copy of it: maven-artifact 3.8.7 itself orders 1-alpha < 1 < 1.aa <
// 1-alpha (a qualifier after "." compares below a sub-list). Only the
// other laws are checked.
func FuzzParseMaven(f *testing.F) { fuzzScheme(f, Maven(), mavenCases, true) }
func FuzzParseRubyGems(f *testing.F) {
	fuzzScheme(f, RubyGems(), []orderCase{{"1.0.a", "<", "1.0"}, {"1.0-rc1", "<", "1.0"}, {"5.2.4.3", "<", "5.2.5"}})
}
func FuzzParseNuGet(f *testing.F) {
	fuzzScheme(f, NuGet(), []orderCase{{"1.0.0.1", ">", "1.0.0"}, {"1.0.0-BETA", "=", "1.0.0-beta"}})
}
func FuzzParsePackagist(f *testing.F) {
	fuzzScheme(f, Packagist(), []orderCase{{"1.0.0-RC1", "<", "1.0.0"}, {"v1.0.0", "=", "1.0.0.0"}})
}

// FuzzParseGo also checks the Go scheme against golang.org/x/mod/semver
// wherever x/mod accepts both versions.
func FuzzParseGo(f *testing.F) {
	fuzzScheme(f, Go(), goCases)
}

func FuzzGoVsXMod(f *testing.F) {
	for _, tc := range goCases {
		f.Add(tc.a, tc.b)
	}
	g := Go()
	f.Fuzz(func(t *testing.T, x, y string) {
		vx, vy := "v"+strings.TrimPrefix(x, "v"), "v"+strings.TrimPrefix(y, "v")
		if !semver.IsValid(vx) || !semver.IsValid(vy) || semver.Canonical(vx) != strings.TrimSuffix(vx, semver.Build(vx)) ||
			semver.Canonical(vy) != strings.TrimSuffix(vy, semver.Build(vy)) {
			return // x/mod accepts v1 and v1.2 shorthands only without pre-release; skip them
		}
		a, err := g.Parse(x)
		if err != nil {
			t.Fatalf("Go Parse(%q) error %v, x/mod accepts %q", x, err, vx)
		}
		b, err := g.Parse(y)
		if err != nil {
			t.Fatalf("Go Parse(%q) error %v, x/mod accepts %q", y, err, vy)
		}
		if got, want := g.Compare(a, b), semver.Compare(vx, vy); got != want {
			t.Fatalf("Go Compare(%q, %q) = %d, x/mod/semver says %d", x, y, got, want)
		}
	})
}
