package suppress

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/openvex/go-vex/pkg/vex"

	"github.com/lockdown-sec/lockdown/internal/model"
)

func finding(id string, aliases []string, name, purl string) model.Finding {
	return model.Finding{
		Kind: model.KindVulnerability, RuleID: id, Aliases: aliases,
		Package: &model.Package{Name: name, PURL: purl},
	}
}

func TestIgnoreFile(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	plain := []byte(`
# accepted risks
CVE-2024-0001 # not reachable
CVE-2024-0002 exp:2026-11-27 # last day today
CVE-2024-0003 exp:2026-11-26
CVE-2024-0005 zlib1g
`)
	yml := []byte(`
ignore:
  - id: CVE-2024-0001
    reason: not reachable
  - id: CVE-2024-0002
    expires: "2026-11-27"
  - id: CVE-2024-0003
    expires: "2026-11-26"
  - id: CVE-2024-0005
    packages: [zlib1g]
`)
	findings := []model.Finding{
		finding("CVE-2024-0001", nil, "openssl", "pkg:deb/debian/openssl@3.0.1"),
		finding("CVE-2024-0002", nil, "openssl", "pkg:deb/debian/openssl@3.0.1"),
		finding("CVE-2024-0003", nil, "openssl", "pkg:deb/debian/openssl@3.0.1"),
		finding("CVE-2024-0005", nil, "openssl", "pkg:deb/debian/openssl@3.0.1"),
		finding("CVE-2024-0005", nil, "zlib1g", "pkg:deb/debian/zlib1g@1.2"),
		finding("DSA-1-1", []string{"CVE-2024-0001"}, "openssl", "pkg:deb/debian/openssl@3.0.1"),
	}
	for name, data := range map[string][]byte{"plain": plain, "yaml": yml} {
		t.Run(name, func(t *testing.T) {
			ig, err := ParseIgnoreFile(".lockdownignore", data)
			if err != nil {
				t.Fatal(err)
			}
			kept, supp, warns := Filter{Ignore: ig, Now: now}.Apply(findings)
			var keptIDs, suppIDs []string
			for _, k := range kept {
				keptIDs = append(keptIDs, k.RuleID+"/"+k.Package.Name)
			}
			for _, s := range supp {
				suppIDs = append(suppIDs, s.Finding.RuleID+"/"+s.Finding.Package.Name)
				if s.By != "ignore-file" || s.Reason == "" {
					t.Errorf("suppressed %s: by %q reason %q", s.Finding.RuleID, s.By, s.Reason)
				}
			}
			if diff := cmp.Diff([]string{"CVE-2024-0003/openssl", "CVE-2024-0005/openssl"}, keptIDs); diff != "" {
				t.Errorf("kept (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"CVE-2024-0001/openssl", "CVE-2024-0002/openssl", "CVE-2024-0005/zlib1g", "DSA-1-1/openssl"}, suppIDs); diff != "" {
				t.Errorf("suppressed (-want +got):\n%s", diff)
			}
			if len(warns) != 1 || !slices.Contains([]string{warns[0].Message}, "ignore rule for CVE-2024-0003 has expired; it no longer suppresses anything") {
				t.Errorf("warnings = %+v, want one about the expired CVE-2024-0003 rule", warns)
			}
		})
	}
}

func TestIgnoreFileErrors(t *testing.T) {
	for name, data := range map[string]string{
		"bad expiry":    "CVE-1 exp:tomorrow\n",
		"unknown field": "CVE-1 foo:bar\n",
		"yaml no id":    "ignore:\n  - reason: x\n",
		"yaml bad key":  "ignore:\n  - id: CVE-1\n    bogus: 1\n",
		"yaml bad type": "ignore: 3\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseIgnoreFile("f", []byte(data)); err == nil {
				t.Errorf("ParseIgnoreFile(%q) = nil error, want one", data)
			}
		})
	}
}

func TestVEX(t *testing.T) {
	doc, err := LoadVEX("testdata/image.openvex.json")
	if err != nil {
		t.Fatal(err)
	}
	f := Filter{VEX: []*vex.VEX{doc}, Products: []string{"pkg:oci/app@sha256%3Aabc"}}
	cases := []struct {
		name string
		f    model.Finding
		want string // "" = kept
	}{
		{"package as product", finding("CVE-2024-0001", nil, "openssl", "pkg:deb/debian/openssl@3.0.11-1?arch=amd64"), "vex: not_affected (vulnerable_code_not_in_execute_path): TLS renegotiation is disabled"},
		{"other vuln kept", finding("CVE-2024-9999", nil, "openssl", "pkg:deb/debian/openssl@3.0.11-1"), ""},
		{"image product with subcomponent", finding("CVE-2024-0002", nil, "zlib1g", "pkg:deb/debian/zlib1g@1.2.13"), "vex: fixed"},
		{"subcomponent of another image", finding("CVE-2024-0002", nil, "zlib1g", "pkg:deb/ubuntu/zlib1g@1.2.13"), ""},
		{"newest statement wins (affected)", finding("CVE-2024-0003", nil, "curl", "pkg:deb/debian/curl@7.88"), ""},
		{"alias matched", finding("CVE-2024-0004", []string{"GHSA-xxxx-yyyy-zzzz"}, "lodash", "pkg:npm/lodash@4.17.20"), "vex: not_affected (inline_mitigations_already_exist)"},
		{"versioned product other version", finding("GHSA-xxxx-yyyy-zzzz", nil, "lodash", "pkg:npm/lodash@4.17.21"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, supp, _ := f.Apply([]model.Finding{c.f})
			got := ""
			if len(supp) == 1 {
				got = supp[0].Reason
			}
			if got != c.want {
				t.Errorf("Apply(%s %s) reason = %q, want %q", c.f.RuleID, c.f.Package.PURL, got, c.want)
			}
		})
	}
}

