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
	"net/url"
	"slices"
	"strings"
)

// Symbols indexes the functions compiled into a Go binary, read from its
// function table (pclntab) and, where the binary keeps its symbol table, the
// inline trees of every function, so that a function the compiler inlined
// everywhere is known too. Names are as the Go vulnerability database
// writes them: the package path and "Func" or "Type.Method" (a pointer
// receiver without "(*…)"), the package "main" as the binary's main package
// path. This is what govulncheck -mode=binary reads (its
// internal/buildinfo); nothing in the binary is executed.
//
// The index keeps 48-bit hashes, not names: a few hundred kilobytes for a
// binary of tens of megabytes, with a chance of about 1 in 10^9 per lookup
// that an absent name reads as present.
type Symbols struct {
	// Inlined is true when the inline trees were read. A stripped binary
	// (-ldflags=-s) has no symbol table to locate them: its index holds the
	// functions compiled out of line only, so a name missing from it may
	// still be in the binary, inlined.
	Inlined bool
	hashes  []uint64 // sorted, distinct
}

// ErrNoSymbols is returned by ReadSymbols for an executable without a Go
// function table the reader understands (built before Go 1.16, or not Go).
var ErrNoSymbols = errors.New("no Go function table")

// Has reports whether function sym of package pkg is in the binary
// ("golang.org/x/net/html", "Tokenizer.Next").
func (s *Symbols) Has(pkg, sym string) bool { return s.has(key('S', pkg, sym)) }

// HasPackage reports whether any function of package pkg is in the binary.
func (s *Symbols) HasPackage(pkg string) bool { return s.has(key('P', pkg, "")) }

// HasModule reports whether any function of a package at or below path
// mod ("golang.org/x/net": golang.org/x/net/html, …) is in the binary.
func (s *Symbols) HasModule(mod string) bool { return s.has(key('M', mod, "")) }

func (s *Symbols) has(h uint64) bool {
	if s == nil {
		return false
	}
	_, ok := slices.BinarySearch(s.hashes, h)
	return ok
}

// Len is the number of entries in the index.
func (s *Symbols) Len() int { return len(s.hashes) }

const hashBits = 48

// key hashes kind, pkg and (for 'S') "." and sym with FNV-1a, keeping
// hashBits bits. It does not allocate.
func key(kind byte, pkg, sym string) uint64 {
	h := fnvAdd(fnvOffset, kind)
	for i := 0; i < len(pkg); i++ {
		h = fnvAdd(h, pkg[i])
	}
	if kind == 'S' {
		h = fnvAdd(h, '.')
		for i := 0; i < len(sym); i++ {
			h = fnvAdd(h, sym[i])
		}
	}
	return h >> (64 - hashBits)
}

// symbolsFormat prefixes an encoded index; bump it when the encoding or the
// hashing changes.
const symbolsFormat = "s1"

// Encode returns the index as text: the format, "f" (inline trees read)
// or "p" (function table only), then the sorted hashes as base64 of their
// varint-encoded differences.
func (s *Symbols) Encode() string {
	buf := make([]byte, 0, len(s.hashes)*5)
	var prev uint64
	for _, h := range s.hashes {
		buf = binary.AppendUvarint(buf, h-prev)
		prev = h
	}
	mode := "p"
	if s.Inlined {
		mode = "f"
	}
	return symbolsFormat + ":" + mode + ":" + base64.RawStdEncoding.EncodeToString(buf)
}

// DecodeSymbols reads what Encode wrote.
func DecodeSymbols(text string) (*Symbols, error) {
	format, rest, ok1 := strings.Cut(text, ":")
	mode, data, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || format != symbolsFormat || (mode != "f" && mode != "p") {
		return nil, fmt.Errorf("decode go symbols: not a %s index", symbolsFormat)
	}
	raw, err := base64.RawStdEncoding.DecodeString(data)
	if err != nil {
		return nil, fmt.Errorf("decode go symbols: %w", err)
	}
	s := &Symbols{Inlined: mode == "f", hashes: make([]uint64, 0, len(raw)/5)}
	var prev uint64
	for len(raw) > 0 {
		d, n := binary.Uvarint(raw)
		if n <= 0 || (len(s.hashes) > 0 && d == 0) || prev+d < prev || prev+d >= 1<<hashBits {
			return nil, errors.New("decode go symbols: corrupt index")
		}
		prev += d
		s.hashes = append(s.hashes, prev)
		raw = raw[n:]
	}
	return s, nil
}

