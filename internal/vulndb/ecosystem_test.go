package vulndb

import "testing"

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
