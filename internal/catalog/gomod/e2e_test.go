package gomod_test

import (
	"strings"
	"testing"

	"golang.org/x/mod/semver"

	"github.com/lockdown-sec/lockdown/internal/catalog/langtest"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// TestCatalogGoMod catalogs the trivy go.mod fixture as a dir: target and
// matches it against the Go advisories (go.zip); the findings must be the
// naive semver reading of the records.
func TestCatalogGoMod(t *testing.T) {
	dir := langtest.CopyDir(t, testutil.Data(t, "lockfiles/go/trivy-fixture-gomod"), t.TempDir(), "src")
	sbom := langtest.Catalog(t, dir, "gomod")
	if len(sbom.Packages) != 18 || len(sbom.Warnings) != 0 {
		t.Fatalf("%d packages, warnings %v; want the 18 requires", len(sbom.Packages), sbom.Warnings)
	}
	for _, p := range sbom.Packages {
		if p.Type != model.TypeGolang || p.Ecosystem != "Go" || p.Location != "/src/go.mod" || !strings.HasPrefix(p.PURL, "pkg:golang/") {
			t.Errorf("package %+v", p)
		}
	}
	vs := testutil.OSVZip(t, "osv/go.zip")
	fs, ws := langtest.Match(t, vs, sbom.Packages)
	if len(ws) != 0 {
		t.Errorf("match warnings: %v", ws)
	}
	vcmp := func(a, b string) int {
		return semver.Compare("v"+strings.TrimPrefix(a, "v"), "v"+strings.TrimPrefix(b, "v"))
	}
	want := langtest.Expected(vs, sbom.Packages, "Go", nil, vcmp)
	langtest.CompareHits(t, langtest.Hits(fs, vs), want)
	n, r, p := langtest.Count(want)
	if n != 74 || r != 74 || p != 10 {
		t.Errorf("%d hits on %d records, %d packages; want 74 on 74, 10", n, r, p)
	}
	t.Logf("%d hits on %d records, %d packages", n, r, p)
}
