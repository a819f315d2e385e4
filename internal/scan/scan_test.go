package scan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/image"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
	"github.com/lockdown-sec/lockdown/internal/vulndb"
)

// TestRun: the real Alpine 3.16 apk database against the osv.dev record
// ALPINE-CVE-2025-26519 (../shared/data/osv/mixed-samples.zip) gives
// exactly musl and musl-utils, fixed in 1.2.3-r4; Meta and Tool are copied.
func TestRun(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	srcs, err := vulndb.DetectSources(testutil.Data(t, "osv/mixed-samples.zip"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vulndb.Update(context.Background(), db, srcs, vulndb.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := vulndb.Open(db, vulndb.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.MkdirAll(filepath.Join(root, "lib", "apk", "db"), 0o755)
	os.WriteFile(filepath.Join(root, "etc", "os-release"), []byte("ID=alpine\nVERSION_ID=3.16.2\n"), 0o644)
	b, err := os.ReadFile(testutil.Data(t, "pkgdb/apk/alpine-3.16-syft-multiple-2.installed"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "lib", "apk", "db", "installed"), b, 0o644)

	r, err := Run(context.Background(), "dir:"+root, st, Options{Tool: model.Tool{Name: "lockdown", Version: "t"}, Meta: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.Package.Name+" "+f.RuleID+" "+f.FixedVersion)
	}
	want := []string{"musl CVE-2025-26519 1.2.3-r4", "musl-utils CVE-2025-26519 1.2.3-r4"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Run findings (-want +got):\n%s", diff)
	}
	if r.Kind != KindScan || r.Tool.Version != "t" || r.Meta["k"] != "v" || r.Target.Kind != "dir" || len(r.Packages) == 0 {
		t.Errorf("Run report = kind %q tool %+v meta %v target %+v, %d packages", r.Kind, r.Tool, r.Meta, r.Target, len(r.Packages))
	}
	if _, err := Run(context.Background(), "dir:"+filepath.Join(root, "missing"), st, Options{}); !errors.Is(err, image.ErrBadInput) {
		t.Errorf("Run(missing dir) = %v, want ErrBadInput", err)
	}
}

func TestProducts(t *testing.T) {
	got := Products(model.Target{Name: "reg.example/team/app:1.0", Input: "registry:reg.example/team/app:1.0", Digest: "sha256:ab", RepoTags: []string{"app:1.0"}})
	want := []string{"reg.example/team/app:1.0", "registry:reg.example/team/app:1.0", "sha256:ab", "app:1.0", "pkg:oci/app@sha256%3Aab"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Products (-want +got):\n%s", diff)
	}
}

// TestRunUncoveredEcosystem: packages of an ecosystem that the database
// holds no advisory for are reported as not checked, not as clean. The
// database is mixed-samples.zip (Alpine v3.16 and later, Debian 9, Go, ...);
// the apk database is real, its os-release says 3.15, then 3.16.
func TestRunUncoveredEcosystem(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	srcs, err := vulndb.DetectSources(testutil.Data(t, "osv/mixed-samples.zip"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vulndb.Update(context.Background(), db, srcs, vulndb.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := vulndb.Open(db, vulndb.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b, err := os.ReadFile(testutil.Data(t, "pkgdb/apk/alpine-3.16-syft-multiple-2.installed"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		release string
		want    []model.Warning
	}{
		{"3.15.4", []model.Warning{{Message: "the vulnerability database has no advisories for Alpine:v3.15: its 14 packages were not checked (add a source for Alpine:v3.15 with lockdown db update)"}}},
		{"3.16.2", nil},
	} {
		t.Run(tc.release, func(t *testing.T) {
			root := t.TempDir()
			os.MkdirAll(filepath.Join(root, "etc"), 0o755)
			os.MkdirAll(filepath.Join(root, "lib", "apk", "db"), 0o755)
			os.WriteFile(filepath.Join(root, "etc", "os-release"), []byte("ID=alpine\nVERSION_ID="+tc.release+"\n"), 0o644)
			os.WriteFile(filepath.Join(root, "lib", "apk", "db", "installed"), b, 0o644)
			r, err := Run(context.Background(), "dir:"+root, st, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, r.Warnings); diff != "" {
				t.Errorf("Run(Alpine %s) warnings (-want +got):\n%s", tc.release, diff)
			}
		})
	}
}
