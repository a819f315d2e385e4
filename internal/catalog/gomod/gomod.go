// Package gomod reads the modules a Go project requires from its go.mod:
// every require line (direct and // indirect), with replace directives
// applied. (Go binaries are read by catalog/gobinary; go.sum is not needed:
// since Go 1.17 go.mod lists every module the build uses.)
package gomod

import (
	"cmp"
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
	"github.com/lockdown-sec/lockdown/internal/model"
)

// Extractor reads go.mod files. The zero value is ready to use.
type Extractor struct{}

var _ extract.Extractor = Extractor{}

// Name implements extract.Extractor.
func (Extractor) Name() string { return "gomod" }

// Version implements extract.Extractor.
func (Extractor) Version() int { return 1 }

// Wants implements extract.Extractor: go.mod files, except those of the
// module cache (a directory "module@version" or a path through pkg/mod)
// and of vendored copies, which describe dependencies, not a project.
func (Extractor) Wants(p string, mode fs.FileMode, size int64) bool {
	if !mode.IsRegular() || path.Base(p) != "go.mod" {
		return false
	}
	if strings.Contains(p, "/pkg/mod/") || strings.Contains(p, "/vendor/") {
		return false
	}
	for _, dir := range strings.Split(path.Dir(p), "/") {
		if strings.Contains(dir, "@v") {
			return false
		}
	}
	return true
}

// Extract implements extract.Extractor.
func (Extractor) Extract(ctx context.Context, in extract.Input) (extract.Result, error) {
	data, err := extract.ReadAll(ctx, in, extract.MaxLockFileBytes)
	if err != nil {
		return extract.Result{}, err
	}
	return Parse(in.Path, data)
}

// Parse reads a go.mod. Each required module is a package (type golang,
// Metadata["indirect"] for // indirect ones). A replace directive that
// names another module gives that module and version instead
// (Metadata["replaces"] the original path); one that names a local
// directory drops the module, which then is not from the module proxy. The
// main module itself is not a package. A file the go command would reject
// is an error.
func Parse(location string, data []byte) (extract.Result, error) {
	f, err := modfile.Parse(location, data, nil)
	if err != nil {
		return extract.Result{}, fmt.Errorf("parse go.mod %s: %w", location, err)
	}
	// replace old [v] => new [v]: a versioned one wins over a blanket one.
	type target struct {
		mod   module.Version
		local bool
	}
	repl := map[module.Version]target{}
	for _, r := range f.Replace {
		repl[r.Old] = target{r.New, r.New.Version == "" || modfile.IsDirectoryPath(r.New.Path)}
	}
	var res extract.Result
	warns := extract.Warnings{Path: location}
	seen := map[[2]string]bool{}
	for _, r := range f.Require {
		mod := r.Mod
		meta := map[string]string{}
		if r.Indirect {
			meta["indirect"] = "true"
		}
		t, ok := repl[mod]
		if !ok {
			t, ok = repl[module.Version{Path: mod.Path}]
		}
		if ok {
			if t.local {
				continue
			}
			meta["replaces"] = mod.Path
			mod = t.mod
		}
		if err := module.Check(mod.Path, mod.Version); err != nil {
			warns.Addf("go.mod require %s %s: %v", mod.Path, mod.Version, err)
			continue
		}
		k := [2]string{mod.Path, mod.Version}
		if seen[k] {
			continue
		}
		seen[k] = true
		if len(meta) == 0 {
			meta = nil
		}
		if !extract.Full(len(res.Packages)) {
			res.Packages = append(res.Packages, model.Package{Name: mod.Path, Version: mod.Version, Type: model.TypeGolang, Metadata: meta})
		}
	}
	slices.SortFunc(res.Packages, func(a, b model.Package) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})
	res.Warnings = warns.List()
	return res, nil
}
