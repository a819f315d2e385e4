package gobinary

import (
	"bytes"
	"debug/elf"
	"debug/gosym"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

func readSymbols(t testing.TB, bin, mainPath string) *Symbols {
	t.Helper()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ReadSymbols(memReader(data), mainPath)
	if err != nil {
		t.Fatalf("ReadSymbols(%s): %v", bin, err)
	}
	// From a file (sections copied) the index is the same.
	f, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s2, err := ReadSymbols(f, mainPath)
	if err != nil || s2.Encode() != s.Encode() {
		t.Fatalf("ReadSymbols(file %s) differs from ReadSymbols(memory): %v", bin, err)
	}
	return s
}

// TestSymbolsInlined: a function the compiler inlined everywhere (never
// compiled out of line) is found in the function name table; names that
// are not in the binary are not.
func TestSymbolsInlined(t *testing.T) {
	bin := testutil.GoBinary(t, testProgram)
	s := readSymbols(t, bin, "example.com/lockdown/gobinarytest")
	if !s.Inlined {
		t.Fatal("Inlined = false for an unstripped binary")
	}
	nm := goToolNM(t, bin)
	for _, c := range []struct {
		pkg, sym string
		want     bool
	}{
		{"example.com/lockdown/gobinarytest", "main", true},
		{"github.com/gin-gonic/gin", "New", true},
		{"golang.org/x/text/language", "Tag.String", true},
		{"fmt", "Println", true},
		{"github.com/gin-gonic/gin", "NoSuchFunction", false},
		{"golang.org/x/crypto/ssh", "NewServerConn", false},
	} {
		if got := s.Has(c.pkg, c.sym); got != c.want {
			t.Errorf("Has(%s, %s) = %v, want %v", c.pkg, c.sym, got, c.want)
		}
	}
	// Every function nm lists is in the index (methods with a pointer
	// receiver, "(*T).M", as "T.M").
	methods := 0
	for name := range nm {
		if strings.Contains(name, ".(*") {
			methods++
		}
		if pkg, sym, ok := parseName(name, true); ok && pkg != "main" && !s.Has(pkg, sym) {
			t.Errorf("Has(%s, %s) = false, but go tool nm lists %s", pkg, sym, name)
		}
	}
	if len(nm) < 1000 || methods < 100 {
		t.Fatalf("go tool nm listed %d functions, %d with a pointer receiver: too few to prove anything", len(nm), methods)
	}
	// A function that is only ever inlined has no symbol of its own but is
	// in the index; find one to prove it.
	inlinedOnly := ""
	for _, cand := range []string{"strings.Cut", "unicode/utf8.RuneLen", "strings.HasPrefix", "math/bits.Len64"} {
		if !nm[cand] {
			inlinedOnly = cand
			break
		}
	}
	if inlinedOnly == "" {
		t.Fatal("every candidate is compiled out of line: pick another")
	}
	i := strings.LastIndexByte(inlinedOnly, '.')
	if !s.Has(inlinedOnly[:i], inlinedOnly[i+1:]) {
		t.Errorf("Has(%s) = false: the inlined-only function was not read from the name table", inlinedOnly)
	}
	if !s.HasPackage("github.com/gin-gonic/gin") || !s.HasModule("github.com/gin-gonic/gin") ||
		!s.HasModule("golang.org/x/text") || s.HasModule("golang.org/x/crypto") || s.HasPackage("github.com/gin-gonic") {
		t.Error("HasPackage/HasModule disagree with what the program links")
	}
}

// TestSymbolsFastPath: the builder's shortcut for a name of the previous
// name's package gives the index splitName gives name by name, over every
// name of a real binary (generic instantiations, pointer receivers,
// closures, escaped paths).
func TestSymbolsFastPath(t *testing.T) {
	data, err := os.ReadFile(testutil.GoBinary(t, testProgram))
	if err != nil {
		t.Fatal(err)
	}
	x, err := openExe(memReader(data))
	if err != nil {
		t.Fatal(err)
	}
	const mainPath = "example.com/lockdown/gobinarytest"
	s, err := x.symbols(mainPath)
	if err != nil {
		t.Fatal(err)
	}
	t8 := x.pclntab
	from, to := x.order.Uint64(t8[8+3*8:]), x.order.Uint64(t8[8+4*8:])
	var hashes []uint64
	pkgs := map[uint64]bool{}
	for _, name := range bytes.Split(t8[from:to], []byte{0}) {
		b := builder{mainPath: mainPath, go120: true, pkgs: pkgs} // no previous package: splitName
		b.name(name)
		hashes = append(hashes, b.hashes...)
	}
	slices.Sort(hashes)
	if want := newSymbols(true, slices.Compact(hashes)); s.Encode() != want.Encode() {
		t.Errorf("index: %d entries; name by name: %d", s.Len(), want.Len())
	}
}

// TestSymbolsStripped: -ldflags=-s -w removes the symbol table, not the
// function name table: the stripped binary's index is the unstripped one's,
// inlined functions included.
func TestSymbolsStripped(t *testing.T) {
	full := readSymbols(t, testutil.GoBinary(t, testProgram), "example.com/lockdown/gobinarytest")
	bin := testutil.GoBinaryWith(t, testProgram, testutil.GoBuild{LDFlags: "-s -w"})
	if f, err := elf.Open(bin); err != nil || f.Section(".symtab") != nil {
		t.Fatalf("%s: not stripped (%v)", bin, err)
	}
	s := readSymbols(t, bin, "example.com/lockdown/gobinarytest")
	if !s.Inlined || s.Encode() != full.Encode() {
		t.Errorf("stripped index: inlined %v, %d entries; unstripped %d entries: they differ", s.Inlined, s.Len(), full.Len())
	}
	if !s.Has("github.com/gin-gonic/gin", "New") || !s.Has("strings", "Cut") {
		t.Error("functions are missing from a stripped binary's index")
	}
}

// TestSymbolsOtherFormats: PE (windows) and Mach-O (darwin) read the same
// way.
func TestSymbolsOtherFormats(t *testing.T) {
	prog := map[string]string{
		"go.mod":  "module example.com/lockdown/formats\n\ngo 1.21\n\nrequire golang.org/x/text v0.3.5\n",
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"golang.org/x/text/language\"\n)\n\nfunc main() { fmt.Println(language.English) }\n",
	}
	// windows/arm64 as in TestGoReachabilityParity (internal/scan): one
	// standard library build for both.
	for _, b := range []testutil.GoBuild{{GOOS: "windows", GOARCH: "arm64"}, {GOOS: "darwin", GOARCH: "arm64"}} {
		t.Run(b.GOOS+"/"+b.GOARCH, func(t *testing.T) {
			bin := testutil.GoBinaryWith(t, prog, b)
			s := readSymbols(t, bin, "example.com/lockdown/formats")
			if !s.Inlined || !s.Has("example.com/lockdown/formats", "main") || !s.Has("golang.org/x/text/language", "Tag.String") ||
				!s.Has("fmt", "Println") || s.Has("fmt", "NoSuchThing") {
				t.Errorf("index of %s/%s: inlined %v, main %v, Tag.String %v", b.GOOS, b.GOARCH, s.Inlined,
					s.Has("example.com/lockdown/formats", "main"), s.Has("golang.org/x/text/language", "Tag.String"))
			}
		})
	}
}

// goToolNM lists the text symbols of bin with go tool nm.
func goToolNM(t testing.TB, bin string) map[string]bool {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "go", "tool", "nm", bin).Output()
	if err != nil {
		t.Fatalf("go tool nm %s: %v", bin, err)
	}
	syms := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		// Skip assembly ABI wrappers (".abi0", not in the function table
		// under that name) and generic instantiations (names with spaces).
		if f := strings.Fields(l); len(f) == 3 && (f[1] == "T" || f[1] == "t") && !strings.HasSuffix(f[2], ".abi0") && !strings.Contains(f[2], "[") &&
			f[2] != "runtime.text" && f[2] != "runtime.etext" { // section markers, not functions
			syms[f[2]] = true
		}
	}
	return syms
}