// exe is what ReadSymbols needs of an executable: its function table, and
// the address and section data around the go:func.* symbol that inline
// tree offsets are relative to.
type exe struct {
	order   binary.ByteOrder
	pclntab []byte
	// gofunc: the section holding go:func.* from the symbol's offset on;
	// nil when the binary has no symbol table.
	gofunc []byte
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

// goFuncNames are the names of the symbol inline tree offsets count from:
// "go:func.*" since Go 1.20, "go.func.*" in Go 1.18 and 1.19.
var goFuncNames = []string{"go:func.*", "go.func.*"}

func elfExe(r io.ReaderAt, f *elf.File) (*exe, error) {
	data := func(s *elf.Section) ([]byte, error) {
		if s.Flags&elf.SHF_COMPRESSED != 0 {
			return s.Data()
		}
		return section(r, s.Offset, s.FileSize)
	}
	sec := f.Section(".gopclntab")
	if sec == nil || sec.Type == elf.SHT_NOBITS {
		return nil, ErrNoSymbols
	}
	pcln, err := data(sec)
	if err != nil {
		return nil, fmt.Errorf("read go symbols: .gopclntab: %w", err)
	}
	x := &exe{order: f.ByteOrder, pclntab: pcln}
	symtab := f.Section(".symtab")
	if symtab == nil || int(symtab.Link) >= len(f.Sections) {
		return x, nil // stripped
	}
	syms, err := data(symtab)
	if err != nil {
		return x, nil
	}
	strs, err := data(f.Sections[symtab.Link])
	if err != nil {
		return x, nil
	}
	// Walk the raw entries: elf.File.Symbols would allocate every name.
	size, is64 := 16, f.Class == elf.ELFCLASS64
	if is64 {
		size = 24
	}
	for off := size; off+size <= len(syms); off += size {
		e := syms[off : off+size]
		var value uint64
		var shndx uint16
		if is64 {
			shndx, value = f.ByteOrder.Uint16(e[6:]), f.ByteOrder.Uint64(e[8:])
		} else {
			value, shndx = uint64(f.ByteOrder.Uint32(e[4:])), f.ByteOrder.Uint16(e[14:])
		}
		name := cstring(strs, int(f.ByteOrder.Uint32(e[0:])))
		if !slices.Contains(goFuncNames, name) || int(shndx) >= len(f.Sections) {
			continue
		}
		s := f.Sections[shndx]
		if value < s.Addr || value-s.Addr >= s.Size || s.Type == elf.SHT_NOBITS || s.Flags&elf.SHF_COMPRESSED != 0 {
			return x, nil
		}
		// From the symbol to the end of its section: inline trees are
		// read at offsets from the symbol.
		if d, err := section(r, s.Offset+(value-s.Addr), s.Size-(value-s.Addr)); err == nil {
			x.gofunc = d
		}
		return x, nil
	}
	return x, nil
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
	x := &exe{order: f.ByteOrder, pclntab: pcln}
	if f.Symtab == nil {
		return x, nil
	}
	for _, s := range f.Symtab.Syms {
		if !slices.Contains(goFuncNames, s.Name) || s.Sect == 0 || int(s.Sect) > len(f.Sections) {
			continue
		}
		sect := f.Sections[s.Sect-1]
		if s.Value < sect.Addr || s.Value-sect.Addr >= sect.Size {
			return x, nil
		}
		if data, err := sect.Data(); err == nil {
			x.gofunc = data[s.Value-sect.Addr:]
		}
		return x, nil
	}
	return x, nil
}

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
	x := &exe{order: binary.LittleEndian, pclntab: data[start.Value:end.Value]}
	for _, n := range goFuncNames {
		if s, d := find(n); s != nil {
			x.gofunc = d[s.Value:]
			break
		}
	}
	return x, nil
}

// pclntab magics (runtime/symtab.go).
const (
	magic116 = 0xfffffffa
	magic118 = 0xfffffff0
	magic120 = 0xfffffff1
)

// runtime/funcdata.h.
const (
	pcdataInlTreeIndex = 2
	funcdataInlTree    = 3
)

var errCorrupt = errors.New("read go symbols: damaged function table")

