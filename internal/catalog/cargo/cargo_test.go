package cargo

import (
	"bufio"
	"bytes"
	"context"
	"os"
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
		out = append(out, p.Name+"@"+p.Version)
	}
	slices.Sort(out)
	return out
}

// naive reads the name, version and source lines of each [[package]]
// block, line by line.
func naive(data []byte) []string {
	set := map[string]bool{}
	var name, version, source string
	flush := func() {
		if name != "" && strings.HasPrefix(source, "registry+") {
			set[name+"@"+version] = true
		}
		name, version, source = "", "", ""
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "[") {
			flush()
		}
		if k, v, ok := strings.Cut(line, " = "); ok {
			v = strings.Trim(v, `"`)
			switch k {
			case "name":
				name = v
			case "version":
				version = v
			case "source":
				source = v
			}
		}
	}
	flush()
	out := []string{}
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestParseReal(t *testing.T) {
	for rel, n := range map[string]int{"cargo/trivy-ci-test/Cargo.lock": 73, "cargo/trivy-fixture-cargo/Cargo.lock": 9} {
		p := testutil.Data(t, "lockfiles/"+rel)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Parse(p, b)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Warnings) != 0 {
			t.Errorf("%s: warnings %v", rel, res.Warnings)
		}
		if diff := cmp.Diff(naive(b), lines(res.Packages)); diff != "" {
			t.Errorf("Parse(%s) differs from the line reading (-naive +got):\n%s", rel, diff)
		}
		if len(res.Packages) != n {
			t.Errorf("Parse(%s): %d packages, want %d", rel, len(res.Packages), n)
		}
	}
}

func TestParseFixture(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "Cargo.lock"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := (Extractor{}).Extract(context.Background(), extract.Input{Path: "/w/Cargo.lock", Reader: bytes.NewReader(b)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"serde@1.0.130", "smallvec@1.6.0"}, lines(res.Packages)); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	if len(res.Warnings) != 1 || res.Warnings[0].Message != `Cargo.lock package 6: bad name or version "" "1.0.0"` {
		t.Errorf("warnings = %v", res.Warnings)
	}
	if _, err := Parse("/w/Cargo.lock", []byte("[[package]\nname=")); err == nil || !strings.Contains(err.Error(), "/w/Cargo.lock") {
		t.Errorf("Parse(bad toml) error = %v", err)
	}
	if !(Extractor{}).Wants("/w/Cargo.lock", 0o644, 10) || (Extractor{}).Wants("/w/Cargo.toml", 0o644, 10) {
		t.Errorf("Wants wrong")
	}
}

func FuzzParse(f *testing.F) {
	extracttest.Fuzz(f, Parse, "/Cargo.lock", extracttest.Named, "Cargo.lock")
}

// BenchmarkParse reads the largest real Cargo.lock (trivy-ci-test, 74
// packages).
func BenchmarkParse(b *testing.B) {
	extracttest.BenchFile(b, Parse, "lockfiles/cargo/trivy-ci-test/Cargo.lock")
}
