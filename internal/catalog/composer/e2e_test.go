package composer_test

import (
	"strings"
	"testing"

	"golang.org/x/mod/semver"

	"github.com/lockdown-sec/lockdown/internal/catalog/langtest"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// TestCatalogComposer catalogs osv-scanner's composer.lock as a dir:
// target and matches it against the Packagist records of mixed-samples.zip;
// the findings must be the naive semver reading of the records (ecosystem
// "Packagist" exactly: the Drupal contrib record's
// "Packagist:https://packages.drupal.org/8" is another repository).
func TestCatalogComposer(t *testing.T) {
	dir := langtest.CopyDir(t, testutil.Data(t, "lockfiles/packagist/osv-scanner-locks-many-with-insecure"), t.TempDir(), "app")
	sbom := langtest.Catalog(t, dir, "composer")
	if len(sbom.Packages) != 6 || len(sbom.Warnings) != 0 {
		t.Fatalf("%d packages, warnings %v; want 6", len(sbom.Packages), sbom.Warnings)
	}
	for _, p := range sbom.Packages {
		if p.Ecosystem != "Packagist" || p.PURL != "pkg:composer/"+p.Name+"@"+p.Version || p.Location != "/app/composer.lock" {
			t.Errorf("package %+v", p)
		}
	}
	vs := testutil.OSVZip(t, "osv/mixed-samples.zip")
	fs, ws := langtest.Match(t, vs, sbom.Packages)
	if len(ws) != 0 {
		t.Errorf("match warnings: %v", ws)
	}
	vcmp := func(a, b string) int {
		return semver.Compare("v"+strings.TrimPrefix(a, "v"), "v"+strings.TrimPrefix(b, "v"))
	}
	want := langtest.Expected(vs, sbom.Packages, "Packagist", nil, vcmp)
	langtest.CompareHits(t, langtest.Hits(fs, vs), want)
	for _, h := range []langtest.Hit{
		{ID: "DRUPAL-CORE-2025-005", Name: "drupal/core", Version: "10.4.5"},
		{ID: "DRUPAL-CORE-2026-001", Name: "drupal/core", Version: "10.4.5"},
		{ID: "GHSA-9f46-5r25-5wfm", Name: "league/flysystem", Version: "1.0.8"},
	} {
		if !want[h] {
			t.Errorf("expected hit %v missing", h)
		}
	}
	if len(want) != 3 {
		t.Errorf("%d hits, want 3", len(want))
	}
}