// symbols walks the function table: every function's name and, when the
// inline trees can be located, the name of every call inlined into it.
func (x *exe) symbols(mainPath string) (*Symbols, error) {
	t := x.pclntab
	if len(t) < 8 || t[4] != 0 || t[5] != 0 || (t[7] != 4 && t[7] != 8) {
		return nil, ErrNoSymbols
	}
	magic, ptr := x.order.Uint32(t), int(t[7])
	word := func(i int) (int, bool) { // the i-th header word after the first 8 bytes
		off := 8 + i*ptr
		if off+ptr > len(t) {
			return 0, false
		}
		var v uint64
		if ptr == 8 {
			v = x.order.Uint64(t[off:])
		} else {
			v = uint64(x.order.Uint32(t[off:]))
		}
		if v > uint64(len(t)) && i != 2 { // every word but textStart is an offset or count within the table
			return 0, false
		}
		return int(v), true
	}
	var nfunc, nameOff, pctabOff, funcOff int
	var ok [4]bool
	switch magic {
	case magic118, magic120:
		nfunc, ok[0] = word(0)
		nameOff, ok[1] = word(3)
		pctabOff, ok[2] = word(6)
		funcOff, ok[3] = word(7)
	case magic116:
		nfunc, ok[0] = word(0)
		nameOff, ok[1] = word(2)
		pctabOff, ok[2] = word(5)
		funcOff, ok[3] = word(6)
	default:
		return nil, ErrNoSymbols
	}
	if ok != [4]bool{true, true, true, true} {
		return nil, errCorrupt
	}
	names, pctab, functab := t[nameOff:], t[pctabOff:], t[funcOff:]
	b := builder{mainPath: mainPath, go120: magic == magic120, seenName: make([]uint64, len(names)/64+1), pkgs: map[uint64]bool{}}
	inline := x.gofunc != nil && magic != magic116
	// The inline index tables of all functions together fit in pctab;
	// reading far more means they are damaged.
	budget := 2*len(pctab) + 1<<16
	for i := 0; i < nfunc; i++ {
		var fo int
		if magic == magic116 { // {entry, funcoff uintptr}
			o := i*2*ptr + ptr
			if o+ptr > len(functab) {
				return nil, errCorrupt
			}
			if ptr == 8 {
				fo = int(min(x.order.Uint64(functab[o:]), uint64(len(functab))))
			} else {
				fo = int(x.order.Uint32(functab[o:]))
			}
		} else { // {entryoff, funcoff uint32}
			o := i*8 + 4
			if o+4 > len(functab) {
				return nil, errCorrupt
			}
			fo = int(x.order.Uint32(functab[o:]))
		}
		if fo < 0 || fo >= len(functab) {
			return nil, errCorrupt
		}
		fn := functab[fo:]
		// _func: entry, nameOff, args, deferreturn, pcsp, pcfile, pcln,
		// npcdata, cuOffset, [startLine since 1.20], funcID, flag, _, nfuncdata.
		entry := 4
		if magic == magic116 {
			entry = ptr
		}
		hdr := entry + 36
		if magic == magic120 {
			hdr += 4
		}
		if len(fn) < hdr {
			return nil, errCorrupt
		}
		b.name(names, int32(x.order.Uint32(fn[entry:])))
		if !inline {
			continue
		}
		npcdata := int(x.order.Uint32(fn[entry+24:]))
		nfuncdata := int(fn[hdr-1])
		if npcdata <= pcdataInlTreeIndex || nfuncdata <= funcdataInlTree || hdr+4*(npcdata+nfuncdata) > len(fn) {
			continue
		}
		pcOff := int(x.order.Uint32(fn[hdr+4*pcdataInlTreeIndex:]))
		treeOff := x.order.Uint32(fn[hdr+4*npcdata+4*funcdataInlTree:])
		if pcOff == 0 || pcOff >= len(pctab) || treeOff == ^uint32(0) {
			continue
		}
		n, read := maxPCValue(pctab[pcOff:])
		if budget -= read; budget < 0 {
			return nil, errCorrupt // tables overlapping without end: damaged
		}
		n++
		size := 20 // Go 1.18, 1.19: parent, funcID, _, file, line, func, parentPc
		nameAt := 12
		if magic == magic120 {
			size, nameAt = 16, 4 // funcID, _ [3], nameOff, parentPc, startLine
		}
		if int64(treeOff)+int64(n)*int64(size) > int64(len(x.gofunc)) {
			return nil, errCorrupt
		}
		for k := 0; k < int(n); k++ {
			o := int(treeOff) + k*size
			b.name(names, int32(x.order.Uint32(x.gofunc[o+nameAt:])))
		}
	}
	if b.err != nil {
		return nil, b.err
	}
	slices.Sort(b.hashes)
	return &Symbols{Inlined: inline, hashes: slices.Compact(b.hashes)}, nil
}

// builder collects the hashes of the names a walk meets, each name parsed
// once.
type builder struct {
	mainPath string
	go120    bool            // the table is Go 1.20's or later
	seenName []uint64        // bit set over name offsets
	pkgs     map[uint64]bool // 'P' hashes of the packages met
	hashes   []uint64
	err      error
}

