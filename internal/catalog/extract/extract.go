// Package extract holds the contract between the cataloger (package catalog)
// and its extractors (catalog/dpkg, catalog/apk, …). It is a leaf package so
// that catalog can list the extractors without an import cycle; catalog
// re-exports these types under the same names.
package extract

import (
	"context"
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
}
