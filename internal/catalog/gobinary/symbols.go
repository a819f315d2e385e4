package gobinary

import (
	"bytes"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/url"
	"slices"
	"strings"
)

// Symbols indexes the functions compiled into a Go binary: every name in
// its function name table (pclntab's funcnametab), which the linker writes
// for each function compiled out of line and each function inlined into
// one (cmd/link's walkFuncs), so that a function the compiler inlined
// everywhere is known too. That is the set govulncheck -mode=binary reads
// from the function table and the inline trees; the name table holds it
// whole, also in a binary stripped of its symbol table. Names are as the Go
// vulnerability database writes them: the package path and "Func" or
// "Type.Method" (a pointer receiver without "(*…)"), the package "main" as
// the binary's main package path. Nothing in the binary is executed.
//
// The index keeps 48-bit hashes, not names: a few hundred kilobytes for a
// binary of tens of megabytes, with a chance of about 1 in 10^9 per lookup
// that an absent name reads as present. It is kept as it is carried
// (Encode): each hash in 8 base64 characters, in order, so that reading it
// back is a check, not a decoding, and a lookup a binary search.
type Symbols struct {
	// Inlined is true when the index holds the functions inlined into
	// others too. Every table ReadSymbols reads does (Go 1.16 on); an index
	// built from a list of functions (NewSymbols) may not, and then a name
	// missing from it may still be in the binary, inlined.
	Inlined bool
	tab     string // sorted, distinct hashes, 8 base64 characters each
}

// ErrNoSymbols is returned by ReadSymbols for an executable without a Go
// function table the reader understands (built before Go 1.16, or not Go).
var ErrNoSymbols = errors.New("no Go function table")

// Has reports whether function sym of package pkg is in the binary
// ("golang.org/x/net/html", "Tokenizer.Next").
func (s *Symbols) Has(pkg, sym string) bool {
	h, _ := symHash(fnvAdd(hashString(fnvAdd(fnvOffset, 'S'), pkg), '.'), []byte(sym))
	return s.has(h)
}

// HasPackage reports whether any function of package pkg is in the binary.
func (s *Symbols) HasPackage(pkg string) bool {
	return s.has(hashString(fnvAdd(fnvOffset, 'P'), pkg) >> (64 - hashBits))
}

// HasModule reports whether any function of a package at or below path
// mod ("golang.org/x/net": golang.org/x/net/html, …) is in the binary.
func (s *Symbols) HasModule(mod string) bool {
	return s.has(hashString(fnvAdd(fnvOffset, 'M'), mod) >> (64 - hashBits))
}

func (s *Symbols) has(h uint64) bool {
	if s == nil {
		return false
	}
	lo, hi := 0, s.Len()
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch v := s.at(m); {
		case v == h:
			return true
		case v < h:
			lo = m + 1
		default:
			hi = m
		}
	}
	return false
}

// at is the i-th hash of the index.
func (s *Symbols) at(i int) uint64 {
	var b [8]byte
	if _, err := base64.StdEncoding.Decode(b[:], []byte(s.tab[8*i:8*i+8])); err != nil {
		return 0 // DecodeSymbols checked the alphabet
	}
	return uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(b[2])<<24 | uint64(b[3])<<16 | uint64(b[4])<<8 | uint64(b[5])
}

// Len is the number of entries in the index.
func (s *Symbols) Len() int { return len(s.tab) / 8 }

const hashBits = 48

// newSymbols is the index of hashes (sorted, distinct, below 1<<hashBits):
// each hash's 6 bytes, big-endian, in base64 — written directly, 6 bits a
// character.
func newSymbols(inlined bool, hashes []uint64) *Symbols {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var b strings.Builder
	b.Grow(8 * len(hashes))
	var c [8]byte
	for _, h := range hashes {
		for k := range c {
			c[k] = alphabet[h>>(42-6*k)&63]
		}
		b.Write(c[:])
	}
	return &Symbols{Inlined: inlined, tab: b.String()}
}

// symbolsFormat prefixes an encoded index; bump it when the encoding or the
// hashing changes.
const symbolsFormat = "s2"

// Encode returns the index as text: the format, "f" (inlined functions
// included) or "p" (functions compiled out of line only), then the sorted
// hashes, 6 bytes each, in base64.
func (s *Symbols) Encode() string {
	mode := "p"
	if s.Inlined {
		mode = "f"
	}
	return symbolsFormat + ":" + mode + ":" + s.tab
}

