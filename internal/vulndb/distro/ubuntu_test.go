package distro

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/osv"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

const uctTarball = "distro/ubuntu-cve-tracker/ubuntu-cve-tracker-2020-06.tar.gz"

func convertUCT(t *testing.T) (map[string]osv.Vulnerability, []string) {
	t.Helper()
	f, err := os.Open(testutil.Data(t, uctTarball))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]osv.Vulnerability{}
	var rejects []string
	err = ParseUCT(context.Background(), f, "uct.tar.gz", func(v osv.Vulnerability) error {
		if _, dup := out[v.ID]; dup {
			t.Errorf("%s emitted twice", v.ID)
		}
		out[v.ID] = v
		return nil
	}, func(where string, err error) { rejects = append(rejects, where+": "+err.Error()) })
	if err != nil {
		t.Fatal(err)
	}
	return out, rejects
}

// rawUCT walks the tarball's per-CVE files with archive/tar.
func rawUCT(t *testing.T, fn func(name, content string)) {
	t.Helper()
	f, err := os.Open(testutil.Data(t, uctTarball))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		dir, base := path.Split(h.Name)
		if h.Typeflag != tar.TypeReg || !strings.HasPrefix(base, "CVE-") || (dir != "active/" && dir != "retired/") {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		fn(h.Name, string(b))
	}
}

// TestUCTBionic: every bionic (18.04) package state in the raw files is in
// the converted records exactly, as VendorStatuses says: released (V) and
// pending (V) as fixed V; needed, pending, deferred, ignored and
// needs-triage as affected without a fix, the last three with their
// status; negligible priorities included; nothing else.
func TestUCTBionic(t *testing.T) {
	recs, rejects := convertUCT(t)
	lineRE := regexp.MustCompile(`(?m)^bionic_(\S+): (\S+)(?: \((.*)\))?\s*$`)
	cveRE := regexp.MustCompile(`^CVE-\d{4}-\d+$`)
	type fact struct{ id, pkg, fixed, status string }
	want := map[fact]bool{}
	placeholders := 0
	rawUCT(t, func(name, content string) {
		cve := path.Base(name)
		if !cveRE.MatchString(cve) {
			placeholders++
			return
		}
		for _, m := range lineRE.FindAllStringSubmatch(content, -1) {
			pkg, state, note := m[1], m[2], m[3]
			version := note != "" && note[0] >= '0' && note[0] <= '9' && !strings.Contains(note, " ")
			switch {
			case (state == "released" || state == "pending") && version:
				want[fact{"UBUNTU-" + cve, pkg, note, ""}] = true
			case state == "needed" || state == "pending":
				want[fact{"UBUNTU-" + cve, pkg, "", ""}] = true
			case state == "deferred":
				want[fact{"UBUNTU-" + cve, pkg, "", "fix_deferred"}] = true
			case state == "ignored":
				want[fact{"UBUNTU-" + cve, pkg, "", "will_not_fix"}] = true
			case state == "needs-triage":
				want[fact{"UBUNTU-" + cve, pkg, "", "under_investigation"}] = true
			}
		}
	})
	got := map[fact]bool{}
	for id, v := range recs {
		for _, a := range v.Affected {
			if a.Package.Ecosystem != "Ubuntu:18.04" {
				continue
			}
			if len(a.Ranges) != 1 {
				t.Errorf("%s %s: %d ranges, want 1", id, a.Package.Name, len(a.Ranges))
			}
			fixed := ""
			if ev := a.Ranges[0].Events; len(ev) == 2 {
				fixed = ev[1].Fixed
			}
			got[fact{id, a.Package.Name, fixed, statusOf(a)}] = true
		}
	}
	missing, extra := 0, 0
	for f := range want {
		if !got[f] {
			if missing++; missing <= 5 {
				t.Errorf("missing %+v", f)
			}
		}
	}
	for f := range got {
		if !want[f] {
			if extra++; extra <= 5 {
				t.Errorf("extra %+v", f)
			}
		}
	}
	if missing+extra > 0 || len(want) == 0 {
		t.Errorf("bionic facts: %d in the raw files, %d converted; %d missing, %d extra", len(want), len(got), missing, extra)
	}
	// The only rejected files are the tracker's CVE-YYYY-NNNx placeholders.
	if len(rejects) != placeholders {
		t.Errorf("%d rejections, want the %d placeholder files: %v", len(rejects), placeholders, rejects)
	}
	t.Logf("%d records; %d bionic facts; %d placeholders", len(recs), len(want), placeholders)
}

