package version

import (
	"testing"
)

func opOf(c int) string {
	switch {
	case c < 0:
		return "<"
	case c > 0:
		return ">"
	}
	return "="
}

func flip(op string) string {
	switch op {
	case "<":
		return ">"
	case ">":
		return "<"
	}
	return "="
}

func runOrder(t *testing.T, s Scheme, cases []orderCase) {
	t.Helper()
	if len(cases) < 50 {
		t.Errorf("%s table has %d cases, want at least 50", s.Name(), len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.a+tc.op+tc.b, func(t *testing.T) {
			a, err := s.Parse(tc.a)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tc.a, err)
			}
			b, err := s.Parse(tc.b)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tc.b, err)
			}
			if got := opOf(s.Compare(a, b)); got != tc.op {
				t.Errorf("%s: Compare(%q, %q) = %s, want %s", s.Name(), tc.a, tc.b, got, tc.op)
			}
			if got := opOf(s.Compare(b, a)); got != flip(tc.op) {
				t.Errorf("%s: Compare(%q, %q) = %s, want %s", s.Name(), tc.b, tc.a, got, flip(tc.op))
			}
			if got := s.Compare(a, a); got != 0 {
				t.Errorf("%s: Compare(%q, itself) = %d, want 0", s.Name(), tc.a, got)
			}
			if a.String() != tc.a {
				t.Errorf("%s: Parse(%q).String() = %q", s.Name(), tc.a, a.String())
			}
		})
	}
}

func TestDpkgOrder(t *testing.T)   { runOrder(t, Dpkg(), dpkgCases) }
func TestAPKOrder(t *testing.T)    { runOrder(t, APK(), apkCases) }
func TestRPMOrder(t *testing.T)    { runOrder(t, RPM(), rpmCases) }
func TestGoOrder(t *testing.T)     { runOrder(t, Go(), goCases) }
func TestSemverOrder(t *testing.T) { runOrder(t, Semver(), semverCases) }
func TestPEP440Order(t *testing.T) { runOrder(t, PEP440(), pep440Cases) }
func TestMavenOrder(t *testing.T)  { runOrder(t, Maven(), mavenCases) }
