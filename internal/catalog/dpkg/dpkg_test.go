package dpkg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// lines renders packages the way the dpkg-query format in dpkgQuery does.
func lines(pkgs []model.Package) []string {
	var out []string
	for _, p := range pkgs {
		out = append(out, strings.Join([]string{p.Name, p.Version, p.Arch, p.SourceName, p.SourceVersion}, "\t"))
	}
	slices.Sort(out)
	return out
}

// dpkgQuery lists the installed packages of an admin dir with dpkg itself.
func dpkgQuery(t testing.TB, admindir string) []string { return testutil.DpkgQuery(t, admindir) }

// statusAdmindir copies a status file into a fresh dpkg admin dir.
func statusAdmindir(t testing.TB, data []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "status"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func parseFile(t testing.TB, file string) extract.Result {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Parse(f, StatusFile)
	if err != nil {
		t.Fatalf("Parse(%s) error = %v", file, err)
	}
	return res
}

// TestParseAgainstDpkgQuery checks every real status file against dpkg-query.
func TestParseAgainstDpkgQuery(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testutil.DataDir(t), "pkgdb", "dpkg", "*.status"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dpkg status files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			want := dpkgQuery(t, statusAdmindir(t, data))
			res := parseFile(t, file)
			if diff := cmp.Diff(want, lines(res.Packages)); diff != "" {
				t.Errorf("Parse(%s) differs from dpkg-query (-dpkg-query +Parse):\n%s", file, diff)
			}
			if len(res.Warnings) != 0 {
				t.Errorf("Parse(%s) warnings = %v, want none", file, res.Warnings)
			}
		})
	}
}

