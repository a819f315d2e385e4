package osv

import "testing"

func TestNormalizeEcosystem(t *testing.T) {
	for in, want := range map[string]string{
		"Alpine:v3.16":                          "Alpine:v3.16",
		"Alpine:3.16":                           "Alpine:v3.16",
		"alpine:3.20":                           "Alpine:v3.20",
		" Alpine:v3.10 ":                        "Alpine:v3.10",
		"Ubuntu:22.04:LTS":                      "Ubuntu:22.04",
		"Ubuntu:Pro:18.04:LTS":                  "Ubuntu:Pro:18.04",
		"Ubuntu:20.10":                          "Ubuntu:20.10",
		"Debian:12":                             "Debian:12",
		"Debian:12.4":                           "Debian:12",
		"Debian:3.0":                            "Debian:3.0",
		"Debian:3.1":                            "Debian:3.1",
		"Debian:4.0":                            "Debian:4",
		"AlmaLinux:8":                           "AlmaLinux:8",
		"AlmaLinux:9.4":                         "AlmaLinux:9",
		"Rocky Linux:9":                         "Rocky Linux:9",
		"Rocky Linux:8.10":                      "Rocky Linux:8",
		"Go":                                    "Go",
		"go":                                    "Go",
		"pypi":                                  "PyPI",
		"PyPI":                                  "PyPI",
		"crates.io":                             "crates.io",
		"maven":                                 "Maven",
		"npm":                                   "npm",
		"Bitnami":                               "Bitnami",
		"Red Hat:enterprise_linux:9::appstream": "Red Hat:enterprise_linux:9::appstream",
		"OSS-Fuzz":                              "OSS-Fuzz",
		"":                                      "",
	} {
		if got := NormalizeEcosystem(in); got != want {
			t.Errorf("NormalizeEcosystem(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzNormalizeEcosystem(f *testing.F) {
	for _, s := range []string{"Alpine:3.16", "Ubuntu:Pro:18.04:LTS", "Debian:12.4", "go"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := NormalizeEcosystem(s)
		if NormalizeEcosystem(n) != n {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, n, NormalizeEcosystem(n))
		}
	})
}
