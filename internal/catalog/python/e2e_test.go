package python_test

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/catalog/langtest"
	"github.com/lockdown-sec/lockdown/internal/ecosystem"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// TestCatalogInstalledDists catalogs the machine's Debian Python
// dist-packages directory as a dir: target and compares with Python's own
// importlib.metadata over the same directory.
func TestCatalogInstalledDists(t *testing.T) {
	const site = "/usr/lib/python3/dist-packages"
	py := testutil.RequireCmd(t, "python3")
	if _, err := os.Stat(site); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI: %v", err)
		}
		t.Skipf("no Debian Python packages: %v", err)
	}
	out, err := exec.Command(py, "-c", `import importlib.metadata as m
for d in m.distributions(path=["`+site+`"]):
    print(d.metadata["Name"] + "==" + d.version)`).Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	// One line per metadata directory, as the cataloger reports one
	// package per file (Debian's cryptography has both a .dist-info and an
	// .egg-info).
	want := slices.Sorted(slices.Values(strings.Fields(string(out))))
	sbom := langtest.Catalog(t, site, "python")
	if len(sbom.Warnings) != 0 {
		t.Errorf("warnings: %v", sbom.Warnings)
	}
	var got []string
	for _, p := range sbom.Packages {
		got = append(got, p.Name+"=="+p.Version)
		if p.Ecosystem != "PyPI" || p.PURL != "pkg:pypi/"+ecosystem.PEP503(p.Name)+"@"+p.Version {
			t.Errorf("package %+v", p)
		}
	}
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("installed distributions differ from importlib.metadata (-python +got):\n%s", diff)
	}
	if len(want) < 10 {
		t.Errorf("only %d distributions", len(want))
	}
	t.Logf("%d distributions", len(got))
}

// TestCatalogPygoat matches pygoat's requirements.txt against the PyPA
// advisories (pypi.zip): the findings must be the (record, package) pairs
// whose record lists the pinned version in "versions".
func TestCatalogPygoat(t *testing.T) {
	dir := langtest.CopyDir(t, testutil.Data(t, "lockfiles/pypi/pygoat"), t.TempDir(), "app")
	sbom := langtest.Catalog(t, dir, "python")
	if len(sbom.Packages) != 34 || len(sbom.Warnings) != 0 {
		t.Fatalf("%d packages, warnings %v; want 34", len(sbom.Packages), sbom.Warnings)
	}
	vs := testutil.OSVZip(t, "osv/pypi.zip")
	fs, ws := langtest.Match(t, vs, sbom.Packages)
	if len(ws) != 0 {
		t.Errorf("match warnings: %v", ws)
	}
	want := langtest.Expected(vs, sbom.Packages, "PyPI", ecosystem.PEP503, nil)
	langtest.CompareHits(t, langtest.Hits(fs, vs), want)
	if n, r, p := langtest.Count(want); n != 31 || r != 31 || p != 10 {
		t.Errorf("%d hits on %d records, %d packages; want 31 on 31, 10", n, r, p)
	}
	for _, pk := range sbom.Packages {
		if pk.Type != model.TypePyPI {
			t.Errorf("package %+v", pk)
		}
	}
}
