package distro

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/osv"
)

// checkRecord holds for every converted record: an ID, affected entries
// naming an ecosystem and a package, ECOSYSTEM ranges from 0, and a JSON
// round trip that changes nothing.
func checkRecord(t *testing.T, v osv.Vulnerability) {
	t.Helper()
	if v.ID == "" || len(v.Affected) == 0 {
		t.Fatalf("record %q with %d affected entries", v.ID, len(v.Affected))
	}
	for _, a := range v.Affected {
		if a.Package.Ecosystem == "" || a.Package.Name == "" || len(a.Ranges) == 0 {
			t.Fatalf("%s: affected %+v", v.ID, a)
		}
		for _, r := range a.Ranges {
			if r.Type != osv.RangeEcosystem || len(r.Events) == 0 || r.Events[0].Introduced != "0" {
				t.Fatalf("%s: range %+v", v.ID, r)
			}
		}
	}
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: marshal: %v", v.ID, err)
	}
	var back osv.Vulnerability
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatalf("%s: unmarshal: %v", v.ID, err)
	}
	if diff := cmp.Diff(v, back, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
		cmp.Comparer(func(a, b json.RawMessage) bool { return string(a) == string(b) })); diff != "" {
		t.Fatalf("%s: JSON round trip (-before +after):\n%s", v.ID, diff)
	}
}

func FuzzSecdb(f *testing.F) {
	f.Add([]byte(`{"distroversion":"v3.10","packages":[{"pkg":{"name":"musl","secfixes":{"1.1.20-r5":["CVE-2019-14697"],"0":["CVE-2016-0682"]}}}]}`))
	f.Add([]byte(`{"packages":[{"pkg":{"name":"xen","secfixes":{"4.6.3-r1":["CVE-2016-6258 XSA-182"],"4.6.3-r10":["XSA-207"],"4.7-r0":["CVE_2019-2426","CVE 2018-16859","CVE-2017-8073.patch"]}}}]}`))
	f.Add([]byte(`{"packages":[{"pkg":{"name":"heimdal","secfixes":{"7.4.0-r0":null}}},{"pkg":{"name":"","secfixes":{"1":[7]}}}]}`))
	f.Add([]byte(`{"packages":[{"pkg":{"name":"a","secfixes":{"1-r0":"CVE-2020-0001"," ":["ALPINE-13661"]}}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Secdb
		if err := s.Add(strings.NewReader(string(data)), "v3.10/main.json", "v3.10", func(string, error) {}); err != nil {
			return
		}
		for _, v := range s.Records() {
			checkRecord(t, v)
		}
	})
}

func FuzzUCT(f *testing.F) {
	f.Add([]byte("Candidate: CVE-2019-1543\nPublicDate: 2019-03-06 21:29:00 UTC\nDescription:\n ChaCha20\nPriority: low\nCVSS:\n nvd: CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:N\n\nPatches_openssl:\nupstream_openssl: needs-triage\nbionic_openssl: released (1.1.1-1ubuntu2.1~18.04.2)\ntrusty/esm_openssl: pending (1.0.1f-1ubuntu2.27+esm1)\nxenial_openssl: needed\n"))
	f.Add([]byte("Candidate: CVE-2008-5144\nPriority: negligible\nbionic_x: needed\n"))
	f.Add([]byte("Candidate: CVE-2020-1000\nPriority_quiet: negligible\nPriority_loud: high\nbionic_quiet: needed\nbionic_loud: deferred (2020-01-01)\nvivid/ubuntu-core_x: needed\n_x: needed\nnarwhal_x: needed\nfocal_x: weird\n-- Tags_xen: universe-binary\n"))
	f.Add([]byte("Candidate:\nbionic_: released (1)\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, ok, err := ParseUCTFile(data, "active/CVE-2020-0001", time.Unix(0, 0), func(string, error) {})
		if err != nil || !ok {
			return
		}
		if !strings.HasPrefix(v.ID, "UBUNTU-CVE-") {
			t.Fatalf("ID %q", v.ID)
		}
		checkRecord(t, v)
	})
}

func FuzzDebianList(f *testing.F) {
	f.Add([]byte("[29 Mar 2023] DSA-5380-1 xorg-server - security update\n\t{CVE-2023-1393}\n\t[bullseye] - xorg-server 2:1.20.11-1+deb11u6\n"))
	f.Add([]byte("[August 26th, 2005] DTSA-1-1 kismet - various\n\t{CVE-2005-2626 CVE-2005-2627 }\n\t[etch] - kismet 2005.08.R1-0.1etch1 (high)\n"))
	f.Add([]byte("[02 Nov 2005] DSA-880-1 phpmyadmin - several\n\t[woody] - phpmyadmin <unfixed>\n        [sarge] - phpmyadmin 4:2.6.2-3sarge1\n\tNOTE: fixed in testing\n[07 Jul 2011] DSA-2275-1 openoffice.org\n\t[lenny] - openoffice.org <not-affected> (Vulnerable code not present)\n"))
	f.Add([]byte("garbage\n\t[sid] - x 1\n[x] DSA-1 y\n\t[bookworm] - z <weird>\n\t[bookworm] -\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := ParseDebianList(context.Background(), strings.NewReader(string(data)), "DSA-list", func(v osv.Vulnerability) error {
			checkRecord(t, v)
			return nil
		}, func(string, error) {})
		if err != nil && !strings.Contains(err.Error(), "DSA-list") {
			t.Fatalf("error %v does not name the file", err)
		}
	})
}
