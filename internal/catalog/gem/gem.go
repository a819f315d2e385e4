// Package gem reads the Ruby gems a project locks: Gemfile.lock.
package gem

import (
	"bufio"
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

// Extractor reads Gemfile.lock files. The zero value is ready to use.
type Extractor struct{}

var _ extract.Extractor = Extractor{}

// Name implements extract.Extractor.
func (Extractor) Name() string { return "gem" }

// Version implements extract.Extractor.
func (Extractor) Version() int { return 1 }

// Wants implements extract.Extractor: Gemfile.lock (and gems.locked).
func (Extractor) Wants(p string, mode fs.FileMode, size int64) bool {
	base := path.Base(p)
	return mode.IsRegular() && (base == "Gemfile.lock" || base == "gems.locked")
}

// Extract implements extract.Extractor.
func (Extractor) Extract(ctx context.Context, in extract.Input) (extract.Result, error) {
	data, err := extract.ReadAll(ctx, in, extract.MaxLockFileBytes)
	if err != nil {
		return extract.Result{}, err
	}
	return Parse(in.Path, data)
}

// Parse reads the specs of the GEM and GIT sections of a Gemfile.lock:
// lines indented four spaces, "name (version)" or "name
// (version-platform)" (the platform goes to Metadata["platform"]). PATH
// gems are local and left out. Bundler's format has no error cases beyond
// a malformed spec line, which is a warning.
func Parse(location string, data []byte) (extract.Result, error) {
	var res extract.Result
	warns := extract.Warnings{Path: location}
	seen := map[[2]string]bool{}
	section := ""
	inSpecs := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			continue
		}
		if line[0] != ' ' {
			section, inSpecs = line, false
			continue
		}
		if line == "  specs:" {
			inSpecs = true
			continue
		}
		if !inSpecs || (section != "GEM" && section != "GIT") || !strings.HasPrefix(line, "    ") || strings.HasPrefix(line, "     ") {
			continue // a dependency of a spec (six spaces) or another section
		}
		spec := strings.TrimSpace(line)
		name, rest, ok := strings.Cut(spec, " (")
		if !ok || !strings.HasSuffix(rest, ")") || name == "" || strings.ContainsAny(name, " /") {
			warns.Addf("Gemfile.lock line %d: bad spec %q", n, spec)
			continue
		}
		version, platform, _ := strings.Cut(strings.TrimSuffix(rest, ")"), "-")
		if version == "" || strings.ContainsAny(version, " ,") {
			warns.Addf("Gemfile.lock line %d: bad version in %q", n, spec)
			continue
		}
		k := [2]string{name, version}
		if seen[k] {
			continue // one gem, several platforms
		}
		seen[k] = true
		p := model.Package{Name: name, Version: version, Type: model.TypeGem}
		if platform != "" {
			p.Metadata = map[string]string{"platform": platform}
		}
		if !extract.Full(len(res.Packages)) {
			res.Packages = append(res.Packages, p)
		}
	}
	if err := sc.Err(); err != nil {
		return extract.Result{}, fmt.Errorf("parse Gemfile.lock %s: line %d: %w", location, n+1, err)
	}
	slices.SortFunc(res.Packages, func(a, b model.Package) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})
	res.Warnings = warns.List()
	return res, nil
}
