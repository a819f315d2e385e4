package match

import (
	"archive/zip"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/ecosystem"
	"github.com/lockdown-sec/lockdown/internal/osv"
	"github.com/lockdown-sec/lockdown/internal/testutil"
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

// loadZip reads every *.json OSV record of a zip under the shared data dir.
func loadZip(t testing.TB, rel string) []osv.Vulnerability {
	t.Helper()
	path := testutil.Data(t, rel)
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer zr.Close()
	var out []osv.Vulnerability
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("open %s in %s: %v", f.Name, path, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("read %s in %s: %v", f.Name, path, err)
		}
		var v osv.Vulnerability
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("parse %s in %s: %v", f.Name, path, err)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		t.Fatalf("no records in %s", path)
	}
	return out
}
