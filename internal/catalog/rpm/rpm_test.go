package rpm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
	"github.com/lockdown-sec/lockdown/internal/catalog/rpm/rpmdb"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// rpmQueryFormat is what the rpm CLI prints for every package; lines()
// renders our packages the same way.
const rpmQueryFormat = `%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\t%{MODULARITYLABEL}\n`

func lines(pkgs []model.Package) []string {
	var out []string
	for _, p := range pkgs {
		_, vr, ok := strings.Cut(p.Version, ":")
		if !ok {
			vr = p.Version
		}
		none := func(s string) string {
			if s == "" {
				return "(none)"
			}
			return s
		}
		out = append(out, strings.Join([]string{p.Name, fmt.Sprintf("%d:%s", p.Epoch, vr), none(p.Arch),
			none(p.Metadata["sourceRPM"]), none(p.Modularity)}, "\t"))
	}
	slices.Sort(out)
	return out
}

// rpmQuery lists the packages of the rpm database in dbpath with rpm itself,
// without the gpg-pubkey entries (imported keys, which Lockdown skips).
func rpmQuery(t testing.TB, dbpath string) []string {
	t.Helper()
	testutil.RequireCmd(t, "rpm")
	cmd := exec.CommandContext(context.Background(), "rpm", "--dbpath", dbpath, "-qa", "--qf", rpmQueryFormat)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("rpm --dbpath %s -qa: %v: %s", dbpath, err, stderr.Bytes())
	}
	var want []string
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		if l != "" && !strings.HasPrefix(l, "gpg-pubkey\t") {
			want = append(want, l)
		}
	}
	slices.Sort(want)
	return want
}

// dbDir copies an rpm database file into a fresh directory under the name
// rpm looks for.
func dbDir(t testing.TB, src, name string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestReadFileAgainstRPM(t *testing.T) {
	tests := []struct {
		file, name, format string
		min                int
	}{
		{"cbl-mariner-2.0.rpmdb.sqlite", "rpmdb.sqlite", rpmdb.FormatSQLite, 129},
		{"el8-libuuid-only.Packages", "Packages", rpmdb.FormatBDB, 1},
		{"rockylinux9-dive-only.Packages", "Packages", rpmdb.FormatBDB, 1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			src := testutil.Data(t, "pkgdb/rpm/"+tt.file)
			want := rpmQuery(t, dbDir(t, src, tt.name))
			if len(want) < tt.min {
				t.Fatalf("rpm lists %d packages, want at least %d", len(want), tt.min)
			}
			res, err := ReadFile(context.Background(), src, "/var/lib/rpm/"+tt.name)
			if err != nil {
				t.Fatalf("ReadFile(%s) error = %v", tt.file, err)
			}
			if diff := cmp.Diff(want, lines(res.Packages)); diff != "" {
				t.Errorf("ReadFile(%s) differs from rpm -qa (-rpm +ReadFile):\n%s", tt.file, diff)
			}
			if len(res.Warnings) != 0 {
				t.Errorf("ReadFile(%s) warnings = %v, want none", tt.file, res.Warnings)
			}
			checkPackages(t, res.Packages, "/var/lib/rpm/"+tt.name)
		})
	}
}

// checkPackages checks the fields derived from the header.
func checkPackages(t *testing.T, pkgs []model.Package, location string) {
	t.Helper()
	for _, p := range pkgs {
		if p.Type != model.TypeRPM || p.Location != location {
			t.Errorf("package %s: Type %q Location %q, want rpm %s", p.Name, p.Type, p.Location, location)
		}
		if got, want := p.SourceName+"-"+p.SourceVersion+".src.rpm", p.Metadata["sourceRPM"]; got != want {
			t.Errorf("package %s: SourceName-SourceVersion = %s, want %s", p.Name, got, want)
		}
		if (p.Epoch != 0) != strings.Contains(p.Version, ":") {
			t.Errorf("package %s: Version %q with Epoch %d", p.Name, p.Version, p.Epoch)
		}
		if len(p.Licenses) != 1 || p.Licenses[0] == "" {
			t.Errorf("package %s: Licenses = %q, want one", p.Name, p.Licenses)
		}
	}
}

