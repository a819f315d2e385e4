// Package maven reads Java packages: Maven pom.xml files (dependencies,
// with properties, dependencyManagement and parent poms of the same target
// applied), Gradle's gradle.lockfile, and the META-INF/maven/**/pom.properties
// inside JAR, WAR and EAR archives (and the archives nested in them, one
// level deep).
//
// Package names are "groupId:artifactId", as OSV's Maven ecosystem writes
// them.
package maven

import (
	"cmp"
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
	"github.com/lockdown-sec/lockdown/internal/model"
)

// Limits on what is read.
const (
	MaxArchiveSize = 512 << 20 // a JAR, WAR or EAR (a pom.xml or gradle.lockfile: extract.MaxLockFileBytes)
)

// Extractor reads poms, Gradle lock files and Java archives. The zero value
// is ready to use. It is an extract.Resolver: a pom's parents are other
// files, so poms are completed after the walk.
type Extractor struct{}

var (
	_ extract.Extractor = Extractor{}
	_ extract.Resolver  = Extractor{}
)

// Name implements extract.Extractor.
func (Extractor) Name() string { return "maven" }

// Version implements extract.Extractor.
func (Extractor) Version() int { return 1 }

// archiveExt lists the archive kinds read for pom.properties.
var archiveExt = []string{".jar", ".war", ".ear", ".par", ".sar", ".jpi", ".hpi"}

func isArchive(name string) bool {
	return slices.Contains(archiveExt, strings.ToLower(path.Ext(name)))
}

// Wants implements extract.Extractor: pom.xml, gradle.lockfile and Java
// archives, by name.
func (Extractor) Wants(p string, mode fs.FileMode, size int64) bool {
	if !mode.IsRegular() {
		return false
	}
	switch base := path.Base(p); {
	case base == "pom.xml", base == "gradle.lockfile":
		return true // a larger one than extract.MaxLockFileBytes is a warning
	case isArchive(base):
		return size <= MaxArchiveSize
	}
	return false
}

// Extract implements extract.Extractor. A pom's result holds what the file
// yields on its own (dependencies whose versions it can resolve without its
// parents) and is Pending for Resolve.
func (Extractor) Extract(ctx context.Context, in extract.Input) (extract.Result, error) {
	if err := ctx.Err(); err != nil {
		return extract.Result{}, err
	}
	switch base := path.Base(in.Path); {
	case base == "pom.xml":
		data, err := extract.ReadAll(ctx, in, extract.MaxLockFileBytes)
		if err != nil {
			return extract.Result{}, err
		}
		return ParsePOM(in.Path, data)
	case base == "gradle.lockfile":
		data, err := extract.ReadAll(ctx, in, extract.MaxLockFileBytes)
		if err != nil {
			return extract.Result{}, err
		}
		return ParseGradleLock(in.Path, data)
	case isArchive(base):
		return extractArchive(ctx, in)
	}
	return extract.Result{}, fmt.Errorf("maven: %s: not a file this extractor reads", in.Path)
}

// pkgSet collects packages, one per name and version.
type pkgSet struct {
	location string
	index    map[[2]string]int
	pkgs     []model.Package
	warns    extract.Warnings
}

func newSet(location string) *pkgSet {
	return &pkgSet{location: location, index: map[[2]string]int{}, warns: extract.Warnings{Path: location}}
}

// add records group:artifact@version with its metadata. When the same
// package is listed twice, the one with the wider scope wins (compile over
// test).
func (s *pkgSet) add(name, version string, meta map[string]string) {
	k := [2]string{name, version}
	if i, ok := s.index[k]; ok {
		if scopeRank(meta["scope"]) < scopeRank(s.pkgs[i].Metadata["scope"]) {
			s.pkgs[i].Metadata = meta
		}
		return
	}
	if extract.Full(len(s.pkgs)) {
		return
	}
	s.index[k] = len(s.pkgs)
	s.pkgs = append(s.pkgs, model.Package{Name: name, Version: version, Type: model.TypeMaven, Metadata: meta})
}

func scopeRank(scope string) int {
	switch scope {
	case "", "compile":
		return 0
	case "runtime":
		return 1
	case "provided", "system":
		return 2
	}
	return 3 // test
}

func (s *pkgSet) warn(format string, args ...any) {
	s.warns.Addf(format, args...)
}

func (s *pkgSet) result() extract.Result {
	slices.SortFunc(s.pkgs, func(a, b model.Package) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})
	return extract.Result{Packages: s.pkgs, Warnings: s.warns.List()}
}

// validCoord is a loose check of a groupId, artifactId or version: not
// empty, no whitespace, no unresolved property, no ":" or "/".
func validCoord(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t\r\n:/${}") && s != "." && s != ".."
}
