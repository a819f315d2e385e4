package cargo_test

import (
	"strings"
	"testing"

	"golang.org/x/mod/semver"

	"github.com/lockdown-sec/lockdown/internal/catalog/langtest"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// TestCatalogCargo catalogs trivy-ci-test's Cargo.lock as a dir: target
// and matches it against crates.io.zip: the findings must be the naive
// semver reading of the records ("0.0.0-0" introduced: all versions).
func TestCatalogCargo(t *testing.T) {
	dir := langtest.CopyDir(t, testutil.Data(t, "lockfiles/cargo/trivy-ci-test"), t.TempDir(), "src")
	sbom := langtest.Catalog(t, dir, "cargo")
	if len(sbom.Packages) != 73 || len(sbom.Warnings) != 0 {
		t.Fatalf("%d packages, warnings %v; want 73", len(sbom.Packages), sbom.Warnings)
	}
	for _, p := range sbom.Packages {
		if p.Ecosystem != "crates.io" || p.PURL != "pkg:cargo/"+p.Name+"@"+p.Version || p.Location != "/src/Cargo.lock" {
			t.Errorf("package %+v", p)
		}
	}
	vs := testutil.OSVZip(t, "osv/crates.io.zip")
	fs, ws := langtest.Match(t, vs, sbom.Packages)
	if len(ws) != 0 {
		t.Errorf("match warnings: %v", ws)
	}
	vcmp := func(a, b string) int {
		return semver.Compare("v"+strings.TrimPrefix(a, "v"), "v"+strings.TrimPrefix(b, "v"))
	}
	want := langtest.Expected(vs, sbom.Packages, "crates.io", nil, vcmp)
	langtest.CompareHits(t, langtest.Hits(fs, vs), want)
	n, r, p := langtest.Count(want)
	t.Logf("%d hits on %d records, %d packages", n, r, p)
	if n != 22 || r != 22 || p != 8 {
		t.Errorf("%d hits on %d records, %d packages; want 22 on 22, 8", n, r, p)
	}
}