// TestReadNDBAgainstRPM: Debian's rpm cannot read NDB, so the test finds
// the header blobs in the file its own way (every 16-byte block starting
// with the blob magic, rather than through the slot table), imports them
// into a fresh database with `rpmdb --importdb` and asks rpm to list that.
func TestReadNDBAgainstRPM(t *testing.T) {
	testutil.RequireCmd(t, "rpm", "rpmdb")
	src := testutil.Data(t, "pkgdb/rpm/sle15-bci.Packages.db")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var stream bytes.Buffer
	blobs := 0
	for off := 0; off+16 <= len(data); off += 16 {
		if string(data[off:off+4]) != "BlbS" {
			continue
		}
		n := int(binary.LittleEndian.Uint32(data[off+12:]))
		stream.Write([]byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0})
		stream.Write(data[off+16 : off+16+n])
		blobs++
	}
	dir := t.TempDir()
	cmd := exec.CommandContext(context.Background(), "rpmdb", "--dbpath", dir, "--importdb")
	cmd.Stdin = &stream
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpmdb --importdb: %v: %s", err, out)
	}
	want := rpmQuery(t, dir)
	if len(want) != 35 || blobs != 35 {
		t.Fatalf("rpm lists %d packages from %d blobs, want 35 (SUSE BCI 15 base)", len(want), blobs)
	}
	res, err := ReadFile(context.Background(), src, "/usr/lib/sysimage/rpm/Packages.db")
	if err != nil {
		t.Fatalf("ReadFile() error = %v", err)
	}
	if diff := cmp.Diff(want, lines(res.Packages)); diff != "" {
		t.Errorf("ReadFile(ndb) differs from rpm -qa (-rpm +ReadFile):\n%s", diff)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings = %v, want none", res.Warnings)
	}
	checkPackages(t, res.Packages, "/usr/lib/sysimage/rpm/Packages.db")
}

// TestReadFileHandChecked pins a few values read by hand (xxd) from the
// files, so a bug shared by Lockdown and rpm's output format cannot hide.
func TestReadFileHandChecked(t *testing.T) {
	tests := []struct {
		file string
		want model.Package
	}{
		{"el8-libuuid-only.Packages", model.Package{Name: "libuuid", Version: "2.32.1-42.el8_8", Type: model.TypeRPM, Arch: "x86_64",
			SourceName: "util-linux", SourceVersion: "2.32.1-42.el8_8", Licenses: []string{"BSD"}, Location: "/x",
			Metadata: map[string]string{"sourceRPM": "util-linux-2.32.1-42.el8_8.src.rpm"}}},
		{"rockylinux9-dive-only.Packages", model.Package{Name: "dive", Version: "0.9.2-1", Type: model.TypeRPM, Arch: "x86_64",
			SourceName: "dive", SourceVersion: "0.9.2-1", Licenses: []string{"MIT"}, Location: "/x",
			Metadata: map[string]string{"sourceRPM": "dive-0.9.2-1.src.rpm"}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			res, err := ReadFile(context.Background(), testutil.Data(t, "pkgdb/rpm/"+tt.file), "/x")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]model.Package{tt.want}, res.Packages); diff != "" {
				t.Errorf("ReadFile(%s) (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

func TestReadFileTruncated(t *testing.T) {
	tests := []struct {
		file   string
		keep   int64
		wantIn string
	}{
		{"cbl-mariner-2.0.rpmdb.sqlite", 1 << 20, "sqlite: "},
		{"cbl-mariner-2.0.rpmdb.sqlite", 100, "malformed"},
		{"el8-libuuid-only.Packages", 50000, "truncated"},
		{"el8-libuuid-only.Packages", 40, "bdb"},
		{"rockylinux9-dive-only.Packages", 8192, "truncated"},
		{"sle15-bci.Packages.db", 700000, "truncated"},
		{"sle15-bci.Packages.db", 2000, "truncated"},
		{"sle15-bci.Packages.db", 0, "not an rpm database"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.file, tt.keep), func(t *testing.T) {
			data, err := os.ReadFile(testutil.Data(t, "pkgdb/rpm/"+tt.file))
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "db")
			if err := os.WriteFile(file, data[:tt.keep], 0o644); err != nil {
				t.Fatal(err)
			}
			const location = "/var/lib/rpm/broken"
			res, err := ReadFile(context.Background(), file, location)
			if err == nil {
				t.Fatalf("ReadFile(truncated %s) = %d packages, no error; want an error", tt.file, len(res.Packages))
			}
			if !strings.Contains(err.Error(), "read rpm db "+location+": ") || !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("ReadFile(truncated %s) error = %q, want it to name %s and say %q", tt.file, err, location, tt.wantIn)
			}
		})
	}
}

// TestReadNDBCorruptBlob: a blob with a bad checksum is a warning, the
// others still come back.
func TestReadNDBCorruptBlob(t *testing.T) {
	data, err := os.ReadFile(testutil.Data(t, "pkgdb/rpm/sle15-bci.Packages.db"))
	if err != nil {
		t.Fatal(err)
	}
	// The first slot's blob: flip a byte in the middle of its header.
	off := int(binary.LittleEndian.Uint32(data[32+8:])) * 16
	data[off+200] ^= 0xff
	file := filepath.Join(t.TempDir(), "Packages.db")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := ReadFile(context.Background(), file, "/p")
	if err != nil {
		t.Fatalf("ReadFile() error = %v", err)
	}
	if len(res.Packages) != 34 || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0].Message, "checksum") {
		t.Errorf("ReadFile(one bad blob) = %d packages, warnings %v; want 34 and one checksum warning", len(res.Packages), res.Warnings)
	}
}

