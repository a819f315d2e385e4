// Package extract holds the contract between the cataloger (package catalog)
// and its extractors (catalog/dpkg, catalog/apk, …). It is a leaf package so
// that catalog can list the extractors without an import cycle; catalog
// re-exports these types under the same names.
package extract

import (
	"context"
	"fmt"
	"io"
	"io/fs"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// Extractor reads one kind of package database or binary.
type Extractor interface {
	// Name is unique among extractors ("dpkg", "apk", "rpm", "gobinary").
	Name() string
	// Version goes into cache keys: bump it whenever output changes.
	Version() int
	// Wants decides from the path and header alone whether Extract should
	// see this file. Cheap; safe for concurrent use.
	Wants(path string, mode fs.FileMode, size int64) bool
	// Extract parses one file. Packages come back without Ecosystem, PURL,
	// ID and Layer: the catalog fills those in once the distro is known.
	// One bad record is a Warning in the result, not an error; an error
	// means the whole file could not be read.
	Extract(ctx context.Context, in Input) (Result, error)
}

// Input is one file handed to an extractor.
type Input struct {
	Path    string // absolute within the image: "/var/lib/dpkg/status"
	Mode    fs.FileMode
	Size    int64
	Reader  io.Reader
	TempDir string // a private directory for spooling (rpm's sqlite/bdb need a file)
}

// Result is what one file yielded.
type Result struct {
	Packages []model.Package
	Warnings []model.Warning
	// Pending is extractor-private state for a Resolver: set when the
	// result may change once other files of the target are known (a Maven
	// pom whose parent pom is another file). Packages and Warnings then
	// hold what the file yields on its own. The cataloger never looks
	// inside it.
	Pending any
}

// Resolver is implemented by extractors whose results depend on other
// files of the same target. After the walk the cataloger calls Resolve
// with the results that have Pending set, keyed by path (the final version
// of each file; older versions of a file are resolved the same way, against
// the final versions of the others), and uses the returned result for each
// path in place of the extracted one; a path missing from the answer keeps
// its extracted result. Resolve must not keep or modify its argument.
type Resolver interface {
	Resolve(results map[string]Result) map[string]Result
}

// ReadAll reads a whole input of at most max bytes: a larger one is an
// error naming the file, not a truncated read.
func ReadAll(ctx context.Context, in Input, max int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(in.Reader, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", in.Path, err)
	}
	if int64(len(data)) > max {
		return nil, tooLarge(in.Path, max)
	}
	return data, nil
}
