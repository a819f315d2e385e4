package catalog

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/package-url/packageurl-go"

	"github.com/lockdown-sec/lockdown/internal/catalog/gobinary"
	"github.com/lockdown-sec/lockdown/internal/image"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// catalogTarget opens target and catalogs it with the default extractors.
func catalogTarget(t testing.TB, target string, opts Options) *model.SBOM {
	t.Helper()
	ctx := context.Background()
	src, err := image.Open(ctx, target, image.Options{})
	if err != nil {
		t.Fatalf("image.Open(%s): %v", target, err)
	}
	defer src.Close()
	c, err := New(Default()...)
	if err != nil {
		t.Fatal(err)
	}
	if opts.TempDir == "" {
		opts.TempDir = t.TempDir()
	}
	sbom, err := c.Catalog(ctx, src, opts)
	if err != nil {
		t.Fatalf("Catalog(%s): %v", target, err)
	}
	if left, _ := os.ReadDir(opts.TempDir); len(left) != 0 {
		t.Errorf("Catalog(%s) left %d entries in TempDir", target, len(left))
	}
	return sbom
}

func ofType(pkgs []model.Package, typ string) []model.Package {
	var out []model.Package
	for _, p := range pkgs {
		if p.Type == typ {
			out = append(out, p)
		}
	}
	return out
}

// debLines renders deb packages as testutil.DpkgQuery does.
func debLines(pkgs []model.Package) []string {
	var out []string
	for _, p := range pkgs {
		out = append(out, strings.Join([]string{p.Name, p.Version, p.Arch, p.SourceName, p.SourceVersion}, "\t"))
	}
	slices.Sort(out)
	return out
}

// checkPURL parses p.PURL back and checks it names p.
func checkPURL(t *testing.T, p model.Package, wantQualifiers map[string]string) {
	t.Helper()
	u, err := packageurl.FromString(p.PURL)
	if err != nil {
		t.Errorf("package %s: PURL %q does not parse: %v", p.Name, p.PURL, err)
		return
	}
	name := u.Name
	if u.Type == model.TypeGolang && u.Namespace != "" {
		name = u.Namespace + "/" + u.Name
	}
	if u.Type != p.Type || name != p.Name {
		t.Errorf("package %s: PURL %q names %s/%s", p.Name, p.PURL, u.Type, name)
	}
	if diff := cmp.Diff(wantQualifiers, u.Qualifiers.Map()); diff != "" {
		t.Errorf("package %s: PURL %q qualifiers (-want +got):\n%s", p.Name, p.PURL, diff)
	}
}

