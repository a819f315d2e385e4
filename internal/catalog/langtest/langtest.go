// Package langtest holds test helpers shared by the language extractors'
// tests (catalog/npm, catalog/maven, …): cataloging a copied lock-file
// directory through the real cataloger, and matching its packages against
// OSV records loaded from the shared data into memory. Only tests import it.
package langtest

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/catalog"
	"github.com/lockdown-sec/lockdown/internal/ecosystem"
	"github.com/lockdown-sec/lockdown/internal/image"
	"github.com/lockdown-sec/lockdown/internal/match"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/osv"
)

// CopyDir copies the regular files under src (a directory of the shared
// data) into dst/rel, keeping their relative paths, and returns dst.
func CopyDir(t testing.TB, src, dst, rel string) string {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		r, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out := filepath.Join(dst, rel, r)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
	return dst
}

// Catalog runs the default cataloger over dir: (all extractors, or the
// named ones).
func Catalog(t testing.TB, dir string, extractors ...string) *model.SBOM {
	t.Helper()
	ctx := context.Background()
	src, err := image.Open(ctx, "dir:"+dir, image.Options{})
	if err != nil {
		t.Fatalf("open dir:%s: %v", dir, err)
	}
	defer src.Close()
	c, err := catalog.New(catalog.Default()...)
	if err != nil {
		t.Fatal(err)
	}
	sbom, err := c.Catalog(ctx, src, catalog.Options{TempDir: t.TempDir(), Extractors: extractors})
	if err != nil {
		t.Fatalf("catalog dir:%s: %v", dir, err)
	}
	return sbom
}

// Source is an in-memory match.Source: each record is indexed under the
// normalised ecosystem and name of every affected entry (PyPI names in PEP
// 503 form).
type Source map[string][]osv.Vulnerability

// NewSource indexes vs.
func NewSource(vs []osv.Vulnerability) Source {
	s := Source{}
	for _, v := range vs {
		seen := map[string]bool{}
		for _, a := range v.Affected {
			eco := ecosystem.Normalize(a.Package.Ecosystem)
			e, _ := ecosystem.Lookup(eco)
			name := e.PackageName(a.Package.Name)
			k := eco + "\x00" + name
			if name == "" || seen[k] {
				continue
			}
			seen[k] = true
			s[k] = append(s[k], v)
		}
	}
	return s
}

// Lookup implements match.Source.
func (s Source) Lookup(_ context.Context, eco, name string) ([]osv.Vulnerability, error) {
	return s[eco+"\x00"+name], nil
}

// Match matches pkgs against vs and fails the test on an error.
func Match(t testing.TB, vs []osv.Vulnerability, pkgs []model.Package) ([]model.Finding, []model.Warning) {
	t.Helper()
	fs, ws, err := match.Match(context.Background(), NewSource(vs), pkgs, match.Options{})
	if err != nil {
		t.Fatalf("match: %v", err)
	}
	return fs, ws
}

// Hit is one (record, package, version) triple.
type Hit struct{ ID, Name, Version string }

// Hits lists the (record ID, package, version) triples of findings whose
// RuleID or aliases name a record of vs.
func Hits(fs []model.Finding, vs []osv.Vulnerability) map[Hit]bool {
	ids := map[string]bool{}
	for _, v := range vs {
		ids[v.ID] = true
	}
	out := map[Hit]bool{}
	for _, f := range fs {
		for _, id := range append([]string{f.RuleID}, f.Aliases...) {
			if ids[id] {
				out[Hit{id, f.Package.Name, f.Package.Version}] = true
			}
		}
	}
	return out
}

// Count returns how many hits, records and packages (names) hs holds.
func Count(hs map[Hit]bool) (hits, records, packages int) {
	rs, ps := map[string]bool{}, map[string]bool{}
	for h := range hs {
		rs[h.ID] = true
		ps[h.Name] = true
	}
	return len(hs), len(rs), len(ps)
}

// Expected is a deliberately naive reading of the records: the (record,
// package, version) triples where an affected entry of ecosystem eco whose
// name equals the package's (after norm, when given) lists the version in
// "versions", or — when cmp is given — has a range whose events, walked in
// the order written, hold it. GIT ranges and withdrawn records are ignored.
func Expected(vs []osv.Vulnerability, pkgs []model.Package, eco string, norm func(string) string, cmp func(a, b string) int) map[Hit]bool {
	if norm == nil {
		norm = func(s string) string { return s }
	}
	out := map[Hit]bool{}
	for _, p := range pkgs {
		for _, v := range vs {
			if v.Withdrawn != nil {
				continue
			}
			for _, a := range v.Affected {
				if a.Package.Ecosystem != eco || norm(a.Package.Name) != norm(p.Name) {
					continue
				}
				hit := false
				for _, ver := range a.Versions {
					hit = hit || ver == p.Version
				}
				if cmp != nil {
					for _, r := range a.Ranges {
						if r.Type == osv.RangeGit {
							continue
						}
						in := false
						for _, e := range r.Events {
							switch {
							case e.Introduced == "0":
								in = true
							case e.Introduced != "":
								in = in || cmp(p.Version, e.Introduced) >= 0
							case e.Fixed != "":
								in = in && cmp(p.Version, e.Fixed) < 0
							case e.LastAffected != "":
								in = in && cmp(p.Version, e.LastAffected) <= 0
							}
						}
						hit = hit || in
					}
				}
				if hit {
					out[Hit{v.ID, p.Name, p.Version}] = true
				}
			}
		}
	}
	return out
}

// CompareHits fails the test unless got and want hold the same triples.
func CompareHits(t testing.TB, got, want map[Hit]bool) {
	t.Helper()
	var missing, extra []string
	for h := range want {
		if !got[h] {
			missing = append(missing, h.Name+"@"+h.Version+" "+h.ID)
		}
	}
	for h := range got {
		if !want[h] {
			extra = append(extra, h.Name+"@"+h.Version+" "+h.ID)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	if len(missing)+len(extra) > 0 {
		t.Errorf("findings differ from the naive reading of the records:\nmissing: %v\nextra: %v", missing, extra)
	}
}