func TestParseDebianRootfs(t *testing.T) {
	root := testutil.DebianRootfs(t)
	admindir := filepath.Join(root, "var", "lib", "dpkg")
	want := dpkgQuery(t, admindir)
	if len(want) < 80 {
		t.Fatalf("dpkg-query lists %d packages in %s, want a minbase system (~90)", len(want), root)
	}
	res := parseFile(t, filepath.Join(admindir, "status"))
	if diff := cmp.Diff(want, lines(res.Packages)); diff != "" {
		t.Errorf("Parse(debian minbase) differs from dpkg-query (-dpkg-query +Parse):\n%s", diff)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings = %v, want none", res.Warnings)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name         string
		location     string
		input        string
		want         []string // name version arch src srcver
		wantWarnings int
		wantErr      string
	}{
		{
			name:     "states",
			location: StatusFile,
			input: `Package: a
Status: install ok installed
Version: 1.0-1
Architecture: amd64

Package: b
Status: hold ok installed
Version: 2.0
Architecture: all

Package: c
Status: deinstall ok config-files
Version: 3.0
Architecture: amd64

Package: d
Status: install ok half-installed
Version: 4.0
Architecture: amd64

Package: e
Status: install reinstreq installed
Version: 5.0
Architecture: amd64

Package: f
Status: purge ok not-installed
Architecture: amd64
`,
			want: []string{"a\t1.0-1\tamd64\ta\t1.0-1", "b\t2.0\tall\tb\t2.0"},
		},
		{
			name:     "source forms",
			location: StatusFile,
			input: `Package: libacl1
Status: install ok installed
Architecture: amd64
Source: acl
Version: 2.3.1-3

Package: util-linux-extra
Status: install ok installed
Architecture: amd64
Source: util-linux (2.38.1-5)
Version: 2.38.1-5+b1

Package: attr
Status: install ok installed
Architecture: amd64
Version: 1:2.5.1-4
`,
			want: []string{
				"attr\t1:2.5.1-4\tamd64\tattr\t1:2.5.1-4",
				"libacl1\t2.3.1-3\tamd64\tacl\t2.3.1-3",
				"util-linux-extra\t2.38.1-5+b1\tamd64\tutil-linux\t2.38.1-5",
			},
		},
		{
			name:     "CRLF, continuation lines, multi-line fields, no trailing newline, extra blank lines",
			location: StatusFile,
			input: "\r\n\r\nPackage: a\r\nStatus: install ok installed\r\nDescription: short\r\n long line\r\n .\r\n" +
				"Conffiles:\r\n /etc/a 0123\r\nVersion: 1\r\nArchitecture: amd64\r\n \t\r\nPackage: b\r\nStatus: install ok installed\r\nVersion: 2\r\nArchitecture: arm64",
			want: []string{"a\t1\tamd64\ta\t1", "b\t2\tarm64\tb\t2"},
		},
		{
			name:     "malformed paragraphs are warnings, the others come back",
			location: StatusFile,
			input: `Package: good1
Status: install ok installed
Version: 1
Architecture: amd64

Package: broken
Status: install ok installed
this line is not a field
Version: 1

 continuation at the start
Package: broken2

Status: install ok installed
Version: 3

Package: nover
Status: install ok installed

Package: badstatus
Status: installed
Version: 1

Package: good2
Status: install ok installed
Version: 2
Architecture: amd64
`,
			want:         []string{"good1\t1\tamd64\tgood1\t1", "good2\t2\tamd64\tgood2\t2"},
			wantWarnings: 5,
		},
		{
			name:     "distroless status.d file without Status",
			location: StatusDir + "/libc6",
			input:    "Package: libc6\nVersion: 2.36-9+deb12u4\nArchitecture: amd64\nSource: glibc\n",
			want:     []string{"libc6\t2.36-9+deb12u4\tamd64\tglibc\t2.36-9+deb12u4"},
		},
		{
			// The file's one paragraph cannot be read: a corrupt database,
			// whose packages are not checked (issue 11 item 8).
			name:         "status file paragraph without Status is a warning, and no paragraph read an error",
			location:     StatusFile,
			input:        "Package: libc6\nVersion: 2.36-9+deb12u4\nArchitecture: amd64\n",
			wantWarnings: 1,
			wantErr:      "parse dpkg status /var/lib/dpkg/status: not one package paragraph could be read (dpkg: package libc6 (line 1): bad Status \"\")",
		},
		{
			name:     "empty",
			location: StatusFile,
			input:    "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Parse(strings.NewReader(tt.input), tt.location)
			if (err == nil) != (tt.wantErr == "") || err != nil && err.Error() != tt.wantErr {
				t.Fatalf("Parse() error = %v, want %q", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, lines(res.Packages)); diff != "" {
				t.Errorf("Parse() packages (-want +got):\n%s", diff)
			}
			if len(res.Warnings) != tt.wantWarnings {
				t.Errorf("Parse() warnings = %d %v, want %d", len(res.Warnings), res.Warnings, tt.wantWarnings)
			}
			for _, w := range res.Warnings {
				if w.Path != tt.location || !strings.HasPrefix(w.Message, "dpkg: ") {
					t.Errorf("warning %+v: want Path %s and a dpkg: message", w, tt.location)
				}
			}
			for _, p := range res.Packages {
				if p.Location != tt.location || p.Type != model.TypeDeb {
					t.Errorf("package %+v: want Location %s, Type deb", p, tt.location)
				}
			}
		})
	}
}

// TestParseCorruptRealFile breaks one paragraph of a real status file: that
// package is reported as a warning and every other one still comes back.
func TestParseCorruptRealFile(t *testing.T) {
	file := testutil.Data(t, "pkgdb/dpkg/ubuntu-18.04-fanal.status")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want := dpkgQuery(t, statusAdmindir(t, data))
	// Break the paragraph of the 10th package.
	paras := bytes.Split(data, []byte("\n\n"))
	victim := paras[9]
	name := string(bytes.TrimPrefix(bytes.SplitN(victim, []byte("\n"), 2)[0], []byte("Package: ")))
	paras[9] = bytes.Replace(victim, []byte("\nVersion:"), []byte("\n\x00garbage\nVersion:"), 1)
	corrupt := bytes.Join(paras, []byte("\n\n"))

	res, err := Parse(bytes.NewReader(corrupt), StatusFile)
	if err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	want = slices.DeleteFunc(want, func(l string) bool { return strings.HasPrefix(l, name+"\t") })
	if diff := cmp.Diff(want, lines(res.Packages)); diff != "" {
		t.Errorf("Parse(corrupt) packages (-want +got):\n%s", diff)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0].Message, "not a field") {
		t.Errorf("Parse(corrupt) warnings = %v, want one 'not a field' warning for %s", res.Warnings, name)
	}
}

