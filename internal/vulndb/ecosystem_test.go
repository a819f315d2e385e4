package vulndb

import "testing"

func TestNormalizeEcosystem(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Alpine:3.16", "Alpine:v3.16"},
		{"Alpine:v3.16", "Alpine:v3.16"},
		{"Alpine:edge", "Alpine:edge"},
		{"Ubuntu:22.04:LTS", "Ubuntu:22.04"},
		{"Ubuntu:Pro:18.04:LTS", "Ubuntu:Pro:18.04"},
		{"Ubuntu:20.10", "Ubuntu:20.10"},
		{"Debian:12", "Debian:12"},
		{"Debian:12.4", "Debian:12"},
		{"Debian:4.0", "Debian:4"},
		{"Debian:3.1", "Debian:3.1"}, // sarge, not a point release of 3
		{"Debian:3.0", "Debian:3.0"},
		{"AlmaLinux:8", "AlmaLinux:8"},
		{"Rocky Linux:9", "Rocky Linux:9"},
		{"Go", "Go"},
		{" PyPI ", "PyPI"},
		{"Packagist:https://packages.drupal.org/8", "Packagist:https://packages.drupal.org/8"},
		{"", ""},
	} {
		if got := NormalizeEcosystem(c.in); got != c.want {
			t.Errorf("NormalizeEcosystem(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestKnownEcosystem(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"Debian:12", true}, {"Ubuntu:Pro:18.04", true}, {"Alpine:v3.20", true}, {"Rocky Linux:9", true},
		{"Red Hat:enterprise_linux:9::appstream", true}, {"SUSE:Linux Enterprise Server 15 SP5", true},
		{"openSUSE:Leap 15.5", true}, {"Mariner:2.0", true}, {"Go", true}, {"npm", true}, {"PyPI", true},
		{"crates.io", true}, {"Maven", true}, {"NuGet", true}, {"RubyGems", true}, {"Packagist", true},
		{"Bitnami", true}, {"Hex", true}, {"Pub", true}, {"GIT", true},
		{"OSS-Fuzz", false}, {"SwiftURL", false}, {"go", false}, {"Frobnitz", false}, {"", false},
	} {
		if got := KnownEcosystem(c.in); got != c.want {
			t.Errorf("KnownEcosystem(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestExportURL(t *testing.T) {
	for _, c := range []struct{ base, eco, want string }{
		{"", "Go", DefaultBaseURL + "/Go/all.zip"},
		{"http://127.0.0.1:8080/", "Rocky Linux", "http://127.0.0.1:8080/Rocky%20Linux/all.zip"},
		{"http://m/osv", "crates.io", "http://m/osv/crates.io/all.zip"},
	} {
		if got := ExportURL(c.base, c.eco); got != c.want {
			t.Errorf("ExportURL(%q, %q) = %q, want %q", c.base, c.eco, got, c.want)
		}
	}
}
