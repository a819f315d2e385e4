package testutil

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/osv"
)

// OSVZip reads every *.json OSV record of a zip under the shared data
// directory ("osv/npm-ghsa-subset.zip").
func OSVZip(t testing.TB, rel string) []osv.Vulnerability {
	t.Helper()
	p := Data(t, rel)
	var out []osv.Vulnerability
	err := osv.ReadZip(context.Background(), p, p, osv.MaxRecord, func(e osv.ZipEntry) error {
		if e.TooLarge != nil {
			return fmt.Errorf("%s: %w", e.Name, e.TooLarge)
		}
		var v osv.Vulnerability
		if err := json.Unmarshal(e.Data, &v); err != nil {
			return fmt.Errorf("parse %s in %s: %w", e.Name, p, err)
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no records in %s", p)
	}
	return out
}
