package apk

import (
	"bytes"
	"context"
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
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

func lines(pkgs []model.Package) []string {
	var out []string
	for _, p := range pkgs {
		out = append(out, strings.Join([]string{p.Name, p.Version, p.Arch, p.SourceName}, "\t"))
	}
	slices.Sort(out)
	return out
}

// awkRead reads an apk database with awk in paragraph mode: an independent
// reading of the same file.
func awkRead(t testing.TB, data []byte) []string {
	t.Helper()
	testutil.RequireCmd(t, "awk")
	const prog = `BEGIN { RS = ""; FS = "\n" }
{
	p = v = a = o = ""
	for (i = 1; i <= NF; i++) {
		k = substr($i, 1, 2); val = substr($i, 3)
		if (k == "P:") p = val; else if (k == "V:") v = val; else if (k == "A:") a = val; else if (k == "o:") o = val
	}
	if (o == "") o = p
	print p "\t" v "\t" a "\t" o
}`
	cmd := exec.CommandContext(context.Background(), "awk", prog)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("awk: %v", err)
	}
	want := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	slices.Sort(want)
	return want
}

func TestParseAgainstAwk(t *testing.T) {
	inputs := map[string][]byte{}
	files, err := filepath.Glob(filepath.Join(testutil.DataDir(t), "pkgdb", "apk", "*.installed"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no apk databases: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[filepath.Base(f)] = data
	}
	tarballs, _ := filepath.Glob(filepath.Join(testutil.DataDir(t), "rootfs", "alpine-minirootfs-*.tar.gz"))
	if len(tarballs) != 3 {
		t.Fatalf("found %d alpine minirootfs tarballs, want 3", len(tarballs))
	}
	for _, tb := range tarballs {
		inputs[filepath.Base(tb)] = testutil.TarGzFile(t, tb, "lib/apk/db/installed")
	}
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			want := awkRead(t, data)
			if len(want) < 14 {
				t.Fatalf("awk found %d packages, want at least 14", len(want))
			}
			res, err := Parse(bytes.NewReader(data), InstalledFile)
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if diff := cmp.Diff(want, lines(res.Packages)); diff != "" {
				t.Errorf("Parse(%s) differs from awk (-awk +Parse):\n%s", name, diff)
			}
			if len(res.Warnings) != 0 {
				t.Errorf("Parse(%s) warnings = %v, want none", name, res.Warnings)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name         string
		input        string
		want         []string
		wantWarnings []string
	}{
		{
			name:  "fields, origin and missing origin, CRLF",
			input: "C:Q1abc=\r\nP:musl\r\nV:1.2.5-r0\r\nA:x86_64\r\nL:MIT\r\no:musl\r\nT:the C library\r\n\r\nP:libcrypto3\nV:3.3.2-r0\nA:x86_64\no:openssl\n\nP:noorigin\nV:1\nA:noarch\n",
			want:  []string{"libcrypto3\t3.3.2-r0\tx86_64\topenssl", "musl\t1.2.5-r0\tx86_64\tmusl", "noorigin\t1\tnoarch\tnoorigin"},
		},
		{
			name:  "garbage lines are warnings, records with P and V survive",
			input: "P:a\nV:1\n\x00\x01garbage\nA:x86_64\n\nthis is not apk\n\nP:b\nV:2\n\nV:3\n\nP:c\n\nP:d\nV:4\nF:usr\nR:file\nZ:Q1xyz=\n",
			want:  []string{"a\t1\tx86_64\ta", "b\t2\t\tb", "d\t4\t\td"},
			wantWarnings: []string{
				`apk: line 3: not a field: "\x00\x01garbage"`,
				`apk: line 6: not a field: "this is not apk"`,
				`apk: record at line 11 skipped: no P: (name) line`,
				`apk: package c (line 13) skipped: no V: (version) line`,
			},
		},
		{name: "empty", input: ""},
		{name: "only blank lines", input: "\n\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Parse(strings.NewReader(tt.input), InstalledFile)
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, lines(res.Packages)); diff != "" {
				t.Errorf("Parse() packages (-want +got):\n%s", diff)
			}
			var msgs []string
			for _, w := range res.Warnings {
				msgs = append(msgs, w.Message)
				if w.Path != InstalledFile {
					t.Errorf("warning %+v does not name %s", w, InstalledFile)
				}
			}
			if diff := cmp.Diff(tt.wantWarnings, msgs); diff != "" {
				t.Errorf("Parse() warnings (-want +got):\n%s", diff)
			}
			for _, p := range res.Packages {
				if p.Type != model.TypeAPK || p.Location != InstalledFile || p.SourceVersion != p.Version {
					t.Errorf("package %+v: want Type apk, Location %s, SourceVersion = Version", p, InstalledFile)
				}
			}
		})
	}
}

