// Package dpkg reads Debian's package database: /var/lib/dpkg/status and,
// in distroless images, one file per package under /var/lib/dpkg/status.d.
package dpkg

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
	"github.com/lockdown-sec/lockdown/internal/model"
)

// Where dpkg keeps its database.
const (
	StatusFile = "/var/lib/dpkg/status"
	StatusDir  = "/var/lib/dpkg/status.d"
)

// maxLine bounds one line of a status file (a Description line is rarely
// more than a few hundred bytes).
const maxLine = 1 << 20

// Extractor reads dpkg status files. The zero value is ready to use.
type Extractor struct{}

var _ extract.Extractor = Extractor{}

// Name implements extract.Extractor.
func (Extractor) Name() string { return "dpkg" }

// Version implements extract.Extractor.
func (Extractor) Version() int { return 1 }

// Wants implements extract.Extractor: the status file, and every file in
// status.d except the *.md5sums lists that distroless keeps beside them.
func (Extractor) Wants(p string, mode fs.FileMode, _ int64) bool {
	if !mode.IsRegular() {
		return false
	}
	if p == StatusFile {
		return true
	}
	return path.Dir(p) == StatusDir && !strings.HasSuffix(p, ".md5sums")
}

// Extract implements extract.Extractor.
func (Extractor) Extract(ctx context.Context, in extract.Input) (extract.Result, error) {
	if err := ctx.Err(); err != nil {
		return extract.Result{}, err
	}
	return Parse(extract.Limit(in, extract.MaxDatabaseBytes), in.Path)
}

// Parse reads a dpkg status file and returns its installed packages
// (Status "install ok installed" or "hold ok installed"). location names the
// file in packages and warnings; under StatusDir (distroless) a paragraph
// without a Status field counts as installed, as those files have none.
// A malformed paragraph (or one over extract.MaxRecordBytes) becomes a
// warning and is skipped; warnings are bounded (extract.Warnings). An
// error means the file itself could not be read, or lists more than
// extract.MaxPackages packages.
func Parse(r io.Reader, location string) (extract.Result, error) {
	p := parser{location: location, statusOptional: path.Dir(location) == StatusDir, out: extract.NewCollector(location, "dpkg")}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() && p.err == nil {
		p.line(sc.Bytes())
	}
	if p.err != nil {
		return extract.Result{}, fmt.Errorf("parse dpkg status %s: %w", location, p.err)
	}
	if err := sc.Err(); err != nil {
		return p.out.Result(), fmt.Errorf("parse dpkg status %s: line %d: %w", location, p.n+1, err)
	}
	p.end()
	if p.err != nil {
		return extract.Result{}, fmt.Errorf("parse dpkg status %s: %w", location, p.err)
	}
	res := p.out.Result()
	if len(res.Packages) == 0 && len(res.Warnings) > 0 {
		// Paragraphs, but not one readable: a corrupt database, not an empty one.
		return res, fmt.Errorf("parse dpkg status %s: not one package paragraph could be read (%s)", location, res.Warnings[0].Message)
	}
	return res, nil
}

// parser holds the state of one pass over a status file.
type parser struct {
	location       string
	statusOptional bool
	out            *extract.Collector
	err            error // the file lists too many packages

	n       int // line number of the last line read
	start   int // line where the current paragraph started
	size    int // bytes of the current paragraph
	inPara  bool
	broken  broken // why the current paragraph is malformed
	inField bool   // a field has started in this paragraph (for continuations)
	fields  paragraph
	hasStat bool
}

// broken says why a paragraph is skipped, formatted only if the warning
// is kept: a file of millions of bad paragraphs costs no formatting.
type broken struct {
	why  int    // one of the why* constants; 0: not broken
	line int    // the offending line
	text []byte // its start (whyNotField), reused between paragraphs
}

const (
	whyContinuation = iota + 1
	whyNotField
	whyTooLong
)

// maxQuoted is how much of a bad line a warning quotes (%.60q).
const maxQuoted = 60

func (b *broken) set(why, line int, text []byte) {
	b.why, b.line = why, line
	b.text = append(b.text[:0], text[:min(len(text), 4*maxQuoted)]...)
}

