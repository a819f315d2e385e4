package maven

import (
	"archive/zip"
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// lines renders packages as "group:artifact@version scope[ optional]".
func lines(pkgs []model.Package) []string {
	out := []string{}
	for _, p := range pkgs {
		scope := p.Metadata["scope"]
		if scope == "" {
			scope = "compile"
		}
		s := p.Name + "@" + p.Version + " " + scope
		if p.Metadata["optional"] == "true" {
			s += " optional"
		}
		if p.Type != model.TypeMaven {
			s += " type=" + p.Type
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func messages(ws []model.Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Message)
	}
	return out
}

// resolveFiles reads the poms (relative to dir) as the cataloger would:
// Extract each, then Resolve them together. Keys are "/"+rel.
func resolveFiles(t testing.TB, dir string, rels ...string) map[string]extract.Result {
	t.Helper()
	in := map[string]extract.Result{}
	for _, rel := range rels {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		res, err := (Extractor{}).Extract(context.Background(), extract.Input{Path: "/" + rel, Reader: bytes.NewReader(b), Size: int64(len(b))})
		if err != nil {
			t.Fatalf("Extract(%s): %v", rel, err)
		}
		if res.Pending == nil {
			t.Fatalf("Extract(%s): result not pending", rel)
		}
		in["/"+rel] = res
	}
	return (Extractor{}).Resolve(in)
}

// TestPOMAgainstMaven compares the resolved dependencies of real and
// fixture poms with Maven's own effective model: zeppelin-server (parents
// by relativePath "./parent", dependencyManagement, properties across three
// poms, an activeByDefault profile with a property-named artifactId) and a
// multi-module fixture (a child property overriding the parent's, an
// imported BOM found by coordinates, an ISO-8859-1 pom, optional and
// managed scopes).
func TestPOMAgainstMaven(t *testing.T) {
	tests := []struct {
		name, dir string
		poms      []string
	}{
		{"zeppelin", testutil.Data(t, "lockfiles/maven/zeppelin-server-osv-scalibr"),
			[]string{"pom.xml", "parent/pom.xml", "parent/parent/pom.xml"}},
		{"log4shell", testutil.Data(t, "lockfiles/maven/trivy-fixture-log4shell"), []string{"pom.xml"}},
		{"multi", "testdata/multi", []string{"pom.xml", "bom/pom.xml", "app/pom.xml", "lib/pom.xml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var abs []string
			for _, p := range tt.poms {
				abs = append(abs, filepath.Join(tt.dir, p))
			}
			want, errs := mavenEffective(t, abs...)
			if len(errs) != 0 {
				t.Fatalf("Maven could not build: %v", errs)
			}
			got := resolveFiles(t, tt.dir, tt.poms...)
			total := 0
			for i, p := range tt.poms {
				res := got["/"+p]
				if len(res.Warnings) != 0 {
					t.Errorf("%s: warnings %v", p, res.Warnings)
				}
				if diff := cmp.Diff(want[abs[i]], lines(res.Packages)); diff != "" {
					t.Errorf("%s: dependencies differ from Maven's effective model (-maven +got):\n%s", p, diff)
				}
				total += len(res.Packages)
			}
			if total == 0 {
				t.Errorf("no dependencies at all")
			}
		})
	}
}

// TestPOMByHand: the log4shell fixture's list written out from the file,
// and zeppelin-server's size.
func TestPOMByHand(t *testing.T) {
	dir := testutil.Data(t, "lockfiles/maven/trivy-fixture-log4shell")
	got := resolveFiles(t, dir, "pom.xml")["/pom.xml"]
	want := []string{
		"com.fasterxml.jackson.core:jackson-databind@2.9.1 compile",
		"javax.servlet:javax.servlet-api@4.0.1 provided",
		"org.junit.jupiter:junit-jupiter-api@5.7.1 test",
		"org.junit.jupiter:junit-jupiter-engine@5.7.1 test",
	}
	if diff := cmp.Diff(want, lines(got.Packages)); diff != "" {
		t.Errorf("log4shell (-want +got):\n%s", diff)
	}
	z := resolveFiles(t, testutil.Data(t, "lockfiles/maven/zeppelin-server-osv-scalibr"), "pom.xml", "parent/pom.xml", "parent/parent/pom.xml")
	if n := len(z["/pom.xml"].Packages); n != 37 {
		t.Errorf("zeppelin-server: %d dependencies, want 37 (38 declared, zeppelin-zengine twice)", n)
	}
	for _, p := range []string{"/parent/pom.xml", "/parent/parent/pom.xml"} {
		if n := len(z[p].Packages); n != 0 {
			t.Errorf("%s: %d dependencies, want 0 (only dependencyManagement)", p, n)
		}
	}
}

// TestPOMUnresolvable: a pom whose parent is missing. The dependencies
// that need the parent are warnings naming it; never a version like ${x}.
func TestPOMUnresolvable(t *testing.T) {
	got := resolveFiles(t, "testdata", "broken/pom.xml")["/broken/pom.xml"]
	if diff := cmp.Diff([]string{"a.b:fine@1.0 compile"}, lines(got.Packages)); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	why := " (parent org.example:missing-parent:7 not in the target (looked at /pom.xml))"
	want := []string{
		"pom dependency a.b:from-parent-property: version ${undefined.version} not resolved" + why,
		"pom dependency a.b:managed-by-parent: no version, and none in dependencyManagement" + why,
		`pom dependency a.b:ranged: version "[1.0,2.0)" is not a single version`,
		"pom dependency ${missing.group}:nameless: groupId or artifactId not resolved" + why,
		"pom dependency a.b:looping: version ${loop.a} not resolved" + why,
	}
	if diff := cmp.Diff(want, messages(got.Warnings)); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	// Maven agrees that the pom cannot be built on its own.
	if _, errs := mavenEffective(t, filepath.Join("testdata", "broken", "pom.xml")); len(errs) != 1 {
		t.Errorf("Maven built the broken pom: %v", errs)
	}
}

// TestPOMParents covers parent lookup corners without Maven: a loop, a
// relativePath to a pom with other coordinates, an empty relativePath
// (found by coordinates), and a parent found only by coordinates.
func TestPOMParents(t *testing.T) {
	pom := func(self, parent, rel, body string) string {
		s := `<project>`
		if parent != "" {
			f := strings.Split(parent, ":")
			s += `<parent><groupId>` + f[0] + `</groupId><artifactId>` + f[1] + `</artifactId><version>` + f[2] + `</version>` + rel + `</parent>`
		}
		f := strings.Split(self, ":")
		s += `<groupId>` + f[0] + `</groupId><artifactId>` + f[1] + `</artifactId><version>` + f[2] + `</version>`
		return s + body + `</project>`
	}
	dep := `<dependencies><dependency><groupId>g</groupId><artifactId>d</artifactId><version>${v}</version></dependency></dependencies>`
	props := func(v string) string { return `<properties><v>` + v + `</v></properties>` }
	tests := []struct {
		name  string
		files map[string]string
		want  []string // packages of /a/pom.xml
		warn  string
	}{
		{"loop", map[string]string{
			"/a/pom.xml": pom("g:a:1", "g:b:1", "", dep),
			"/pom.xml":   pom("g:b:1", "g:a:1", "<relativePath>a/pom.xml</relativePath>", ""),
		}, []string{}, "pom dependency g:d: version ${v} not resolved (parent chain loops at /a/pom.xml)"},
		{"relativePath to another pom, found by coordinates", map[string]string{
			"/a/pom.xml":       pom("g:a:1", "g:p:1", "", dep),
			"/pom.xml":         pom("g:other:1", "", "", props("9")),
			"/elsewhere/p.xml": "", // not read: only pom.xml files are
			"/x/pom.xml":       pom("g:p:1", "", "", props("2")),
		}, []string{"g:d@2 compile"}, ""},
		{"empty relativePath", map[string]string{
			"/a/pom.xml": pom("g:a:1", "g:p:1", "<relativePath/>", dep),
			"/pom.xml":   pom("g:p:1", "", "", props("3")),
		}, []string{"g:d@3 compile"}, ""},
		{"directory relativePath", map[string]string{
			"/a/pom.xml":   pom("g:a:1", "g:p:1", "<relativePath>../p</relativePath>", dep),
			"/p/pom.xml":   pom("g:p:1", "", "", props("4")),
			"/pom.xml":     pom("g:p:1", "", "", props("5")),
			"/zzz/pom.xml": pom("g:p:1", "", "", props("6")),
		}, []string{"g:d@4 compile"}, ""},
		{"version mismatch", map[string]string{
			"/a/pom.xml": pom("g:a:1", "g:p:2", "", dep),
			"/pom.xml":   pom("g:p:1", "", "", props("5")),
		}, []string{}, "pom dependency g:d: version ${v} not resolved (parent g:p:2 not in the target (looked at /pom.xml))"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := map[string]extract.Result{}
			for p, content := range tt.files {
				if !strings.HasSuffix(p, "pom.xml") {
					continue
				}
				res, err := ParsePOM(p, []byte(content))
				if err != nil {
					t.Fatalf("ParsePOM(%s): %v", p, err)
				}
				in[p] = res
			}
			out := (Extractor{}).Resolve(in)
			got := out["/a/pom.xml"]
			if diff := cmp.Diff(tt.want, lines(got.Packages)); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
			var want []string
			if tt.warn != "" {
				want = []string{tt.warn}
			}
			if diff := cmp.Diff(want, messages(got.Warnings)); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInterpolate(t *testing.T) {
	in := interpolator{props: map[string]string{
		"a": "1", "b": "${a}.${a}", "self": "${self}", "x": "${y}", "y": "${x}",
		"big": strings.Repeat("${b}", 20), "bigger": strings.Repeat("${big}", 20),
	}}
	tests := []struct{ in, want string }{
		{"${a}", "1"},
		{" ${b}-${a} ", "1.1-1"},
		{"${unknown}", "${unknown}"},
		{"${a", "${a"},
		{"${}", "${}"},
		{"x${a}y${a}z", "x1y1z"},
	}
	for _, tt := range tests {
		if got := in.expand(tt.in); got != tt.want {
			t.Errorf("expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, s := range []string{"${self}", "${x}", "${bigger}"} {
		if got := in.expand(s); len(got) > 2*maxExpandLen {
			t.Errorf("expand(%q) = %d bytes, want it bounded", s, len(got))
		}
		if got := in.expand(s); s != "${bigger}" && !strings.Contains(got, "${") {
			t.Errorf("expand(%q) = %q, want it left unresolved", s, got)
		}
	}
}

func TestPOMErrors(t *testing.T) {
	for _, bad := range []string{"", "<project>", "<project><dependencies><dependency></project>", `<?xml version="1.0" encoding="EBCDIC"?><project/>`} {
		if _, err := ParsePOM("/x/pom.xml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "/x/pom.xml") {
			t.Errorf("ParsePOM(%q) error = %v, want one naming the file", bad, err)
		}
	}
}

func TestGradleLock(t *testing.T) {
	p := testutil.Data(t, "lockfiles/maven/trivy-fixture-gradle/gradle.lockfile")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ParseGradleLock(p, b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"com.fasterxml.jackson.core:jackson-databind@2.9.1 compile"}, lines(res.Packages)); diff != "" || len(res.Warnings) != 0 {
		t.Errorf("trivy gradle fixture (-want +got):\n%s\nwarnings %v", diff, res.Warnings)
	}
	lock := `# comment
org.a:b:1.0=compileClasspath,runtimeClasspath
org.a:t:2.0=testCompileClasspath,testRuntimeClasspath
org.a:b:1.0=testRuntimeClasspath
broken-line
org.a:b=compileClasspath
org.a:b:c:d=x
org.a:r:[1.0,2.0)=x
empty=annotationProcessor
`
	res, err = ParseGradleLock("/g/gradle.lockfile", []byte(lock))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"org.a:b@1.0 compile", "org.a:t@2.0 test"}, lines(res.Packages)); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{
		`gradle.lockfile line 5: "broken-line" is not group:artifact:version`,
		`gradle.lockfile line 6: "org.a:b" is not group:artifact:version`,
		`gradle.lockfile line 7: "org.a:b:c:d" is not group:artifact:version`,
		`gradle.lockfile line 8: "org.a:r:[1.0,2.0)" is not group:artifact:version`,
	}, messages(res.Warnings)); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func TestWants(t *testing.T) {
	tests := []struct {
		path string
		mode fs.FileMode
		size int64
		want bool
	}{
		{"/src/pom.xml", 0o644, 100, true},
		{"/src/pom.xml", 0o644, extract.MaxLockFileBytes + 1, true}, // read, to warn that it is too large
		{"/src/pom.xml", fs.ModeDir, 100, false},
		{"/src/app.pom", 0o644, 100, false},
		{"/src/gradle.lockfile", 0o644, 100, true},
		{"/opt/app.jar", 0o644, 100, true},
		{"/opt/app.JAR", 0o644, 100, true},
		{"/opt/app.war", 0o644, MaxArchiveSize, true},
		{"/opt/app.ear", 0o644, MaxArchiveSize + 1, false},
		{"/opt/app.jar", fs.ModeSymlink, 100, false},
		{"/opt/app.zip", 0o644, 100, false},
	}
	for _, tt := range tests {
		if got := (Extractor{}).Wants(tt.path, tt.mode, tt.size); got != tt.want {
			t.Errorf("Wants(%s, %v, %d) = %v, want %v", tt.path, tt.mode, tt.size, got, tt.want)
		}
	}
}

// zipOf builds a zip archive from name -> content.
func zipOf(t testing.TB, files map[string][]byte, order ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	if len(order) == 0 {
		for n := range files {
			order = append(order, n)
		}
		slices.Sort(order)
	}
	for _, n := range order {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(files[n])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func props(g, a, v string) []byte {
	return []byte("#Generated by Maven\n#Tue Jan 01 00:00:00 UTC 2019\ngroupId=" + g + "\nartifactId=" + a + "\nversion: " + v + "\n")
}

// TestArchive: a WAR holding its own pom.properties, jars in WEB-INF/lib
// (one shaded with two artifacts, one not a zip), a jar nested two levels
// down (not read), and bad pom.properties.
func TestArchive(t *testing.T) {
	inner2 := zipOf(t, map[string][]byte{"META-INF/maven/deep/deep/pom.properties": props("deep", "deep", "1")})
	lib := zipOf(t, map[string][]byte{
		"META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties": props("org.apache.logging.log4j", "log4j-core", "2.14.1"),
		"lib/inner.jar": inner2,
	})
	shaded := zipOf(t, map[string][]byte{
		"META-INF/maven/com.acme/shaded/pom.properties":             props("com.acme", "shaded", "3.0"),
		"META-INF/maven/commons-codec/commons-codec/pom.properties": props("commons-codec", "commons-codec", "1.11"),
		"META-INF/MANIFEST.MF":                                      []byte("Manifest-Version: 1.0\n"),
	})
	war := zipOf(t, map[string][]byte{
		"META-INF/maven/com.acme/app/pom.properties":        props("com.acme", "app", "1.0.0"),
		"META-INF/maven/com.acme/unfiltered/pom.properties": props("com.acme", "unfiltered", "${project.version}"),
		"META-INF/maven/too/deep/x/pom.properties":          props("no", "no", "1"),
		"WEB-INF/lib/log4j-core-2.14.1.jar":                 lib,
		"WEB-INF/lib/shaded.jar":                            shaded,
		"WEB-INF/lib/broken.jar":                            []byte("not a zip"),
		"WEB-INF/lib/again.jar":                             lib, // the same artifact twice: one package
	})
	res, err := ParseArchive(context.Background(), "/srv/app.war", bytes.NewReader(war), int64(len(war)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range res.Packages {
		got = append(got, p.Name+"@"+p.Version+" "+p.Metadata["archivePath"])
	}
	want := []string{
		"com.acme:app@1.0.0 ",
		"com.acme:shaded@3.0 WEB-INF/lib/shaded.jar",
		"commons-codec:commons-codec@1.11 WEB-INF/lib/shaded.jar",
		"org.apache.logging.log4j:log4j-core@2.14.1 WEB-INF/lib/again.jar",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	wantWarn := []string{
		`archive entry META-INF/maven/com.acme/unfiltered/pom.properties: bad coordinates "com.acme":"unfiltered":"${project.version}"`,
		"nested archive WEB-INF/lib/broken.jar: zip: not a valid zip file",
	}
	if diff := cmp.Diff(wantWarn, messages(res.Warnings)); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if _, err := ParseArchive(context.Background(), "/srv/x.jar", bytes.NewReader([]byte("PK junk")), 7); err == nil || !strings.Contains(err.Error(), "/srv/x.jar") {
		t.Errorf("ParseArchive(junk) error = %v, want one naming the file", err)
	}
}

// TestArchiveBomb: an entry that inflates past the limit is a warning, and
// nothing past the limit is read.
func TestArchiveBomb(t *testing.T) {
	big := bytes.Repeat([]byte("a"), maxProperties+10)
	a := zipOf(t, map[string][]byte{"META-INF/maven/g/a/pom.properties": big})
	res, err := ParseArchive(context.Background(), "/b.jar", bytes.NewReader(a), int64(len(a)))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Packages) != 0 || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0].Message, "inflates to more than") {
		t.Errorf("ParseArchive(bomb) = %v", res)
	}
}

// TestExtractArchiveSpooled reads an archive bigger than the in-memory
// limit through a spooled file in the extractor's TempDir, and leaves
// nothing behind.
func TestExtractArchiveSpooled(t *testing.T) {
	pad := make([]byte, maxInMemory+1)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "pad.bin", Method: zip.Store})
	w.Write(pad)
	w, _ = zw.Create("META-INF/maven/g/a/pom.properties")
	w.Write(props("g", "a", "1.2"))
	zw.Close()
	dir := t.TempDir()
	res, err := (Extractor{}).Extract(context.Background(), extract.Input{Path: "/big.jar", Size: int64(buf.Len()), Reader: &buf, TempDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"g:a@1.2 compile"}, lines(res.Packages)); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("TempDir left with %d files", len(ents))
	}
}

// TestArchiveRealJars reads the real jars of Debian's maven packages, and a
// WAR the JDK's jar tool builds from some of them, and compares with what
// Java's own zip and properties readers find.
func TestArchiveRealJars(t *testing.T) {
	jars := RealJars(t)
	jarTool := testutil.RequireCmd(t, "jar")
	stage := t.TempDir()
	lib := filepath.Join(stage, "WEB-INF", "lib")
	meta := filepath.Join(stage, "META-INF", "maven", "com.acme", "app")
	for _, d := range []string{lib, meta} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(meta, "pom.properties"), props("com.acme", "app", "1.0.0"), 0o644)
	for _, j := range jars[:10] {
		b, err := os.ReadFile(j)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(lib, filepath.Base(j)), b, 0o644)
	}
	war := filepath.Join(t.TempDir(), "app.war")
	if out, err := exec.Command(jarTool, "--create", "--file", war, "-C", stage, ".").CombinedOutput(); err != nil {
		t.Fatalf("jar: %v\n%s", err, out)
	}
	all := append(slices.Clone(jars), war)
	want := JavaPomProps(t, all...)
	total := 0
	for _, p := range all {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		res, err := ParseArchive(context.Background(), p, bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Errorf("ParseArchive(%s): %v", p, err)
			continue
		}
		if len(res.Warnings) != 0 {
			t.Errorf("%s: warnings %v", p, res.Warnings)
		}
		got := []string{}
		for _, pk := range res.Packages {
			got = append(got, pk.Name+"@"+pk.Version)
		}
		slices.Sort(got)
		w := want[p]
		if w == nil {
			w = []string{}
		}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("%s: differs from Java's reading (-java +got):\n%s", p, diff)
		}
		total += len(got)
	}
	if len(want[war]) < 5 {
		t.Errorf("the WAR holds %d artifacts by Java's reading, want the app and its jars'", len(want[war]))
	}
	t.Logf("%d archives, %d artifacts", len(all), total)
}
