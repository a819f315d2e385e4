package version

import "testing"

// BenchmarkParseCompare parses two versions and compares them, per scheme.
func BenchmarkParseCompare(b *testing.B) {
	cases := []struct {
		s    Scheme
		x, y string
	}{
		{Dpkg(), "2:1.20.11-1+deb11u6", "2:1.20.11-1+deb11u10"},
		{APK(), "1.36.1-r28", "1.36.1_git20240101-r29"},
		{APK3(), "1.36.1~1a2b3c-r28", "1.36.1_git20240101-r29"},
		{RPM(), "1:1.1.1k-5.el8_5", "1:1.1.1k-6.el8_5"},
		{Go(), "v0.0.0-20200226121028-0de0cce0169b", "0.7.0"},
		{Semver(), "4.17.15", "4.17.21"},
		{PEP440(), "2.28.1", "2.31.0.post1"},
		{Maven(), "9.4.52.v20230823", "9.4.53.v20231009"},
	}
	for _, tc := range cases {
		b.Run(tc.s.Name(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				x, err := tc.s.Parse(tc.x)
				if err != nil {
					b.Fatal(err)
				}
				y, err := tc.s.Parse(tc.y)
				if err != nil {
					b.Fatal(err)
				}
				if tc.s.Compare(x, y) >= 0 {
					b.Fatalf("%s: %s >= %s", tc.s.Name(), tc.x, tc.y)
				}
			}
		})
	}
}
