package gomod

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
	"github.com/lockdown-sec/lockdown/internal/catalog/extract/extracttest"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

func lines(pkgs []model.Package) []string {
	out := []string{}
	for _, p := range pkgs {
		s := p.Name + "@" + p.Version
		if p.Metadata["indirect"] == "true" {
			s += " indirect"
		}
		if r := p.Metadata["replaces"]; r != "" {
			s += " replaces " + r
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// goModEdit is the go command's own reading of a go.mod (go mod edit
// -json), with replacements applied the way the go command does.
func goModEdit(t *testing.T, gomod string) []string {
	t.Helper()
	goCmd := testutil.RequireCmd(t, "go")
	dir := t.TempDir()
	b, err := os.ReadFile(gomod)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "go.mod"), b, 0o644)
	cmd := exec.Command(goCmd, "mod", "edit", "-json")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod edit -json: %v", err)
	}
	type mod struct{ Path, Version string }
	var m struct {
		Require []struct {
			Path, Version string
			Indirect      bool
		}
		Replace []struct{ Old, New mod }
	}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	want := []string{}
	for _, r := range m.Require {
		s := r.Path + "@" + r.Version
		replaced := false
		for _, pass := range []bool{true, false} { // exact version first
			for _, rp := range m.Replace {
				if replaced || rp.Old.Path != r.Path || (pass && rp.Old.Version != r.Version) || (!pass && rp.Old.Version != "") {
					continue
				}
				replaced = true
				if rp.New.Version == "" {
					s = "" // a directory
				} else {
					s = rp.New.Path + "@" + rp.New.Version
				}
			}
		}
		if s == "" {
			continue
		}
		if r.Indirect {
			s += " indirect"
		}
		if replaced {
			s += " replaces " + r.Path
		}
		want = append(want, s)
	}
	slices.Sort(want)
	return want
}

func TestParse(t *testing.T) {
	for _, p := range []string{
		testutil.Data(t, "lockfiles/go/trivy-fixture-gomod/go.mod"),
		filepath.Join("testdata", "replace.go.mod"),
	} {
		t.Run(filepath.Base(filepath.Dir(p))+"/"+filepath.Base(p), func(t *testing.T) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Parse(p, b)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Warnings) != 0 {
				t.Errorf("warnings: %v", res.Warnings)
			}
			if diff := cmp.Diff(goModEdit(t, p), lines(res.Packages)); diff != "" {
				t.Errorf("Parse(%s) differs from go mod edit -json (-go +got):\n%s", p, diff)
			}
		})
	}
	b, _ := os.ReadFile(filepath.Join("testdata", "replace.go.mod"))
	res, _ := Parse("/go.mod", b)
	want := []string{
		"example.com/other@v1.2.0",
		"example.com/pinned@v1.2.1 replaces example.com/pinned",
		"github.com/gin-gonic/gin@v1.6.0",
		"github.com/someone/forked@v1.0.1 replaces example.com/forked",
		"golang.org/x/text@v0.3.5 indirect",
		"gopkg.in/yaml.v2@v2.2.8 indirect",
	}
	if diff := cmp.Diff(want, lines(res.Packages)); diff != "" {
		t.Errorf("replace fixture by hand (-want +got):\n%s", diff)
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{"module", "require (\n", "module x\nrequire example.com/a\n"} {
		if _, err := Parse("/x/go.mod", []byte(bad)); err == nil || !strings.Contains(err.Error(), "/x/go.mod") {
			t.Errorf("Parse(%q) error = %v, want one naming the file", bad, err)
		}
	}
	res, err := Parse("/x/go.mod", []byte("module x\nrequire Example.com/A v1.0.0\n"))
	if err != nil || len(res.Packages) != 0 || len(res.Warnings) != 1 {
		t.Errorf("Parse(bad module path) = %v, %v; want one warning", res, err)
	}
}

func TestWants(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/src/app/go.mod", true},
		{"/go.mod", true},
		{"/root/go/pkg/mod/github.com/x/y@v1.2.3/go.mod", false},
		{"/cache/github.com/x/y@v1.2.3/go.mod", false},
		{"/src/app/vendor/github.com/x/y/go.mod", false},
		{"/src/app/go.sum", false},
	}
	for _, tt := range tests {
		if got := (Extractor{}).Wants(tt.path, 0o644, 100); got != tt.want {
			t.Errorf("Wants(%s) = %v, want %v", tt.path, got, tt.want)
		}
	}
	if (Extractor{}).Wants("/go.mod", fs.ModeSymlink, 1) || !(Extractor{}).Wants("/go.mod", 0o644, extract.MaxLockFileBytes+1) {
		t.Errorf("Wants(symlink) = true or Wants(huge) = false (a huge one must be a warning, not skipped)")
	}
	if _, err := (Extractor{}).Extract(context.Background(), extract.Input{Path: "/go.mod", Reader: strings.NewReader("module x\n")}); err != nil {
		t.Errorf("Extract: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("module x\nrequire (\n\ta v1.0.0 // indirect\n)\n"))
	extracttest.Fuzz(f, Parse, "/go.mod", extracttest.Named, "replace.go.mod")
}

// BenchmarkParse reads the trivy fixture go.mod (the only real one).
func BenchmarkParse(b *testing.B) {
	extracttest.BenchFile(b, Parse, "lockfiles/go/trivy-fixture-gomod/go.mod")
}
