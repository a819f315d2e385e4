package nuget

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract/extracttest"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

func lines(pkgs []model.Package) []string {
	out := []string{}
	for _, p := range pkgs {
		out = append(out, p.Name+"@"+p.Version)
	}
	slices.Sort(out)
	return out
}

func TestParse(t *testing.T) {
	tests := []struct {
		path  string
		want  []string
		warns []string
	}{
		{testutil.Data(t, "lockfiles/nuget/trivy-fixture-nuget/packages.lock.json"), []string{"Newtonsoft.Json@12.0.3", "NuGet.Frameworks@5.7.0"}, nil},
		{filepath.Join("testdata", "packages.lock.json"), []string{"Newtonsoft.Json@12.0.3", "Newtonsoft.Json@13.0.1", "System.Text.Json@6.0.0"},
			[]string{
				`packages.lock.json net6.0 "Broken": bad name or version ""`,
				`packages.lock.json net6.0 "Odd": json: cannot unmarshal number into Go value of type struct { Type string "json:\"type\""; Resolved string "json:\"resolved\"" }`,
			}},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Parse(tt.path, b)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, lines(res.Packages)); diff != "" {
			t.Errorf("Parse(%s) (-want +got):\n%s", tt.path, diff)
		}
		var ws []string
		for _, w := range res.Warnings {
			ws = append(ws, w.Message)
		}
		if diff := cmp.Diff(tt.warns, ws); diff != "" {
			t.Errorf("Parse(%s) warnings (-want +got):\n%s", tt.path, diff)
		}
	}
	if _, err := Parse("/p/packages.lock.json", []byte(`{"dependencies": []}`)); err == nil || !strings.Contains(err.Error(), "/p/packages.lock.json") {
		t.Errorf("Parse(bad) error = %v", err)
	}
	if !(Extractor{}).Wants("/p/packages.lock.json", 0o644, 1) || (Extractor{}).Wants("/p/packages.config", 0o644, 1) {
		t.Errorf("Wants wrong")
	}
}

func FuzzParse(f *testing.F) {
	extracttest.Fuzz(f, Parse, "/packages.lock.json", extracttest.Named, "packages.lock.json")
}

// BenchmarkParse reads the trivy fixture (the only real packages.lock.json).
func BenchmarkParse(b *testing.B) {
	extracttest.BenchFile(b, Parse, "lockfiles/nuget/trivy-fixture-nuget/packages.lock.json")
}