func TestUCTRecords(t *testing.T) {
	recs, _ := convertUCT(t)
	tarTime := time.Date(2020, 6, 18, 13, 40, 24, 0, time.UTC)
	want := osv.Vulnerability{
		ID:        "UBUNTU-CVE-2019-1543",
		Modified:  recs["UBUNTU-CVE-2019-1543"].Modified,
		Published: time.Date(2019, 3, 6, 21, 29, 0, 0, time.UTC),
		Aliases:   []string{"CVE-2019-1543"},
		Upstream:  []string{"CVE-2019-1543"},
		Details:   recs["UBUNTU-CVE-2019-1543"].Details,
		Severity: []osv.Severity{{Type: "Ubuntu", Score: "low"},
			{Type: "CVSS_V3", Score: "CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:N"}},
		Affected: []osv.Affected{
			// trusty and xenial not-affected, cosmic ignored (will not fix), eoan not-affected
			{Package: osv.Package{Ecosystem: "Ubuntu:18.04", Name: "openssl"}, Ranges: fixedRange("1.1.1-1ubuntu2.1~18.04.2")},
			{Package: osv.Package{Ecosystem: "Ubuntu:18.10", Name: "openssl"}, Ranges: []osv.Range{{Type: "ECOSYSTEM", Events: []osv.Event{{Introduced: "0"}}}},
				DatabaseSpecific: json.RawMessage(`{"status":"will_not_fix"}`)},
			{Package: osv.Package{Ecosystem: "Ubuntu:19.04", Name: "openssl"}, Ranges: fixedRange("1.1.1b-1ubuntu2.2")},
		},
		References: []osv.Reference{
			{Type: "ADVISORY", URL: "https://ubuntu.com/security/CVE-2019-1543"},
			{Type: "WEB", URL: "https://cve.mitre.org/cgi-bin/cvename.cgi?name=CVE-2019-1543"},
			{Type: "WEB", URL: "https://www.openssl.org/news/secadv/20190306.txt"},
		},
		DatabaseSpecific: json.RawMessage(`{"file":"retired/CVE-2019-1543","severity":"low","source":"ubuntu-cve-tracker"}`),
	}
	got := recs["UBUNTU-CVE-2019-1543"]
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UBUNTU-CVE-2019-1543 (-want +got):\n%s", diff)
	}
	if d := got.Details; !strings.HasPrefix(d, "ChaCha20-Poly1305 is an AEAD cipher, and requires a unique nonce input for\nevery") ||
		!strings.HasSuffix(d, "Fixed in OpenSSL 1.1.0k (Affected 1.1.0-1.1.0j).") {
		t.Errorf("details = %q", d)
	}
	if !got.Modified.Equal(tarTime) {
		t.Errorf("modified = %v, want the tar entry's time %v", got.Modified, tarTime)
	}
	// Negligible priority: a (low) severity, the record is kept.
	if v, ok := recs["UBUNTU-CVE-2008-5144"]; !ok || len(v.Affected) == 0 ||
		!slices.Contains(v.Severity, osv.Severity{Type: "Ubuntu", Score: "negligible"}) {
		t.Errorf("negligible UBUNTU-CVE-2008-5144: converted %v, severity %v", ok, v.Severity)
	}
	// ESM releases are Ubuntu Pro; devel and upstream are skipped.
	v := recs["UBUNTU-CVE-2009-3560"]
	ecos := map[string]string{}
	for _, a := range v.Affected {
		if a.Package.Name == "expat" {
			ecos[a.Package.Ecosystem] = rangeString(a.Ranges)
		}
	}
	for eco, want := range map[string]string{
		"Ubuntu:Pro:14.04": "[0,2.0.1-7ubuntu1)", "Ubuntu:Pro:12.04": "[0,2.0.1-7ubuntu1)",
		"Ubuntu:6.06": "[0,1.95.8-3ubuntu0.1)", "Ubuntu:18.04": "[0,2.0.1-7ubuntu1)", "Ubuntu:19.10": "[0,2.0.1-7ubuntu1)",
	} {
		if ecos[eco] != want {
			t.Errorf("UBUNTU-CVE-2009-3560 expat in %s = %q, want %q", eco, ecos[eco], want)
		}
	}
	if len(ecos) != 27 { // dapper, hardy … eoan (25 releases) + 2 ESM
		t.Errorf("UBUNTU-CVE-2009-3560 expat in %d ecosystems, want 27: %v", len(ecos), ecos)
	}
}

