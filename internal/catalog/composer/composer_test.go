package composer

import (
	"encoding/json"
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
		s := p.Name + "@" + p.Version
		if p.Metadata["dev"] == "true" {
			s += " dev"
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func TestParseReal(t *testing.T) {
	for rel, n := range map[string]int{"trivy-fixture-composer": 2, "osv-scanner-locks-many-with-insecure": 6} {
		p := testutil.Data(t, "lockfiles/packagist/"+rel+"/composer.lock")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Parse(p, b)
		if err != nil || len(res.Warnings) != 0 {
			t.Fatalf("Parse(%s) = %v, %v", rel, res.Warnings, err)
		}
		// Independent reading: generic maps.
		var lock map[string]any
		json.Unmarshal(b, &lock)
		want := []string{}
		for _, sec := range []string{"packages", "packages-dev"} {
			list, _ := lock[sec].([]any)
			for _, e := range list {
				m := e.(map[string]any)
				s := m["name"].(string) + "@" + strings.TrimPrefix(m["version"].(string), "v")
				if sec == "packages-dev" {
					s += " dev"
				}
				want = append(want, s)
			}
		}
		slices.Sort(want)
		if diff := cmp.Diff(want, lines(res.Packages)); diff != "" || len(want) != n {
			t.Errorf("Parse(%s) (-naive +got):\n%s (naive %d, want %d)", rel, diff, len(want), n)
		}
	}
}

func TestParseFixture(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "composer.lock"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Parse("/app/composer.lock", b)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"guzzlehttp/guzzle@7.4.4", "phpunit/phpunit@9.5.10 dev", "symfony/http-kernel@5.4.0"}
	if diff := cmp.Diff(want, lines(res.Packages)); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	var ws []string
	for _, w := range res.Warnings {
		ws = append(ws, w.Message)
	}
	wantW := []string{
		`composer.lock packages[3]: bad name or version "nameless" "1.0.0"`,
		`composer.lock packages[4]: json: cannot unmarshal number into Go struct field .version of type string`,
	}
	if diff := cmp.Diff(wantW, ws); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if _, err := Parse("/app/composer.lock", []byte("{")); err == nil || !strings.Contains(err.Error(), "/app/composer.lock") {
		t.Errorf("Parse(bad) error = %v", err)
	}
	if !(Extractor{}).Wants("/app/composer.lock", 0o644, 1) || (Extractor{}).Wants("/app/vendor/x/composer.lock", 0o644, 1) {
		t.Errorf("Wants wrong")
	}
}

func FuzzParse(f *testing.F) {
	extracttest.Fuzz(f, Parse, "/composer.lock", func(p model.Package) bool {
		return strings.Contains(p.Name, "/") && p.Version != ""
	}, "composer.lock")
}

// BenchmarkParse reads the largest real composer.lock (osv-scanner's, 17 kB).
func BenchmarkParse(b *testing.B) {
	extracttest.BenchFile(b, Parse, "lockfiles/packagist/osv-scanner-locks-many-with-insecure/composer.lock")
}
