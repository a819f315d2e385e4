// Package catalog finds the packages in a target: it runs the extractors
// listed in registry.go over an image.Tree and returns a model.SBOM.
//
// CONTRACT for extractors (each in its own subpackage, e.g. catalog/dpkg):
// the types below. They are defined in the leaf package catalog/extract
// (so that the extractors need not import catalog, which lists them) and
// aliased here; catalog.Extractor and extract.Extractor are the same type.
package catalog

import "github.com/lockdown-sec/lockdown/internal/catalog/extract"

// Extractor reads one kind of package database or binary.
//
//	Name() string      unique among extractors ("dpkg", "apk", "rpm", "gobinary")
//	Version() int      goes into cache keys: bump it whenever output changes
//	Wants(path, mode, size) bool
//	                   decides from the path and header alone whether Extract
//	                   should see this file; cheap, safe for concurrent use
//	Extract(ctx, Input) (Result, error)
//	                   parses one file. Packages come back without Ecosystem,
//	                   PURL, ID and Layer: the catalog fills those in once the
//	                   distro is known. One bad record is a Warning in the
//	                   result, not an error; an error means the whole file
//	                   could not be read.
type Extractor = extract.Extractor

// Input is one file handed to an extractor: Path (absolute within the
// image), Mode, Size, Reader, and TempDir, a private directory for spooling
// (rpm's sqlite/bdb need a file).
type Input = extract.Input

// Result is what one file yielded: Packages and Warnings.
type Result = extract.Result

// Resolver is the optional post-pass of an extractor whose results depend
// on other files of the target (Maven poms and their parents); see
// extract.Resolver.
type Resolver = extract.Resolver
