package match

import (
	"context"

	"github.com/lockdown-sec/lockdown/internal/ecosystem"
	"github.com/lockdown-sec/lockdown/internal/osv"
)

// memSource is an in-memory Source: every record indexed under each
// (normalised ecosystem, name) of its affected entries.
type memSource struct {
	idx     map[string][]osv.Vulnerability
	lookups int
}

func newMemSource(vs []osv.Vulnerability) *memSource {
	m := &memSource{idx: map[string][]osv.Vulnerability{}}
	for _, v := range vs {
		seen := map[string]bool{}
		for _, a := range v.Affected {
			eco := ecosystem.Normalize(a.Package.Ecosystem)
			e, _ := ecosystem.Lookup(eco)
			name := e.PackageName(a.Package.Name)
			key := eco + "\x00" + name
			if a.Package.Name == "" || seen[key] {
				continue
			}
			seen[key] = true
			m.idx[key] = append(m.idx[key], v)
		}
	}
	return m
}

func (m *memSource) Lookup(_ context.Context, eco, name string) ([]osv.Vulnerability, error) {
	m.lookups++
	return m.idx[eco+"\x00"+name], nil
}
