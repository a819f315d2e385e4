package gem

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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
		if pl := p.Metadata["platform"]; pl != "" {
			s += " " + pl
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func TestParseFixture(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "Gemfile.lock"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Parse("/app/Gemfile.lock", b)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"forked@0.3.0", "nokogiri@1.13.10 x86_64-linux", "racc@1.6.2", "rack@2.2.3", "rails@6.0.3.4"}
	if diff := cmp.Diff(want, lines(res.Packages)); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	if len(res.Warnings) != 1 || res.Warnings[0].Message != `Gemfile.lock line 23: bad spec "broken-spec"` {
		t.Errorf("warnings = %v", res.Warnings)
	}
}

// TestParseRailsgoat compares with a regexp reading of the GEM specs.
func TestParseRailsgoat(t *testing.T) {
	b, err := os.ReadFile(testutil.Data(t, "lockfiles/rubygems/railsgoat/Gemfile.lock"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Parse("/Gemfile.lock", b)
	if err != nil || len(res.Warnings) != 0 {
		t.Fatalf("Parse = %v, %v", res.Warnings, err)
	}
	spec := regexp.MustCompile(`^    ([^ ]+) \(([^-)]+)(?:-([^)]+))?\)$`)
	set := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if sc.Text() == "PLATFORMS" {
			break
		}
		if m := spec.FindStringSubmatch(sc.Text()); m != nil && !set[m[1]+"@"+m[2]] {
			set[m[1]+"@"+m[2]] = true
		}
	}
	var want, got []string
	for k := range set {
		want = append(want, k)
	}
	for _, p := range res.Packages {
		got = append(got, p.Name+"@"+p.Version)
	}
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("railsgoat (-regexp +got):\n%s", diff)
	}
	if len(got) != 167 {
		t.Errorf("%d gems, want 167", len(got))
	}
}

func TestWants(t *testing.T) {
	if !(Extractor{}).Wants("/app/Gemfile.lock", 0o644, 1) || !(Extractor{}).Wants("/app/gems.locked", 0o644, 1) || (Extractor{}).Wants("/app/Gemfile", 0o644, 1) {
		t.Errorf("Wants wrong")
	}
}

func FuzzParse(f *testing.F) {
	extracttest.Fuzz(f, Parse, "/Gemfile.lock", extracttest.Named, "Gemfile.lock")
}

// BenchmarkParse reads railsgoat's Gemfile.lock (32 kB).
func BenchmarkParse(b *testing.B) {
	extracttest.BenchFile(b, Parse, "lockfiles/rubygems/railsgoat/Gemfile.lock")
}
