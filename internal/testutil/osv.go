package testutil

import (
	"archive/zip"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/osv"
)

// OSVZip reads every *.json OSV record of a zip under the shared data
// directory ("osv/npm-ghsa-subset.zip").
func OSVZip(t testing.TB, rel string) []osv.Vulnerability {
	t.Helper()
	p := Data(t, rel)
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatalf("open %s: %v", p, err)
	}
	defer zr.Close()
	var out []osv.Vulnerability
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("open %s in %s: %v", f.Name, p, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("read %s in %s: %v", f.Name, p, err)
		}
		var v osv.Vulnerability
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("parse %s in %s: %v", f.Name, p, err)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		t.Fatalf("no records in %s", p)
	}
	return out
}
