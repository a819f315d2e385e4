package gobinary

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// testProgram pins old modules (gin v1.6.0 pulls in an old golang.org/x/sys,
// replaced by a newer one) and a module replaced by a local directory.
var testProgram = map[string]string{
	"go.mod": `module example.com/lockdown/gobinarytest

go 1.21

require (
	example.com/lockdown/localdep v0.1.0
	github.com/gin-gonic/gin v1.6.0
	golang.org/x/text v0.3.5
)

replace golang.org/x/sys => golang.org/x/sys v0.28.0

replace example.com/lockdown/localdep v0.1.0 => ./localdep
`,
	"main.go": `package main

import (
	"fmt"

	"example.com/lockdown/localdep"
	"github.com/gin-gonic/gin"
	"golang.org/x/text/language"
)

func main() {
	fmt.Println(gin.New() != nil, language.English, localdep.Name)
}
`,
	"localdep/go.mod":   "module example.com/lockdown/localdep\n\ngo 1.21\n",
	"localdep/local.go": "package localdep\n\nconst Name = \"local\"\n",
}

// goVersionM lists what `go version -m` says is in a binary, as packages
// the way Parse should report them: main module, dependencies (a replaced
// one as its replacement), stdlib.
func goVersionM(t testing.TB, bin string) []model.Package {
	t.Helper()
	out, err := exec.CommandContext(context.Background(), "go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m %s: %v", bin, err)
	}
	ls := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	_, goVersion, _ := strings.Cut(ls[0], ": ")
	var mainPath, arch, goos string
	for _, l := range ls[1:] {
		f := strings.Split(strings.TrimPrefix(l, "\t"), "\t")
		if f[0] == "path" {
			mainPath = f[1]
		}
		if f[0] == "build" && strings.HasPrefix(f[1], "GOARCH=") {
			arch = strings.TrimPrefix(f[1], "GOARCH=")
		}
		if f[0] == "build" && strings.HasPrefix(f[1], "GOOS=") {
			goos = strings.TrimPrefix(f[1], "GOOS=")
		}
	}
	meta := func(kv ...string) map[string]string {
		m := map[string]string{"goVersion": goVersion, "mainModule": mainPath}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	var pkgs []model.Package
	for _, l := range ls[1:] {
		f := strings.Split(strings.TrimPrefix(l, "\t"), "\t")
		for len(f) < 3 {
			f = append(f, "")
		}
		switch f[0] {
		case "mod", "dep":
			pkgs = append(pkgs, model.Package{Name: f[1], Version: f[2], Type: model.TypeGolang, Arch: arch, Location: "/app", Metadata: meta()})
		case "=>":
			last := &pkgs[len(pkgs)-1]
			last.Metadata = meta("replaces", last.Name+"@"+last.Version)
			last.Name, last.Version = f[1], f[2]
		}
	}
	pkgs = append(pkgs, model.Package{Name: "stdlib", Version: strings.TrimPrefix(goVersion, "go"), Type: model.TypeGolang,
		Arch: arch, Location: "/app", Metadata: meta("goos", goos)})
	return pkgs
}

func TestParseAgainstGoVersionM(t *testing.T) {
	bin := testutil.GoBinary(t, testProgram)
	want := goVersionM(t, bin)
	f, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := Parse(f, "/app")
	// The symbol index rides on the stdlib package: check it, then compare
	// the rest with go version -m.
	syms, err := DecodeSymbols(got[len(got)-1].Metadata[MetaSymbols])
	if err != nil || !syms.Inlined {
		t.Fatalf("stdlib package's %s: %v (inlined %v)", MetaSymbols, err, syms != nil && syms.Inlined)
	}
	for _, c := range [][2]string{{"example.com/lockdown/gobinarytest", "main"}, {"github.com/gin-gonic/gin", "New"},
		{"golang.org/x/text/language", "Tag.String"}, {"fmt", "Println"}} {
		if !syms.Has(c[0], c[1]) {
			t.Errorf("symbols: %s.%s missing", c[0], c[1])
		}
	}
	if syms.Has("github.com/gin-gonic/gin", "NoSuchFunction") || syms.HasModule("golang.org/x/crypto") {
		t.Errorf("symbols: absent names read as present")
	}
	StripSymbols(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse(%s) differs from go version -m (-go +Parse):\n%s", bin, diff)
	}
	// Pin the interesting entries, so a shared misreading cannot hide.
	byName := map[string]model.Package{}
	for _, p := range got {
		byName[p.Name] = p
	}
	checks := []struct{ name, version, replaces string }{
		{"example.com/lockdown/gobinarytest", "(devel)", ""},
		{"github.com/gin-gonic/gin", "v1.6.0", ""},
		{"golang.org/x/text", "v0.3.5", ""},
		{"golang.org/x/sys", "v0.28.0", "golang.org/x/sys@v0.0.0-20200116001909-b77594299b42"},
		{"./localdep", "(devel)", "example.com/lockdown/localdep@v0.1.0"},
	}
	for _, c := range checks {
		p, ok := byName[c.name]
		if !ok || p.Version != c.version || p.Metadata["replaces"] != c.replaces {
			t.Errorf("package %s = %+v, want version %q replaces %q", c.name, p, c.version, c.replaces)
		}
	}
	if p := byName["stdlib"]; !strings.HasPrefix(p.Metadata["goVersion"], "go") || "go"+p.Version != p.Metadata["goVersion"] {
		t.Errorf("stdlib = %+v, want Version = goVersion without go", p)
	}
}

