package scan

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/vulndb"
)

// TestRunWolfi: a Wolfi root filesystem (os-release ID=wolfi, an apk
// database) against a database built from a Wolfi secdb file (crafted here,
// in the format of packages.wolfi.dev/os/security.json) is checked end to
// end: its packages are in the "Wolfi" ecosystem, looked up by origin.
func TestRunWolfi(t *testing.T) {
	secdb := filepath.Join(t.TempDir(), "wolfi-secdb")
	root := t.TempDir()
	files := map[string]string{
		filepath.Join(secdb, "security.json"): `{"apkurl": "{{urlprefix}}/{{reponame}}/{{arch}}/{{pkg.name}}-{{pkg.ver}}.apk",
 "archs": ["x86_64"], "reponame": "os", "urlprefix": "https://packages.wolfi.dev",
 "packages": [
  {"pkg": {"name": "openssl", "secfixes": {"3.1.4-r0": ["CVE-2023-5678"], "3.3.0-r6": ["CVE-2024-4603"], "0": ["CVE-2022-1234"]}}},
  {"pkg": {"name": "busybox", "secfixes": {"1.36.1-r5": ["CVE-2023-42363"]}}}]}`,
		filepath.Join(root, "etc", "os-release"): "ID=wolfi\nNAME=\"Wolfi\"\nPRETTY_NAME=\"Wolfi\"\nVERSION_ID=\"20230201\"\n",
		filepath.Join(root, "lib", "apk", "db", "installed"): "P:libcrypto3\nV:3.1.3-r0\nA:x86_64\no:openssl\n\n" +
			"P:busybox\nV:1.36.1-r5\nA:x86_64\no:busybox\n\n",
	}
	for p, content := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srcs, err := vulndb.DetectSources(filepath.Dir(secdb))
	if err != nil || len(srcs) != 1 || srcs[0].Kind != vulndb.KindWolfiSecdb {
		t.Fatalf("DetectSources = %+v, %v; want one wolfi-secdb source", srcs, err)
	}
	db := filepath.Join(t.TempDir(), "db")
	if _, err := vulndb.Update(context.Background(), db, srcs, vulndb.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := vulndb.Open(db, vulndb.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := Run(context.Background(), "dir:"+root, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.Package.Name+" "+f.Package.Ecosystem+" "+f.RuleID+" "+f.FixedVersion)
	}
	want := []string{
		"libcrypto3 Wolfi CVE-2023-5678 3.1.4-r0",
		"libcrypto3 Wolfi CVE-2024-4603 3.3.0-r6",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if len(r.Warnings) != 0 {
		t.Errorf("warnings %v: every package should be checked", r.Warnings)
	}
}
