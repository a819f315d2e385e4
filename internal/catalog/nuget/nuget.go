// Package nuget reads the .NET packages a project locks:
// packages.lock.json.
package nuget

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
	"github.com/lockdown-sec/lockdown/internal/model"
)

// Extractor reads packages.lock.json files. The zero value is ready to use.
type Extractor struct{}

var _ extract.Extractor = Extractor{}

// Name implements extract.Extractor.
func (Extractor) Name() string { return "nuget" }

// Version implements extract.Extractor.
func (Extractor) Version() int { return 1 }

// Wants implements extract.Extractor.
func (Extractor) Wants(p string, mode fs.FileMode, size int64) bool {
	return mode.IsRegular() && path.Base(p) == "packages.lock.json"
}

// Extract implements extract.Extractor.
func (Extractor) Extract(ctx context.Context, in extract.Input) (extract.Result, error) {
	data, err := extract.ReadAll(ctx, in, extract.MaxLockFileBytes)
	if err != nil {
		return extract.Result{}, err
	}
	return Parse(in.Path, data)
}

// Parse reads a packages.lock.json: every dependency of every target
// framework, by its "resolved" version, once. "Project" entries (other
// projects of the solution) are not packages.
func Parse(location string, data []byte) (extract.Result, error) {
	var lock struct {
		Dependencies map[string]map[string]json.RawMessage `json:"dependencies"`
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		return extract.Result{}, fmt.Errorf("parse packages.lock.json %s: %w", location, err)
	}
	var res extract.Result
	warns := extract.Warnings{Path: location}
	seen := map[[2]string]bool{}
	for _, fw := range slices.Sorted(mapKeys(lock.Dependencies)) {
		deps := lock.Dependencies[fw]
		for _, name := range slices.Sorted(mapKeys(deps)) {
			var e struct {
				Type     string `json:"type"`
				Resolved string `json:"resolved"`
			}
			if err := json.Unmarshal(deps[name], &e); err != nil {
				warns.Addf("packages.lock.json %s %q: %v", fw, name, err)
				continue
			}
			if strings.EqualFold(e.Type, "Project") {
				continue
			}
			if name == "" || e.Resolved == "" || strings.ContainsAny(name+e.Resolved, " \t\r\n/[](),") {
				warns.Addf("packages.lock.json %s %q: bad name or version %q", fw, name, e.Resolved)
				continue
			}
			k := [2]string{name, e.Resolved}
			if seen[k] {
				continue
			}
			seen[k] = true
			if !extract.Full(len(res.Packages)) {
				res.Packages = append(res.Packages, model.Package{Name: name, Version: e.Resolved, Type: model.TypeNuGet})
			}
		}
	}
	slices.SortFunc(res.Packages, func(a, b model.Package) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})
	res.Warnings = warns.List()
	return res, nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
