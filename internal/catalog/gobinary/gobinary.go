// Package gobinary finds the modules compiled into Go executables from the
// build information the Go linker embeds (debug/buildinfo), and indexes the
// functions compiled in (Symbols) so that a vulnerability can be told
// present or absent in the binary. Nothing is executed.
package gobinary

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
	"github.com/lockdown-sec/lockdown/internal/model"
)

// Defaults for Extractor's limits.
const (
	// DefaultMinSize: a Go executable is well over a megabyte; smaller
	// files are not worth reading.
	DefaultMinSize = 512 << 10
	// DefaultMaxSize: larger files are skipped.
	DefaultMaxSize = 1 << 30
	// DefaultMemSize: files up to this size are read into memory, larger
	// ones spooled into the input's TempDir.
	DefaultMemSize = 64 << 20
)

// Metadata keys set on the packages.
const (
	MetaGoVersion  = "goVersion"  // the toolchain, as written: "go1.22.3"
	MetaMainModule = "mainModule" // the binary's main module path
	MetaReplaces   = "replaces"   // on a replacement: the module it replaces, "path@version"
	MetaGOOS       = "goos"       // the target operating system ("linux")
	// MetaSymbols carries the binary's Symbols index (Encode) on one of its
	// packages (the stdlib one); MetaSymbolsError says why there is none.
	// Both are for the matcher, not for reports (see StripSymbols).
	MetaSymbols      = "goSymbols"
	MetaSymbolsError = "goSymbolsError"
)

// StdlibName is the package name of the Go standard library (as the Go
// vulnerability database names it).
const StdlibName = "stdlib"

// Extractor reads Go executables. The zero value uses the defaults above.
type Extractor struct {
	MinSize int64 // smaller files are not read; 0 means DefaultMinSize
	MaxSize int64 // larger files are not read; 0 means DefaultMaxSize
	MemSize int64 // larger files are spooled to disk; 0 means DefaultMemSize
}

var _ extract.Extractor = Extractor{}

// Name implements extract.Extractor.
func (Extractor) Name() string { return "gobinary" }

// Version implements extract.Extractor.
func (Extractor) Version() int { return 3 }

func orDefault(v, d int64) int64 {
	if v <= 0 {
		return d
	}
	return v
}

// Wants implements extract.Extractor: regular files with an exec bit
// within the size limits.
func (e Extractor) Wants(_ string, mode fs.FileMode, size int64) bool {
	return mode.IsRegular() && mode&0o111 != 0 &&
		size >= orDefault(e.MinSize, DefaultMinSize) && size <= orDefault(e.MaxSize, DefaultMaxSize)
}

// executable magics debug/buildinfo understands.
var magics = [][]byte{
	[]byte("\x7fELF"),
	{0xfe, 0xed, 0xfa, 0xce}, {0xfe, 0xed, 0xfa, 0xcf}, // Mach-O big-endian
	{0xce, 0xfa, 0xed, 0xfe}, {0xcf, 0xfa, 0xed, 0xfe}, // Mach-O little-endian
	[]byte("MZ"), // PE
}

// IsExecutable reports whether head starts like an executable format.
func IsExecutable(head []byte) bool {
	for _, m := range magics {
		if bytes.HasPrefix(head, m) {
			return true
		}
	}
	return false
}

// Extract implements extract.Extractor. A file that is not a Go executable
// yields nothing, not a warning.
func (e Extractor) Extract(ctx context.Context, in extract.Input) (extract.Result, error) {
	if err := ctx.Err(); err != nil {
		return extract.Result{}, err
	}
	var head [4]byte
	n, _ := io.ReadFull(in.Reader, head[:])
	if !IsExecutable(head[:n]) {
		return extract.Result{}, nil
	}
	rest := io.MultiReader(bytes.NewReader(head[:n]), in.Reader)
	maxSize := orDefault(e.MaxSize, DefaultMaxSize)
	if in.Size <= orDefault(e.MemSize, DefaultMemSize) {
		// One allocation of the announced size; a shorter stream is fine.
		data := make([]byte, max(in.Size, int64(n)))
		m, err := io.ReadFull(rest, data)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return extract.Result{}, fmt.Errorf("read go binary %s: %w", in.Path, err)
		}
		pkgs := Parse(memReader(data[:m]), in.Path)
		if pkgs == nil && bytes.Contains(data[:m], buildInfoMagic) {
			return extract.Result{}, corrupt(in.Path)
		}
		return extract.Result{Packages: pkgs}, nil
	}
	dir := in.TempDir
	if dir == "" {
		dir = os.TempDir()
	}
	f, err := os.CreateTemp(dir, "gobinary-*")
	if err != nil {
		return extract.Result{}, fmt.Errorf("read go binary %s: spool: %w", in.Path, err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := io.Copy(f, io.LimitReader(rest, maxSize)); err != nil {
		return extract.Result{}, fmt.Errorf("read go binary %s: spool: %w", in.Path, err)
	}
	pkgs := Parse(f, in.Path)
	if pkgs == nil {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return extract.Result{}, fmt.Errorf("read go binary %s: %w", in.Path, err)
		}
		if found, err := containsMagic(f); err != nil || found {
			return extract.Result{}, errors.Join(corrupt(in.Path), err)
		}
	}
	return extract.Result{Packages: pkgs}, nil
}