func TestUCTFileStates(t *testing.T) {
	const file = `Candidate: CVE-2020-1000
PublicDate: 2020-01-02
Description:
 first line
 second line
Priority: medium
CVSS:
 nvd: CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H
Priority_quiet: negligible
Priority_loud: high

Patches_pkg:
 upstream: https://example.com/fix
upstream_pkg: released (1.0)
devel_pkg: needed
bionic_pkg: released (1.0-1ubuntu0.1)
focal_pkg: released
xenial_pkg: needed (reached end-of-life)
trusty_pkg: deferred (2020-01-01)
trusty/esm_pkg: pending (1.0-1ubuntu0.14.04.1~esm1)
eoan_pkg: pending
cosmic_pkg: needs-triage
disco_pkg: not-affected (1.0-2)
precise_pkg: DNE
lucid_pkg: ignored (end of life)
vivid/ubuntu-core_pkg: needed
bionic_quiet: needed
bionic_loud: needed
groovy_pkg: frobnicated
narwhal_pkg: needed
`
	var rejects []string
	v, ok, err := ParseUCTFile([]byte(file), "active/CVE-2020-1000", time.Time{}, func(where string, err error) {
		rejects = append(rejects, where+": "+err.Error())
	})
	if err != nil || !ok {
		t.Fatalf("ParseUCTFile = ok %v, err %v", ok, err)
	}
	var got []string
	for _, a := range v.Affected {
		got = append(got, strings.TrimSpace(a.Package.Ecosystem+" "+a.Package.Name+" "+rangeString(a.Ranges)+" "+statusOf(a)))
		if a.Package.Name == "quiet" && !slices.Equal(a.Severity, []osv.Severity{{Type: "Ubuntu", Score: "negligible"}}) {
			t.Errorf("quiet (Priority_quiet: negligible) severity = %v", a.Severity)
		}
	}
	want := []string{
		"Ubuntu:10.04 pkg [0,) will_not_fix",
		"Ubuntu:14.04 pkg [0,) fix_deferred",
		"Ubuntu:16.04 pkg [0,)",
		"Ubuntu:18.04 loud [0,)",
		"Ubuntu:18.04 pkg [0,1.0-1ubuntu0.1)",
		"Ubuntu:18.04 quiet [0,)",
		"Ubuntu:18.10 pkg [0,) under_investigation",
		"Ubuntu:19.10 pkg [0,)",
		"Ubuntu:Pro:14.04 pkg [0,1.0-1ubuntu0.14.04.1~esm1)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("affected (-want +got):\n%s", diff)
	}
	wantRejects := []string{
		`active/CVE-2020-1000:29: unknown status "frobnicated"`,
		`active/CVE-2020-1000:30: unknown release "narwhal"`,
	}
	if diff := cmp.Diff(wantRejects, rejects); diff != "" {
		t.Errorf("rejections (-want +got):\n%s", diff)
	}
	for _, a := range v.Affected {
		if a.Package.Name == "loud" && !cmp.Equal(a.Severity, []osv.Severity{{Type: "Ubuntu", Score: "high"}}) {
			t.Errorf("loud severity = %+v, want its Priority_loud high", a.Severity)
		}
	}
	if v.Details != "first line\nsecond line" || !v.Published.Equal(time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("details %q published %v", v.Details, v.Published)
	}
	for _, c := range []struct{ name, content, wantErr string }{
		{"active/CVE-2009-NNN1", "Candidate: CVE-2009-NNN1\nbionic_x: needed\n", `candidate "CVE-2009-NNN1" is not a CVE ID`},
	} {
		_, _, err := ParseUCTFile([]byte(c.content), c.name, time.Time{}, nil)
		if err == nil || err.Error() != c.wantErr {
			t.Errorf("ParseUCTFile(%s) = %v, want %q", c.name, err, c.wantErr)
		}
	}
	// Nothing affected: no record.
	if _, ok, err := ParseUCTFile([]byte("Candidate: CVE-2020-1001\nbionic_x: not-affected\n"), "active/CVE-2020-1001", time.Time{}, nil); ok || err != nil {
		t.Errorf("ParseUCTFile(not affected) = ok %v, err %v; want no record", ok, err)
	}
}

func TestUCTTruncated(t *testing.T) {
	raw, err := os.ReadFile(testutil.Data(t, uctTarball))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = ParseUCT(context.Background(), strings.NewReader(string(raw[:len(raw)/2])), "uct.tar.gz",
		func(osv.Vulnerability) error { n++; return nil }, nil)
	if err == nil || !strings.Contains(err.Error(), "read ubuntu tracker uct.tar.gz") {
		t.Errorf("ParseUCT(truncated) = %v after %d records, want an error naming the file", err, n)
	}
	err = ParseUCT(context.Background(), strings.NewReader("not gzip"), "x.tar.gz", func(osv.Vulnerability) error { return nil }, nil)
	if err == nil || !strings.Contains(err.Error(), "read ubuntu tracker x.tar.gz") {
		t.Errorf("ParseUCT(not gzip) = %v", err)
	}
}

// statusOf is an affected entry's database_specific.status ("" for none).
func statusOf(a osv.Affected) string {
	var ds struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(a.DatabaseSpecific, &ds)
	return ds.Status
}