// TestCatalogDebian catalogs the real Debian minbase image as dir:,
// docker-archive: and oci-dir: and checks the packages against dpkg-query.
func TestCatalogDebian(t *testing.T) {
	img := testutil.DebianImage(t)
	want := testutil.DpkgQuery(t, filepath.Join(img.Rootfs, "var", "lib", "dpkg"))
	targets := []struct {
		target string
		layer  model.LayerRef
	}{
		{"dir:" + img.Rootfs, model.LayerRef{Index: 0}},
		{"docker-archive:" + img.DockerArchive, model.LayerRef{Index: 0, DiffID: img.DiffID}},
		{"oci-dir:" + img.OCIDir, model.LayerRef{Index: 0, DiffID: img.DiffID}},
	}
	for _, tt := range targets {
		t.Run(strings.SplitN(tt.target, ":", 2)[0], func(t *testing.T) {
			sbom := catalogTarget(t, tt.target, Options{})
			wantDistro := &model.Distro{ID: "debian", VersionID: "12", Codename: "bookworm", PrettyName: "Debian GNU/Linux 12 (bookworm)"}
			if diff := cmp.Diff(wantDistro, sbom.Distro); diff != "" {
				t.Errorf("Distro (-want +got):\n%s", diff)
			}
			debs := ofType(sbom.Packages, model.TypeDeb)
			if len(debs) != len(sbom.Packages) {
				t.Errorf("Catalog found %d packages, %d of them deb; want only deb in minbase", len(sbom.Packages), len(debs))
			}
			if diff := cmp.Diff(want, debLines(debs)); diff != "" {
				t.Errorf("deb packages differ from dpkg-query (-dpkg-query +Catalog):\n%s", diff)
			}
			if len(sbom.Warnings) != 0 {
				t.Errorf("Warnings = %v, want none", sbom.Warnings)
			}
			if len(sbom.Layers) != 1 || sbom.Layers[0].DiffID != tt.layer.DiffID {
				t.Errorf("Layers = %+v, want one with diff ID %q", sbom.Layers, tt.layer.DiffID)
			}
			ids := map[string]bool{}
			for _, p := range debs {
				if p.Ecosystem != "Debian:12" || p.Location != "/var/lib/dpkg/status" || p.ID != model.StableID(p) || ids[p.ID] {
					t.Errorf("package %s: Ecosystem %q Location %q ID %q (dup %v)", p.Name, p.Ecosystem, p.Location, p.ID, ids[p.ID])
				}
				ids[p.ID] = true
				if p.Layer == nil || p.Layer.Index != 0 || p.Layer.DiffID != tt.layer.DiffID {
					t.Errorf("package %s: Layer = %+v, want %+v", p.Name, p.Layer, tt.layer)
				}
				q := map[string]string{"arch": p.Arch, "distro": "debian-12"}
				if up := upstream(p); up != "" {
					q["upstream"] = up
				}
				checkPURL(t, p, q)
			}
			if sbom.Tool.Name != "lockdown" || sbom.CreatedAt.IsZero() || sbom.Target.Kind == "" {
				t.Errorf("SBOM header: Tool %+v CreatedAt %v Target %+v", sbom.Tool, sbom.CreatedAt, sbom.Target)
			}
			if !slices.IsSortedFunc(sbom.Packages, comparePackages) {
				t.Errorf("packages are not sorted")
			}
		})
	}
}

