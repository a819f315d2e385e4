package distro

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/osv"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

func parseList(t *testing.T, name string) (map[string]osv.Vulnerability, []string) {
	t.Helper()
	f, err := os.Open(testutil.Data(t, "distro/debian-security-tracker/"+name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]osv.Vulnerability{}
	var rejects []string
	err = ParseDebianList(context.Background(), f, name, func(v osv.Vulnerability) error {
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

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func fixedRange(v string) []osv.Range { return []osv.Range{ecosystemRange(v)} }

// countDebianAdvisories counts, with plain string handling, the advisories
// of a list that have a release line with a version or <unfixed>: those
// the converter must emit.
func countDebianAdvisories(t *testing.T, name string) (headers, withEntries int) {
	t.Helper()
	f, err := os.Open(testutil.Data(t, "distro/debian-security-tracker/"+name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	has := false
	flush := func() {
		if has {
			withEntries++
		}
		has = false
	}
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "[") {
			flush()
			headers++
			continue
		}
		f := strings.Fields(line)
		if len(f) >= 4 && strings.HasPrefix(f[0], "[") && f[1] == "-" &&
			f[3] != "<not-affected>" && f[3] != "<removed>" { // VendorStatuses: the states with no entry
			has = true
		}
	}
	flush()
	return headers, withEntries
}

func TestDebianListsReal(t *testing.T) {
	for _, c := range []struct {
		list    string
		headers int // from the data README
	}{{"DSA-list", 5406}, {"DLA-list", 3534}, {"DTSA-list", 208}} {
		t.Run(c.list, func(t *testing.T) {
			recs, rejects := parseList(t, c.list)
			headers, want := countDebianAdvisories(t, c.list)
			if headers != c.headers {
				t.Errorf("%s has %d advisories, the README says %d", c.list, headers, c.headers)
			}
			if len(recs) != want {
				t.Errorf("ParseDebianList(%s) emitted %d records, want %d (advisories with an affected release)", c.list, len(recs), want)
			}
			if len(rejects) != 0 {
				t.Errorf("ParseDebianList(%s) rejected %d lines: %v", c.list, len(rejects), rejects[:min(5, len(rejects))])
			}
			for id, v := range recs {
				if !v.Published.After(day("2000-01-01")) {
					t.Errorf("%s: published %v", id, v.Published)
				}
			}
		})
	}
}

func TestDebianAdvisories(t *testing.T) {
	dsa, _ := parseList(t, "DSA-list")
	dtsa, _ := parseList(t, "DTSA-list")
	dla, _ := parseList(t, "DLA-list")
	prov := func(file string) json.RawMessage {
		return json.RawMessage(`{"file":"` + file + `","source":"debian-security-tracker"}`)
	}
	ref := func(id string) []osv.Reference {
		return []osv.Reference{{Type: "ADVISORY", URL: "https://security-tracker.debian.org/tracker/" + id}}
	}
	for _, c := range []struct {
		list map[string]osv.Vulnerability
		want osv.Vulnerability
	}{
		{dsa, osv.Vulnerability{
			ID: "DSA-5380-1", Published: day("2023-03-29"), Modified: day("2023-03-29"),
			Upstream: []string{"CVE-2023-1393"}, Summary: "xorg-server - security update",
			Affected: []osv.Affected{{Package: osv.Package{Ecosystem: "Debian:11", Name: "xorg-server"},
				Ranges: fixedRange("2:1.20.11-1+deb11u6")}},
			References: ref("DSA-5380-1"), DatabaseSpecific: prov("DSA-list"),
		}},
		{dsa, osv.Vulnerability{ // regression update: no CVE line
			ID: "DSA-5356-2", Published: day("2023-03-17"), Modified: day("2023-03-17"), Summary: "sox - regression update",
			Affected: []osv.Affected{{Package: osv.Package{Ecosystem: "Debian:11", Name: "sox"},
				Ranges: fixedRange("14.4.2+git20190427-2+deb11u2")}},
			References: ref("DSA-5356-2"), DatabaseSpecific: prov("DSA-list"),
		}},
		{dsa, osv.Vulnerability{ // <not-affected> in lenny: no entry there
			ID: "DSA-2275-1", Published: day("2011-07-07"), Modified: day("2011-07-07"),
			Upstream: []string{"CVE-2011-2685"}, Summary: "openoffice.org - buffer overflow",
			Affected: []osv.Affected{{Package: osv.Package{Ecosystem: "Debian:6", Name: "openoffice.org"},
				Ranges: fixedRange("1:3.2.1-11+squeeze3")}},
			References: ref("DSA-2275-1"), DatabaseSpecific: prov("DSA-list"),
		}},
		{dsa, osv.Vulnerability{ // <unfixed> in woody (3.0); sarge is 3.1
			ID: "DSA-880-1", Published: day("2005-11-02"), Modified: day("2005-11-02"),
			Upstream: []string{"CVE-2005-2869", "CVE-2005-3300", "CVE-2005-3301", "CVE-2005-3787"}, Summary: "phpmyadmin - several",
			Affected: []osv.Affected{
				{Package: osv.Package{Ecosystem: "Debian:3.0", Name: "phpmyadmin"}, Ranges: fixedRange("")},
				{Package: osv.Package{Ecosystem: "Debian:3.1", Name: "phpmyadmin"}, Ranges: fixedRange("4:2.6.2-3sarge1")},
			},
			References: ref("DSA-880-1"), DatabaseSpecific: prov("DSA-list"),
		}},
		{dsa, osv.Vulnerability{ // an ID without the -N suffix; space indentation
			ID: "DSA-1304", Published: day("2007-06-16"), Modified: day("2007-06-16"),
			Upstream: strings.Fields("CVE-2005-4811 CVE-2006-4814 CVE-2006-4623 CVE-2006-5753 CVE-2006-5754 CVE-2006-5757 CVE-2006-6053 CVE-2006-6056 CVE-2006-6060 CVE-2006-6106 CVE-2006-6535 CVE-2007-0958 CVE-2007-1357 CVE-2007-1592"),
			Summary:  "kernel-source-2.6.8 - several",
			Affected: []osv.Affected{{Package: osv.Package{Ecosystem: "Debian:3.1", Name: "kernel-source-2.6.8"},
				Ranges: fixedRange("2.6.8-16sarge7")}},
			References: ref("DSA-1304"), DatabaseSpecific: prov("DSA-list"),
		}},
		{dtsa, osv.Vulnerability{ // "[August 26th, 2005]", a (high) note
			ID: "DTSA-1-1", Published: day("2005-08-26"), Modified: day("2005-08-26"),
			Upstream: []string{"CVE-2005-2626", "CVE-2005-2627"}, Summary: "kismet - various",
			Affected: []osv.Affected{{Package: osv.Package{Ecosystem: "Debian:4", Name: "kismet"},
				Ranges: fixedRange("2005.08.R1-0.1etch1")}},
			References: ref("DTSA-1-1"), DatabaseSpecific: prov("DTSA-list"),
		}},
		{dla, osv.Vulnerability{
			ID: "DLA-3380-1", Published: day("2023-04-01"), Modified: day("2023-04-01"),
			Upstream:   strings.Fields("CVE-2020-12362 CVE-2020-12363 CVE-2020-12364 CVE-2020-24586 CVE-2020-24587 CVE-2020-24588 CVE-2021-23168 CVE-2021-23223 CVE-2021-37409 CVE-2021-44545 CVE-2022-21181"),
			Summary:    "firmware-nonfree - security update",
			Affected:   []osv.Affected{{Package: osv.Package{Ecosystem: "Debian:10", Name: "firmware-nonfree"}, Ranges: fixedRange("20190114+really20220913-0+deb10u1")}},
			References: ref("DLA-3380-1"), DatabaseSpecific: prov("DLA-list"),
		}},
	} {
		got, ok := c.list[c.want.ID]
		if !ok {
			t.Errorf("%s not converted", c.want.ID)
			continue
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.want.ID, diff)
		}
	}
	// DSA-3699-1 has only an <end-of-life> line: the package is affected,
	// with status end_of_life (Debian no longer supports it there).
	if v, ok := dsa["DSA-3699-1"]; !ok || len(v.Affected) != 1 || string(v.Affected[0].DatabaseSpecific) != `{"status":"end_of_life"}` ||
		rangeString(v.Affected[0].Ranges) != "[0,)" {
		t.Errorf("DSA-3699-1 (end-of-life only) = %v %+v, want one entry with status end_of_life", ok, v.Affected)
	}
}

func TestDebianListBadLines(t *testing.T) {
	const list = `[01 Jan 2023] DSA-9000-1 pkg - fine
	{CVE-2023-0001}
	[bookworm] - pkg 1.0-1+deb12u1
	[sid] - pkg 1.0-2
	[bookworm] - other <weird>
	[bookworm] - nover
	this line means nothing
[not a date] DSA-9001-1 pkg2 - bad date
	[trixie]  -  pkg2	2.0-1
garbage header
	[bookworm] - skipped 1.0
[02 Jan 2023] DSA-9002-1 pkg3 - all fine
	[bookworm] - pkg3 <unfixed>
	[bookworm] - pkg3 <removed>
`
	var got []osv.Vulnerability
	var rejects []string
	err := ParseDebianList(context.Background(), strings.NewReader(list), "DSA-list", func(v osv.Vulnerability) error {
		got = append(got, v)
		return nil
	}, func(where string, err error) { rejects = append(rejects, where+": "+err.Error()) })
	if err != nil {
		t.Fatal(err)
	}
	wantRejects := []string{
		`DSA-list:4: DSA-9000-1: unknown release "sid"`,
		`DSA-list:5: DSA-9000-1: unknown state <weird>`,
		`DSA-list:6: DSA-9000-1: malformed release line "[bookworm] - nover"`,
		`DSA-list:7: DSA-9000-1: unrecognised line "this line means nothing"`,
		`DSA-list:8: advisory DSA-9001-1: unreadable date "not a date" (kept without a date)`,
		`DSA-list:10: malformed advisory line "garbage header"`,
	}
	if diff := cmp.Diff(wantRejects, rejects); diff != "" {
		t.Errorf("rejections (-want +got):\n%s", diff)
	}
	var ids []string
	for _, v := range got {
		ids = append(ids, v.ID+" "+v.Affected[0].Package.Ecosystem+" "+v.Affected[0].Package.Name+" "+rangeString(v.Affected[0].Ranges))
	}
	want := []string{
		"DSA-9000-1 Debian:12 pkg [0,1.0-1+deb12u1)",
		"DSA-9001-1 Debian:13 pkg2 [0,2.0-1)",
		"DSA-9002-1 Debian:12 pkg3 [0,)",
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func rangeString(rs []osv.Range) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString("[")
		for _, e := range r.Events {
			switch {
			case e.Introduced != "":
				b.WriteString(e.Introduced + ",")
			case e.Fixed != "":
				b.WriteString(e.Fixed)
			}
		}
		b.WriteString(")")
	}
	return b.String()
}

func TestDebianListCancelled(t *testing.T) {
	f, err := os.Open(testutil.Data(t, "distro/debian-security-tracker/DSA-list"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ParseDebianList(ctx, f, "DSA-list", func(osv.Vulnerability) error { return nil }, nil); err != context.Canceled {
		t.Errorf("ParseDebianList(cancelled) = %v, want context.Canceled", err)
	}
}

// TestDebianListStates: each state of the lists maps as VendorStatuses
// says.
func TestDebianListStates(t *testing.T) {
	const list = `[01 Jan 2023] DSA-9000-1 pkg - states
	{CVE-2023-0001}
	[bookworm] - fixed 1.0-1+deb12u1
	[bookworm] - unfixed <unfixed>
	[bookworm] - nodsa <no-dsa>
	[bookworm] - postponed <postponed>
	[bookworm] - ignored <ignored>
	[bookworm] - eol <end-of-life>
	[bookworm] - notaffected <not-affected>
	[bookworm] - removed <removed>
`
	var got []string
	err := ParseDebianList(t.Context(), strings.NewReader(list), "DSA-list", func(v osv.Vulnerability) error {
		for _, a := range v.Affected {
			got = append(got, strings.TrimSpace(a.Package.Name+" "+rangeString(a.Ranges)+" "+statusOf(a)))
		}
		return nil
	}, func(where string, err error) { t.Errorf("rejected %s: %v", where, err) })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"eol [0,) end_of_life", "fixed [0,1.0-1+deb12u1)", "ignored [0,) will_not_fix", "nodsa [0,)",
		"postponed [0,) fix_deferred", "unfixed [0,)"}
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
}