// TestSplitNameMatchesGosym: for every function of a real binary, the name
// splits as debug/gosym's Sym methods split it (the reference govulncheck
// derives its own from).
func TestSplitNameMatchesGosym(t *testing.T) {
	bin := testutil.GoBinary(t, testProgram)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pcln, err := f.Section(".gopclntab").Data()
	if err != nil {
		t.Fatal(err)
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(pcln, f.Section(".text").Addr))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fn := range tab.Funcs {
		pkg, recv, base, ok := splitName([]byte(fn.Name), true, new([256]byte))
		wantPkg := fn.Sym.PackageName()
		if !ok {
			if wantPkg != "" {
				t.Errorf("splitName(%q) refused, gosym says package %q", fn.Name, wantPkg)
			}
			continue
		}
		wantRecv := fn.Sym.ReceiverName()
		if strings.HasPrefix(wantRecv, "(*") {
			wantRecv = strings.Trim(wantRecv, "(*)")
		}
		if string(pkg) != wantPkg || string(recv) != wantRecv || string(base) != fn.Sym.BaseName() {
			t.Errorf("splitName(%q) = %q %q %q, gosym %q %q %q", fn.Name, pkg, recv, base, wantPkg, wantRecv, fn.Sym.BaseName())
		}
		n++
	}
	if n < 1000 {
		t.Fatalf("only %d functions compared", n)
	}
}

