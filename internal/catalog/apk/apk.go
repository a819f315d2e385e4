// Package apk reads Alpine's package database, /lib/apk/db/installed.
package apk

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
	"github.com/lockdown-sec/lockdown/internal/model"
)

// Where apk keeps its database (apk-tools 3 may use the /usr/lib one).
const (
	InstalledFile    = "/lib/apk/db/installed"
	UsrInstalledFile = "/usr/lib/apk/db/installed"
)

const maxLine = 1 << 20

// MetaAPKTools is set on every package of a database that lists the
// apk-tools package: its version, which decides how the image's apk orders
// versions (version.APKFor).
const MetaAPKTools = "apkTools"

// Extractor reads apk databases. The zero value is ready to use.
type Extractor struct{}

var _ extract.Extractor = Extractor{}

// Name implements extract.Extractor.
func (Extractor) Name() string { return "apk" }

// Version implements extract.Extractor.
func (Extractor) Version() int { return 2 }

// Wants implements extract.Extractor.
func (Extractor) Wants(p string, mode fs.FileMode, _ int64) bool {
	return mode.IsRegular() && (p == InstalledFile || p == UsrInstalledFile)
}

// Extract implements extract.Extractor.
func (Extractor) Extract(ctx context.Context, in extract.Input) (extract.Result, error) {
	if err := ctx.Err(); err != nil {
		return extract.Result{}, err
	}
	return Parse(extract.Limit(in, extract.MaxDatabaseBytes), in.Path)
}

// Parse reads an apk installed database: records separated by blank lines,
// one "K:value" line per field (P name, V version, A arch, o origin; the
// others are not needed). A line of another shape or a record without P or
// V, or over extract.MaxRecordBytes, is a warning (bounded: extract.Warnings);
// an error means the file could not be read or lists more than
// extract.MaxPackages packages. location names the file in packages and
// warnings.
func Parse(r io.Reader, location string) (extract.Result, error) {
	var (
		out     = extract.NewCollector(location, "apk")
		rec     record
		n       int
		started int
		err     error
	)
	warn := out.Addf
	flush := func() {
		if started == 0 {
			return
		}
		switch {
		case rec.size > extract.MaxRecordBytes:
			warn("record at line %d skipped: longer than %d bytes", started, extract.MaxRecordBytes)
		case rec.fields == 0:
			// Only malformed lines, each warned about already.
		case rec.name == "":
			warn("record at line %d skipped: no P: (name) line", started)
		case rec.version == "":
			warn("package %s (line %d) skipped: no V: (version) line", rec.name, started)
		default:
			src := rec.origin
			if src == "" {
				src = rec.name
			}
			err = out.Add(model.Package{
				Name:          rec.name,
				Version:       rec.version,
				Type:          model.TypeAPK,
				Arch:          rec.arch,
				SourceName:    src,
				SourceVersion: rec.version,
				Location:      location,
			})
		}
		rec, started = record{}, 0
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for err == nil && sc.Scan() {
		n++
		line := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
		if len(line) == 0 {
			flush()
			continue
		}
		if started == 0 {
			started = n
		}
		if rec.size += len(line) + 1; rec.size > extract.MaxRecordBytes {
			continue // skipped whole by flush
		}
		if len(line) < 2 || line[1] != ':' {
			if out.Full() {
				out.Skip() // spare the formatting
				continue
			}
			warn("line %d: not a field: %.60q", n, line)
			continue
		}
		val := string(line[2:])
		rec.fields++
		switch line[0] {
		case 'P':
			rec.name = val
		case 'V':
			rec.version = val
		case 'A':
			rec.arch = val
		case 'o':
			rec.origin = val
		}
	}
	if err == nil {
		if err = sc.Err(); err != nil {
			return out.Result(), fmt.Errorf("parse apk db %s: line %d: %w", location, n+1, err)
		}
		flush()
	}
	if err != nil {
		return extract.Result{}, fmt.Errorf("parse apk db %s: %w", location, err)
	}
	res := out.Result()
	for _, p := range res.Packages {
		if p.Name != "apk-tools" {
			continue
		}
		for i := range res.Packages {
			res.Packages[i].Metadata = map[string]string{MetaAPKTools: p.Version}
		}
		break
	}
	if len(res.Packages) == 0 && len(res.Warnings) > 0 {
		// Records, but not one readable: a corrupt database, not an empty one.
		return res, fmt.Errorf("parse apk db %s: not one package record could be read (%s)", location, res.Warnings[0].Message)
	}
	return res, nil
}

type record struct {
	name, version, arch, origin string
	fields                      int // well-formed lines seen
	size                        int // bytes of the record so far
}
