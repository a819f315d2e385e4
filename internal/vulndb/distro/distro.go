// Package distro converts distribution advisory formats to OSV records:
// Alpine secdb JSON, the Ubuntu CVE Tracker and Debian's DSA/DLA/DTSA lists.
//
// Every converter keeps provenance in database_specific ("source" names the
// format, "file" the file read) and writes ecosystems in the normalised form
// that vulndb indexes ("Alpine:v3.10", "Ubuntu:18.04", "Debian:9").
// Converters never fail on one bad record or line: they hand it to a Reject
// function and go on; they fail only when the input itself cannot be read.
package distro

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/osv"
)

// Source names written to database_specific.source.
const (
	SourceAlpine     = "alpine-secdb"
	SourceWolfi      = "wolfi-secdb"
	SourceChainguard = "chainguard-secdb"
	SourceUbuntu     = "ubuntu-cve-tracker"
	SourceDebian     = "debian-security-tracker"
)

// Emit receives one converted record. An error stops the conversion and is
// returned by the converter.
type Emit func(osv.Vulnerability) error

// Reject is told about a record or line that was dropped, where it was
// (file[:line] or file entry) and why. It may be nil.
type Reject func(where string, err error)

func (r Reject) call(where string, err error) {
	if r != nil {
		r(where, err)
	}
}

// provenance builds a database_specific object.
func provenance(kv ...string) json.RawMessage {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			m[kv[i]] = kv[i+1]
		}
	}
	b, _ := json.Marshal(m) // a map of strings always marshals
	return b
}

// ecosystemLess orders ecosystems with their numbers compared as numbers
// ("Alpine:v3.9" before "Alpine:v3.10").
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := isDigit(a[0]), isDigit(b[0])
		if da && db {
			na, ra := leadingNumber(a)
			nb, rb := leadingNumber(b)
			if na != nb {
				return na < nb
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func leadingNumber(s string) (uint64, string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	n, err := strconv.ParseUint(s[:i], 10, 64)
	if err != nil {
		n = ^uint64(0)
	}
	return n, s[i:]
}

// affectedSet collects affected entries keyed by (ecosystem, name), merging
// ranges, and returns them in a stable order.
type affectedSet struct {
	m map[[2]string]*osv.Affected
}

func (s *affectedSet) get(eco, name string) *osv.Affected {
	if s.m == nil {
		s.m = map[[2]string]*osv.Affected{}
	}
	k := [2]string{eco, name}
	a := s.m[k]
	if a == nil {
		a = &osv.Affected{Package: osv.Package{Ecosystem: eco, Name: name}}
		s.m[k] = a
	}
	return a
}

// addRange appends r to a unless an equal range is already there.
func addRange(a *osv.Affected, r osv.Range) {
	for _, have := range a.Ranges {
		if rangeEqual(have, r) {
			return
		}
	}
	a.Ranges = append(a.Ranges, r)
}

func rangeEqual(a, b osv.Range) bool {
	if a.Type != b.Type || a.Repo != b.Repo || len(a.Events) != len(b.Events) {
		return false
	}
	for i := range a.Events {
		if a.Events[i] != b.Events[i] {
			return false
		}
	}
	return true
}

func (s *affectedSet) list() []osv.Affected {
	keys := make([][2]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return naturalLess(keys[i][0], keys[j][0])
		}
		return keys[i][1] < keys[j][1]
	})
	out := make([]osv.Affected, 0, len(keys))
	for _, k := range keys {
		out = append(out, *s.m[k])
	}
	return out
}

// ecosystemRange is the "introduced 0, fixed V" range; fixed "" leaves the
// range open (affected, no fix yet).
func ecosystemRange(fixed string) osv.Range {
	ev := []osv.Event{{Introduced: "0"}}
	if fixed != "" {
		ev = append(ev, osv.Event{Fixed: fixed})
	}
	return osv.Range{Type: osv.RangeEcosystem, Events: ev}
}

// cleanText trims and collapses the blank lines of a multi-line field.
func cleanText(lines []string) string {
	return strings.TrimSpace(strings.Join(lines, "\n"))
}