func TestParseName(t *testing.T) {
	for _, c := range []struct{ in, pkg, sym string }{
		{"golang.org/x/text/language.(*Tag).String", "golang.org/x/text/language", "Tag.String"},
		{"golang.org/x/text/language.Parse", "golang.org/x/text/language", "Parse"},
		{"gopkg.in/yaml%2ev2.Unmarshal", "gopkg.in/yaml.v2", "Unmarshal"},
		{"net/http.(*Client).Do", "net/http", "Client.Do"},
		{"main.main", "main", "main"},
		{"go.etcd.io/bbolt.Open", "go.etcd.io/bbolt", "Open"},
	} {
		pkg, sym, ok := parseName(c.in, true)
		if !ok || pkg != c.pkg || sym != c.sym {
			t.Errorf("parseName(%q) = %q %q %v, want %q %q", c.in, pkg, sym, ok, c.pkg, c.sym)
		}
	}
	// Generic instantiations split as debug/gosym splits them.
	for _, in := range []string{"example.com/m.List[...].Push", "example.com/m.(*List[go.shape.int]).Push", "example.com/m.Map[go.shape.int]"} {
		s := gosym.Sym{Name: in}
		want := s.BaseName()
		if r := strings.Trim(s.ReceiverName(), "(*)"); r != "" {
			want = r + "." + want
		}
		if pkg, sym, ok := parseName(in, true); !ok || pkg != s.PackageName() || sym != want {
			t.Errorf("parseName(%q) = %q %q, gosym %q %q", in, pkg, sym, s.PackageName(), want)
		}
	}
	for _, in := range []string{"go:buildid", "type:.eq.main.T", "runtime", ""} {
		if _, _, ok := parseName(in, true); ok {
			t.Errorf("parseName(%q) ok, want refused", in)
		}
	}
	if _, _, ok := parseName("go.etcd.io/bbolt.Open", false); ok {
		t.Error(`parseName("go.etcd.io/bbolt.Open", before 1.20) ok: names starting "go." were the compiler's then`)
	}
}

func TestSymbolsEncoding(t *testing.T) {
	hashes := []uint64{1, 2, 1000, 1<<hashBits - 1}
	s := newSymbols(true, hashes)
	got, err := DecodeSymbols(s.Encode())
	if err != nil || got.Inlined != s.Inlined || got.Len() != len(hashes) {
		t.Fatalf("DecodeSymbols(Encode()) = %+v, %v", got, err)
	}
	for i, h := range hashes {
		if got.at(i) != h || !got.has(h) {
			t.Fatalf("hash %d = %d, want %d (or not found)", i, got.at(i), h)
		}
	}
	for _, h := range []uint64{0, 3, 999, 1001, 1<<hashBits - 2} {
		if got.has(h) {
			t.Errorf("has(%d) = true for an absent hash", h)
		}
	}
	for _, bad := range []string{"", "s2", "s2:f", "s1:f:", "s2:x:", "s2:f:!!!!!!!!", "s2:f:AQA", "s2:p:////////////"} {
		if _, err := DecodeSymbols(bad); err == nil {
			t.Errorf("DecodeSymbols(%q) accepted", bad)
		}
	}
}

func TestReadSymbolsNotGo(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":     nil,
		"text":      []byte("#!/bin/sh\necho hi\n"),
		"elf stub":  []byte("\x7fELF"),
		"pe stub":   []byte("MZ\x90\x00"),
		"truncated": bytes.Repeat([]byte{0}, 64),
	} {
		if _, err := ReadSymbols(memReader(data), ""); err == nil {
			t.Errorf("%s: ReadSymbols accepted it", name)
		}
	}
	// A C program's ELF has no Go function table.
	if sh, err := exec.LookPath("sh"); err == nil {
		real, _ := filepath.EvalSymlinks(sh)
		data, err := os.ReadFile(real)
		if err == nil {
			if _, err := ReadSymbols(memReader(data), ""); err != ErrNoSymbols {
				t.Errorf("ReadSymbols(%s) = %v, want ErrNoSymbols", real, err)
			}
		}
	}
}