func (b *builder) name(names []byte, off int32) {
	if off < 0 || int(off) >= len(names) {
		b.err = errCorrupt
		return
	}
	if b.seenName[off/64]&(1<<(off%64)) != 0 {
		return
	}
	b.seenName[off/64] |= 1 << (off % 64)
	name := names[off:]
	if end := bytes.IndexByte(name, 0); end >= 0 {
		name = name[:end]
	}
	pkg, recv, base, ok := splitName(name, b.go120)
	if !ok {
		return
	}
	if bytes.IndexByte(pkg, '%') >= 0 {
		p, err := url.PathUnescape(string(pkg))
		if err != nil {
			return
		}
		pkg = []byte(p)
	}
	if string(pkg) == "main" && b.mainPath != "" {
		pkg = []byte(b.mainPath)
	}
	b.hashes = append(b.hashes, symKey(pkg, recv, base))
	if ph := hashBytes('P', pkg); !b.pkgs[ph] {
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
}

// splitName splits a function's linker name as debug/gosym's Sym methods
// do (PackageName, ReceiverName, BaseName), for a table of the given
// version: "golang.org/x/text/language.(*Tag).String" ->
// "golang.org/x/text/language", "Tag", "String" (a pointer receiver
// without "(*…)", as govulncheck writes it). Names the compiler generates
// ("go:…", "type:…"; before Go 1.20 "go.…", "type.…") belong to no
// package: ok is false.
func splitName(name []byte, go120 bool) (pkg, recv, base []byte, ok bool) {
	noInst := name
	if i := bytes.IndexByte(name, '['); i >= 0 {
		if j := bytes.LastIndexByte(name, ']'); j > i {
			noInst = append(append([]byte(nil), name[:i]...), name[j+1:]...)
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
			recv = bytes.Trim(recv, "(*)")
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
	p, r, b, ok := splitName([]byte(name), go120)
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

// symKey is key('S', pkg, recv+"."+base), or key('S', pkg, base) without
// a receiver, computed without joining.
func symKey(pkg, recv, base []byte) uint64 {
	h := fnvAdd(fnvOffset, 'S')
	h = fnvBytes(h, pkg)
	h = fnvAdd(h, '.')
	if len(recv) > 0 {
		h = fnvBytes(h, recv)
		h = fnvAdd(h, '.')
	}
	return fnvBytes(h, base) >> (64 - hashBits)
}

func hashBytes(kind byte, b []byte) uint64 {
	return fnvBytes(fnvAdd(fnvOffset, kind), b) >> (64 - hashBits)
}

const fnvOffset, fnvPrime = 14695981039346656037, 1099511628211

func fnvAdd(h uint64, c byte) uint64 { return (h ^ uint64(c)) * fnvPrime }

func fnvBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h = (h ^ uint64(c)) * fnvPrime
	}
	return h
}

// maxPCValue is the largest value of a pc-value table (runtime/symtab.go:
// pairs of zig-zag value delta and pc delta, from -1, ended by a zero value
// delta after the first pair), -1 for an empty one, and the bytes read.
func maxPCValue(tab []byte) (hi int32, read int) {
	val, hi := int32(-1), int32(-1)
	start := len(tab)
	for first := true; ; first = false {
		uv, n := binary.Uvarint(tab)
		if n <= 0 || (uv == 0 && !first) {
			return hi, start - len(tab)
		}
		tab = tab[n:]
		d := uint32(uv)
		if d&1 != 0 {
			val += int32(^(d >> 1))
		} else {
			val += int32(d >> 1)
		}
		if val > hi {
			hi = val
		}
		if _, n = binary.Uvarint(tab); n <= 0 {
			return hi, start - len(tab)
		}
		tab = tab[n:]
	}
}

// cstring is the NUL-terminated string at off in b ("" when off is out of
// range).
func cstring(b []byte, off int) string {
	if off < 0 || off >= len(b) {
		return ""
	}
	end := off
	for end < len(b) && b[end] != 0 {
		end++
	}
	return string(b[off:end])
}

// NewSymbols is the index of a binary holding the functions named, as the
// linker names them ("golang.org/x/net/html.Parse",
// "net/http.(*Client).Do"): for tests of what reads an index.
func NewSymbols(inlined bool, funcs ...string) *Symbols {
	b := builder{go120: true, seenName: []uint64{0}, pkgs: map[uint64]bool{}}
	for _, f := range funcs {
		b.name(append([]byte(f), 0), 0)
		b.seenName[0] = 0
	}
	slices.Sort(b.hashes)
	return &Symbols{Inlined: inlined, hashes: slices.Compact(b.hashes)}
}
