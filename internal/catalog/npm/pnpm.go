package npm

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
)

// pnpmLock is pnpm-lock.yaml. Entries are decoded one by one.
type pnpmLock struct {
	LockfileVersion yaml.Node               `yaml:"lockfileVersion"`
	Importers       map[string]pnpmImporter `yaml:"importers"`
	Packages        map[string]yaml.Node    `yaml:"packages"`
	Snapshots       map[string]yaml.Node    `yaml:"snapshots"`
}

// pnpmImporter is one project of the workspace (v9: the only place that
// says what is a dev dependency).
type pnpmImporter struct {
	Dependencies         map[string]pnpmRef `yaml:"dependencies"`
	OptionalDependencies map[string]pnpmRef `yaml:"optionalDependencies"`
	DevDependencies      map[string]pnpmRef `yaml:"devDependencies"`
}

// pnpmRef is how an importer pins a dependency: v9 and v6 write a map with
// "version", v5 the version alone.
type pnpmRef struct {
	Version string
}

func (r *pnpmRef) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		r.Version = n.Value
		return nil
	}
	var m struct {
		Version string `yaml:"version"`
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	r.Version = m.Version
	return nil
}

// pnpmPackage is one entry of "packages". Name and Version are set for
// packages not from the registry (tarballs, git).
type pnpmPackage struct {
	Name    string `yaml:"name"`
	Version string `yaml:"version"`
	Dev     *bool  `yaml:"dev"`
}

// pnpmSnapshot is one entry of v9 "snapshots".
type pnpmSnapshot struct {
	Dependencies         map[string]string `yaml:"dependencies"`
	OptionalDependencies map[string]string `yaml:"optionalDependencies"`
}

// parsePnpmLock reads the packages of pnpm-lock.yaml. Keys by lockfile
// version:
//
//	5.x: /name/1.0.0, /@scope/name/1.0.0_peer@2.0.0
//	6.x: /name@1.0.0, /@scope/name@1.0.0(peer@2.0.0)
//	9.x: name@1.0.0, @scope/name@1.0.0
//
// Dev dependencies: v5 and v6 mark them ("dev": true); for v9 a package is
// dev when no importer's dependencies or optionalDependencies reach it
// through the snapshots.
func parsePnpmLock(data []byte, location string) (extract.Result, error) {
	var lf pnpmLock
	if err := yaml.Unmarshal(trimBOM(data), &lf); err != nil {
		return extract.Result{}, fmt.Errorf("parse pnpm lock file %s: %w", location, err)
	}
	s := newSet(location)
	major := 0
	if v := lf.LockfileVersion.Value; v != "" {
		m, _, _ := strings.Cut(v, ".")
		n, err := strconv.Atoi(m)
		if err != nil {
			return extract.Result{}, fmt.Errorf("parse pnpm lock file %s: lockfileVersion %q", location, v)
		}
		major = n
	}
	var prod map[string]bool
	if major >= 9 && len(lf.Importers) > 0 {
		prod = pnpmProd(lf)
	}
	keys := make([]string, 0, len(lf.Packages))
	for k := range lf.Packages {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		node := lf.Packages[key]
		var e pnpmPackage
		if err := node.Decode(&e); err != nil {
			s.warn("pnpm-lock entry %q: %v", key, err)
			continue
		}
		name, version := e.Name, e.Version
		if name == "" || version == "" {
			n, v, ok := pnpmKey(key, major)
			if !ok {
				if !strings.Contains(key, ":") {
					s.warn("pnpm-lock entry %q: cannot tell name and version", key)
				}
				continue // file:, link:, git hosts: not from a registry
			}
			name, version = cmp.Or(name, n), cmp.Or(version, v)
		}
		if !validName(name) || !validVersion(version) {
			s.warn("pnpm-lock entry %q: bad name or version %q@%q", key, name, version)
			continue
		}
		dev := e.Dev != nil && *e.Dev
		if prod != nil {
			dev = !prod[name+"@"+version]
		}
		s.add(name, version, dev, false)
	}
	return s.result(), nil
}

// pnpmKey splits a packages key into name and version.
func pnpmKey(key string, major int) (name, version string, ok bool) {
	k := strings.TrimPrefix(key, "/")
	if i := strings.IndexByte(k, '('); i >= 0 {
		k = k[:i] // v6, v9 peer suffix
	}
	if major != 0 && major < 6 {
		i := strings.LastIndexByte(k, '/')
		if i <= 0 {
			return "", "", false
		}
		name, version = k[:i], k[i+1:]
		version, _, _ = strings.Cut(version, "_") // v5 peer suffix
		return name, version, validName(name) && validVersion(version)
	}
	name, version, ok = splitSpec(k)
	if !ok {
		// A lock file without lockfileVersion: try the v5 form.
		if major == 0 {
			return pnpmKey(key, 5)
		}
		return "", "", false
	}
	return name, version, validName(name) && validVersion(version)
}

// pnpmProd returns the "name@version" of every package that an importer's
// dependencies or optionalDependencies reach (v9).
func pnpmProd(lf pnpmLock) map[string]bool {
	snaps := map[string]pnpmSnapshot{}
	for k, n := range lf.Snapshots {
		var sn pnpmSnapshot
		if n.Decode(&sn) == nil {
			snaps[k] = sn
		}
	}
	prod := map[string]bool{}
	seen := map[string]bool{}
	var queue []string
	push := func(name, ref string) {
		if strings.Contains(ref, ":") {
			return // link:, file: — not a registry package
		}
		key := name + "@" + ref
		if before, _, _ := strings.Cut(ref, "("); strings.Contains(before[min(1, len(before)):], "@") {
			key = ref // an alias: the snapshot is the real package's
		}
		if !seen[key] {
			seen[key] = true
			queue = append(queue, key)
		}
	}
	for _, imp := range lf.Importers {
		for n, r := range imp.Dependencies {
			push(n, r.Version)
		}
		for n, r := range imp.OptionalDependencies {
			push(n, r.Version)
		}
	}
	for len(queue) > 0 {
		key := queue[0]
		queue = queue[1:]
		base := key
		if i := strings.IndexByte(base, '('); i >= 0 {
			base = base[:i]
		}
		prod[base] = true
		sn := snaps[key]
		for n, r := range sn.Dependencies {
			push(n, r)
		}
		for n, r := range sn.OptionalDependencies {
			push(n, r)
		}
	}
	return prod
}