func TestParseLineTooLong(t *testing.T) {
	input := "Package: a\nDescription: " + strings.Repeat("x", maxLine+10) + "\n"
	_, err := Parse(strings.NewReader(input), "/x/status")
	if err == nil || !strings.Contains(err.Error(), "/x/status") {
		t.Errorf("Parse(long line) error = %v, want one naming /x/status", err)
	}
}

func TestWants(t *testing.T) {
	tests := []struct {
		path string
		mode fs.FileMode
		want bool
	}{
		{"/var/lib/dpkg/status", 0o644, true},
		{"/var/lib/dpkg/status.d/libc6", 0o644, true},
		{"/var/lib/dpkg/status.d/base-files_12.4", 0o644, true},
		{"/var/lib/dpkg/status.d/libc6.md5sums", 0o644, false},
		{"/var/lib/dpkg/status.d/sub/x", 0o644, false},
		{"/var/lib/dpkg/status-old", 0o644, false},
		{"/var/lib/dpkg/status", fs.ModeSymlink | 0o777, false},
		{"/other/var/lib/dpkg/status", 0o644, false},
	}
	for _, tt := range tests {
		if got := (Extractor{}).Wants(tt.path, tt.mode, 100); got != tt.want {
			t.Errorf("Wants(%q, %v) = %v, want %v", tt.path, tt.mode, got, tt.want)
		}
	}
}