// TestParseAPKTools: the apk-tools package's version rides on every
// package of its database (MetaAPKTools), for the version scheme to follow;
// a database without it sets nothing.
func TestParseAPKTools(t *testing.T) {
	res, err := Parse(strings.NewReader("P:musl\nV:1.2.5-r0\n\nP:apk-tools\nV:3.0.1-r1\n\nP:zlib\nV:1.3.1-r2\n"), InstalledFile)
	if err != nil || len(res.Packages) != 3 {
		t.Fatalf("Parse: %d packages, %v", len(res.Packages), err)
	}
	for _, p := range res.Packages {
		if got := p.Metadata[MetaAPKTools]; got != "3.0.1-r1" {
			t.Errorf("%s: %s = %q, want 3.0.1-r1", p.Name, MetaAPKTools, got)
		}
	}
	res, err = Parse(strings.NewReader("P:musl\nV:1.2.5-r0\n"), InstalledFile)
	if err != nil || len(res.Packages) != 1 || res.Packages[0].Metadata != nil {
		t.Errorf("no apk-tools: metadata %v, %v", res.Packages, err)
	}
}

func TestParseLineTooLong(t *testing.T) {
	_, err := Parse(strings.NewReader("P:a\nT:"+strings.Repeat("x", maxLine)), "/lib/apk/db/installed")
	if err == nil || !strings.Contains(err.Error(), "parse apk db /lib/apk/db/installed") {
		t.Errorf("Parse(long line) error = %v, want one naming the file", err)
	}
}

func TestWants(t *testing.T) {
	tests := []struct {
		path string
		mode fs.FileMode
		want bool
	}{
		{"/lib/apk/db/installed", 0o644, true},
		{"/usr/lib/apk/db/installed", 0o644, true},
		{"/lib/apk/db/installed", fs.ModeSymlink, false},
		{"/lib/apk/db/scripts.tar", 0o644, false},
		{"/x/lib/apk/db/installed", 0o644, false},
	}
	for _, tt := range tests {
		if got := (Extractor{}).Wants(tt.path, tt.mode, 1); got != tt.want {
			t.Errorf("Wants(%q, %v) = %v, want %v", tt.path, tt.mode, got, tt.want)
		}
	}
}

