// Package cargo reads the crates a Rust project locks: Cargo.lock.
package cargo

import (
	"cmp"
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
	"github.com/lockdown-sec/lockdown/internal/model"
)

// Extractor reads Cargo.lock files. The zero value is ready to use.
type Extractor struct{}

var _ extract.Extractor = Extractor{}

// Name implements extract.Extractor.
func (Extractor) Name() string { return "cargo" }

// Version implements extract.Extractor.
func (Extractor) Version() int { return 1 }

// Wants implements extract.Extractor.
func (Extractor) Wants(p string, mode fs.FileMode, size int64) bool {
	return mode.IsRegular() && path.Base(p) == "Cargo.lock"
}

// Extract implements extract.Extractor.
func (Extractor) Extract(ctx context.Context, in extract.Input) (extract.Result, error) {
	data, err := extract.ReadAll(ctx, in, extract.MaxLockFileBytes)
	if err != nil {
		return extract.Result{}, err
	}
	return Parse(in.Path, data)
}

type lockFile struct {
	Package []lockPackage `toml:"package"`
}

type lockPackage struct {
	Name    string `toml:"name"`
	Version string `toml:"version"`
	Source  string `toml:"source"`
}

// Parse reads a Cargo.lock (any format version). Each [[package]] from a
// registry ("registry+…", "sparse+…") is a package; those without a source
// (the workspace's own crates, path dependencies) and git checkouts are not
// crates.io releases and are left out.
func Parse(location string, data []byte) (extract.Result, error) {
	var lf lockFile
	if _, err := toml.Decode(string(data), &lf); err != nil {
		return extract.Result{}, fmt.Errorf("parse Cargo.lock %s: %w", location, err)
	}
	var res extract.Result
	warns := extract.Warnings{Path: location}
	seen := map[[2]string]bool{}
	for i, p := range lf.Package {
		if !strings.HasPrefix(p.Source, "registry+") && !strings.HasPrefix(p.Source, "sparse+") {
			continue
		}
		if p.Name == "" || p.Version == "" || strings.ContainsAny(p.Name+p.Version, " \t\r\n/") {
			warns.Addf("Cargo.lock package %d: bad name or version %q %q", i+1, p.Name, p.Version)
			continue
		}
		k := [2]string{p.Name, p.Version}
		if seen[k] {
			continue
		}
		seen[k] = true
		if !extract.Full(len(res.Packages)) {
			res.Packages = append(res.Packages, model.Package{Name: p.Name, Version: p.Version, Type: model.TypeCargo})
		}
	}
	slices.SortFunc(res.Packages, func(a, b model.Package) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})
	res.Warnings = warns.List()
	return res, nil
}
