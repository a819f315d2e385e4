package vulndb

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/osv"
)

// TestUpdateAllData ingests every OSV zip and all distribution data and
// checks the counts against ones computed straight from the files.
func TestUpdateAllData(t *testing.T) {
	s := sharedStore(t)
	exp := sharedExpect(t)
	st, err := s.Status()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(exp.ecosystemCounts(), st.Ecosystems); diff != "" {
		t.Errorf("Status.Ecosystems differs from the counts computed from the files (-want +got):\n%s", diff)
	}
	withdrawn, unindexed := 0, 0
	for _, r := range exp.recs {
		if r.withdrawn {
			withdrawn++
		}
		if len(r.keys) == 0 {
			unindexed++
		}
	}
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"Records", st.Records, len(exp.recs)},
		{"Withdrawn", st.Withdrawn, withdrawn},
		{"Unindexed", st.Unindexed, unindexed},
		{"Duplicates", st.Duplicates, exp.dups},
		{"Schema", st.Schema, SchemaVersion},
	} {
		if c.got != c.want {
			t.Errorf("Status.%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	// Withdrawn: the README counts 17 in go.zip, 10 in pypi.zip, 13 in
	// crates.io.zip.
	if withdrawn != 40 {
		t.Errorf("withdrawn records in the shared data = %d, want 17+10+13 = 40", withdrawn)
	}
	wantSources := []struct {
		kind    Kind
		records int
	}{
		{KindOSV, exp.osvN},
		{KindAlpineSecdb, exp.distN[KindAlpineSecdb]},
		{KindUbuntuTracker, exp.distN[KindUbuntuTracker]},
		{KindDebianTracker, exp.distN[KindDebianTracker]},
	}
	if len(st.Sources) != len(wantSources) {
		t.Fatalf("Status.Sources = %+v, want %d sources", st.Sources, len(wantSources))
	}
	for i, w := range wantSources {
		if got := st.Sources[i]; got.Kind != w.kind || got.Records != w.records {
			t.Errorf("Status.Sources[%d] = %s %d records, want %s %d", i, got.Kind, got.Records, w.kind, w.records)
		}
	}
	// Ecosystems without a version scheme: OSS-Fuzz (in mixed-samples' GIT
	// records). SwiftURL (in its Go records) is SemVer, so supported.
	if diff := cmp.Diff([]string{"OSS-Fuzz"}, st.Unknown); diff != "" {
		t.Errorf("Status.Unknown (-want +got):\n%s", diff)
	}
	// The README's record counts per zip, summed where ecosystems are whole.
	for eco, want := range map[string]int{"Go": 4291 + 2, "Bitnami": 7444, "crates.io": 1206} {
		for _, e := range st.Ecosystems {
			if e.Name == eco && e.Records != want {
				t.Errorf("ecosystem %s: %d records, want %d", eco, e.Records, want)
			}
		}
	}
	// Age is measured from the build time.
	if st.Built.IsZero() || st.Age() <= 0 || st.Age() > st.Age()+1 {
		t.Errorf("Status.Built = %v, Age() = %v", st.Built, st.Age())
	}
}

// TestRoundTrip: records come back deep-equal to the raw JSON decoded,
// raw members (database_specific, ecosystem_specific) byte for byte.
func TestRoundTrip(t *testing.T) {
	s := sharedStore(t)
	exp := sharedExpect(t)
	ctx := context.Background()
	ids := []string{
		"GO-2022-0274",           // in go.zip and mixed-samples: the newer (mixed) wins
		"GO-2021-0113",           // go.zip only, zero timestamps
		"ALSA-2024:0265",         // in almalinux8/ and almalinux9/
		"RUSTSEC-2016-0001",      // crates.io
		"PYSEC-2021-98",          // pypi and mixed
		"BIT-airflow-2023-22884", // bitnami
		"GHSA-269g-pwp5-87pp",    // maven subset and mixed
		"ALPINE-CVE-2025-26519",  // mixed: Alpine
		"DLA-3008-1",             // mixed-samples Debian, newer than the DLA-list's
		"OSV-2018-389",           // GIT range, OSS-Fuzz ecosystem
	}
	// And a random sample of every OSV record.
	var osvIDs []string
	for id, r := range exp.recs {
		if r.raw != nil {
			osvIDs = append(osvIDs, id)
		}
	}
	sort.Strings(osvIDs)
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		ids = append(ids, osvIDs[rng.IntN(len(osvIDs))])
	}
	for _, id := range ids {
		r, ok := exp.recs[id]
		if !ok || r.raw == nil {
			t.Errorf("%s is not an OSV record of the shared data", id)
			continue
		}
		var want osv.Vulnerability
		if err := json.Unmarshal(r.raw, &want); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.Get(ctx, id)
		if err != nil || !ok {
			t.Errorf("Get(%s) = ok %v, err %v", id, ok, err)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Get(%s) (-raw decoded +stored):\n%s", id, diff)
		}
	}
	if _, ok, err := s.Get(ctx, "NO-SUCH-ID"); ok || err != nil {
		t.Errorf("Get(NO-SUCH-ID) = ok %v, err %v; want not found", ok, err)
	}
}

// TestRoundTripDistro: converted records come back deep-equal.
func TestRoundTripDistro(t *testing.T) {
	s := sharedStore(t)
	exp := sharedExpect(t)
	ctx := context.Background()
	for _, id := range []string{"ALPINE-CVE-2019-10206", "ALPINE-XSA-207", "UBUNTU-CVE-2019-1543", "DSA-5380-1", "DTSA-1-1", "DLA-3380-1"} {
		r, ok := exp.recs[id]
		if !ok {
			t.Errorf("%s: not converted from the shared data", id)
			continue
		}
		got, ok, err := s.Get(ctx, id)
		if err != nil || !ok {
			t.Errorf("Get(%s) = ok %v, err %v", id, ok, err)
			continue
		}
		if diff := cmp.Diff(r.v, got); diff != "" {
			t.Errorf("Get(%s) (-converted +stored):\n%s", id, diff)
		}
	}
}

// TestLookupExact: Lookup returns exactly the (non-withdrawn) records that
// name the package, for every package of the smaller ecosystems and a
// sample of the rest.
func TestLookupExact(t *testing.T) {
	s := sharedStore(t)
	exp := sharedExpect(t)
	ctx := context.Background()
	keys := sharedKeys(t)
	rng := rand.New(rand.NewPCG(5, 6))
	var sample []pkgKey
	for _, k := range keys {
		switch k.eco {
		case "Go", "PyPI", "crates.io", "npm", "Maven", "Alpine:v3.10", "Debian:11", "Ubuntu:18.04":
			sample = append(sample, k) // all of them
		default:
			if rng.IntN(20) == 0 {
				sample = append(sample, k)
			}
		}
	}
	sample = append(sample, pkgKey{"Go", "no.such/module"}, pkgKey{"NoSuchEcosystem", "x"})
	for _, k := range sample {
		var want []string
		for _, id := range exp.index[k] {
			if !exp.recs[id].withdrawn {
				want = append(want, id)
			}
		}
		vs, err := s.Lookup(ctx, k.eco, k.name)
		if err != nil {
			t.Fatalf("Lookup(%q, %q): %v", k.eco, k.name, err)
		}
		var got []string
		for _, v := range vs {
			got = append(got, v.ID)
			if !onlyPackage(v, k) {
				t.Errorf("Lookup(%q, %q) returned %s with affected entries %+v: want only (and at least one) entries naming the package", k.eco, k.name, v.ID, v.Affected)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Lookup(%q, %q) IDs (-want +got):\n%s", k.eco, k.name, diff)
		}
	}
	t.Logf("checked %d of %d keys", len(sample), len(keys))
}

// onlyPackage: Lookup narrows Affected to the entries naming the package.
func onlyPackage(v osv.Vulnerability, k pkgKey) bool {
	for _, a := range v.Affected {
		if keyOf(a.Package.Ecosystem, a.Package.Name) != k {
			return false
		}
	}
	return len(v.Affected) > 0
}

// TestLookupSpecific pins a few lookups by hand.
func TestLookupSpecific(t *testing.T) {
	s := sharedStore(t)
	ctx := context.Background()
	for _, c := range []struct {
		eco, name string
		want      []string // IDs that must be there
		none      bool
	}{
		{"Alpine:v3.16", "musl", []string{"ALPINE-CVE-2025-26519"}, false},
		{"Alpine:3.16", "musl", []string{"ALPINE-CVE-2025-26519"}, false}, // normalised
		{"Debian:9", "openssl", []string{"DLA-3008-1", "DSA-4157-1"}, false},
		{"Debian:9.13", "openssl", []string{"DLA-3008-1"}, false}, // point release
		{"Ubuntu:18.04", "openssl", []string{"UBUNTU-CVE-2019-1543"}, false},
		{"Ubuntu:18.04:LTS", "openssl", []string{"UBUNTU-CVE-2019-1543"}, false},
		{"Ubuntu:14.04", "openssl", nil, false},
		{"Go", "github.com/opencontainers/runc", []string{"GO-2022-0274"}, false},
		{"AlmaLinux:8", "java-1.8.0-openjdk", []string{"ALSA-2024:0265"}, false},
		{"go", "github.com/opencontainers/runc", []string{"GO-2022-0274"}, false}, // names are normalised: "go" is Go
	} {
		t.Run(c.eco+"/"+c.name, func(t *testing.T) {
			vs, err := s.Lookup(ctx, c.eco, c.name)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, v := range vs {
				got[v.ID] = true
			}
			for _, id := range c.want {
				if !got[id] {
					t.Errorf("Lookup(%q, %q) lacks %s (got %d records)", c.eco, c.name, id, len(vs))
				}
			}
			if c.none && len(vs) != 0 {
				t.Errorf("Lookup(%q, %q) = %d records, want none", c.eco, c.name, len(vs))
			}
		})
	}
	// UBUNTU-CVE-2019-1543 is not-affected in trusty: no Ubuntu:14.04 entry.
	vs, _ := s.Lookup(ctx, "Ubuntu:14.04", "openssl")
	for _, v := range vs {
		if v.ID == "UBUNTU-CVE-2019-1543" {
			t.Errorf("Lookup(Ubuntu:14.04, openssl) has UBUNTU-CVE-2019-1543, which is not-affected there")
		}
	}
}

// TestLookupWithdrawn: withdrawn records are stored and skipped unless
// asked for.
func TestLookupWithdrawn(t *testing.T) {
	s := sharedStore(t)
	exp := sharedExpect(t)
	ctx := context.Background()
	var id string
	var key pkgKey
	for _, k := range sharedKeys(t) {
		for _, x := range exp.index[k] {
			if exp.recs[x].withdrawn {
				id, key = x, k
				break
			}
		}
		if id != "" {
			break
		}
	}
	if id == "" {
		t.Fatal("no withdrawn record in the shared data")
	}
	all, err := Open(s.Path(), OpenOptions{IncludeWithdrawn: true})
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	has := func(st *Store) bool {
		vs, err := st.Lookup(ctx, key.eco, key.name)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if v.ID == id {
				if v.Withdrawn == nil {
					t.Errorf("%s came back without its withdrawn time", id)
				}
				return true
			}
		}
		return false
	}
	if has(s) {
		t.Errorf("Lookup(%q, %q) returned withdrawn %s", key.eco, key.name, id)
	}
	if !has(all) {
		t.Errorf("Lookup(%q, %q) with IncludeWithdrawn lacks withdrawn %s", key.eco, key.name, id)
	}
}

func TestLookupCancelled(t *testing.T) {
	s := sharedStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Lookup(ctx, "Go", "stdlib"); err == nil {
		t.Error("Lookup with a cancelled context succeeded")
	}
}

// TestFixtureDir: a directory of OSV JSON at several depths, with bad
// records, an unknown ecosystem, a withdrawn and a GIT-only record.
func TestFixtureDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db", "lockdown.db")
	st, err := Update(context.Background(), path, []Source{{Location: "testdata/mixed"}}, UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var rejected []string
	for _, r := range st.Rejections {
		rejected = append(rejected, r.Where)
	}
	wantRejected := []string{"testdata/mixed/badtime.json", "testdata/mixed/broken.json", "testdata/mixed/list.json", "testdata/mixed/noid.json"}
	if diff := cmp.Diff(wantRejected, rejected); diff != "" {
		t.Errorf("rejections (-want +got):\n%s\n%+v", diff, st.Rejections)
	}
	if st.Rejected != 4 || st.Records != 4 || st.Withdrawn != 1 || st.Unindexed != 1 {
		t.Errorf("Rejected, Records, Withdrawn, Unindexed = %d, %d, %d, %d; want 4, 4, 1, 1", st.Rejected, st.Records, st.Withdrawn, st.Unindexed)
	}
	if diff := cmp.Diff([]string{"Frobnitz"}, st.Unknown); diff != "" {
		t.Errorf("Unknown (-want +got):\n%s", diff)
	}
	wantEcos := []EcosystemCount{
		{Name: "Alpine:v3.19", Records: 1, Packages: 1, Known: true},
		{Name: "Frobnitz", Records: 1, Packages: 1},
		{Name: "Go", Records: 2, Withdrawn: 1, Packages: 1, Known: true},
		{Name: "Ubuntu:22.04", Records: 1, Packages: 1, Known: true},
	}
	if diff := cmp.Diff(wantEcos, st.Ecosystems); diff != "" {
		t.Errorf("Ecosystems (-want +got):\n%s", diff)
	}
	s, err := Open(path, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for _, c := range []struct {
		eco, name string
		want      []string
	}{
		{"Go", "example.com/mod", []string{"LOCKDOWN-TEST-0001"}}, // 0003 is withdrawn
		{"Alpine:v3.19", "busybox", []string{"LOCKDOWN-TEST-0001"}},
		{"Alpine:3.19", "busybox", []string{"LOCKDOWN-TEST-0001"}},
		{"Frobnitz", "widget", []string{"LOCKDOWN-TEST-0002"}},
		{"Ubuntu:22.04", "widget", []string{"LOCKDOWN-TEST-0002"}},
		{"Ubuntu:22.04:LTS", "widget", []string{"LOCKDOWN-TEST-0002"}},
		{"GIT", "https://example.com/repo.git", nil},
	} {
		vs, err := s.Lookup(ctx, c.eco, c.name)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range vs {
			got = append(got, v.ID)
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("Lookup(%q, %q) (-want +got):\n%s", c.eco, c.name, diff)
		}
	}
	// The GIT-only record is stored, though not indexed.
	if _, ok, err := s.Get(ctx, "LOCKDOWN-TEST-0004"); !ok || err != nil {
		t.Errorf("Get(LOCKDOWN-TEST-0004) = ok %v, err %v; want stored", ok, err)
	}
	stored, _ := s.Status()
	if stored.Records != st.Records || fmt.Sprint(stored.Ecosystems) != fmt.Sprint(st.Ecosystems) || stored.Path != path {
		t.Errorf("Open().Status() = %+v, want what Update returned: %+v", stored, st)
	}
}
