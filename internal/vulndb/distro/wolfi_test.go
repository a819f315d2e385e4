package distro

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// wolfiSecdb is a crafted secdb in the format Wolfi publishes
// (packages.wolfi.dev/os/security.json): no distroversion, a "0" fixed
// version for a CVE the package never had.
const wolfiSecdb = `{
  "apkurl": "{{urlprefix}}/{{reponame}}/{{arch}}/{{pkg.name}}-{{pkg.ver}}.apk",
  "archs": ["x86_64", "aarch64"],
  "reponame": "os",
  "urlprefix": "https://packages.wolfi.dev",
  "packages": [
    {"pkg": {"name": "openssl", "secfixes": {
      "3.1.4-r0": ["CVE-2023-5678"],
      "3.3.0-r6": ["CVE-2024-4603", "GHSA-xxxx-yyyy-zzzz"],
      "0": ["CVE-2022-1234"]}}},
    {"pkg": {"name": "busybox", "secfixes": {"1.36.1-r5": ["CVE-2023-42363"]}}}
  ]
}`

func TestWolfiAndChainguardSecdb(t *testing.T) {
	for _, c := range []struct{ distro, eco, prefix, source string }{
		{DistroWolfi, "Wolfi", "WOLFI-", SourceWolfi},
		{DistroChainguard, "Chainguard", "CHAINGUARD-", SourceChainguard},
	} {
		t.Run(c.distro, func(t *testing.T) {
			s := Secdb{Distro: c.distro}
			if err := s.Add(strings.NewReader(wolfiSecdb), "security.json", "", func(w string, err error) { t.Errorf("rejected %s: %v", w, err) }); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, v := range s.Records() {
				for _, a := range v.Affected {
					got[v.ID] += a.Package.Ecosystem + " " + a.Package.Name + " " + rangeString(a.Ranges) + ";"
				}
				if !strings.Contains(string(v.DatabaseSpecific), c.source) {
					t.Errorf("%s: provenance %s, want source %s", v.ID, v.DatabaseSpecific, c.source)
				}
			}
			want := map[string]string{
				c.prefix + "CVE-2023-5678":       c.eco + " openssl [0,3.1.4-r0);",
				c.prefix + "CVE-2024-4603":       c.eco + " openssl [0,3.3.0-r6);",
				c.prefix + "GHSA-xxxx-yyyy-zzzz": c.eco + " openssl [0,3.3.0-r6);",
				c.prefix + "CVE-2023-42363":      c.eco + " busybox [0,1.36.1-r5);",
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			for _, v := range s.Records() {
				if v.ID == c.prefix+"CVE-2023-5678" && (len(v.Aliases) != 1 || v.Aliases[0] != "CVE-2023-5678") {
					t.Errorf("%s aliases = %v, want the CVE", v.ID, v.Aliases)
				}
			}
		})
	}
	if err := (&Secdb{Distro: "frobnitz"}).Add(strings.NewReader(wolfiSecdb), "x.json", "", nil); err == nil {
		t.Error("an unknown secdb distribution was accepted")
	}
}
