// Package npm reads JavaScript packages: npm's package-lock.json and
// npm-shrinkwrap.json (lockfileVersion 1, 2 and 3), yarn.lock (classic v1
// and berry), pnpm-lock.yaml (lockfile versions 5, 6 and 9), and the
// package.json of every package installed under a node_modules directory.
package npm

import (
	"bytes"
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

// File names the extractor reads.
const (
	PackageLock = "package-lock.json"
	Shrinkwrap  = "npm-shrinkwrap.json"
	YarnLock    = "yarn.lock"
	PnpmLock    = "pnpm-lock.yaml"
	PackageJSON = "package.json"
)

// Extractor reads npm, yarn and pnpm lock files and installed package.json
// files. The zero value is ready to use.
type Extractor struct{}

var _ extract.Extractor = Extractor{}

// Name implements extract.Extractor.
func (Extractor) Name() string { return "npm" }

// Version implements extract.Extractor.
func (Extractor) Version() int { return 1 }

// Wants implements extract.Extractor: lock files outside node_modules (a
// lock file a package ships is not what is installed), and the package.json
// of each installed package (node_modules/NAME/package.json,
// node_modules/@SCOPE/NAME/package.json), never a project's own.
func (Extractor) Wants(p string, mode fs.FileMode, size int64) bool {
	if !mode.IsRegular() {
		return false
	}
	switch path.Base(p) {
	case PackageLock, Shrinkwrap, YarnLock, PnpmLock:
		return !strings.Contains(p, "/node_modules/")
	case PackageJSON:
		return installedManifest(p)
	}
	return false
}

// installedManifest reports whether p is node_modules/NAME/package.json or
// node_modules/@SCOPE/NAME/package.json.
func installedManifest(p string) bool {
	dir := path.Dir(p)      // …/node_modules/NAME or …/@SCOPE/NAME
	parent := path.Dir(dir) // …/node_modules or …/node_modules/@SCOPE
	if path.Base(dir) == "node_modules" || strings.HasPrefix(path.Base(dir), "@") {
		return false
	}
	if path.Base(parent) == "node_modules" {
		return true
	}
	return strings.HasPrefix(path.Base(parent), "@") && path.Base(path.Dir(parent)) == "node_modules"
}

// Extract implements extract.Extractor.
func (Extractor) Extract(ctx context.Context, in extract.Input) (extract.Result, error) {
	data, err := extract.ReadAll(ctx, in, extract.MaxLockFileBytes)
	if err != nil {
		return extract.Result{}, err
	}
	return Parse(in.Path, data)
}

// Parse reads one file, chosen by its base name: a lock file (all the
// packages it pins) or an installed package.json (that one package).
// Packages come back sorted by name and version, one per name and version
// (dev only when every occurrence is a dev dependency). A bad entry is a
// warning; an error means the file could not be read at all.
func Parse(location string, data []byte) (extract.Result, error) {
	var (
		res extract.Result
		err error
	)
	switch path.Base(location) {
	case PackageLock, Shrinkwrap:
		res, err = parsePackageLock(data, location)
	case YarnLock:
		res, err = parseYarnLock(data, location)
	case PnpmLock:
		res, err = parsePnpmLock(data, location)
	case PackageJSON:
		res, err = parsePackageJSON(data, location)
	default:
		return extract.Result{}, fmt.Errorf("npm: %s: not a file this extractor reads", location)
	}
	if err != nil {
		return extract.Result{}, err
	}
	slices.SortFunc(res.Packages, func(a, b model.Package) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})
	return res, nil
}

// pkgSet collects packages, one per name and version.
type pkgSet struct {
	location string
	index    map[[2]string]int
	res      extract.Result
	warns    extract.Warnings
}

func newSet(location string) *pkgSet {
	return &pkgSet{location: location, index: map[[2]string]int{}, warns: extract.Warnings{Path: location}}
}

// add records name@version; dev and optional stay set only while every
// occurrence has them.
func (s *pkgSet) add(name, version string, dev, optional bool) {
	k := [2]string{name, version}
	if i, ok := s.index[k]; ok {
		p := &s.res.Packages[i]
		if !dev {
			delete(p.Metadata, "dev")
		}
		if !optional {
			delete(p.Metadata, "optional")
		}
		if len(p.Metadata) == 0 {
			p.Metadata = nil
		}
		return
	}
	if extract.Full(len(s.res.Packages)) {
		return
	}
	p := model.Package{Name: name, Version: version, Type: model.TypeNPM}
	if dev || optional {
		p.Metadata = map[string]string{}
		if dev {
			p.Metadata["dev"] = "true"
		}
		if optional {
			p.Metadata["optional"] = "true"
		}
	}
	s.index[k] = len(s.res.Packages)
	s.res.Packages = append(s.res.Packages, p)
}

func (s *pkgSet) warn(format string, args ...any) {
	s.warns.Addf(format, args...)
}

// result is what the file yielded, with its bounded warnings.
func (s *pkgSet) result() extract.Result {
	s.res.Warnings = s.warns.List()
	return s.res
}

// splitSpec splits "name@range" ("@scope/name@range") at the "@" that ends
// the name.
func splitSpec(s string) (name, rest string, ok bool) {
	i := strings.IndexByte(s[min(1, len(s)):], '@')
	if i < 0 {
		return "", "", false
	}
	i += min(1, len(s))
	return s[:i], s[i+1:], i > 0
}

// validName checks an npm package name: URL-safe characters only
// (letters, digits, "-", ".", "_", "~"; old packages have capitals), a
// scoped name "@scope/name" with exactly one "/".
func validName(name string) bool {
	if rest, ok := strings.CutPrefix(name, "@"); ok {
		scope, base, ok := strings.Cut(rest, "/")
		return ok && nameChars(scope) && nameChars(base)
	}
	return nameChars(name)
}

func nameChars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// validVersion checks that v looks like a version (SemVer characters; a
// leading "v" is allowed), not a URL, a path or a range.
func validVersion(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '+' || c == '_') {
			return false
		}
	}
	return true
}

// trimBOM drops a UTF-8 byte order mark.
func trimBOM(b []byte) []byte { return bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) }
