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
	return Parse(in.Reader, in.Path)
}

// Parse reads a dpkg status file and returns its installed packages
// (Status "install ok installed" or "hold ok installed"). location names the
// file in packages and warnings; under StatusDir (distroless) a paragraph
// without a Status field counts as installed, as those files have none.
// A malformed paragraph becomes a warning and is skipped; an error means the
// file itself could not be read.
func Parse(r io.Reader, location string) (extract.Result, error) {
	p := parser{location: location, statusOptional: path.Dir(location) == StatusDir}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		p.line(sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		return p.res, fmt.Errorf("parse dpkg status %s: line %d: %w", location, p.n+1, err)
	}
	p.end()
	if len(p.res.Packages) == 0 && len(p.res.Warnings) > 0 {
		// Paragraphs, but not one readable: a corrupt database, not an empty one.
		return p.res, fmt.Errorf("parse dpkg status %s: not one package paragraph could be read (%s)", location, p.res.Warnings[0].Message)
	}
	return p.res, nil
}

// parser holds the state of one pass over a status file.
type parser struct {
	location       string
	statusOptional bool
	res            extract.Result

	n       int // line number of the last line read
	start   int // line where the current paragraph started
	inPara  bool
	broken  string // why the current paragraph is malformed, "" if it is not
	inField bool   // a field has started in this paragraph (for continuations)
	fields  paragraph
	hasStat bool
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
		p.inPara, p.start, p.broken, p.inField = true, p.n, "", false
		p.fields, p.hasStat = paragraph{}, false
	}
	if p.broken != "" {
		return // skip to the end of a malformed paragraph
	}
	if b[0] == ' ' || b[0] == '\t' {
		if !p.inField {
			p.broken = fmt.Sprintf("line %d: continuation line outside a field", p.n)
		}
		// Continuations of the fields kept here (all single-line) are ignored.
		return
	}
	key, val, ok := bytes.Cut(b, []byte(":"))
	if !ok || len(key) == 0 || bytes.ContainsAny(key, " \t") {
		p.broken = fmt.Sprintf("line %d: not a field: %.60q", p.n, b)
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
	if p.broken != "" {
		p.warn("paragraph at line %d skipped: %s", p.start, p.broken)
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
	p.res.Packages = append(p.res.Packages, model.Package{
		Name:          f.pkg,
		Version:       f.version,
		Type:          model.TypeDeb,
		Arch:          f.arch,
		SourceName:    srcName,
		SourceVersion: srcVersion,
		Location:      p.location,
	})
}

func (p *parser) warn(format string, args ...any) {
	p.res.Warnings = append(p.res.Warnings, model.Warning{
		Path:    p.location,
		Message: "dpkg: " + fmt.Sprintf(format, args...),
	})
}

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
