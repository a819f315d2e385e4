// Package composer reads the PHP packages a project locks: composer.lock.
package composer

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

// Extractor reads composer.lock files outside vendor/. The zero value is
// ready to use.
type Extractor struct{}

var _ extract.Extractor = Extractor{}

// Name implements extract.Extractor.
func (Extractor) Name() string { return "composer" }

// Version implements extract.Extractor.
func (Extractor) Version() int { return 1 }

// Wants implements extract.Extractor.
func (Extractor) Wants(p string, mode fs.FileMode, size int64) bool {
	return mode.IsRegular() && path.Base(p) == "composer.lock" && !strings.Contains(p, "/vendor/")
}

// Extract implements extract.Extractor.
func (Extractor) Extract(ctx context.Context, in extract.Input) (extract.Result, error) {
	data, err := extract.ReadAll(ctx, in, extract.MaxLockFileBytes)
	if err != nil {
		return extract.Result{}, err
	}
	return Parse(in.Path, data)
}

// Parse reads a composer.lock: "packages" and "packages-dev"
// (Metadata["dev"]). Names are "vendor/name"; a "v" before a version
// number is dropped ("v5.4.0" is release 5.4.0); branch versions
// ("dev-main") are not releases and are left out.
func Parse(location string, data []byte) (extract.Result, error) {
	var lock struct {
		Packages    []json.RawMessage `json:"packages"`
		PackagesDev []json.RawMessage `json:"packages-dev"`
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		return extract.Result{}, fmt.Errorf("parse composer.lock %s: %w", location, err)
	}
	var res extract.Result
	warns := extract.Warnings{Path: location}
	index := map[[2]string]int{}
	for _, sec := range []struct {
		name    string
		entries []json.RawMessage
	}{{"packages", lock.Packages}, {"packages-dev", lock.PackagesDev}} {
		dev := sec.name == "packages-dev"
		for i, raw := range sec.entries {
			var e struct {
				Name    string `json:"name"`
				Version string `json:"version"`
			}
			if err := json.Unmarshal(raw, &e); err != nil {
				warns.Addf("composer.lock %s[%d]: %v", sec.name, i, err)
				continue
			}
			v := e.Version
			if len(v) > 1 && v[0] == 'v' && v[1] >= '0' && v[1] <= '9' {
				v = v[1:]
			}
			if strings.HasPrefix(v, "dev-") || strings.HasSuffix(v, "-dev") {
				continue // a branch
			}
			vendor, name, ok := strings.Cut(e.Name, "/")
			if !ok || vendor == "" || name == "" || strings.ContainsAny(e.Name, " \t\r\n") || v == "" || strings.ContainsAny(v, " \t\r\n/") {
				warns.Addf("composer.lock %s[%d]: bad name or version %q %q", sec.name, i, e.Name, e.Version)
				continue
			}
			k := [2]string{e.Name, v}
			if j, ok := index[k]; ok {
				if !dev {
					res.Packages[j].Metadata = nil
				}
				continue
			}
			p := model.Package{Name: e.Name, Version: v, Type: model.TypeComposer}
			if dev {
				p.Metadata = map[string]string{"dev": "true"}
			}
			index[k] = len(res.Packages)
			if !extract.Full(len(res.Packages)) {
				res.Packages = append(res.Packages, p)
			}
		}
	}
	slices.SortFunc(res.Packages, func(a, b model.Package) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})
	res.Warnings = warns.List()
	return res, nil
}