// DecodeSymbols reads what Encode wrote.
func DecodeSymbols(text string) (*Symbols, error) {
	format, rest, ok1 := strings.Cut(text, ":")
	mode, tab, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || format != symbolsFormat || (mode != "f" && mode != "p") {
		return nil, fmt.Errorf("decode go symbols: not a %s index", symbolsFormat)
	}
	if len(tab)%8 != 0 {
		return nil, fmt.Errorf("decode go symbols: %d characters, not a multiple of 8", len(tab))
	}
	for i := 0; i < len(tab); i++ {
		if c := tab[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return nil, fmt.Errorf("decode go symbols: %q at %d is not base64", c, i)
		}
	}
	return &Symbols{Inlined: mode == "f", tab: tab}, nil
}

// exe is what ReadSymbols needs of an executable: its function table.
type exe struct {
	order   binary.ByteOrder
	pclntab []byte
}

// ReadSymbols reads the function index of the Go executable in r (ELF,
// Mach-O or PE). mainPath is the binary's main package path (buildinfo's
// Path), which names the functions of package main. A binary without a Go
// function table is ErrNoSymbols; a damaged one is an error.
func ReadSymbols(r io.ReaderAt, mainPath string) (*Symbols, error) {
	x, err := openExe(r)
	if err != nil {
		return nil, err
	}
	return x.symbols(mainPath)
}

// ReadSymbolsBytes is ReadSymbols for an executable in memory, whose
// sections it reads in place.
func ReadSymbolsBytes(data []byte, mainPath string) (*Symbols, error) {
	x, err := openExe(memReader(data))
	if err != nil {
		return nil, err
	}
	return x.symbols(mainPath)
}

// memReader is an executable held in memory: its sections are sliced, not
// copied.
type memReader []byte

