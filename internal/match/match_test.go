package match

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/catalog/apk"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/osv"
)

func rec(id string, aliases []string, affected ...osv.Affected) osv.Vulnerability {
	return osv.Vulnerability{ID: id, Aliases: aliases, Summary: id + " summary", Affected: affected,
		References: []osv.Reference{{Type: "ADVISORY", URL: "https://example.org/" + id}}}
}

func aff(eco, name string, ranges ...osv.Range) osv.Affected {
	return osv.Affected{Package: osv.Package{Ecosystem: eco, Name: name}, Ranges: ranges}
}

func TestMatchFindingFields(t *testing.T) {
	layer := &model.LayerRef{Index: 2, DiffID: "sha256:l2"}
	v := rec("GHSA-aaaa-bbbb-cccc", []string{"CVE-2024-0001"}, aff("npm", "lodash", rng("SEMVER", intro("0"), fix("4.17.21"))))
	v.Severity = []osv.Severity{{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}
	v.DatabaseSpecific = json.RawMessage(`{"severity":"LOW"}`)
	pkg := model.Package{ID: "p1", Name: "lodash", Version: "4.17.15", Type: model.TypeNPM, Ecosystem: "npm",
		Location: "/app/package-lock.json", Layer: layer, Metadata: map[string]string{"k": "v"}}
	fs, ws, err := Match(context.Background(), newMemSource([]osv.Vulnerability{v}), []model.Package{pkg}, Options{})
	if err != nil || len(ws) != 0 {
		t.Fatalf("Match = %v, %v", ws, err)
	}
	want := []model.Finding{{
		Kind:             model.KindVulnerability,
		RuleID:           "CVE-2024-0001",
		Aliases:          []string{"GHSA-aaaa-bbbb-cccc"},
		Title:            "GHSA-aaaa-bbbb-cccc summary",
		Severity:         model.SeverityCritical,
		Status:           model.StatusFixed,
		Subject:          "lodash 4.17.15",
		Scope:            "package",
		Package:          &pkg,
		InstalledVersion: "4.17.15",
		FixedVersion:     "4.17.21",
		Layer:            layer,
		Location:         "/app/package-lock.json",
		Remediation:      "upgrade lodash to 4.17.21",
		References:       []string{"https://example.org/GHSA-aaaa-bbbb-cccc"},
		CVSS:             "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
		Source:           "GHSA",
	}}
	if diff := cmp.Diff(want, fs); diff != "" {
		t.Errorf("Match finding (-want +got):\n%s", diff)
	}
	// The finding holds copies, not the caller's package.
	fs[0].Package.Metadata["k"] = "changed"
	fs[0].Layer.DiffID = "changed"
	if pkg.Metadata["k"] != "v" || layer.DiffID != "sha256:l2" {
		t.Errorf("Match shares the caller's package or layer")
	}
}

func TestMatchRules(t *testing.T) {
	withdrawn := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	wd := rec("GHSA-wwww-wwww-wwww", nil, aff("npm", "left-pad", rng("SEMVER", intro("0"))))
	wd.Withdrawn = &withdrawn
	details := rec("GO-2024-0001", []string{"CVE-2024-1111"}, aff("Go", "example.com/m", rng("SEMVER", intro("0"), fix("1.2.0"))))
	details.Summary, details.Details = "", "first line\n\nsecond paragraph"
	db := []osv.Vulnerability{
		// Debian: per source package and source version.
		rec("DSA-0001-1", nil, aff("Debian:12", "openssl", rng("ECOSYSTEM", intro("0"), fix("3.0.11-1~deb12u2")))),
		rec("DSA-0002-1", nil, aff("Debian:11", "openssl", rng("ECOSYSTEM", intro("0"), fix("9.9-1")))),
		// Go: two records with the same CVE and a GHSA sharing it: one finding.
		rec("GO-2024-0002", []string{"CVE-2024-2222", "GHSA-xxxx-yyyy-zzzz"}, aff("Go", "example.com/m", rng("SEMVER", intro("0"), fix("1.1.0")))),
		rec("GHSA-xxxx-yyyy-zzzz", []string{"CVE-2024-2222"}, aff("Go", "example.com/m", rng("SEMVER", intro("0"), fix("1.3.0")))),
		details,
		// Unfixed.
		rec("GHSA-uuuu-uuuu-uuuu", nil, aff("npm", "left-pad", rng("SEMVER", intro("1.0.0")))),
		wd,
		// RPM: epoch in a separate field.
		rec("ALSA-2024:0001", nil, aff("AlmaLinux:9", "openssl-libs", rng("ECOSYSTEM", intro("0"), fix("1:3.0.7-25.el9")))),
		// Apk: by origin.
		rec("ALPINE-CVE-2024-3333", nil, aff("Alpine:v3.20", "busybox", rng("ECOSYSTEM", intro("0"), fix("1.36.1-r29")))),
		// PyPI names in normal form.
		rec("PYSEC-2024-1", nil, osv.Affected{Package: osv.Package{Ecosystem: "PyPI", Name: "PyYAML"}, Versions: []string{"5.1"}}),
	}
	db[len(db)-2].Upstream = []string{"CVE-2024-3333"}
	pkgs := []model.Package{
		{Name: "libssl3", Version: "3.0.11-1~deb12u1+b1", SourceName: "openssl", SourceVersion: "3.0.11-1~deb12u1", Type: model.TypeDeb, Ecosystem: "Debian:12", Location: "/var/lib/dpkg/status"},
		{Name: "openssl", Version: "3.0.11-1~deb12u1", SourceName: "openssl", Type: model.TypeDeb, Ecosystem: "Debian:12", Location: "/var/lib/dpkg/status"},
		{Name: "example.com/m", Version: "v1.0.0", Type: model.TypeGolang, Ecosystem: "Go", Location: "/bin/app"},
		{Name: "left-pad", Version: "1.3.0", Type: model.TypeNPM, Ecosystem: "npm", Location: "/package-lock.json"},
		{Name: "openssl-libs", Version: "3.0.7-24.el9", Epoch: 1, Type: model.TypeRPM, Ecosystem: "AlmaLinux:9", Location: "/var/lib/rpm"},
		{Name: "openssl-libs", Version: "3.0.7-25.el9", Epoch: 1, Type: model.TypeRPM, Ecosystem: "AlmaLinux:9", Location: "/var/lib/rpm"},
		{Name: "ssl_client", Version: "1.36.1-r28", SourceName: "busybox", Type: model.TypeAPK, Ecosystem: "Alpine:v3.20", Location: "/lib/apk/db/installed"},
		{Name: "pyyaml", Version: "5.1", Type: model.TypePyPI, Ecosystem: "PyPI", Location: "/requirements.txt"},
	}
	src := newMemSource(db)
	fs, ws, err := Match(context.Background(), src, pkgs, Options{})
	if err != nil || len(ws) != 0 {
		t.Fatalf("Match = %v, %v", ws, err)
	}
	type row struct{ Subject, RuleID, Aliases, Status, Fixed, Title, Evidence string }
	var got []row
	for _, f := range fs {
		got = append(got, row{f.Subject, f.RuleID, strings.Join(f.Aliases, " "), f.Status, f.FixedVersion, f.Title, f.Evidence})
	}
	// All UNKNOWN severity: sorted by package name, version, rule ID.
	want := []row{
		{"example.com/m v1.0.0", "CVE-2024-1111", "GO-2024-0001", "fixed", "1.2.0", "first line", ""},
		{"example.com/m v1.0.0", "CVE-2024-2222", "GHSA-xxxx-yyyy-zzzz GO-2024-0002", "fixed", "1.3.0", "GHSA-xxxx-yyyy-zzzz summary",
			"example.com/m v1.0.0 matched by GHSA-xxxx-yyyy-zzzz, GO-2024-0002"},
		{"left-pad 1.3.0", "GHSA-uuuu-uuuu-uuuu", "", "unfixed", "", "GHSA-uuuu-uuuu-uuuu summary", ""},
		{"libssl3 3.0.11-1~deb12u1+b1", "DSA-0001-1", "", "fixed", "3.0.11-1~deb12u2", "DSA-0001-1 summary", ""},
		{"openssl 3.0.11-1~deb12u1", "DSA-0001-1", "", "fixed", "3.0.11-1~deb12u2", "DSA-0001-1 summary", ""},
		{"openssl-libs 3.0.7-24.el9", "ALSA-2024:0001", "", "fixed", "1:3.0.7-25.el9", "ALSA-2024:0001 summary", ""},
		{"pyyaml 5.1", "PYSEC-2024-1", "", "unfixed", "", "PYSEC-2024-1 summary", ""},
		{"ssl_client 1.36.1-r28", "CVE-2024-3333", "ALPINE-CVE-2024-3333", "fixed", "1.36.1-r29", "ALPINE-CVE-2024-3333 summary", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Match (-want +got):\n%s", diff)
	}
	// openssl (Debian) looked up once for both binaries.
	if src.lookups != 6 {
		t.Errorf("Source.Lookup called %d times, want 6 (one per distinct ecosystem and name)", src.lookups)
	}

	fs, _, err = Match(context.Background(), newMemSource(db), pkgs, Options{IgnoreUnfixed: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Status != model.StatusFixed {
			t.Errorf("IgnoreUnfixed kept %s %s (%s)", f.Subject, f.RuleID, f.Status)
		}
	}
	if len(fs) != 6 {
		t.Errorf("IgnoreUnfixed: %d findings, want 6", len(fs))
	}
}

// TestMatchAPKTools: an apk package is compared by the rules of its
// image's apk-tools: the fix 1.00 is newer than the installed 1.0 for
// apk-tools 3 (a leading zero compares as text) and older for apk-tools 2
// (a fraction), so only the first is a finding.
func TestMatchAPKTools(t *testing.T) {
	db := []osv.Vulnerability{rec("ALPINE-CVE-2024-4444", nil, aff("Alpine:v3.23", "zlib", rng("ECOSYSTEM", intro("0"), fix("1.00"))))}
	for tools, want := range map[string]int{"3.0.1-r1": 1, "2.14.4-r1": 0, "": 0} {
		pkg := model.Package{Name: "zlib", Version: "1.0", Type: model.TypeAPK, Ecosystem: "Alpine:v3.23", Location: "/lib/apk/db/installed",
			Metadata: map[string]string{apk.MetaAPKTools: tools}}
		fs, ws, err := Match(context.Background(), newMemSource(db), []model.Package{pkg}, Options{})
		if err != nil || len(ws) != 0 || len(fs) != want {
			t.Errorf("apk-tools %q: %d findings, want %d (%v, %v)", tools, len(fs), want, ws, err)
		}
	}
}

func TestMatchSortsBySeverity(t *testing.T) {
	mk := func(id, sev string) osv.Vulnerability {
		v := rec(id, nil, aff("npm", "a", rng("SEMVER", intro("0"))), aff("npm", "b", rng("SEMVER", intro("0"))))
		v.DatabaseSpecific = json.RawMessage(`{"severity":"` + sev + `"}`)
		return v
	}
	db := []osv.Vulnerability{mk("GHSA-1", "LOW"), mk("GHSA-2", "CRITICAL"), mk("GHSA-3", "MODERATE"), mk("GHSA-4", "CRITICAL")}
	pkgs := []model.Package{
		{Name: "b", Version: "1.0.0", Ecosystem: "npm"},
		{Name: "a", Version: "1.0.0", Ecosystem: "npm"},
	}
	fs, _, err := Match(context.Background(), newMemSource(db), pkgs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.Severity.String()+" "+f.Package.Name+" "+f.RuleID)
	}
	want := []string{
		"CRITICAL a GHSA-2", "CRITICAL a GHSA-4", "CRITICAL b GHSA-2", "CRITICAL b GHSA-4",
		"MEDIUM a GHSA-3", "MEDIUM b GHSA-3", "LOW a GHSA-1", "LOW b GHSA-1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestMatchWarnings(t *testing.T) {
	db := []osv.Vulnerability{
		rec("GHSA-1", nil, aff("npm", "a", rng("SEMVER", intro("0"), fix("2.0.0")))),
		rec("GHSA-5", nil, aff("npm", "a", rng("SEMVER", intro("0"), fix("3.0.0")))), // still one warning for a
		rec("GHSA-2", nil, aff("npm", "b", rng("SEMVER", intro("0"), fix("not.a.version")))),
		rec("GHSA-3", nil, aff("npm", "b", rng("SEMVER", intro("0"), fix("3.0.0")))),
	}
	pkgs := []model.Package{
		{Name: "a", Version: "latest", Ecosystem: "npm", Location: "/pl.json", Layer: &model.LayerRef{DiffID: "sha256:x"}},
		{Name: "b", Version: "1.0.0", Ecosystem: "npm", Location: "/pl.json"},
		{Name: "c", Version: "1.0", Ecosystem: "Hackage"},
		{Name: "d", Version: "1.0", Ecosystem: "Hackage"},
		{Name: "e", Version: "1.0"},
	}
	fs, ws, err := Match(context.Background(), newMemSource(db), pkgs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].RuleID != "GHSA-3" {
		t.Errorf("findings = %v, want only GHSA-3 on b", fs)
	}
	want := []model.Warning{
		{Layer: "sha256:x", Path: "/pl.json", Message: `a latest (npm): version not comparable, only exact versions lists checked against 2 advisories: parse npm version "latest": not a number: latest`},
		{Path: "/pl.json", Message: `match b 1.0.0 (npm) against GHSA-2: GHSA-2: range 0: fixed event: parse SemVer version "not.a.version": not a number: not`},
		{Message: "1 packages have no ecosystem and were not matched"},
		{Message: `no version scheme for ecosystem "Hackage": 2 packages not matched`},
	}
	if diff := cmp.Diff(want, ws); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

type failSource struct{ err error }

func (f failSource) Lookup(context.Context, string, string) ([]osv.Vulnerability, error) {
	return nil, f.err
}

func TestMatchErrors(t *testing.T) {
	boom := errors.New("db closed")
	pkgs := []model.Package{{Name: "a", Version: "1.0.0", Ecosystem: "npm"}}
	_, _, err := Match(context.Background(), failSource{boom}, pkgs, Options{})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "npm package a") {
		t.Errorf("Match with failing source error = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err = Match(ctx, newMemSource(nil), pkgs, Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Match with cancelled ctx error = %v, want context.Canceled", err)
	}
	fs, ws, err := Match(context.Background(), newMemSource(nil), nil, Options{})
	if err != nil || fs != nil || ws != nil {
		t.Errorf("Match(no packages) = %v, %v, %v", fs, ws, err)
	}
}

func TestModularRanges(t *testing.T) {
	mod := rng("ECOSYSTEM", intro("0"), fix("1:0.1.15-2.module_el8.5.0+119+9a9ec082"))
	rhel := rng("ECOSYSTEM", intro("0"), fix("8.0.26-1.module+el8.4.0+652+6de068a7"))
	plain := rng("ECOSYSTEM", intro("0"), fix("1.2-3.el8"))
	open := rng("ECOSYSTEM", intro("0"))
	all := []osv.Range{mod, rhel, plain, open}
	if got := modularRanges(all, true); len(got) != 3 || got[0].Events[1] != mod.Events[1] || got[1].Events[1] != rhel.Events[1] || len(got[2].Events) != 1 {
		t.Errorf("modularRanges(modular) = %v", got)
	}
	if got := modularRanges(all, false); len(got) != 2 || got[0].Events[1] != plain.Events[1] || len(got[1].Events) != 1 {
		t.Errorf("modularRanges(non-modular) = %v", got)
	}
}

// TestTitleFromWrappedDetails: without a summary the title is the first
// paragraph of details, not its first line (the Ubuntu CVE Tracker wraps
// descriptions at ~75 columns, so a first line stops mid-sentence).
func TestTitleFromWrappedDetails(t *testing.T) {
	for _, tc := range []struct{ name, summary, details, want string }{
		{"uct wrapped", "", " In the GNU C Library (aka glibc or libc6) before 2.28, parse_reg_exp in\n posix/regcomp.c misparses alternatives.\n",
			"In the GNU C Library (aka glibc or libc6) before 2.28, parse_reg_exp in posix/regcomp.c misparses alternatives."},
		{"paragraphs", "", "First paragraph\nwrapped.\n\nSecond paragraph.", "First paragraph wrapped."},
		{"crlf", "", "one\r\ntwo\r\n\r\nthree", "one two"},
		{"summary wins", "Short summary", "Long details\nwrapped.", "Short summary"},
		{"empty", "", "  \n ", ""},
		{"long", "", "In the GNU C Library (aka glibc or libc6) through 2.28, attempting to resolve a crafted hostname via getaddrinfo()\nleads to the allocation of a socket descriptor that is not closed.",
			"In the GNU C Library (aka glibc or libc6) through 2.28, attempting to resolve a crafted hostname via getaddrinfo() leads to the allocation of a socket…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := osv.Vulnerability{ID: "UBUNTU-CVE-2009-5155", Summary: tc.summary, Details: tc.details}
			if got := titleOf(&v); got != tc.want {
				t.Errorf("titleOf(%q) = %q, want %q", tc.details, got, tc.want)
			}
		})
	}
}

// TestMatchBundleAdvisories: a distribution advisory that fixes several
// CVEs names them in upstream (osv.dev's DSA/DLA records, the Debian
// tracker's lists); each CVE is its own finding, listing the advisory as an
// alias, while several CVE aliases of one record (Go, GHSA) stay one.
func TestMatchBundleAdvisories(t *testing.T) {
	bundle := rec("DSA-5343-1", nil, aff("Debian:11", "openssl", rng("ECOSYSTEM", intro("0"), fix("1.1.1n-0+deb11u4"))))
	bundle.Upstream = []string{"CVE-2022-4304", "CVE-2022-2097", "CVE-2022-4304"}
	dla := rec("DLA-3008-1", nil, aff("Debian:11", "openssl", rng("ECOSYSTEM", intro("0"), fix("1.1.1n-0+deb11u2"))))
	dla.Upstream = []string{"CVE-2022-1292", "DEBIAN-CVE-2022-1292"}
	// A per-CVE record of one of the bundle's CVEs joins that CVE only.
	perCVE := rec("DEBIAN-CVE-2022-2097", nil, aff("Debian:11", "openssl", rng("ECOSYSTEM", intro("0"), fix("1.1.1n-0+deb11u5"))))
	perCVE.Upstream = []string{"CVE-2022-2097"}
	goRec := rec("GO-2020-0005", []string{"CVE-2020-15106", "CVE-2020-15112"}, aff("Go", "go.etcd.io/etcd", rng("SEMVER", intro("0"), fix("3.4.10"))))
	pkgs := []model.Package{
		{Name: "libssl1.1", Version: "1.1.1n-0+deb11u1", SourceName: "openssl", Type: model.TypeDeb, Ecosystem: "Debian:11", Location: "/var/lib/dpkg/status"},
		{Name: "go.etcd.io/etcd", Version: "v3.4.9", Type: model.TypeGolang, Ecosystem: "Go", Location: "/bin/etcd"},
	}
	fs, ws, err := Match(context.Background(), newMemSource([]osv.Vulnerability{bundle, dla, perCVE, goRec}), pkgs, Options{})
	if err != nil || len(ws) != 0 {
		t.Fatalf("Match = %v, %v", ws, err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, fmt.Sprintf("%s %s [%s] fixed=%s", f.Package.Name, f.RuleID, strings.Join(f.Aliases, " "), f.FixedVersion))
	}
	slices.Sort(got)
	want := []string{
		"go.etcd.io/etcd CVE-2020-15106 [CVE-2020-15112 GO-2020-0005] fixed=3.4.10",
		"libssl1.1 CVE-2022-1292 [DLA-3008-1] fixed=1.1.1n-0+deb11u2",
		"libssl1.1 CVE-2022-2097 [DEBIAN-CVE-2022-2097 DSA-5343-1] fixed=1.1.1n-0+deb11u5",
		"libssl1.1 CVE-2022-4304 [DSA-5343-1] fixed=1.1.1n-0+deb11u4",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Match findings (-want +got):\n%s", diff)
	}
}

// TestVendorStatusAndSeverity: a negligible priority is a LOW finding with
// the vendor's word kept; a package priority overrides the record's; the
// vendor statuses become the finding's status; needs-triage findings are
// hidden unless asked for.
func TestVendorStatusAndSeverity(t *testing.T) {
	eco := "Ubuntu:22.04"
	open := osv.Range{Type: osv.RangeEcosystem, Events: []osv.Event{{Introduced: "0"}}}
	entry := func(name, status string, sev ...osv.Severity) osv.Affected {
		a := aff(eco, name, open)
		a.Severity = sev
		if status != "" {
			a.DatabaseSpecific = json.RawMessage(`{"status":"` + status + `"}`)
		}
		return a
	}
	cvss := osv.Severity{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
	recs := []osv.Vulnerability{
		{ID: "UBUNTU-CVE-2024-0001", Severity: []osv.Severity{{Type: "Ubuntu", Score: "negligible"}, cvss},
			Affected: []osv.Affected{entry("neg", ""), entry("medpkg", "", osv.Severity{Type: "Ubuntu", Score: "medium"})}},
		{ID: "UBUNTU-CVE-2024-0002", Affected: []osv.Affected{entry("deferred", "fix_deferred"), entry("ignored", "will_not_fix"),
			entry("triage", "under_investigation"), entry("eol", "end_of_life")}},
	}
	var pkgs []model.Package
	for _, n := range []string{"neg", "medpkg", "deferred", "ignored", "triage", "eol"} {
		pkgs = append(pkgs, model.Package{Name: n, Version: "1.0-1", Type: model.TypeDeb, Ecosystem: eco})
	}
	for _, show := range []bool{false, true} {
		fs, _, err := Match(t.Context(), newMemSource(recs), pkgs, Options{ShowUnderInvestigation: show})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, f := range fs {
			got[f.Package.Name] = f.Severity.String() + " " + f.VendorSeverity + " " + f.Status
		}
		want := map[string]string{
			"neg":      "LOW negligible unfixed",
			"medpkg":   "CRITICAL  unfixed", // not negligible: scored by the CVSS vector, as any finding
			"deferred": "UNKNOWN  fix_deferred",
			"ignored":  "UNKNOWN  will_not_fix",
			"eol":      "UNKNOWN  end_of_life",
		}
		if show {
			want["triage"] = "UNKNOWN  under_investigation"
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ShowUnderInvestigation %v (-want +got):\n%s", show, diff)
		}
	}
}