// TestReadSymbolsDamaged: a real binary damaged anywhere in its function
// table, or cut short, is an error or an index, never a panic or a
// runaway.
func TestReadSymbolsDamaged(t *testing.T) {
	bin := testutil.GoBinary(t, testProgram)
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	sec := f.Section(".gopclntab")
	start, size := int(sec.Offset), int(sec.Size)
	for k := 0; k < 200; k++ {
		d := bytes.Clone(data)
		at := start + k*size/200
		for i := at; i < at+16; i++ {
			d[i] ^= 0xa5
		}
		_, _ = ReadSymbols(memReader(d), "main")
	}
	for k := 1; k < 40; k++ {
		_, _ = ReadSymbols(memReader(data[:k*len(data)/40]), "main")
	}
}

// table builds a Go 1.20 function table whose name table holds names: a
// small, valid seed for FuzzFuncTable.
func table(names ...string) []byte {
	le := binary.LittleEndian
	hdr := make([]byte, 8+8*8)
	le.PutUint32(hdr, magic120)
	hdr[6], hdr[7] = 1, 8
	var tab []byte
	for _, n := range names {
		tab = append(append(tab, n...), 0)
	}
	le.PutUint64(hdr[8:], uint64(len(names)))            // nfunc
	le.PutUint64(hdr[8+3*8:], uint64(len(hdr)))          // funcnameOffset
	le.PutUint64(hdr[8+4*8:], uint64(len(hdr)+len(tab))) // cuOffset
	return slices.Concat(hdr, tab, []byte{0, 0, 0, 0})
}

func TestFuncTable(t *testing.T) {
	pcln := table("main.main", "example.com/m.helper", "strings.Cut", "example.com/m.(*T).Method",
		"gopkg.in/yaml%2ev3.Unmarshal", "gopkg.in/yaml%2ev3.(*parser).init", "", "go:buildid", "type:.eq.main.T")
	x := &exe{order: binary.LittleEndian, pclntab: pcln}
	s, err := x.symbols("example.com/cmd")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]string{{"example.com/cmd", "main"}, {"example.com/m", "helper"}, {"strings", "Cut"},
		{"example.com/m", "T.Method"}, {"gopkg.in/yaml.v3", "Unmarshal"}, {"gopkg.in/yaml.v3", "parser.init"}} {
		if !s.Has(c[0], c[1]) {
			t.Errorf("Has(%s, %s) = false", c[0], c[1])
		}
	}
	if s.Has("main", "main") || !s.HasModule("gopkg.in") || !s.HasPackage("example.com/m") || s.HasPackage("example.com") {
		t.Error("packages: main not renamed, or a module prefix missing")
	}
	// The same names through NewSymbols: the same index.
	want := NewSymbols(true, "example.com/cmd.main", "example.com/m.helper", "strings.Cut", "example.com/m.(*T).Method",
		"gopkg.in/yaml%2ev3.Unmarshal", "gopkg.in/yaml%2ev3.(*parser).init")
	if s.Encode() != want.Encode() {
		t.Errorf("index = %d entries, NewSymbols of the same names %d", s.Len(), want.Len())
	}
	// A header pointing outside the table is damage, not an index.
	bad := bytes.Clone(pcln)
	binary.LittleEndian.PutUint64(bad[8+4*8:], uint64(len(bad)+1))
	if _, err := (&exe{order: binary.LittleEndian, pclntab: bad}).symbols(""); err == nil {
		t.Error("cuOffset beyond the table accepted")
	}
}

// FuzzFuncTable: a damaged function table is an error or an index, never
// a panic; what it reads encodes and decodes to itself. The seed is a
// small valid table (table); TestReadSymbolsDamaged damages real binaries.
func FuzzFuncTable(f *testing.F) {
	f.Add(table("main.main", "a/b.c", "d.e", "x/y.(*Z).W"))
	f.Fuzz(func(t *testing.T, pcln []byte) {
		x := &exe{order: binary.LittleEndian, pclntab: pcln}
		s, err := x.symbols("main")
		if err != nil {
			return
		}
		back, err := DecodeSymbols(s.Encode())
		if err != nil || back.Encode() != s.Encode() {
			t.Fatalf("encode/decode round trip: %v", err)
		}
	})
}

func FuzzDecodeSymbols(f *testing.F) {
	f.Add(newSymbols(true, []uint64{3, 99, 12345}).Encode())
	f.Add("s2:p:")
	f.Add("s2:f:////////")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := DecodeSymbols(text)
		if err != nil {
			return
		}
		if again, err := DecodeSymbols(s.Encode()); err != nil || again.Encode() != s.Encode() {
			t.Fatalf("re-encoding %q: %v", text, err)
		}
	})
}
