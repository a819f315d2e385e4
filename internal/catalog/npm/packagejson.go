package npm

import (
	"encoding/json"
	"fmt"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
)

// manifest is the part of an installed package.json read here.
type manifest struct {
	Name     string          `json:"name"`
	Version  string          `json:"version"`
	License  json.RawMessage `json:"license"`  // "MIT" or {"type": "MIT"}
	Licenses json.RawMessage `json:"licenses"` // legacy: [{"type": "MIT"}]
}

// parsePackageJSON reads the package.json of one installed package.
func parsePackageJSON(data []byte, location string) (extract.Result, error) {
	var m manifest
	if err := json.Unmarshal(trimBOM(data), &m); err != nil {
		return extract.Result{}, fmt.Errorf("parse package.json %s: %w", location, err)
	}
	s := newSet(location)
	switch {
	case m.Name == "" || m.Version == "":
		s.warn("package.json: installed package without a name or version (name %q, version %q)", m.Name, m.Version)
	case !validName(m.Name):
		s.warn("package.json: bad package name %q", m.Name)
	case !validVersion(m.Version):
		s.warn("package.json: %s has a bad version %q", m.Name, m.Version)
	default:
		s.add(m.Name, m.Version, false, false)
		s.res.Packages[0].Licenses = licenses(m)
	}
	return s.result(), nil
}

// licenses reads "license" (a string or an object with "type") or the
// legacy "licenses" list.
func licenses(m manifest) []string {
	one := func(raw json.RawMessage) string {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		var o struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(raw, &o) == nil {
			return o.Type
		}
		return ""
	}
	if len(m.License) > 0 {
		if l := one(m.License); l != "" {
			return []string{l}
		}
	}
	var list []json.RawMessage
	if len(m.Licenses) > 0 && json.Unmarshal(m.Licenses, &list) == nil {
		var out []string
		for _, raw := range list {
			if l := one(raw); l != "" {
				out = append(out, l)
			}
		}
		return out
	}
	return nil
}
