package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/image"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/osv"
	"github.com/lockdown-sec/lockdown/internal/testutil"
	"github.com/lockdown-sec/lockdown/internal/vulndb"
)

// TestRun: the real Alpine 3.16 apk database against the osv.dev record
// ALPINE-CVE-2025-26519 (../shared/data/osv/mixed-samples.zip) gives
// exactly musl and musl-utils, fixed in 1.2.3-r4; Meta and Tool are copied.
func TestRun(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	srcs, err := vulndb.DetectSources(testutil.Data(t, "osv/mixed-samples.zip"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vulndb.Update(context.Background(), db, srcs, vulndb.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := vulndb.Open(db, vulndb.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.MkdirAll(filepath.Join(root, "lib", "apk", "db"), 0o755)
	os.WriteFile(filepath.Join(root, "etc", "os-release"), []byte("ID=alpine\nVERSION_ID=3.16.2\n"), 0o644)
	b, err := os.ReadFile(testutil.Data(t, "pkgdb/apk/alpine-3.16-syft-multiple-2.installed"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "lib", "apk", "db", "installed"), b, 0o644)

	r, err := Run(context.Background(), "dir:"+root, st, Options{Tool: model.Tool{Name: "lockdown", Version: "t"}, Meta: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.Package.Name+" "+f.RuleID+" "+f.FixedVersion)
	}
	want := []string{"musl CVE-2025-26519 1.2.3-r4", "musl-utils CVE-2025-26519 1.2.3-r4"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Run findings (-want +got):\n%s", diff)
	}
	if r.Kind != KindScan || r.Tool.Version != "t" || r.Meta["k"] != "v" || r.Target.Kind != "dir" || len(r.Packages) == 0 {
		t.Errorf("Run report = kind %q tool %+v meta %v target %+v, %d packages", r.Kind, r.Tool, r.Meta, r.Target, len(r.Packages))
	}
	if _, err := Run(context.Background(), "dir:"+filepath.Join(root, "missing"), st, Options{}); !errors.Is(err, image.ErrBadInput) {
		t.Errorf("Run(missing dir) = %v, want ErrBadInput", err)
	}
}

func TestProducts(t *testing.T) {
	got := Products(model.Target{Name: "reg.example/team/app:1.0", Input: "registry:reg.example/team/app:1.0", Digest: "sha256:ab", RepoTags: []string{"app:1.0"}})
	want := []string{"reg.example/team/app:1.0", "registry:reg.example/team/app:1.0", "sha256:ab", "app:1.0", "pkg:oci/app@sha256%3Aab"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Products (-want +got):\n%s", diff)
	}
}

// mixedDB is the advisory store built from the real records of
// ../shared/data/osv/mixed-samples.zip (Alpine v3.16 and later, Debian 9,
// Go, Maven, npm, Packagist, PyPI).
func mixedDB(t *testing.T) *vulndb.Store {
	t.Helper()
	db := filepath.Join(t.TempDir(), "db")
	srcs, err := vulndb.DetectSources(testutil.Data(t, "osv/mixed-samples.zip"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vulndb.Update(context.Background(), db, srcs, vulndb.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := vulndb.Open(db, vulndb.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// rootfs writes files (path in the image -> content) under a new
// directory and returns it.
func rootfs(t *testing.T, files map[string][]byte) string {
	t.Helper()
	root := t.TempDir()
	for name, b := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func readData(t *testing.T, rel string, keep int) []byte {
	t.Helper()
	b, err := os.ReadFile(testutil.Data(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	if keep > 0 {
		b = b[:keep]
	}
	return b
}

// corruptBuildInfo builds a real Go program and breaks the build
// information after its magic: the length of the version string becomes
// an invalid varint. The file stays an ELF executable carrying the magic.
func corruptBuildInfo(t *testing.T, module string) []byte {
	t.Helper()
	b, err := os.ReadFile(testutil.GoBinary(t, map[string]string{
		"go.mod":  "module " + module + "\n\ngo 1.22\n",
		"main.go": "package main\n\nfunc main() {}\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("\xff Go buildinf:"))
	if i < 0 {
		t.Fatal("the test binary has no build information")
	}
	b = bytes.Clone(b)
	copy(b[i+32:], bytes.Repeat([]byte{0xff}, 16))
	return b
}

// TestRunNotChecked: every package that cannot be checked is counted by
// reason, and every package file that cannot be read is named, so that a
// clean result never hides them (issue 11 item 8: corrupt apk, rpm and Go
// build information are "not checked", not 0 packages and exit 0).
func TestRunNotChecked(t *testing.T) {
	st := mixedDB(t)
	apk316 := readData(t, "pkgdb/apk/alpine-3.16-syft-multiple-2.installed", 0)
	osRelease := func(id, ver string) []byte { return []byte("ID=" + id + "\nVERSION_ID=" + ver + "\n") }
	unreadable := func(path, msg string) model.NotChecked {
		return model.NotChecked{Reason: model.NotCheckedUnreadable, Path: path,
			Message: path + " NOT READ: the packages it lists were not checked (" + msg + ")"}
	}
	tests := []struct {
		name  string
		files map[string][]byte
		want  []model.NotChecked
	}{
		{
			name:  "all checked",
			files: map[string][]byte{"etc/os-release": osRelease("alpine", "3.16.2"), "lib/apk/db/installed": apk316},
		},
		{
			name:  "release without advisories",
			files: map[string][]byte{"etc/os-release": osRelease("alpine", "3.15.4"), "lib/apk/db/installed": apk316},
			want: []model.NotChecked{{Reason: model.NotCheckedNoAdvisories, Ecosystem: "Alpine:v3.15", Packages: 14,
				Message: "14 Alpine v3.15 packages NOT CHECKED: the database has no Alpine v3.15 advisories — run `lockdown db update`"}},
		},
		{
			name:  "no os-release",
			files: map[string][]byte{"var/lib/dpkg/status": readData(t, "pkgdb/dpkg/debian-12-excerpt-scalibr.status", 0)},
			want: []model.NotChecked{{Reason: model.NotCheckedUnsupported, Ecosystem: "deb", Packages: 7,
				Message: "7 deb packages NOT CHECKED: the distribution release is unknown (no readable os-release)"}},
		},
		{
			name:  "corrupt apk database",
			files: map[string][]byte{"etc/os-release": osRelease("alpine", "3.16.2"), "lib/apk/db/installed": []byte("\x00\x7fELF garbage\nmore garbage\n")},
			want: []model.NotChecked{unreadable("/lib/apk/db/installed",
				`apk: parse apk db /lib/apk/db/installed: not one package record could be read (apk: line 1: not a field: "\x00\x7fELF garbage")`)},
		},
		{
			name:  "corrupt dpkg status",
			files: map[string][]byte{"etc/os-release": osRelease("debian", "12"), "var/lib/dpkg/status": []byte("garbage without fields\n\x01\x02\n")},
			want: []model.NotChecked{unreadable("/var/lib/dpkg/status",
				"dpkg: parse dpkg status /var/lib/dpkg/status: not one package paragraph could be read (dpkg: paragraph at line 1 skipped: line 1: not a field: \"garbage without fields\")")},
		},
		{
			name: "corrupt rpm sqlite",
			files: map[string][]byte{"etc/os-release": osRelease("alpine", "3.16.2"), "lib/apk/db/installed": apk316,
				"var/lib/rpm/rpmdb.sqlite": readData(t, "pkgdb/rpm/cbl-mariner-2.0.rpmdb.sqlite", 100)},
			want: []model.NotChecked{unreadable("/var/lib/rpm/rpmdb.sqlite", "")},
		},
		{
			name:  "corrupt rpm berkeley db",
			files: map[string][]byte{"var/lib/rpm/Packages": readData(t, "pkgdb/rpm/el8-libuuid-only.Packages", 50000)},
			want:  []model.NotChecked{unreadable("/var/lib/rpm/Packages", "")},
		},
		{
			name:  "corrupt rpm ndb",
			files: map[string][]byte{"usr/lib/sysimage/rpm/Packages.db": readData(t, "pkgdb/rpm/sle15-bci.Packages.db", 2000)},
			want:  []model.NotChecked{unreadable("/usr/lib/sysimage/rpm/Packages.db", "")},
		},
		{
			name:  "corrupt go build information",
			files: map[string][]byte{"usr/local/bin/tool": corruptBuildInfo(t, "example.com/tool")},
			want: []model.NotChecked{unreadable("/usr/local/bin/tool",
				"gobinary: read go binary /usr/local/bin/tool: it has Go build information that cannot be read (corrupt or truncated)")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Run(context.Background(), "dir:"+rootfs(t, tt.files), st, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := r.NotChecked
			for i := range got {
				// The rpm readers' own error text is theirs to word: the
				// path and the reason are what this test is about.
				if got[i].Reason == model.NotCheckedUnreadable && strings.HasPrefix(got[i].Path, "/var/lib/rpm") || strings.HasPrefix(got[i].Path, "/usr/lib/sysimage/rpm") {
					if !strings.Contains(got[i].Message, "rpm: read rpm db "+got[i].Path+": ") {
						t.Errorf("message %q does not name the rpm database", got[i].Message)
					}
					got[i].Message = got[i].Path + " NOT READ: the packages it lists were not checked ()"
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Run NotChecked (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRunNotCheckedOversize: a package database past the walker's file
// size limit is not read, and its packages count as not checked (a sparse
// file: nothing of it is read or written).
func TestRunNotCheckedOversize(t *testing.T) {
	st := mixedDB(t)
	root := rootfs(t, map[string][]byte{
		"etc/os-release":       []byte("ID=alpine\nVERSION_ID=3.16.2\n"),
		"lib/apk/db/installed": readData(t, "pkgdb/apk/alpine-3.16-syft-multiple-2.installed", 0),
	})
	if err := os.Truncate(filepath.Join(root, "lib/apk/db/installed"), image.DefaultMaxFileBytes+1); err != nil {
		t.Fatal(err)
	}
	r, err := Run(context.Background(), "dir:"+root, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	msg := fmt.Sprintf("file of %d bytes passes the limit of %d bytes, not read", image.DefaultMaxFileBytes+1, image.DefaultMaxFileBytes)
	want := []model.NotChecked{{Reason: model.NotCheckedUnreadable, Path: "/lib/apk/db/installed",
		Message: "/lib/apk/db/installed NOT READ: the packages it lists were not checked (" + msg + ")"}}
	if diff := cmp.Diff(want, r.NotChecked); diff != "" {
		t.Errorf("Run NotChecked (-want +got):\n%s", diff)
	}
	if len(r.Packages) != 0 {
		t.Errorf("%d packages from a file not read", len(r.Packages))
	}
}

// TestRunUnparsableVersion: a Go binary built from a checkout has main
// module version "(devel)"; the real record GO-2022-0493 names its module
// (golang.org/x/sys) with ranges that cannot be evaluated for it, so the
// package is counted as not fully checked.
func TestRunUnparsableVersion(t *testing.T) {
	st := mixedDB(t)
	bin, err := os.ReadFile(testutil.GoBinary(t, map[string]string{
		"go.mod":  "module golang.org/x/sys\n\ngo 1.22\n",
		"main.go": "package main\n\nfunc main() {}\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(context.Background(), "dir:"+rootfs(t, map[string][]byte{"app/sys": bin}), st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []model.NotChecked{{Reason: model.NotCheckedUnparsableVersion, Ecosystem: "Go", Packages: 1,
		Message: "1 Go package NOT FULLY CHECKED: its installed version cannot be parsed, so only the advisories' exact version lists were compared"}}
	if diff := cmp.Diff(want, r.NotChecked); diff != "" {
		t.Errorf("Run NotChecked (-want +got):\n%s", diff)
	}
}

// hasNone is an advisory source that holds nothing and says so for the
// ecosystems listed.
type hasNone map[string]bool

func (hasNone) Lookup(context.Context, string, string) ([]osv.Vulnerability, error) { return nil, nil }
func (h hasNone) HasEcosystem(eco string) bool                                      { return !h[eco] }

// TestTriage: the grouping and the order of the groups (pure logic; the
// real packages and store are in TestRunNotChecked).
func TestTriage(t *testing.T) {
	pkgs := []model.Package{
		{Name: "a", Type: "pub", Ecosystem: "Pub"},
		{Name: "b", Type: "pub", Ecosystem: "Pub"},
		{Name: "c", Type: "x"},
		{Name: "d", Type: model.TypeDeb, Ecosystem: "Debian:12"},
		{Name: "e", Type: model.TypeDeb, Ecosystem: "Debian:12.4"},
		{Name: "f", Type: model.TypeDeb, Ecosystem: "Debian:12"},
		{Name: "g", Type: model.TypeComposer, Ecosystem: "Packagist"},
		{Name: "h", Type: model.TypeNPM, Ecosystem: "npm"},
		{Name: "i", Type: "zz", Ecosystem: "Zz"},
	}
	checkable, g := triage(hasNone{"Debian:12": true, "Packagist": true}, pkgs)
	if len(checkable) != 1 || checkable[0].Name != "h" {
		t.Errorf("triage checkable = %v, want h only", checkable)
	}
	g.add(model.NotCheckedUnparsableVersion, "npm")
	want := []model.NotChecked{
		{Reason: model.NotCheckedNoAdvisories, Ecosystem: "Debian:12", Packages: 3, Message: "3 Debian 12 packages NOT CHECKED: the database has no Debian 12 advisories — run `lockdown db update`"},
		{Reason: model.NotCheckedNoAdvisories, Ecosystem: "Packagist", Packages: 1, Message: "1 Packagist package NOT CHECKED: the database has no Packagist advisories — run `lockdown db update --ecosystem Packagist`"},
		{Reason: model.NotCheckedUnsupported, Ecosystem: "Pub", Packages: 2, Message: "2 Pub packages NOT CHECKED: no version scheme: Lockdown neither orders Dart versions nor catalogs Dart packages"},
		{Reason: model.NotCheckedUnsupported, Ecosystem: "Zz", Packages: 1, Message: "1 Zz package NOT CHECKED: Lockdown does not know the Zz ecosystem"},
		{Reason: model.NotCheckedUnsupported, Ecosystem: "x", Packages: 1, Message: "1 x package NOT CHECKED: Lockdown knows no vulnerability ecosystem for package type x"},
		{Reason: model.NotCheckedUnparsableVersion, Ecosystem: "npm", Packages: 1, Message: "1 npm package NOT FULLY CHECKED: its installed version cannot be parsed, so only the advisories' exact version lists were compared"},
	}
	if diff := cmp.Diff(want, g.list()); diff != "" {
		t.Errorf("triage groups (-want +got):\n%s", diff)
	}
}

// BenchmarkTriage: sorting 10,000 packages into checkable and not checked
// groups (a large image against a store without their release).
func BenchmarkTriage(b *testing.B) {
	pkgs := make([]model.Package, 10000)
	for i := range pkgs {
		pkgs[i] = model.Package{Name: "p", Type: model.TypeDeb, Ecosystem: []string{"Debian:12", "npm", "Go", ""}[i%4]}
	}
	db := hasNone{"Debian:12": true}
	b.ReportAllocs()
	for b.Loop() {
		_, g := triage(db, pkgs)
		g.list()
	}
}
