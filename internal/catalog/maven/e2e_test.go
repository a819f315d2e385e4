package maven_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/catalog"
	"github.com/lockdown-sec/lockdown/internal/catalog/langtest"
	"github.com/lockdown-sec/lockdown/internal/catalog/maven"
	"github.com/lockdown-sec/lockdown/internal/image"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// TestCatalogZeppelin catalogs a copy of zeppelin-server's three poms as a
// dir: target (the cataloger's Resolve pass joins them) and matches the
// packages against the Maven GHSA subset. Packages: exactly Maven's own
// effective dependencies. Findings: exactly the (record, package) pairs
// whose record lists the package's version in its "versions".
func TestCatalogZeppelin(t *testing.T) {
	src := testutil.Data(t, "lockfiles/maven/zeppelin-server-osv-scalibr")
	dir := langtest.CopyDir(t, src, t.TempDir(), "zeppelin")
	sbom := langtest.Catalog(t, dir)
	if len(sbom.Warnings) != 0 {
		t.Errorf("warnings: %v", sbom.Warnings)
	}

	effective, errs := maven.MavenEffective(t, filepath.Join(src, "pom.xml"))
	if len(errs) != 0 {
		t.Fatalf("Maven: %v", errs)
	}
	var want []string
	for _, l := range effective[filepath.Join(src, "pom.xml")] {
		want = append(want, strings.Fields(l)[0])
	}
	var got []string
	for _, p := range sbom.Packages {
		if p.Type != model.TypeMaven || p.Ecosystem != "Maven" || p.Location != "/zeppelin/pom.xml" {
			t.Errorf("package %+v: want type maven, ecosystem Maven, location /zeppelin/pom.xml", p)
		}
		g, a, _ := strings.Cut(p.Name, ":")
		if wantPURL := "pkg:maven/" + g + "/" + a + "@" + p.Version; p.PURL != wantPURL {
			t.Errorf("PURL = %q, want %q", p.PURL, wantPURL)
		}
		got = append(got, p.Name+"@"+p.Version)
	}
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("packages differ from Maven's effective dependencies (-maven +got):\n%s", diff)
	}

	vs := testutil.OSVZip(t, "osv/maven-ghsa-subset.zip")
	fs, ws := langtest.Match(t, vs, sbom.Packages)
	if len(ws) != 0 {
		t.Errorf("match warnings: %v", ws)
	}
	expect := map[langtest.Hit]bool{}
	for _, p := range sbom.Packages {
		for _, v := range vs {
			for _, a := range v.Affected {
				if a.Package.Ecosystem == "Maven" && a.Package.Name == p.Name && slices.Contains(a.Versions, p.Version) {
					expect[langtest.Hit{ID: v.ID, Name: p.Name, Version: p.Version}] = true
				}
			}
		}
	}
	hits := langtest.Hits(fs, vs)
	var missing, extra []string
	for h := range expect {
		if !hits[h] {
			missing = append(missing, h.Name+"@"+h.Version+" "+h.ID)
		}
	}
	for h := range hits {
		if !expect[h] {
			extra = append(extra, h.Name+"@"+h.Version+" "+h.ID)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	if len(missing)+len(extra) > 0 {
		t.Errorf("findings differ from the versions lists:\nmissing: %v\nextra: %v", missing, extra)
	}
	n, r, p := langtest.Count(expect)
	if n != 9 || r != 9 || p != 6 {
		t.Errorf("%d hits on %d records, %d packages; want 9 on 9, 6", n, r, p)
	}
	for h := range expect {
		t.Logf("hit: %s@%s %s", h.Name, h.Version, h.ID)
	}
	t.Logf("%d packages, %d findings: %d (record, package) hits on %d records, %d packages", len(got), len(fs), n, r, p)
}

// TestCatalogJavaMixed: a dir: target with an orphan pom (its parent not
// in the target), a gradle.lockfile and real jars. The orphan's
// unresolvable dependencies are warnings on its path; the jars are found
// as Java reads them.
func TestCatalogJavaMixed(t *testing.T) {
	dir := t.TempDir()
	langtest.CopyDir(t, testutil.Data(t, "lockfiles/maven/trivy-fixture-gradle"), dir, "gradle")
	orphan, err := os.ReadFile(filepath.Join(testutil.Data(t, "lockfiles/maven/zeppelin-server-osv-scalibr"), "pom.xml"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "orphan"), 0o755)
	os.WriteFile(filepath.Join(dir, "orphan", "pom.xml"), orphan, 0o644)
	jars := maven.RealJars(t)[:5]
	os.MkdirAll(filepath.Join(dir, "opt", "lib"), 0o755)
	for _, j := range jars {
		b, err := os.ReadFile(j)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "opt", "lib", filepath.Base(j)), b, 0o644)
	}
	sbom := langtest.Catalog(t, dir, "maven")

	byLoc := map[string][]string{}
	for _, p := range sbom.Packages {
		byLoc[p.Location] = append(byLoc[p.Location], p.Name+"@"+p.Version)
		if strings.Contains(p.Version, "$") {
			t.Errorf("%s: version %q", p.Name, p.Version)
		}
	}
	if diff := cmp.Diff([]string{"com.fasterxml.jackson.core:jackson-databind@2.9.1"}, byLoc["/gradle/gradle.lockfile"]); diff != "" {
		t.Errorf("gradle.lockfile (-want +got):\n%s", diff)
	}
	java := maven.JavaPomProps(t, jars...)
	for _, j := range jars {
		loc := "/opt/lib/" + filepath.Base(j)
		got := slices.Sorted(slices.Values(byLoc[loc]))
		if diff := cmp.Diff(java[j], got); diff != "" {
			t.Errorf("%s (-java +got):\n%s", loc, diff)
		}
	}
	// Without its parents the orphan keeps only the dependencies with
	// literal or own-property versions.
	if n := len(byLoc["/orphan/pom.xml"]); n != 17 {
		t.Errorf("orphan pom: %d packages, want 17", n)
	}
	unresolved := 0
	for _, w := range sbom.Warnings {
		if w.Path != "/orphan/pom.xml" || !strings.Contains(w.Message, "parent org.apache.zeppelin:zeppelin:0.11.1 not in the target (looked at /orphan/parent/pom.xml)") {
			t.Errorf("unexpected warning %+v", w)
			continue
		}
		unresolved++
	}
	if unresolved != 20 {
		t.Errorf("orphan pom: %d warnings, want 20 (37 dependencies, 17 resolved)", unresolved)
	}
}

