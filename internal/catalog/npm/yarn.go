package npm

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
)

// parseYarnLock reads yarn.lock: berry (YAML with a __metadata entry) or
// classic v1. Yarn does not record which packages are dev dependencies.
func parseYarnLock(data []byte, location string) (extract.Result, error) {
	data = trimBOM(data)
	if isBerry(data) {
		return parseYarnBerry(data, location)
	}
	return parseYarnClassic(data, location)
}

func isBerry(data []byte) bool {
	return bytes.HasPrefix(data, []byte("__metadata:")) || bytes.Contains(data, []byte("\n__metadata:"))
}

// localProtocol reports whether a yarn range or resolution names a package
// that does not come from a registry.
func localProtocol(r string) bool {
	for _, p := range []string{"file:", "link:", "portal:", "workspace:", "exec:"} {
		if strings.HasPrefix(r, p) {
			return true
		}
	}
	return false
}

// parseYarnClassic reads the v1 format: blocks headed by one unindented
// line of comma-separated patterns ending in ":", with an indented
// `version "x"` line.
func parseYarnClassic(data []byte, location string) (extract.Result, error) {
	s := newSet(location)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var (
		header     string
		headerLine int
		version    string
		n          int
	)
	flush := func() {
		if header == "" {
			return
		}
		defer func() { header, version = "", "" }()
		pattern := firstPattern(header)
		name, rng, ok := splitSpec(pattern)
		if !ok || !validName(name) {
			s.warn("yarn.lock line %d: bad pattern %q", headerLine, pattern)
			return
		}
		if localProtocol(rng) {
			return
		}
		if real, ok := strings.CutPrefix(rng, "npm:"); ok && strings.Contains(real[min(1, len(real)):], "@") {
			if n, _, ok := splitSpec(real); ok && validName(n) {
				name = n // an alias: name@npm:real@range
			}
		}
		if version == "" {
			s.warn("yarn.lock line %d: %s has no version", headerLine, pattern)
			return
		}
		if !validVersion(version) {
			s.warn("yarn.lock line %d: %s has a bad version %q", headerLine, pattern, version)
			return
		}
		s.add(name, version, false, false)
	}
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			flush()
			if !strings.HasSuffix(trimmed, ":") {
				s.warn("yarn.lock line %d: unexpected %q", n, trimmed)
				continue
			}
			header, headerLine = strings.TrimSuffix(trimmed, ":"), n
			continue
		}
		if header == "" {
			continue
		}
		// Fields of the entry are indented two spaces; deeper lines belong
		// to its dependencies.
		if strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "   ") {
			if v, ok := strings.CutPrefix(trimmed, "version "); ok {
				version = strings.Trim(strings.TrimSpace(v), `"`)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return extract.Result{}, fmt.Errorf("parse yarn.lock %s: line %d: %w", location, n+1, err)
	}
	flush()
	return s.result(), nil
}

// firstPattern returns the first of a header's comma-separated patterns,
// unquoted.
func firstPattern(header string) string {
	if rest, ok := strings.CutPrefix(header, `"`); ok {
		if i := strings.IndexByte(rest, '"'); i >= 0 {
			return rest[:i]
		}
		return rest
	}
	first, _, _ := strings.Cut(header, ",")
	return strings.TrimSpace(first)
}

// berryEntry is one package of a yarn berry lock file.
type berryEntry struct {
	Version    string `yaml:"version"`
	Resolution string `yaml:"resolution"`
}

// parseYarnBerry reads the YAML format. The name comes from "resolution"
// ("lodash@npm:4.17.4", "pkg@patch:pkg@npm%3A1.0.0#…"); workspaces and
// local links are skipped.
func parseYarnBerry(data []byte, location string) (extract.Result, error) {
	var doc map[string]yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return extract.Result{}, fmt.Errorf("parse yarn.lock %s: %w", location, err)
	}
	s := newSet(location)
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		if key == "__metadata" {
			continue
		}
		node := doc[key]
		var e berryEntry
		if err := node.Decode(&e); err != nil {
			s.warn("yarn.lock entry %q: %v", key, err)
			continue
		}
		name, proto, ok := splitSpec(e.Resolution)
		if !ok || !validName(name) {
			s.warn("yarn.lock entry %q: bad resolution %q", key, e.Resolution)
			continue
		}
		if localProtocol(proto) {
			continue
		}
		if e.Version == "" || !validVersion(e.Version) {
			s.warn("yarn.lock entry %q: bad version %q", key, e.Version)
			continue
		}
		s.add(name, e.Version, false, false)
	}
	return s.result(), nil
}