func (m memReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(m)) {
		return 0, io.EOF
	}
	n := copy(p, m[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// maxSection bounds a section read from a file (a damaged header can claim
// any size).
const maxSection = 1 << 30

// section returns size bytes at off in r: a slice of a memReader, else a
// copy.
func section(r io.ReaderAt, off, size uint64) ([]byte, error) {
	if m, ok := r.(memReader); ok {
		if off > uint64(len(m)) || size > uint64(len(m))-off {
			return nil, errCorrupt
		}
		return m[off : off+size], nil
	}
	if size > maxSection {
		return nil, errCorrupt
	}
	b := make([]byte, size)
	if _, err := r.ReadAt(b, int64(off)); err != nil {
		return nil, fmt.Errorf("read go symbols: %w", err)
	}
	return b, nil
}

func openExe(r io.ReaderAt) (*exe, error) {
	var head [4]byte
	if _, err := r.ReadAt(head[:], 0); err != nil {
		return nil, ErrNoSymbols
	}
	switch {
	case string(head[:]) == "\x7fELF":
		f, err := elf.NewFile(r)
		if err != nil {
			return nil, fmt.Errorf("read go symbols: %w", err)
		}
		return elfExe(r, f)
	case head[0] == 'M' && head[1] == 'Z':
		f, err := pe.NewFile(r)
		if err != nil {
			return nil, fmt.Errorf("read go symbols: %w", err)
		}
		return peExe(f)
	default:
		f, err := macho.NewFile(r)
		if err != nil {
			return nil, ErrNoSymbols
		}
		return machoExe(f)
	}
}

func elfExe(r io.ReaderAt, f *elf.File) (*exe, error) {
	sec := f.Section(".gopclntab")
	if sec == nil || sec.Type == elf.SHT_NOBITS {
		return nil, ErrNoSymbols
	}
	var pcln []byte
	var err error
	if sec.Flags&elf.SHF_COMPRESSED != 0 {
		pcln, err = sec.Data()
	} else {
		pcln, err = section(r, sec.Offset, sec.FileSize)
	}
	if err != nil {
		return nil, fmt.Errorf("read go symbols: .gopclntab: %w", err)
	}
	return &exe{order: f.ByteOrder, pclntab: pcln}, nil
}

func machoExe(f *macho.File) (*exe, error) {
	sec := f.Section("__gopclntab")
	if sec == nil {
		return nil, ErrNoSymbols
	}
	pcln, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("read go symbols: __gopclntab: %w", err)
	}
	return &exe{order: f.ByteOrder, pclntab: pcln}, nil
}

// peExe finds the table between the runtime.pclntab and runtime.epclntab
// symbols (PE has no section of its own for it).
func peExe(f *pe.File) (*exe, error) {
	find := func(name string) (*pe.Symbol, []byte) {
		for _, s := range f.Symbols {
			if s.Name != name || s.SectionNumber <= 0 || int(s.SectionNumber) > len(f.Sections) {
				continue
			}
			data, err := f.Sections[s.SectionNumber-1].Data()
			if err != nil || int64(s.Value) > int64(len(data)) {
				return nil, nil
			}
			return s, data
		}
		return nil, nil
	}
	start, data := find("runtime.pclntab")
	end, _ := find("runtime.epclntab")
	if start == nil || end == nil || end.SectionNumber != start.SectionNumber || end.Value < start.Value {
		return nil, ErrNoSymbols
	}
	return &exe{order: binary.LittleEndian, pclntab: data[start.Value:end.Value]}, nil
}

// pclntab magics (runtime/symtab.go).
const (
	magic116 = 0xfffffffa
	magic118 = 0xfffffff0
	magic120 = 0xfffffff1
)

var errCorrupt = errors.New("read go symbols: damaged function table")

// symbols reads every name of the function name table: the table sits
// between the header's funcnameOffset and cuOffset, one NUL-terminated
// name after another (runtime/symtab.go's pcHeader; cmd/link's
// generateFuncnametab).
func (x *exe) symbols(mainPath string) (*Symbols, error) {
	t := x.pclntab
	if len(t) < 8 || t[4] != 0 || t[5] != 0 || (t[7] != 4 && t[7] != 8) {
		return nil, ErrNoSymbols
	}
	magic, ptr := x.order.Uint32(t), int(t[7])
	word := func(i int) (uint64, bool) { // the i-th header word after the first 8 bytes
		off := 8 + i*ptr
		if off+ptr > len(t) {
			return 0, false
		}
		if ptr == 8 {
			return x.order.Uint64(t[off:]), true
		}
		return uint64(x.order.Uint32(t[off:])), true
	}
	var first int // the header word of funcnameOffset; cuOffset follows it
	switch magic {
	case magic118, magic120:
		first = 3
	case magic116:
		first = 2
	default:
		return nil, ErrNoSymbols
	}
	from, ok1 := word(first)
	to, ok2 := word(first + 1)
	if !ok1 || !ok2 || from > to || to > uint64(len(t)) {
		return nil, errCorrupt
	}
	names := t[from:to]
	b := builder{mainPath: mainPath, go120: magic == magic120, hashes: make([]uint64, 0, len(names)/40)}
	for len(names) > 0 {
		end := bytes.IndexByte(names, 0)
		if end < 0 {
			end = len(names)
		}
		if end > 0 {
			b.name(names[:end])
		}
		names = names[min(end+1, len(names)):]
	}
	return newSymbols(true, sortHashes(b.hashes)), nil
}

// sortHashes sorts and deduplicates hashes, which are uniform over
// hashBits bits: a counting pass over their top bits puts each in its
// bucket, a few a bucket, and each bucket is then sorted on its own
// (several times faster than a comparison sort of the whole).
func sortHashes(h []uint64) []uint64 {
	if len(h) < 1024 {
		slices.Sort(h)
		return slices.Compact(h)
	}
	top := min(bits.Len(uint(len(h)))-2, 20)
	shift := hashBits - top
	end := make([]int32, 1<<top) // bucket counts, then where each bucket ends
	for _, v := range h {
		end[v>>shift]++
	}
	var n int32
	for i, c := range end {
		end[i] = n
		n += c
	}
	out := make([]uint64, len(h))
	for _, v := range h {
		out[end[v>>shift]] = v
		end[v>>shift]++
	}
	from := int32(0)
	for _, to := range end {
		if b := out[from:to]; len(b) > 12 {
			slices.Sort(b)
		} else {
			for i := 1; i < len(b); i++ {
				for j := i; j > 0 && b[j] < b[j-1]; j-- {
					b[j], b[j-1] = b[j-1], b[j]
				}
			}
		}
		from = to
	}
	return slices.Compact(out)
}

// builder collects the hashes of the names it is given: each function's,
// and each package's and module prefix's once.
type builder struct {
	mainPath string
	go120    bool // the table is Go 1.20's or later
	hashes   []uint64
	// The previous name's package (names of one package mostly follow one
	// another): its bytes as written, and the hash state after 'S', the
	// package and ".".
	lastPkg []byte
	lastS   uint64
	scratch [256]byte       // splitName's copy of a generic name without its instantiation
	pkgs    map[uint64]bool // 'P' hashes of the packages met
}

func (b *builder) name(name []byte) {
	// Most names are of the previous name's package and not generic: what
	// follows "pkg." is the symbol, split as splitName would without
	// searching the whole name again.
	if n := len(b.lastPkg); n > 0 && len(name) > n && name[n] == '.' && bytes.HasPrefix(name, b.lastPkg) {
		rest := name[n+1:]
		if len(rest) > 1 && rest[0] == '(' && rest[1] == '*' {
			if d := bytes.LastIndexByte(rest, '.'); d > 0 && bytes.IndexByte(rest, '[') < 0 && bytes.IndexByte(rest, '/') < 0 {
				b.sym(trimRecv(rest[:d]), rest[d+1:])
				return
			}
		} else if h, ok := symHash(b.lastS, rest); ok {
			b.hashes = append(b.hashes, h)
			return
		}
	}
	pkg, recv, base, ok := splitName(name, b.go120, &b.scratch)
	if !ok {
		return
	}
	if !bytes.Equal(pkg, b.lastPkg) {
		b.pkg(pkg)
		// The fast path above holds for a package splitName found (no "."
		// after its last "/") that starts the name as written (a generic
		// name's instantiation comes after it).
		b.lastPkg = nil
		if bytes.HasPrefix(name, pkg) {
			b.lastPkg = name[:len(pkg)]
		}
	}
	b.sym(recv, base)
}

// sym adds the hash of recv.base (base without a receiver) in the current
// package.
func (b *builder) sym(recv, base []byte) {
	sym := base
	if len(recv) > 0 {
		var buf [128]byte
		sym = append(append(append(buf[:0], recv...), '.'), base...)
	}
	h, _ := symHash(b.lastS, sym)
	b.hashes = append(b.hashes, h)
}

// trimRecv is bytes.Trim(recv, "(*)"): "(*T)" -> "T".
func trimRecv(recv []byte) []byte {
	isP := func(c byte) bool { return c == '(' || c == '*' || c == ')' }
	for len(recv) > 0 && isP(recv[0]) {
		recv = recv[1:]
	}
	for len(recv) > 0 && isP(recv[len(recv)-1]) {
		recv = recv[:len(recv)-1]
	}
	return recv
}

// pkg starts a run of names of package pkg (as written in the table):
// the hash state of its names, and its package and module hashes the
// first time it is met.
func (b *builder) pkg(pkg []byte) {
	if bytes.IndexByte(pkg, '%') >= 0 {
		if p, err := url.PathUnescape(string(pkg)); err == nil {
			pkg = []byte(p)
		}
	}
	if string(pkg) == "main" && b.mainPath != "" {
		pkg = []byte(b.mainPath)
	}
	b.lastS = fnvAdd(fnvBytes(fnvAdd(fnvOffset, 'S'), pkg), '.')
	ph := hashBytes('P', pkg)
	if b.pkgs == nil {
		b.pkgs = map[uint64]bool{}
	}
	if b.pkgs[ph] {
		return
	}
	b.pkgs[ph] = true
	b.hashes = append(b.hashes, ph)
	for m := pkg; len(m) > 0; {
		b.hashes = append(b.hashes, hashBytes('M', m))
		i := bytes.LastIndexByte(m, '/')
		if i < 0 {
			break
		}
		m = m[:i]
	}
}

// splitName splits a function's linker name as debug/gosym's Sym methods
// do (PackageName, ReceiverName, BaseName), for a table of the given
// version: "golang.org/x/text/language.(*Tag).String" ->
// "golang.org/x/text/language", "Tag", "String" (a pointer receiver
// without "(*…)", as govulncheck writes it). Names the compiler generates
// ("go:…", "type:…"; before Go 1.20 "go.…", "type.…") belong to no
// package: ok is false.
func splitName(name []byte, go120 bool, scratch *[256]byte) (pkg, recv, base []byte, ok bool) {
	noInst := name
	if i := bytes.IndexByte(name, '['); i >= 0 {
		if j := bytes.LastIndexByte(name, ']'); j > i {
			noInst = append(append(scratch[:0], name[:i]...), name[j+1:]...)
		}
	}
	if go120 && (bytes.HasPrefix(noInst, []byte("go:")) || bytes.HasPrefix(noInst, []byte("type:"))) ||
		!go120 && (bytes.HasPrefix(noInst, []byte("go.")) || bytes.HasPrefix(noInst, []byte("type."))) {
		return nil, nil, nil, false
	}
	pathend := max(bytes.LastIndexByte(noInst, '/'), 0)
	l := bytes.IndexByte(noInst[pathend:], '.')
	if l < 0 {
		return nil, nil, nil, false
	}
	pkg = noInst[:pathend+l]
	if r := bytes.LastIndexByte(noInst[pathend:], '.'); r != l {
		r = bytes.LastIndexByte(name[pathend:], '.')
		if r > l {
			recv = name[pathend+l+1 : pathend+r]
		}
		if bytes.HasPrefix(recv, []byte("(*")) {
			recv = trimRecv(recv)
		}
	}
	i := bytes.LastIndexByte(noInst, '.')
	if len(noInst) != len(name) && i > bytes.IndexByte(name, '[') {
		i = bytes.LastIndexByte(name, '.')
	}
	return pkg, recv, name[i+1:], true
}

// parseName is splitName for a string, with the receiver joined to the
// name ("Tag.String") and the package path unescaped.
func parseName(name string, go120 bool) (pkg, sym string, ok bool) {
	p, r, b, ok := splitName([]byte(name), go120, new([256]byte))
	if !ok {
		return "", "", false
	}
	pkg, sym = string(p), string(b)
	if len(r) > 0 {
		sym = string(r) + "." + sym
	}
	if u, err := url.PathUnescape(pkg); err == nil {
		pkg = u
	}
	return pkg, sym, true
}

func hashBytes(kind byte, b []byte) uint64 {
	return fnvBytes(fnvAdd(fnvOffset, kind), b) >> (64 - hashBits)
}

// symHash is the key of symbol sym ("Func", "Type.Method") after the FNV-1a
// state h of 'S', its package and ".": sym is read 8 bytes at a time (a
// table holds tens of thousands of names), each word mixed in by a
// multiplication and a shift, and the whole finished by murmur3's fmix64.
// plain is false when sym holds a "/" or "[" (as a generic function's name
// does), which the same words tell.
func symHash(h uint64, sym []byte) (key uint64, plain bool) {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	has := func(w uint64, c byte) uint64 { x := w ^ ones*uint64(c); return (x - ones) &^ x & highs }
	var seen uint64
	h ^= uint64(len(sym))
	for ; len(sym) >= 8; sym = sym[8:] {
		w := binary.LittleEndian.Uint64(sym)
		seen |= has(w, '/') | has(w, '[')
		h = (h ^ w) * fnvPrime
		h ^= h >> 29
	}
	var w uint64
	for i := len(sym) - 1; i >= 0; i-- {
		w = w<<8 | uint64(sym[i])
		if sym[i] == '/' || sym[i] == '[' {
			seen = 1
		}
	}
	h = (h ^ w) * fnvPrime
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h >> (64 - hashBits), seen == 0
}

func hashString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = fnvAdd(h, s[i])
	}
	return h
}

const fnvOffset, fnvPrime = 14695981039346656037, 1099511628211

func fnvAdd(h uint64, c byte) uint64 { return (h ^ uint64(c)) * fnvPrime }

func fnvBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h = (h ^ uint64(c)) * fnvPrime
	}
	return h
}

// NewSymbols is the index of a binary holding the functions named, as the
// linker names them ("golang.org/x/net/html.Parse",
// "net/http.(*Client).Do"): for tests of what reads an index.
func NewSymbols(inlined bool, funcs ...string) *Symbols {
	b := builder{go120: true}
	for _, f := range funcs {
		b.name([]byte(f))
	}
	return newSymbols(inlined, sortHashes(b.hashes))
}