func TestExtract(t *testing.T) {
	bin := testutil.GoBinary(t, testProgram)
	st, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := Parse(f, "/usr/local/bin/app")
	for name, e := range map[string]Extractor{"in memory": {}, "spooled": {MemSize: 1}} {
		t.Run(name, func(t *testing.T) {
			if _, err := f.Seek(0, 0); err != nil {
				t.Fatal(err)
			}
			if !e.Wants("/usr/local/bin/app", 0o755, st.Size()) {
				t.Fatalf("Wants(app, 0755, %d) = false", st.Size())
			}
			tmp := t.TempDir()
			res, err := e.Extract(context.Background(), extract.Input{Path: "/usr/local/bin/app", Mode: 0o755, Size: st.Size(), Reader: f, TempDir: tmp})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, res.Packages); diff != "" || len(want) < 10 {
				t.Errorf("Extract() (-Parse +Extract):\n%s", diff)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("Extract() left %d files in TempDir", len(left))
			}
		})
	}
}

// TestNotGo: other executables and data yield nothing and no warning.
func TestNotGo(t *testing.T) {
	inputs := map[string][]byte{
		"empty":     nil,
		"script":    []byte("#!/bin/sh\necho hi\n"),
		"elf magic": []byte("\x7fELF garbage that is not an ELF file"),
		"MZ":        []byte("MZ not really a PE"),
	}
	if sh, err := os.ReadFile("/bin/sh"); err == nil {
		inputs["/bin/sh (C program)"] = sh
	}
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			res, err := Extractor{}.Extract(context.Background(), extract.Input{Path: "/x", Size: int64(len(data)), Reader: bytes.NewReader(data)})
			if err != nil || len(res.Packages) != 0 || len(res.Warnings) != 0 {
				t.Errorf("Extract(%s) = %+v, %v; want nothing", name, res, err)
			}
		})
	}
}

func TestWants(t *testing.T) {
	tests := []struct {
		mode fs.FileMode
		size int64
		want bool
	}{
		{0o755, 2 << 20, true},
		{0o700, 2 << 20, true},
		{0o744, DefaultMinSize, true},
		{0o644, 2 << 20, false},
		{0o755, 1000, false},
		{0o755, DefaultMaxSize + 1, false},
		{fs.ModeSymlink | 0o777, 2 << 20, false},
	}
	for _, tt := range tests {
		if got := (Extractor{}).Wants("/bin/x", tt.mode, tt.size); got != tt.want {
			t.Errorf("Wants(%v, %d) = %v, want %v", tt.mode, tt.size, got, tt.want)
		}
	}
}

func TestToolchainVersion(t *testing.T) {
	for in, want := range map[string]string{
		"go1.22.3":                 "1.22.3",
		"go1.24.0 X:boringcrypto":  "1.24.0",
		"go1.21rc2":                "1.21rc2",
		"devel go1.23-abc +0000 X": "devel",
		"":                         "",
	} {
		if got := ToolchainVersion(in); got != want {
			t.Errorf("ToolchainVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add([]byte("MZ"))
	f.Add([]byte("\xcf\xfa\xed\xfe"))
	// The start of a real Go executable and its build info blob.
	if data, err := os.ReadFile(testutil.GoBinary(f, testProgram)); err == nil {
		f.Add(data[:4096])
		if i := bytes.Index(data, []byte("\xff Go buildinf:")); i >= 0 {
			f.Add(data[i:min(len(data), i+4096)])
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range Parse(bytes.NewReader(data), "/x") {
			if p.Type != model.TypeGolang || p.Location != "/x" {
				t.Errorf("Parse(%q) = package %+v", data, p)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(testutil.GoBinary(b, testProgram))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if len(Parse(bytes.NewReader(data), "/app")) == 0 {
			b.Fatal("no packages")
		}
	}
}

// BenchmarkExtractNotGo is the common case in an image: a C executable.
func BenchmarkExtractNotGo(b *testing.B) {
	data, err := os.ReadFile("/bin/bash")
	if err != nil {
		b.Skip(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := (Extractor{}).Extract(context.Background(), extract.Input{Path: "/bin/bash", Size: int64(len(data)), Reader: bytes.NewReader(data)}); err != nil {
			b.Fatal(err)
		}
	}
}