func TestExtract(t *testing.T) {
	file := testutil.Data(t, "pkgdb/dpkg/debian-12-excerpt-scalibr.status")
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Extractor{}.Extract(context.Background(), extract.Input{Path: StatusFile, Reader: f})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(res.Packages); got != 7 {
		t.Errorf("Extract() = %d packages, want 7", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (Extractor{}).Extract(ctx, extract.Input{Path: StatusFile, Reader: strings.NewReader("")}); err == nil {
		t.Errorf("Extract(cancelled) error = nil, want context.Canceled")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\nSource: b (2)\n\n"))
	f.Add([]byte("Package: a\r\nStatus: hold ok installed\r\nDescription: x\r\n y\r\n .\r\nVersion: 1\r\n"))
	f.Add([]byte(" cont\nPackage: a\n\n\nPackage: b\nStatus: x y z\n"))
	f.Add([]byte("Source: (\nPackage:\nVersion:\n"))
	f.Add(bytes.Repeat([]byte("x\n\n"), 300)) // more malformed records than warnings kept
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Parse(bytes.NewReader(data), StatusFile)
		if err != nil {
			return
		}
		for _, p := range res.Packages {
			if p.Name == "" || p.Version == "" || p.SourceName == "" || p.SourceVersion == "" {
				t.Errorf("Parse(%q) returned incomplete package %+v", data, p)
			}
		}
		// Every package comes from a paragraph with a Package field.
		if n := bytes.Count(bytes.ToLower(data), []byte("package:")); len(res.Packages) > n {
			t.Errorf("Parse(%q) = %d packages from at most %d paragraphs", data, len(res.Packages), n)
		}
		for _, w := range res.Warnings {
			if w.Path != StatusFile {
				t.Errorf("Parse(%q) warning %+v does not name the file", data, w)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"ubuntu-18.04-fanal.status", "ubuntu-18.04-texlive-claircore.status"} {
		data, err := os.ReadFile(testutil.Data(b, "pkgdb/dpkg/"+name))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Parse(bytes.NewReader(data), StatusFile); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func ExampleParse() {
	res, _ := Parse(strings.NewReader("Package: libacl1\nStatus: install ok installed\nVersion: 2.3.1-3\nArchitecture: amd64\nSource: acl\n"), StatusFile)
	p := res.Packages[0]
	fmt.Println(p.Name, p.Version, p.Arch, p.SourceName, p.SourceVersion)
	// Output: libacl1 2.3.1-3 amd64 acl 2.3.1-3
}

// TestParseHostile: a status file of millions of malformed records, an
// endless record or too many packages costs bounded warnings and memory.
func TestParseHostile(t *testing.T) {
	t.Run("10 MB of malformed records", func(t *testing.T) {
		data := bytes.Repeat([]byte("x\n\n"), 10<<20/3) // 3,495,253 paragraphs
		res, err := Parse(bytes.NewReader(data), StatusFile)
		// Records, but not one readable: a corrupt database (an error),
		// with its warnings bounded all the same.
		if err == nil || err.Error() != `parse dpkg status /var/lib/dpkg/status: not one package paragraph could be read (dpkg: paragraph at line 1 skipped: line 1: not a field: "x")` {
			t.Fatalf("Parse() error = %v", err)
		}
		if len(res.Packages) != 0 || len(res.Warnings) != extract.MaxWarnings {
			t.Fatalf("Parse() = %d packages, %d warnings; want 0, %d", len(res.Packages), len(res.Warnings), extract.MaxWarnings)
		}
		want := model.Warning{Path: StatusFile, Message: "dpkg: 3495154 more warnings not shown (at most 99 are kept per file)"}
		if got := res.Warnings[len(res.Warnings)-1]; got != want {
			t.Errorf("last warning = %+v, want %+v", got, want)
		}
		if got := res.Warnings[0].Message; got != `dpkg: paragraph at line 1 skipped: line 1: not a field: "x"` {
			t.Errorf("first warning = %q", got)
		}
	})
	t.Run("one record over the limit", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("Package: big\nStatus: install ok installed\nVersion: 1\nDescription: x\n")
		line := " " + strings.Repeat("y", 1023) + "\n"
		for b.Len() <= extract.MaxRecordBytes {
			b.WriteString(line)
		}
		b.WriteString("\nPackage: small\nStatus: install ok installed\nVersion: 2\n")
		res, err := Parse(strings.NewReader(b.String()), StatusFile)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"small\t2\t\tsmall\t2"}, lines(res.Packages)); diff != "" {
			t.Errorf("packages (-want +got):\n%s", diff)
		}
		want := []model.Warning{{Path: StatusFile, Message: "dpkg: paragraph at line 1 skipped: longer than 4194304 bytes"}}
		if diff := cmp.Diff(want, res.Warnings); diff != "" {
			t.Errorf("warnings (-want +got):\n%s", diff)
		}
	})
	t.Run("too many packages", func(t *testing.T) {
		var b bytes.Buffer
		for i := range extract.MaxPackages + 1 {
			fmt.Fprintf(&b, "Package: p%d\nStatus: install ok installed\nVersion: 1\n\n", i)
		}
		res, err := Parse(&b, StatusFile)
		if !errors.Is(err, extract.ErrTooManyPackages) || err.Error() != "parse dpkg status /var/lib/dpkg/status: /var/lib/dpkg/status: more than 100000 packages" {
			t.Errorf("Parse(100001 packages) = %d packages, error %v; want ErrTooManyPackages", len(res.Packages), err)
		}
	})
	t.Run("file over the limit", func(t *testing.T) {
		in := extract.Input{Path: StatusFile, Reader: io.MultiReader(strings.NewReader("Package: a\n"), &neverEnding{s: "Description: x\n"})}
		_, err := Extractor{}.Extract(context.Background(), in)
		if !errors.Is(err, extract.ErrTooLarge) {
			t.Errorf("Extract(endless file) error = %v, want ErrTooLarge", err)
		}
	})
}

// neverEnding repeats s for ever.
type neverEnding struct {
	s   string
	off int
}

func (r *neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.s[r.off%len(r.s)]
		r.off++
	}
	return len(p), nil
}

func BenchmarkParseMalformed(b *testing.B) {
	// One readable package, so that the file is not refused as corrupt.
	data := append([]byte("Package: a\nStatus: install ok installed\nVersion: 1\n\n"), bytes.Repeat([]byte("x\n\n"), 1<<20)...)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(data), StatusFile); err != nil {
			b.Fatal(err)
		}
	}
}