func TestExtract(t *testing.T) {
	src := testutil.Data(t, "pkgdb/rpm/cbl-mariner-2.0.rpmdb.sqlite")
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tmp := t.TempDir()
	res, err := Extractor{}.Extract(context.Background(), extract.Input{Path: "/var/lib/rpm/rpmdb.sqlite", Reader: f, TempDir: tmp})
	if err != nil {
		t.Fatalf("Extract() error = %v", err)
	}
	if len(res.Packages) != 129 {
		t.Errorf("Extract() = %d packages, want 129", len(res.Packages))
	}
	left, _ := os.ReadDir(tmp)
	if len(left) != 0 {
		t.Errorf("Extract() left %d files in TempDir, want none", len(left))
	}
	// Garbage is an error naming the path.
	_, err = Extractor{}.Extract(context.Background(), extract.Input{Path: "/var/lib/rpm/Packages", Reader: strings.NewReader("hello"), TempDir: tmp})
	if !errors.Is(err, rpmdb.ErrUnknownFormat) || !strings.Contains(err.Error(), "/var/lib/rpm/Packages") {
		t.Errorf("Extract(garbage) error = %v, want ErrUnknownFormat naming the path", err)
	}
}

func TestWants(t *testing.T) {
	for _, p := range Paths() {
		if !(Extractor{}).Wants(p, 0o644, 100) {
			t.Errorf("Wants(%q) = false, want true", p)
		}
		if (Extractor{}).Wants(p, fs.ModeSymlink, 100) {
			t.Errorf("Wants(%q, symlink) = true, want false", p)
		}
	}
	for _, p := range []string{"/var/lib/rpm/Name", "/var/lib/rpm/rpmdb.sqlite-wal", "/var/lib/rpm/Packages.bak"} {
		if (Extractor{}).Wants(p, 0o644, 100) {
			t.Errorf("Wants(%q) = true, want false", p)
		}
	}
}

func BenchmarkReadFile(b *testing.B) {
	for _, name := range []string{"cbl-mariner-2.0.rpmdb.sqlite", "sle15-bci.Packages.db", "el8-libuuid-only.Packages"} {
		file := testutil.Data(b, "pkgdb/rpm/"+name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ReadFile(context.Background(), file, "/x"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