func TestLoadVEXErrors(t *testing.T) {
	if _, err := LoadVEX("testdata/missing.json"); err == nil {
		t.Error("LoadVEX(missing) = nil error")
	}
	// Documents that parse as JSON objects but are not OpenVEX: refused, not
	// read as zero statements.
	dir := t.TempDir()
	for _, tc := range []struct{ name, doc, want string }{
		{"empty object", `{}`, `@context is ""`},
		{"cyclonedx", `{"bomFormat":"CycloneDX","specVersion":"1.6","vulnerabilities":[{"id":"CVE-2024-1","analysis":{"state":"not_affected"}}]}`, `@context is ""`},
		{"other context", `{"@context":"https://example.org/ns","statements":[]}`, `@context is "https://example.org/ns"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".json")
			if err := os.WriteFile(p, []byte(tc.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadVEX(p)
			if err == nil || !strings.Contains(err.Error(), "vex "+p+": not an OpenVEX document: "+tc.want) {
				t.Errorf("LoadVEX(%s) = %v, want an error naming the file and %s", tc.name, err, tc.want)
			}
		})
	}
}

func FuzzParseIgnoreFile(f *testing.F) {
	f.Add([]byte("CVE-1 exp:2026-01-01 # r\n"))
	f.Add([]byte("ignore:\n  - id: CVE-1\n    packages: [a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ig, err := ParseIgnoreFile("f", data)
		if err != nil {
			return
		}
		for _, r := range ig.Rules {
			if r.ID == "" {
				t.Fatalf("rule with empty id from %q", data)
			}
		}
	})
}

// TestNameVocabulary: where an ecosystem compares names case-insensitively
// (PyPI, in PEP 503 form), an ignore rule or VEX statement naming
// "django", "Django" or pkg:pypi/Django matches the package Django; npm
// names are case-sensitive, so "Lodash" does not match lodash.
func TestNameVocabulary(t *testing.T) {
	django := model.Finding{Kind: model.KindVulnerability, RuleID: "CVE-2024-0010",
		Package: &model.Package{Name: "Django", Ecosystem: "PyPI", PURL: "pkg:pypi/django@4.2"}}
	lodash := model.Finding{Kind: model.KindVulnerability, RuleID: "CVE-2024-0010",
		Package: &model.Package{Name: "lodash", Ecosystem: "npm", PURL: "pkg:npm/lodash@4.17.20"}}
	for _, tc := range []struct {
		pkg  string
		f    model.Finding
		want bool
	}{
		{"django", django, true},
		{"DJANGO", django, true},
		{"Django", django, true},
		{"pkg:pypi/Django", django, true},
		{"pkg:pypi/DJANGO@4.2", django, true},
		{"djangoo", django, false},
		{"Lodash", lodash, false},
		{"lodash", lodash, true},
		{"pkg:npm/Lodash", lodash, false},
	} {
		ig, err := ParseIgnoreFile("f", []byte("CVE-2024-0010 "+tc.pkg+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		_, supp, _ := Filter{Ignore: ig}.Apply([]model.Finding{tc.f})
		if got := len(supp) == 1; got != tc.want {
			t.Errorf("ignore rule naming %q suppresses %s = %v, want %v", tc.pkg, tc.f.Package.Name, got, tc.want)
		}
	}
	doc := `{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1", "author": "t",
		"timestamp": "2026-11-27T00:00:00Z", "version": 1, "statements": [
		{"vulnerability": {"name": "CVE-2024-0010"}, "products": [{"@id": "pkg:pypi/Django@4.2"}],
		 "status": "not_affected", "justification": "vulnerable_code_not_present"}]}`
	p := filepath.Join(t.TempDir(), "d.openvex.json")
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := LoadVEX(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, supp, _ := (Filter{VEX: []*vex.VEX{v}}).Apply([]model.Finding{django}); len(supp) != 1 {
		t.Errorf("VEX product pkg:pypi/Django@4.2 does not suppress Django 4.2 (pkg:pypi/django@4.2)")
	}
}