func TestExtract(t *testing.T) {
	data, err := os.ReadFile(testutil.Data(t, "pkgdb/apk/alpine-3.20.3-x86_64.installed"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Extractor{}.Extract(context.Background(), extract.Input{Path: InstalledFile, Reader: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(res.Packages); got != 14 {
		t.Errorf("Extract(alpine 3.20.3) = %d packages, want 14", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("P:musl\nV:1.2.5-r0\nA:x86_64\no:musl\n\nP:b\nV:2\n"))
	f.Add([]byte("P:a\r\nV:1\r\n\r\ngarbage\n:\nP\n\n\n"))
	f.Add([]byte("V:1\n\nP:\nV:\n"))
	f.Add(bytes.Repeat([]byte("x\n"), 300)) // more malformed lines than warnings kept
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Parse(bytes.NewReader(data), InstalledFile)
		if err != nil {
			return
		}
		if n := bytes.Count(data, []byte("P:")); len(res.Packages) > n {
			t.Errorf("Parse(%q) = %d packages from %d P: lines", data, len(res.Packages), n)
		}
		for _, p := range res.Packages {
			if p.Name == "" || p.Version == "" || p.SourceName == "" {
				t.Errorf("Parse(%q) returned incomplete package %+v", data, p)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(testutil.Data(b, "pkgdb/apk/alpine-3.20.3-x86_64.installed"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(data), InstalledFile); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleParse() {
	res, _ := Parse(strings.NewReader("P:libcrypto3\nV:3.3.2-r0\nA:x86_64\no:openssl\n"), InstalledFile)
	p := res.Packages[0]
	fmt.Println(p.Name, p.Version, p.Arch, p.SourceName)
	// Output: libcrypto3 3.3.2-r0 x86_64 openssl
}

// TestParseHostile: a database of millions of malformed lines, an endless
// record or too many packages costs bounded warnings and memory.
func TestParseHostile(t *testing.T) {
	t.Run("10 MB of malformed records", func(t *testing.T) {
		data := bytes.Repeat([]byte("x\n\n"), 10<<20/3) // 3,495,253 records
		res, err := Parse(bytes.NewReader(data), InstalledFile)
		// Records, but not one readable: a corrupt database (an error),
		// with its warnings bounded all the same.
		if err == nil || err.Error() != `parse apk db /lib/apk/db/installed: not one package record could be read (apk: line 1: not a field: "x")` {
			t.Fatalf("Parse() error = %v", err)
		}
		if len(res.Packages) != 0 || len(res.Warnings) != extract.MaxWarnings {
			t.Fatalf("Parse() = %d packages, %d warnings; want 0, %d", len(res.Packages), len(res.Warnings), extract.MaxWarnings)
		}
		want := model.Warning{Path: InstalledFile, Message: "apk: 3495154 more warnings not shown (at most 99 are kept per file)"}
		if got := res.Warnings[len(res.Warnings)-1]; got != want {
			t.Errorf("last warning = %+v, want %+v", got, want)
		}
		if got := res.Warnings[0].Message; got != `apk: line 1: not a field: "x"` {
			t.Errorf("first warning = %q", got)
		}
	})
	t.Run("one record over the limit", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("P:big\nV:1\n")
		line := "F:" + strings.Repeat("y", 1021) + "\n"
		for b.Len() <= extract.MaxRecordBytes {
			b.WriteString(line)
		}
		b.WriteString("\nP:small\nV:2\n")
		res, err := Parse(strings.NewReader(b.String()), InstalledFile)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"small\t2\t\tsmall"}, lines(res.Packages)); diff != "" {
			t.Errorf("packages (-want +got):\n%s", diff)
		}
		want := []model.Warning{{Path: InstalledFile, Message: "apk: record at line 1 skipped: longer than 4194304 bytes"}}
		if diff := cmp.Diff(want, res.Warnings); diff != "" {
			t.Errorf("warnings (-want +got):\n%s", diff)
		}
	})
	t.Run("too many packages", func(t *testing.T) {
		var b bytes.Buffer
		for i := range extract.MaxPackages + 1 {
			fmt.Fprintf(&b, "P:p%d\nV:1\n\n", i)
		}
		res, err := Parse(&b, InstalledFile)
		if !errors.Is(err, extract.ErrTooManyPackages) || err.Error() != "parse apk db /lib/apk/db/installed: /lib/apk/db/installed: more than 100000 packages" {
			t.Errorf("Parse(100001 packages) = %d packages, error %v; want ErrTooManyPackages", len(res.Packages), err)
		}
	})
}

func BenchmarkParseMalformed(b *testing.B) {
	// One readable package, so that the file is not refused as corrupt.
	data := append([]byte("P:a\nV:1\n\n"), bytes.Repeat([]byte("x\n"), 1<<20)...)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(data), InstalledFile); err != nil {
			b.Fatal(err)
		}
	}
}
