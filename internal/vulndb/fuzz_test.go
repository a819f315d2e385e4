package vulndb

import (
	"encoding/json"
	"log/slog"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/osv"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// FuzzIngestRecord: any bytes either are rejected or stored so that the
// record decodes back deep-equal to the input decoded, and is indexed
// under exactly the packages it names.
func FuzzIngestRecord(f *testing.F) {
	for _, p := range []string{"testdata/mixed/good.json", "testdata/mixed/nested/deeper/unknown.json",
		"testdata/mixed/nested/gitonly.json", "testdata/mixed/nested/withdrawn.json", "testdata/mixed/broken.json"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"id":"X","affected":[]}`))
	f.Add([]byte(`{"id":"X","affected":null,"Affected":[{}]}`))
	f.Add([]byte(`{"ID":"X","AFFECTED":[{"package":{"ecosystem":"Go","name":"a"}},null,{"package":{"name":"b"}}],"database_specific":{ "a" : [1, 2] }}`))
	f.Add([]byte(`{"id":"X","affected":[{"package":{"ecosystem":"Alpine:3.1","name":"a"}},{"package":{"ecosystem":"Alpine:v3.1","name":"a"},"ranges":[]}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		b := newBuilder(slog.New(slog.DiscardHandler))
		if !b.addRaw("fuzz.json", raw) {
			if b.rejected != 1 {
				t.Fatalf("not added, but %d rejections", b.rejected)
			}
			return
		}
		var want osv.Vulnerability
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("accepted a record that does not decode: %v", err)
		}
		e := b.entries[want.ID]
		if e == nil {
			t.Fatalf("accepted %q but stored nothing under it", want.ID)
		}
		var vals [][]byte
		for _, a := range e.affected {
			vals = append(vals, a.val)
		}
		got, err := newDecoder().decodeWhole(e.record, vals)
		if err != nil {
			t.Fatalf("decode stored record: %v", err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("stored record (-input decoded +stored):\n%s", diff)
		}
		if (e.record[0]&flagWithdrawn != 0) != (want.Withdrawn != nil) {
			t.Fatalf("withdrawn flag %v, record withdrawn %v", e.record[0]&flagWithdrawn != 0, want.Withdrawn)
		}
		var keys []pkgKey
		for _, a := range want.Affected {
			k := keyOf(a.Package.Ecosystem, a.Package.Name)
			if k.eco != "" && k.name != "" && !containsKey(keys, k) {
				keys = append(keys, k)
			}
		}
		if diff := cmp.Diff(keys, e.keys, cmp.AllowUnexported(pkgKey{})); diff != "" {
			t.Fatalf("index keys (-named +stored):\n%s", diff)
		}
	})
}

// TestIngestRecordReal runs the fuzz property over every record of one
// real zip.
func TestIngestRecordReal(t *testing.T) {
	path := testutil.Data(t, "osv/mixed-samples.zip")
	exp, err := buildExpectationOf(path)
	if err != nil {
		t.Fatal(err)
	}
	b := newBuilder(slog.New(slog.DiscardHandler))
	for id, raw := range exp {
		if !b.addRaw(id, raw) {
			t.Fatalf("%s rejected: %+v", id, b.rejections)
		}
		var want osv.Vulnerability
		json.Unmarshal(raw, &want)
		e := b.entries[want.ID]
		var vals [][]byte
		for _, a := range e.affected {
			vals = append(vals, a.val)
		}
		got, err := newDecoder().decodeWhole(e.record, vals)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-raw +stored):\n%s", id, diff)
		}
	}
}