// buildInfoMagic starts the build information the Go linker writes.
var buildInfoMagic = []byte("\xff Go buildinf:")

// corrupt is the error of an executable that carries Go build information
// that cannot be read: it is a Go binary whose modules are unknown.
func corrupt(path string) error {
	return fmt.Errorf("read go binary %s: it has Go build information that cannot be read (corrupt or truncated)", path)
}

// containsMagic reports whether r holds buildInfoMagic, reading it once.
func containsMagic(r io.Reader) (bool, error) {
	buf := make([]byte, 1<<20)
	keep := len(buildInfoMagic) - 1
	n := 0
	for {
		m, err := io.ReadFull(r, buf[n:])
		if bytes.Contains(buf[:n+m], buildInfoMagic) {
			return true, nil
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		n = copy(buf, buf[n+m-keep:n+m])
	}
}

// Parse reads the build information of the executable in r and returns the
// main module, every dependency module (a replaced one as its replacement,
// with MetaReplaces naming the original) and the toolchain as package
// "stdlib", which carries the binary's Symbols (MetaSymbols, or
// MetaSymbolsError). It returns nil when r is not a Go executable or
// carries no build information. location is the executable's path in the
// image.
func Parse(r io.ReaderAt, location string) []model.Package {
	bi, err := buildinfo.Read(r)
	if err != nil || bi == nil {
		return nil
	}
	var arch, goos string
	for _, s := range bi.Settings {
		switch s.Key {
		case "GOARCH":
			arch = s.Value
		case "GOOS":
			goos = s.Value
		}
	}
	meta := func(extra ...string) map[string]string {
		m := map[string]string{MetaGoVersion: bi.GoVersion}
		if bi.Main.Path != "" {
			m[MetaMainModule] = bi.Main.Path
		}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	pkg := func(name, version string, m map[string]string) model.Package {
		return model.Package{Name: name, Version: version, Type: model.TypeGolang, Arch: arch, Location: location, Metadata: m}
	}
	var pkgs []model.Package
	if bi.Main.Path != "" {
		pkgs = append(pkgs, pkg(bi.Main.Path, bi.Main.Version, meta()))
	}
	for _, d := range bi.Deps {
		if d == nil || d.Path == "" {
			continue
		}
		if d.Replace != nil {
			pkgs = append(pkgs, pkg(d.Replace.Path, d.Replace.Version, meta(MetaReplaces, d.Path+"@"+d.Version)))
			continue
		}
		pkgs = append(pkgs, pkg(d.Path, d.Version, meta()))
	}
	if v := ToolchainVersion(bi.GoVersion); v != "" {
		m := meta()
		if goos != "" {
			m[MetaGOOS] = goos
		}
		switch syms, err := ReadSymbols(r, bi.Path); {
		case err == nil:
			m[MetaSymbols] = syms.Encode()
		case errors.Is(err, ErrNoSymbols):
			m[MetaSymbolsError] = "no Go function table the reader understands (built before Go 1.16?)"
		default:
			m[MetaSymbolsError] = err.Error()
		}
		pkgs = append(pkgs, pkg(StdlibName, v, m))
	}
	return pkgs
}

// StripSymbols removes MetaSymbols and MetaSymbolsError from pkgs, in place
// (the maps are replaced, not modified: others may share them).
func StripSymbols(pkgs []model.Package) {
	for i := range pkgs {
		m := pkgs[i].Metadata
		_, a := m[MetaSymbols]
		_, b := m[MetaSymbolsError]
		if !a && !b {
			continue
		}
		m = maps.Clone(m)
		delete(m, MetaSymbols)
		delete(m, MetaSymbolsError)
		pkgs[i].Metadata = m
	}
}

// ToolchainVersion turns buildinfo's GoVersion ("go1.22.3", "go1.24.0
// X:boringcrypto") into the version of the stdlib package ("1.22.3").
func ToolchainVersion(goVersion string) string {
	f := strings.Fields(goVersion)
	if len(f) == 0 {
		return ""
	}
	return strings.TrimPrefix(f[0], "go")
}