// TestCatalogLayers: a pom whose parent is in the same image, rewritten in
// a later layer. The cataloger's Resolve pass also resolves the older
// version, so a dependency that both versions have (through the parent) is
// attributed to the first layer, a new one to the layer that added it.
func TestCatalogLayers(t *testing.T) {
	parent := `<project><groupId>g</groupId><artifactId>parent</artifactId><version>1</version>
<properties><jackson.version>2.9.1</jackson.version></properties>
<dependencyManagement><dependencies><dependency><groupId>com.fasterxml.jackson.core</groupId><artifactId>jackson-databind</artifactId><version>${jackson.version}</version></dependency></dependencies></dependencyManagement>
</project>`
	child := func(extra string) string {
		return `<project><parent><groupId>g</groupId><artifactId>parent</artifactId><version>1</version></parent><artifactId>app</artifactId>
<dependencies><dependency><groupId>com.fasterxml.jackson.core</groupId><artifactId>jackson-databind</artifactId></dependency>` + extra + `</dependencies></project>`
	}
	archive := testutil.LayeredImage(t,
		[]testutil.TarEntry{testutil.TarDir("src"), testutil.TarDir("src/app"), testutil.TarFile("src/pom.xml", parent), testutil.TarFile("src/app/pom.xml", child(""))},
		[]testutil.TarEntry{testutil.TarFile("src/app/pom.xml", child(`<dependency><groupId>org.yaml</groupId><artifactId>snakeyaml</artifactId><version>1.23</version></dependency>`))},
	)
	ctx := t.Context()
	src, err := image.Open(ctx, "docker-archive:"+archive, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	c, err := catalog.New(catalog.Default()...)
	if err != nil {
		t.Fatal(err)
	}
	sbom, err := c.Catalog(ctx, src, catalog.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range sbom.Packages {
		got = append(got, fmt.Sprintf("%s %s@%s layer %d", p.Location, p.Name, p.Version, p.Layer.Index))
	}
	want := []string{
		"/src/app/pom.xml com.fasterxml.jackson.core:jackson-databind@2.9.1 layer 0",
		"/src/app/pom.xml org.yaml:snakeyaml@1.23 layer 1",
	}
	if diff := cmp.Diff(want, got); diff != "" || len(sbom.Warnings) != 0 {
		t.Errorf("packages (-want +got):\n%s\nwarnings: %v", diff, sbom.Warnings)
	}
}