// nestedFile reads name from the layer tars inside a gzipped docker-save
// archive (last layer that has it wins).
func nestedFile(t *testing.T, archive, name string) []byte {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var found []byte
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(hdr.Name, "layer.tar") {
			continue
		}
		inner := tar.NewReader(tr)
		for {
			ih, err := inner.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimPrefix(ih.Name, "./") == name {
				if found, err = io.ReadAll(inner); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if found == nil {
		t.Fatalf("%s: no %s in any layer", archive, name)
	}
	return found
}

// TestCatalogAlpineImages catalogs the real alpine docker-save archives and
// checks the apk packages against awk's reading of the database.
func TestCatalogAlpineImages(t *testing.T) {
	testutil.RequireCmd(t, "awk")
	for _, tt := range []struct{ file, ecosystem, versionPrefix string }{
		{"alpine-3.10-docker-save.tar.gz", "Alpine:v3.10", "3.10."},
		{"alpine-3.11-docker-save.tar.gz", "Alpine:v3.11", "3.11."},
	} {
		t.Run(tt.file, func(t *testing.T) {
			archive := testutil.Data(t, "images/"+tt.file)
			db := nestedFile(t, archive, "lib/apk/db/installed")
			cmd := exec.CommandContext(context.Background(), "awk", `BEGIN { RS = ""; FS = "\n" }
{ p = v = a = o = ""
  for (i = 1; i <= NF; i++) { k = substr($i, 1, 2); x = substr($i, 3)
    if (k == "P:") p = x; else if (k == "V:") v = x; else if (k == "A:") a = x; else if (k == "o:") o = x }
  print p "\t" v "\t" a "\t" o }`)
			cmd.Stdin = bytes.NewReader(db)
			out, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Split(strings.TrimSpace(string(out)), "\n")
			slices.Sort(want)

			sbom := catalogTarget(t, "docker-archive:"+archive, Options{})
			if sbom.Distro == nil || sbom.Distro.ID != "alpine" || !strings.HasPrefix(sbom.Distro.VersionID, tt.versionPrefix) {
				t.Fatalf("Distro = %+v, want alpine %s*", sbom.Distro, tt.versionPrefix)
			}
			var got []string
			for _, p := range sbom.Packages {
				got = append(got, strings.Join([]string{p.Name, p.Version, p.Arch, p.SourceName}, "\t"))
				if p.Type != model.TypeAPK || p.Ecosystem != tt.ecosystem || p.Layer == nil || p.Layer.DiffID != sbom.Layers[0].DiffID {
					t.Errorf("package %+v: want apk, %s, layer %s", p, tt.ecosystem, sbom.Layers[0].DiffID)
				}
				q := map[string]string{"arch": p.Arch, "distro": "alpine-" + sbom.Distro.VersionID}
				if up := upstream(p); up != "" {
					q["upstream"] = up
				}
				checkPURL(t, p, q)
			}
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("apk packages differ from awk (-awk +Catalog):\n%s", diff)
			}
			if len(got) < 14 {
				t.Errorf("found %d apk packages, want at least 14", len(got))
			}
		})
	}
}

func para(name, version, arch, source, status string) string {
	s := fmt.Sprintf("Package: %s\n", name)
	if status != "" {
		s += "Status: " + status + "\n"
	}
	s += fmt.Sprintf("Priority: optional\nArchitecture: %s\n", arch)
	if source != "" {
		s += "Source: " + source + "\n"
	}
	return s + fmt.Sprintf("Version: %s\nDescription: package %s\n long description\n .\n more\n\n", version, name)
}

const installed = "install ok installed"

const debian12OSRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
`

// TestLayerAttribution: a three-layer image; layer 1 adds packages to the
// status file (and upgrades one) and adds Go binaries, layer 2 purges a
// package, deletes one binary and adds a distroless status.d file. Every
// package must name the layer that last added or changed it.
func TestLayerAttribution(t *testing.T) {
	bin, err := os.ReadFile(testutil.GoBinary(t, gobinaryProgram))
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(testutil.GoBinary(t, gobinaryProgram))
	goPkgs := gobinary.Parse(f, "/usr/local/bin/app")
	f.Close()

	base := para("base-files", "12.4+deb12u5", "amd64", "", installed) +
		para("libc6", "2.36-9+deb12u4", "amd64", "glibc", installed) +
		para("zlib1g", "1:1.2.13.dfsg-1", "amd64", "zlib", installed)
	layer1 := base[:0] + para("base-files", "12.4+deb12u5", "amd64", "", installed) +
		para("libc6", "2.36-9+deb12u7", "amd64", "glibc", installed) + // upgraded
		para("zlib1g", "1:1.2.13.dfsg-1", "amd64", "zlib", installed) +
		para("curl", "7.88.1-10+deb12u5", "amd64", "", installed) +
		para("libcurl4", "7.88.1-10+deb12u5", "amd64", "curl", installed)
	layer2 := para("base-files", "12.4+deb12u5", "amd64", "", installed) +
		para("libc6", "2.36-9+deb12u7", "amd64", "glibc", installed) +
		para("zlib1g", "1:1.2.13.dfsg-1", "amd64", "zlib", installed) +
		para("curl", "7.88.1-10+deb12u5", "amd64", "", "purge ok not-installed") + // purged
		para("libcurl4", "7.88.1-10+deb12u5", "amd64", "curl", installed)

	archive := testutil.LayeredImage(t,
		[]testutil.TarEntry{
			testutil.TarDir("etc"), testutil.TarDir("usr/lib"),
			testutil.TarFile("usr/lib/os-release", debian12OSRelease),
			testutil.TarSymlink("etc/os-release", "../usr/lib/os-release"),
			testutil.TarFile("etc/debian_version", "12.5\n"),
			testutil.TarDir("var/lib/dpkg"),
			testutil.TarFile("var/lib/dpkg/status", base),
		},
		[]testutil.TarEntry{
			testutil.TarFile("var/lib/dpkg/status", layer1),
			{Name: "usr/local/bin/app", Body: string(bin), Mode: 0o755},
			{Name: "opt/tool/app", Body: string(bin), Mode: 0o755},
		},
		[]testutil.TarEntry{
			testutil.TarFile("var/lib/dpkg/status", layer2),
			testutil.TarWhiteout("opt/tool"),
			testutil.TarFile("var/lib/dpkg/status.d/extra", para("extra", "1.0", "all", "", "")),
		},
	)
	sbom := catalogTarget(t, "docker-archive:"+archive, Options{})
	if len(sbom.Layers) != 3 {
		t.Fatalf("Layers = %+v, want 3", sbom.Layers)
	}
	if sbom.Distro == nil || sbom.Distro.ID != "debian" || sbom.Distro.VersionID != "12" {
		t.Errorf("Distro = %+v, want debian 12 (through the os-release symlink)", sbom.Distro)
	}
	type row struct {
		name, version, location string
		layer                   int
	}
	want := []row{
		{"base-files", "12.4+deb12u5", "/var/lib/dpkg/status", 0},
		{"extra", "1.0", "/var/lib/dpkg/status.d/extra", 2},
		{"libc6", "2.36-9+deb12u7", "/var/lib/dpkg/status", 1},
		{"libcurl4", "7.88.1-10+deb12u5", "/var/lib/dpkg/status", 1},
		{"zlib1g", "1:1.2.13.dfsg-1", "/var/lib/dpkg/status", 0},
	}
	for _, p := range goPkgs {
		want = append(want, row{p.Name, p.Version, "/usr/local/bin/app", 1})
	}
	var got []row
	for _, p := range sbom.Packages {
		if p.Layer == nil {
			t.Fatalf("package %s has no layer", p.Name)
		}
		if p.Layer.DiffID != sbom.Layers[p.Layer.Index].DiffID || p.Layer.CreatedBy != fmt.Sprintf("layer %d", p.Layer.Index) {
			t.Errorf("package %s: Layer %+v does not match image layer %+v", p.Name, p.Layer, sbom.Layers[p.Layer.Index])
		}
		got = append(got, row{p.Name, p.Version, p.Location, p.Layer.Index})
	}
	sortRows := func(r []row) {
		slices.SortFunc(r, func(a, b row) int { return strings.Compare(a.location+a.name, b.location+b.name) })
	}
	sortRows(want)
	sortRows(got)
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(row{})); diff != "" {
		t.Errorf("packages and layers (-want +got):\n%s", diff)
	}
	for _, p := range ofType(sbom.Packages, model.TypeGolang) {
		if p.Ecosystem != "Go" {
			t.Errorf("go package %s: Ecosystem %q, want Go", p.Name, p.Ecosystem)
		}
		if p.Name == "./localdep" {
			continue
		}
		checkPURL(t, p, map[string]string{})
	}
	if len(sbom.Warnings) != 0 {
		t.Errorf("Warnings = %v, want none", sbom.Warnings)
	}
}

// TestLayerAttributionRecreated: a status file deleted in layer 1 and
// written again in layer 2 starts a new history: its packages are layer 2's.
func TestLayerAttributionRecreated(t *testing.T) {
	status := para("libc6", "2.36-9+deb12u4", "amd64", "glibc", installed)
	archive := testutil.LayeredImage(t,
		[]testutil.TarEntry{testutil.TarFile("var/lib/dpkg/status", status)},
		[]testutil.TarEntry{testutil.TarWhiteout("var/lib/dpkg/status")},
		[]testutil.TarEntry{testutil.TarFile("var/lib/dpkg/status", status)},
	)
	sbom := catalogTarget(t, "docker-archive:"+archive, Options{})
	if len(sbom.Packages) != 1 || sbom.Packages[0].Layer.Index != 2 {
		t.Fatalf("Packages = %+v, want libc6 from layer 2", sbom.Packages)
	}
	if sbom.Distro != nil {
		t.Errorf("Distro = %+v, want none (no os-release)", sbom.Distro)
	}
	if p := sbom.Packages[0]; p.Ecosystem != "" || p.PURL != "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&upstream=glibc" {
		t.Errorf("package without distro: Ecosystem %q PURL %q", p.Ecosystem, p.PURL)
	}
}

// TestCatalogCorrupt: broken databases become warnings naming the file and
// layer; everything readable still comes back.
func TestCatalogCorrupt(t *testing.T) {
	rpmDB, err := os.ReadFile(testutil.Data(t, "pkgdb/rpm/el8-libuuid-only.Packages"))
	if err != nil {
		t.Fatal(err)
	}
	status := para("good1", "1", "amd64", "", installed) +
		"Package: broken\nStatus: install ok installed\n\x00garbage line\nVersion: 2\n\n" +
		para("good2", "3", "amd64", "", installed)
	apkDB := "P:musl\nV:1.2.5-r0\nA:x86_64\no:musl\n\n\x01\x02 garbage\n\nP:busybox\nV:1.36.1-r29\nA:x86_64\n"
	archive := testutil.LayeredImage(t,
		[]testutil.TarEntry{testutil.TarFile("etc/os-release", "ID=weird\n")},
		[]testutil.TarEntry{
			testutil.TarFile("var/lib/dpkg/status", status),
			testutil.TarFile("var/lib/rpm/Packages", string(rpmDB[:30000])),
			testutil.TarFile("lib/apk/db/installed", apkDB),
			{Name: "usr/bin/notgo", Body: "\x7fELF" + strings.Repeat("\x00", 600<<10), Mode: 0o755},
		},
	)
	sbom := catalogTarget(t, "docker-archive:"+archive, Options{})
	var got []string
	for _, p := range sbom.Packages {
		got = append(got, p.Type+" "+p.Name)
	}
	if diff := cmp.Diff([]string{"apk busybox", "apk musl", "deb good1", "deb good2"}, got); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	layer := sbom.Layers[1].DiffID
	wantWarnings := []struct{ path, contains string }{
		{"/lib/apk/db/installed", "apk: line 6: not a field"},
		{"/var/lib/dpkg/status", "dpkg: paragraph at line"},
		{"/var/lib/rpm/Packages", "rpm: read rpm db /var/lib/rpm/Packages: bdb: bad rpm berkeley db: last page 22"},
	}
	if len(sbom.Warnings) != len(wantWarnings) {
		t.Fatalf("Warnings = %+v, want %d", sbom.Warnings, len(wantWarnings))
	}
	slices.SortFunc(sbom.Warnings, func(a, b model.Warning) int { return strings.Compare(a.Path, b.Path) })
	for i, w := range wantWarnings {
		got := sbom.Warnings[i]
		if got.Path != w.path || got.Layer != layer || !strings.Contains(got.Message, w.contains) {
			t.Errorf("warning %d = %+v, want path %s layer %s containing %q", i, got, w.path, layer, w.contains)
		}
	}
	if sbom.Distro == nil || sbom.Distro.ID != "weird" {
		t.Errorf("Distro = %+v, want weird", sbom.Distro)
	}
	for _, p := range sbom.Packages {
		if p.Ecosystem != "" {
			t.Errorf("package %s on an unknown distro: Ecosystem %q, want none", p.Name, p.Ecosystem)
		}
	}
}

func TestCatalogSelect(t *testing.T) {
	archive := testutil.LayeredImage(t, []testutil.TarEntry{
		testutil.TarFile("var/lib/dpkg/status", para("a", "1", "amd64", "", installed)),
		testutil.TarFile("lib/apk/db/installed", "P:b\nV:2\nA:x86_64\n"),
	})
	tests := []struct {
		names []string
		want  []string
	}{
		{nil, []string{"apk b", "deb a"}},
		{[]string{"apk"}, []string{"apk b"}},
		{[]string{"dpkg", "rpm"}, []string{"deb a"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.names, ","), func(t *testing.T) {
			sbom := catalogTarget(t, "docker-archive:"+archive, Options{Extractors: tt.names})
			var got []string
			for _, p := range sbom.Packages {
				got = append(got, p.Type+" "+p.Name)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Catalog(Extractors %v) (-want +got):\n%s", tt.names, diff)
			}
		})
	}
	src, err := image.Open(context.Background(), "docker-archive:"+archive, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	c, _ := New(Default()...)
	if _, err := c.Catalog(context.Background(), src, Options{Extractors: []string{"nosuch"}}); !errors.Is(err, ErrUnknownExtractor) {
		t.Errorf("Catalog(Extractors [nosuch]) error = %v, want ErrUnknownExtractor", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Catalog(ctx, src, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Catalog(cancelled) error = %v, want context.Canceled", err)
	}
}

// fakeExtractor is for the registry's pure logic only.
type fakeExtractor struct {
	name  string
	panic bool
}

func (f fakeExtractor) Name() string                                { return f.name }
func (f fakeExtractor) Version() int                                { return 1 }
func (f fakeExtractor) Wants(p string, _ fs.FileMode, _ int64) bool { return p == "/x" }
func (f fakeExtractor) Extract(_ context.Context, in Input) (Result, error) {
	if f.panic {
		panic("boom")
	}
	data, err := io.ReadAll(in.Reader)
	if err != nil {
		return Result{}, err
	}
	return Result{Packages: []model.Package{{Name: f.name, Version: string(data), Type: "generic"}}}, nil
}

func TestNew(t *testing.T) {
	if _, err := New(Default()...); err != nil {
		t.Errorf("New(Default()) error = %v", err)
	}
	c, _ := New(Default()...)
	if diff := cmp.Diff([]string{"dpkg", "apk", "rpm", "gobinary", "npm", "maven", "python", "gomod", "cargo", "composer", "gem", "nuget"}, c.Names()); diff != "" {
		t.Errorf("Names() (-want +got):\n%s", diff)
	}
	for name, exts := range map[string][]Extractor{
		"duplicate": {fakeExtractor{name: "a"}, fakeExtractor{name: "a"}},
		"empty":     {fakeExtractor{name: ""}},
		"spaces":    {fakeExtractor{name: " a"}},
		"nil":       {nil},
		"dup dpkg":  append(Default(), fakeExtractor{name: "dpkg"}),
	} {
		if _, err := New(exts...); err == nil {
			t.Errorf("New(%s) error = nil, want one", name)
		}
	}
}

// TestExtractorPanic: a panicking extractor is a warning, the others run.
func TestExtractorPanic(t *testing.T) {
	archive := testutil.LayeredImage(t, []testutil.TarEntry{testutil.TarFile("x", "content")})
	src, err := image.Open(context.Background(), "docker-archive:"+archive, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	c, err := New(fakeExtractor{name: "bad", panic: true}, fakeExtractor{name: "good"})
	if err != nil {
		t.Fatal(err)
	}
	sbom, err := c.Catalog(context.Background(), src, Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(sbom.Packages) != 1 || sbom.Packages[0].Name != "good" || sbom.Packages[0].Version != "content" {
		t.Errorf("Packages = %+v, want good's with the file's content", sbom.Packages)
	}
	if len(sbom.Warnings) != 1 || sbom.Warnings[0].Path != "/x" || !strings.Contains(sbom.Warnings[0].Message, "bad: extractor panicked: boom") {
		t.Errorf("Warnings = %+v, want bad's panic", sbom.Warnings)
	}
}

// TestVisitShared: a file several extractors want reaches each of them
// whole, from memory or spooled to disk.
func TestVisitShared(t *testing.T) {
	content := strings.Repeat("0123456789", 1000)
	for _, memMax := range []int64{1 << 20, 0} {
		t.Run(fmt.Sprintf("memMax=%d", memMax), func(t *testing.T) {
			tmp := t.TempDir()
			v := visitor{exts: []Extractor{fakeExtractor{name: "a"}, fakeExtractor{name: "b"}, fakeExtractor{name: "c"}},
				tempDir: tmp, log: slog.New(slog.DiscardHandler), memMax: memMax}
			res, err := v.visit(context.Background(), image.File{Path: "/x", Mode: 0o644, Size: int64(len(content))}, strings.NewReader(content))
			if err != nil {
				t.Fatal(err)
			}
			fr := res.(*fileResult)
			if len(fr.extracted) != 3 {
				t.Fatalf("visit ran %d extractors, want 3", len(fr.extracted))
			}
			for _, e := range fr.extracted {
				if e.err != nil || len(e.res.Packages) != 1 || e.res.Packages[0].Version != content {
					t.Errorf("extractor %s got %d bytes, err %v; want the whole file", e.name, len(e.res.Packages[0].Version), e.err)
				}
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("visit left %d files behind", len(left))
			}
		})
	}
}

func BenchmarkCatalogDebianDir(b *testing.B) {
	root := testutil.DebianRootfs(b)
	c, err := New(Default()...)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	tmp := b.TempDir()
	b.ReportAllocs()
	for b.Loop() {
		src, err := image.Open(ctx, "dir:"+root, image.Options{})
		if err != nil {
			b.Fatal(err)
		}
		sbom, err := c.Catalog(ctx, src, Options{TempDir: tmp})
		src.Close()
		if err != nil || len(sbom.Packages) < 80 {
			b.Fatalf("Catalog = %v packages, %v", len(sbom.Packages), err)
		}
	}
}
