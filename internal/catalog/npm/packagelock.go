package npm

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
)

// lockFile is package-lock.json / npm-shrinkwrap.json. Entries are decoded
// one by one so that one odd entry is a warning, not a failed file.
type lockFile struct {
	LockfileVersion int                        `json:"lockfileVersion"`
	Packages        map[string]json.RawMessage `json:"packages"`     // v2, v3
	Dependencies    map[string]json.RawMessage `json:"dependencies"` // v1 (and v2, for old npm)
}

// lockPackage is one entry of "packages", keyed by its path in the tree
// ("node_modules/a/node_modules/@s/b"), or a workspace directory.
type lockPackage struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Resolved    string `json:"resolved"`
	Link        bool   `json:"link"`
	Dev         bool   `json:"dev"`
	Optional    bool   `json:"optional"`
	DevOptional bool   `json:"devOptional"`
}

// lockDep is one entry of v1 "dependencies", nested.
type lockDep struct {
	Version      string                     `json:"version"`
	Dev          bool                       `json:"dev"`
	Optional     bool                       `json:"optional"`
	Dependencies map[string]json.RawMessage `json:"dependencies"`
}

// parsePackageLock reads "packages" when present (lockfileVersion 2 and
// 3), else the v1 "dependencies" tree. The root entry "" is the project
// itself; a "link": true entry stands for its target (a workspace
// directory), whose own entry is not counted again.
func parsePackageLock(data []byte, location string) (extract.Result, error) {
	var lf lockFile
	if err := json.Unmarshal(trimBOM(data), &lf); err != nil {
		return extract.Result{}, fmt.Errorf("parse npm lock file %s: %w", location, err)
	}
	s := newSet(location)
	if lf.Packages != nil {
		readPackages(s, lf.Packages)
	} else {
		readDependencies(s, lf.Dependencies, nil)
	}
	return s.result(), nil
}

func readPackages(s *pkgSet, pkgs map[string]json.RawMessage) {
	keys := make([]string, 0, len(pkgs))
	for k := range pkgs {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic warnings
	decode := func(key string) (lockPackage, bool) {
		var e lockPackage
		if err := json.Unmarshal(pkgs[key], &e); err != nil {
			s.warn("package-lock entry %q: %v", key, err)
			return e, false
		}
		return e, true
	}
	for _, key := range keys {
		if key == "" {
			continue // the project itself
		}
		e, ok := decode(key)
		if !ok {
			continue
		}
		i := strings.LastIndex(key, "node_modules/")
		if i < 0 || (i > 0 && key[i-1] != '/') {
			continue // a workspace or local directory: counted through its link
		}
		// devOptional: needed by a dev dependency and, optionally, by a
		// production one; so optional, not dev.
		dev, opt := e.Dev, e.Optional || e.DevOptional
		if e.Link {
			if _, ok := pkgs[e.Resolved]; !ok {
				s.warn("package-lock entry %q: link to %q, which has no entry", key, e.Resolved)
				continue
			}
			target, ok := decode(e.Resolved)
			if !ok {
				continue
			}
			if e.Name == "" {
				e.Name = target.Name
			}
			e.Version = target.Version
		}
		name := e.Name
		if name == "" {
			name = key[i+len("node_modules/"):]
		}
		if !validName(name) {
			s.warn("package-lock entry %q: bad package name %q", key, name)
			continue
		}
		if e.Version == "" {
			s.warn("package-lock entry %q: no version", key)
			continue
		}
		if !validVersion(e.Version) {
			continue // not from a registry (a local path, a URL)
		}
		s.add(name, e.Version, dev, opt)
	}
}

// readDependencies walks the v1 tree. An alias entry ("version":
// "npm:real@1.2.3") is the real package; file:, link: and git or tarball
// URLs are not registry packages and are skipped.
func readDependencies(s *pkgSet, deps map[string]json.RawMessage, parents []string) {
	names := make([]string, 0, len(deps))
	for n := range deps {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		where := func() string { return strings.Join(append(slices.Clone(parents), name), " > ") }
		var e lockDep
		if err := json.Unmarshal(deps[name], &e); err != nil {
			s.warn("package-lock dependency %s: %v", where(), err)
			continue
		}
		pkg, version := name, e.Version
		if real, ok := strings.CutPrefix(version, "npm:"); ok {
			n, v, ok := splitSpec(real)
			if !ok {
				s.warn("package-lock dependency %s: bad alias %q", where(), e.Version)
				continue
			}
			pkg, version = n, v
		}
		switch {
		case !validName(pkg):
			s.warn("package-lock dependency %s: bad package name %q", where(), pkg)
		case version == "":
			s.warn("package-lock dependency %s: no version", where())
		case validVersion(version):
			s.add(pkg, version, e.Dev, e.Optional)
		}
		readDependencies(s, e.Dependencies, append(parents, name))
	}
}
