package distro

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/osv"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// secdbFiles returns the shared secdb JSON files, sorted.
func secdbFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testutil.Data(t, "distro/alpine-secdb"), "v*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no secdb files: %v", err)
	}
	sort.Strings(files)
	return files
}

func convertSecdb(t *testing.T) (map[string]osv.Vulnerability, []string) {
	t.Helper()
	var s Secdb
	var rejects []string
	for _, p := range secdbFiles(t) {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		br := filepath.Base(filepath.Dir(p))
		err = s.Add(f, br+"/"+filepath.Base(p), br, func(where string, err error) {
			rejects = append(rejects, where+": "+err.Error())
		})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	out := map[string]osv.Vulnerability{}
	for _, v := range s.Records() {
		out[v.ID] = v
	}
	return out, rejects
}

// tuple is one (record, ecosystem, package, fixed version) fact.
type tuple struct{ id, eco, pkg, fixed string }

func tuplesOf(recs map[string]osv.Vulnerability) map[tuple]bool {
	out := map[tuple]bool{}
	for _, v := range recs {
		for _, a := range v.Affected {
			for _, r := range a.Ranges {
				if r.Type != osv.RangeEcosystem || len(r.Events) != 2 || r.Events[0].Introduced != "0" || r.Events[1].Fixed == "" {
					panic(fmt.Sprintf("%s: unexpected range %+v", v.ID, r))
				}
				out[tuple{v.ID, a.Package.Ecosystem, a.Package.Name, r.Events[1].Fixed}] = true
			}
		}
	}
	return out
}

// TestSecdbEveryFix: every (CVE, branch, package, fixed version) in the raw
// JSON is in the converted records, and nothing else is; fixed "0" gives
// nothing.
func TestSecdbEveryFix(t *testing.T) {
	recs, rejects := convertSecdb(t)
	plainCVE := regexp.MustCompile(`^CVE-\d{4}-\d+$`)
	want := map[tuple]bool{}
	odd := 0
	for _, p := range secdbFiles(t) {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Packages []struct {
				Pkg struct {
					Name     string
					Secfixes map[string][]any
				}
			}
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		eco := "Alpine:" + filepath.Base(filepath.Dir(p))
		for _, pk := range doc.Packages {
			for fixed, ids := range pk.Pkg.Secfixes {
				for _, id := range ids {
					s, _ := id.(string)
					if !plainCVE.MatchString(s) {
						odd++ // checked one by one below
						continue
					}
					if fixed == "0" {
						continue
					}
					want[tuple{"ALPINE-" + s, eco, pk.Pkg.Name, fixed}] = true
				}
			}
		}
	}
	got := tuplesOf(recs)
	for k := range want {
		if !got[k] {
			t.Errorf("missing %+v", k)
		}
	}
	// Everything converted is either a plain-CVE fact or comes from one of
	// the odd IDs.
	extra := 0
	for k := range got {
		if !want[k] {
			extra++
		}
	}
	if extra > odd {
		t.Errorf("%d converted facts not in the raw data's plain CVE entries, more than the %d odd IDs", extra, odd)
	}
	for k := range got {
		if k.fixed == "0" {
			t.Errorf("fixed version 0 converted: %+v", k)
		}
	}
	// The only IDs that cannot be read are tracker placeholders? None in
	// secdb: every entry converts.
	if len(rejects) != 0 {
		t.Errorf("rejections: %v", rejects)
	}
	t.Logf("%d records, %d facts, %d plain-CVE facts, %d odd IDs", len(recs), len(got), len(want), odd)
}

func TestSecdbSpotChecks(t *testing.T) {
	recs, _ := convertSecdb(t)
	has := func(id, eco, pkg, fixed string) bool {
		v, ok := recs[id]
		if !ok {
			return false
		}
		for _, a := range v.Affected {
			if a.Package.Ecosystem == eco && a.Package.Name == pkg {
				for _, r := range a.Ranges {
					if len(r.Events) == 2 && r.Events[1].Fixed == fixed {
						return true
					}
				}
			}
		}
		return false
	}
	for _, c := range []tuple{
		{"ALPINE-CVE-2019-10206", "Alpine:v3.10", "ansible", "2.8.4-r0"},
		{"ALPINE-CVE-2019-1543", "Alpine:v3.9", "openssl", "1.1.1b-r1"},
		{"ALPINE-CVE-2019-14697", "Alpine:v3.9", "musl", "1.1.20-r5"},
		{"ALPINE-CVE-2018-20679", "Alpine:v3.9", "busybox", "1.29.3-r10"},
		{"ALPINE-CVE-2017-3738", "Alpine:v3.5", "openssl", "1.0.2n-r0"},         // listed under two versions:
		{"ALPINE-CVE-2017-3738", "Alpine:v3.5", "openssl", "1.0.2o-r0"},         // both ranges kept
		{"ALPINE-CVE-2019-2426", "Alpine:v3.10", "openjdk7", "7.211.2.6.17-r0"}, // written CVE_2019-2426
		{"ALPINE-CVE-2018-16859", "Alpine:v3.9", "ansible", "2.7.3-r0"},         // written "CVE 2018-16859"
		{"ALPINE-CVE-2016-6258", "Alpine:v3.4", "xen", "4.6.3-r1"},              // "CVE-2016-6258 XSA-182"
		{"ALPINE-XSA-207", "Alpine:v3.4", "xen", "4.6.3-r10"},                   // no CVE
	} {
		if !has(c.id, c.eco, c.pkg, c.fixed) {
			t.Errorf("no %s for %s %s fixed in %s", c.id, c.eco, c.pkg, c.fixed)
		}
	}
	// v3.8/main.json lists db's CVE-2016-0682 under fixed version "0": not
	// affected in v3.8.
	if v, ok := recs["ALPINE-CVE-2016-0682"]; ok {
		for _, a := range v.Affected {
			if a.Package.Ecosystem == "Alpine:v3.8" && a.Package.Name == "db" {
				t.Errorf("ALPINE-CVE-2016-0682 has an Alpine:v3.8 db entry: %+v", a)
			}
		}
	}
	if v := recs["ALPINE-CVE-2016-6258"]; !cmp.Equal(v.Related, []string{"XSA-182"}) || !cmp.Equal(v.Aliases, []string{"CVE-2016-6258"}) ||
		!cmp.Equal(v.Upstream, []string{"CVE-2016-6258"}) {
		t.Errorf("ALPINE-CVE-2016-6258 related %v aliases %v upstream %v; want [XSA-182] [CVE-2016-6258] [CVE-2016-6258]", v.Related, v.Aliases, v.Upstream)
	}
	if v := recs["ALPINE-XSA-207"]; v.Aliases != nil || !cmp.Equal(v.Upstream, []string{"XSA-207"}) {
		t.Errorf("ALPINE-XSA-207 aliases %v upstream %v; want none, [XSA-207]", v.Aliases, v.Upstream)
	}
	// The shape of osv.dev's Alpine records, with provenance.
	v := recs["ALPINE-CVE-2019-14697"]
	var musl *osv.Affected
	for i := range v.Affected {
		if v.Affected[i].Package == (osv.Package{Ecosystem: "Alpine:v3.10", Name: "musl"}) {
			musl = &v.Affected[i]
		}
	}
	if musl == nil {
		t.Fatalf("ALPINE-CVE-2019-14697 has no Alpine:v3.10 musl entry: %+v", v.Affected)
	}
	if got := string(musl.DatabaseSpecific); got != `{"file":"v3.10/main.json","source":"alpine-secdb"}` {
		t.Errorf("affected database_specific = %s", got)
	}
	if got := string(v.DatabaseSpecific); got != `{"source":"alpine-secdb"}` {
		t.Errorf("record database_specific = %s", got)
	}
	if !cmp.Equal(v.References, []osv.Reference{{Type: "ADVISORY", URL: "https://security.alpinelinux.org/vuln/CVE-2019-14697"}}) {
		t.Errorf("references = %+v", v.References)
	}
	// Ecosystems come in branch order.
	var ecos []string
	for _, a := range v.Affected {
		ecos = append(ecos, a.Package.Ecosystem)
	}
	if !sort.SliceIsSorted(ecos, func(i, j int) bool { return naturalLess(ecos[i], ecos[j]) }) || ecos[0] != "Alpine:v3.7" || ecos[len(ecos)-1] != "Alpine:v3.11" {
		t.Errorf("ecosystems of ALPINE-CVE-2019-14697 = %v, want v3.7 … v3.11, in branch order", ecos)
	}
}

func TestSecdbBadInput(t *testing.T) {
	const doc = `{"distroversion": "v3.12", "packages": [
		{"pkg": {"name": "", "secfixes": {"1.0-r0": ["CVE-2020-0001"]}}},
		{"pkg": {"name": "good", "secfixes": {"1.0-r0": ["CVE-2020-0002", 7, "no id here!"], "2.0-r0": "CVE-2020-0003", "0": ["CVE-2020-0004"], "3.0-r0": null}}}
	]}`
	var s Secdb
	var rejects []string
	err := s.Add(strings.NewReader(doc), "v3.12/main.json", "", func(where string, err error) {
		rejects = append(rejects, where+": "+err.Error())
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"v3.12/main.json: packages[0]: package without a name",
		`v3.12/main.json: package good: secfixes "1.0-r0": ID 7 is not a string`,
		`v3.12/main.json: package good: secfixes "1.0-r0": no advisory ID in "no id here!"`,
		`v3.12/main.json: package good: secfixes "2.0-r0": want a list of IDs: json: cannot unmarshal string into Go value of type []json.RawMessage`,
	}
	if diff := cmp.Diff(want, rejects); diff != "" {
		t.Errorf("rejections (-want +got):\n%s", diff)
	}
	recs := s.Records()
	if len(recs) != 1 || recs[0].ID != "ALPINE-CVE-2020-0002" || recs[0].Affected[0].Package.Ecosystem != "Alpine:v3.12" {
		t.Errorf("records = %+v, want ALPINE-CVE-2020-0002 in Alpine:v3.12 (branch from distroversion)", recs)
	}
	for _, c := range []struct{ doc, branch, want string }{
		{`not json`, "v3.12", "parse alpine secdb f.json: invalid character"},
		{`{"packages": []}`, "", "cannot tell the branch"},
		{`{"packages": []}`, "main", "cannot tell the branch"},
	} {
		err := (&Secdb{}).Add(strings.NewReader(c.doc), "f.json", c.branch, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Add(%q, branch %q) = %v, want %q", c.doc, c.branch, err, c.want)
		}
	}
}

func TestAlpineEcosystem(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"v3.10", "Alpine:v3.10"}, {"3.10", "Alpine:v3.10"}, {"edge", "Alpine:edge"}, {"v3", ""}, {"main", ""},
	} {
		got, _ := AlpineEcosystem(c.in)
		if got != c.want {
			t.Errorf("AlpineEcosystem(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
