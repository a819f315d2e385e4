package npm_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/catalog/langtest"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// santaLock is the santa-tracker lock file's "packages" map.
func santaLock(t *testing.T) map[string]struct{ Version string } {
	t.Helper()
	b, err := os.ReadFile(testutil.Data(t, "lockfiles/npm/santa-tracker-osv-scanner/package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct{ Version string }
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		t.Fatal(err)
	}
	delete(lock.Packages, "")
	return lock.Packages
}

// checkSantaHits matches pkgs against the npm GHSA subset and checks the
// numbers internal/match established for this lock file: 65 (record,
// package, version) hits on 50 records and 39 packages, including
// GHSA-vh5w-fg69-rc8m on the "v"-prefixed google-closure-library version.
func checkSantaHits(t *testing.T, pkgs []model.Package) {
	t.Helper()
	vs := testutil.OSVZip(t, "osv/npm-ghsa-subset.zip")
	fs, ws := langtest.Match(t, vs, pkgs)
	if len(ws) != 0 {
		t.Errorf("match warnings: %v", ws)
	}
	hits := langtest.Hits(fs, vs)
	if n, r, p := langtest.Count(hits); n != 65 || r != 50 || p != 39 {
		t.Errorf("hits = %d on %d records, %d packages; want 65 on 50, 39", n, r, p)
	}
	if !hits[langtest.Hit{ID: "GHSA-vh5w-fg69-rc8m", Name: "google-closure-library", Version: "v20190909.0.0"}] {
		t.Errorf("GHSA-vh5w-fg69-rc8m on google-closure-library v20190909.0.0 not found")
	}
}

// TestCatalogSantaTrackerLock catalogs a copy of the santa-tracker project
// (package.json + package-lock.json) as a dir: target and matches it.
func TestCatalogSantaTrackerLock(t *testing.T) {
	dir := langtest.CopyDir(t, testutil.Data(t, "lockfiles/npm/santa-tracker-osv-scanner"), t.TempDir(), "app")
	sbom := langtest.Catalog(t, dir)
	if len(sbom.Warnings) != 0 {
		t.Errorf("warnings: %v", sbom.Warnings)
	}
	want := map[string]bool{}
	for key, e := range santaLock(t) {
		want[key[strings.LastIndex(key, "node_modules/")+len("node_modules/"):]+"@"+e.Version] = true
	}
	got := map[string]bool{}
	for _, p := range sbom.Packages {
		if p.Type != model.TypeNPM || p.Ecosystem != "npm" || p.Location != "/app/package-lock.json" || p.ID == "" {
			t.Fatalf("package %+v: want type npm, ecosystem npm, location /app/package-lock.json, an ID", p)
		}
		if got[p.Name+"@"+p.Version] {
			t.Errorf("%s@%s listed twice", p.Name, p.Version)
		}
		got[p.Name+"@"+p.Version] = true
	}
	if len(got) != 613 || len(want) != 613 {
		t.Errorf("packages = %d, lock file has %d distinct name@version; want 613", len(got), len(want))
	}
	for k := range want {
		if !got[k] {
			t.Errorf("missing %s", k)
		}
	}
	for _, p := range sbom.Packages {
		wantPURL := "pkg:npm/" + strings.Replace(p.Name, "@", "%40", 1) + "@" + p.Version
		if p.Name == "@babel/core" && p.PURL != wantPURL {
			t.Errorf("PURL(%s) = %q, want %q", p.Name, p.PURL, wantPURL)
		}
	}
	checkSantaHits(t, sbom.Packages)
}

// TestCatalogInstalledNodeModules lays out santa-tracker's tree as installed
// packages (one node_modules/…/package.json per lock entry, plus inner
// manifests that are not packages) and catalogs it without the lock file:
// every installed copy is found at its own path.
func TestCatalogInstalledNodeModules(t *testing.T) {
	root := t.TempDir()
	lock := santaLock(t)
	write := func(rel string, v any) {
		b, _ := json.Marshal(v)
		p := filepath.Join(root, "srv", filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for key, e := range lock {
		name := key[strings.LastIndex(key, "node_modules/")+len("node_modules/"):]
		write(key+"/package.json", map[string]string{"name": name, "version": e.Version, "license": "MIT"})
		want = append(want, "/srv/"+key+"/package.json "+name+"@"+e.Version)
	}
	write("package.json", map[string]string{"name": "santatracker", "version": "2021.1.0"})                        // the project
	write("node_modules/lodash/fp/package.json", map[string]string{"name": "lodash-fp-inner", "version": "0.0.0"}) // inner manifest
	sbom := langtest.Catalog(t, root, "npm")
	if len(sbom.Warnings) != 0 {
		t.Errorf("warnings: %v", sbom.Warnings)
	}
	var got []string
	for _, p := range sbom.Packages {
		got = append(got, p.Location+" "+p.Name+"@"+p.Version)
		if !slices.Equal(p.Licenses, []string{"MIT"}) {
			t.Errorf("%s: licenses %v", p.Name, p.Licenses)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("installed packages: got %d, want %d (the lock file's entries)", len(got), len(want))
	}
	if len(got) != 652 {
		t.Errorf("installed packages = %d, want 652", len(got))
	}
	checkSantaHits(t, sbom.Packages)
}