// paragraph keeps only the fields the extractor needs.
type paragraph struct {
	pkg, version, arch, source, status string
}

func (p *parser) line(b []byte) {
	p.n++
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(bytes.Trim(b, " \t")) == 0 {
		p.end()
		return
	}
	if !p.inPara {
		p.inPara, p.start, p.broken.why, p.inField, p.size = true, p.n, 0, false, 0
		p.fields, p.hasStat = paragraph{}, false
	}
	p.size += len(b) + 1
	if p.broken.why == 0 && p.size > extract.MaxRecordBytes {
		p.broken.set(whyTooLong, p.n, nil)
	}
	if p.broken.why != 0 {
		return // skip to the end of a malformed paragraph
	}
	if b[0] == ' ' || b[0] == '\t' {
		if !p.inField {
			p.broken.set(whyContinuation, p.n, nil)
		}
		// Continuations of the fields kept here (all single-line) are ignored.
		return
	}
	key, val, ok := bytes.Cut(b, []byte(":"))
	if !ok || len(key) == 0 || bytes.ContainsAny(key, " \t") {
		p.broken.set(whyNotField, p.n, b)
		return
	}
	p.inField = true
	var dst *string
	switch {
	case bytes.EqualFold(key, []byte("Package")):
		dst = &p.fields.pkg
	case bytes.EqualFold(key, []byte("Version")):
		dst = &p.fields.version
	case bytes.EqualFold(key, []byte("Architecture")):
		dst = &p.fields.arch
	case bytes.EqualFold(key, []byte("Source")):
		dst = &p.fields.source
	case bytes.EqualFold(key, []byte("Status")):
		dst, p.hasStat = &p.fields.status, true
	default:
		return // a field Lockdown does not need
	}
	*dst = string(bytes.Trim(val, " \t"))
}

// end closes the current paragraph, if any.
func (p *parser) end() {
	if !p.inPara {
		return
	}
	p.inPara = false
	if p.broken.why != 0 && p.out.Full() {
		p.out.Skip()
		return
	}
	switch b := &p.broken; b.why {
	case whyContinuation:
		p.warn("paragraph at line %d skipped: line %d: continuation line outside a field", p.start, b.line)
		return
	case whyNotField:
		p.warn("paragraph at line %d skipped: line %d: not a field: %.60q", p.start, b.line, b.text)
		return
	case whyTooLong:
		p.warn("paragraph at line %d skipped: longer than %d bytes", p.start, extract.MaxRecordBytes)
		return
	}
	f := p.fields
	if f.pkg == "" {
		p.warn("paragraph at line %d skipped: no Package field", p.start)
		return
	}
	if p.hasStat || !p.statusOptional {
		installed, ok := parseStatus(f.status)
		if !ok {
			p.warn("package %s (line %d): bad Status %q", f.pkg, p.start, f.status)
			return
		}
		if !installed {
			return
		}
	}
	if f.version == "" {
		p.warn("package %s (line %d): no Version field", f.pkg, p.start)
		return
	}
	srcName, srcVersion := parseSource(f.source)
	if srcName == "" {
		srcName = f.pkg
	}
	if srcVersion == "" {
		srcVersion = f.version
	}
	p.err = p.out.Add(model.Package{
		Name:          f.pkg,
		Version:       f.version,
		Type:          model.TypeDeb,
		Arch:          f.arch,
		SourceName:    srcName,
		SourceVersion: srcVersion,
		Location:      p.location,
	})
}

func (p *parser) warn(format string, args ...any) { p.out.Addf(format, args...) }

// parseStatus reads "want flag state" and reports whether the package is
// installed; ok is false when the field does not have that shape.
func parseStatus(s string) (installed, ok bool) {
	f := strings.Fields(s)
	if len(f) != 3 {
		return false, false
	}
	want, flag, state := f[0], f[1], f[2]
	return (want == "install" || want == "hold") && flag == "ok" && state == "installed", true
}

// parseSource reads "src" or "src (version)".
func parseSource(s string) (name, version string) {
	name, rest, ok := strings.Cut(s, "(")
	name = strings.TrimSpace(name)
	if !ok {
		return name, ""
	}
	version, _, _ = strings.Cut(rest, ")")
	return name, strings.TrimSpace(version)
}
