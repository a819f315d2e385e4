package python

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io/fs"
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
		s := p.Name + "==" + p.Version
		if p.Metadata["dev"] == "true" {
			s += " dev"
		}
		if len(p.Licenses) > 0 {
			s += " license=" + strings.Join(p.Licenses, ",")
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func messages(ws []model.Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Message)
	}
	return out
}

func parseFile(t *testing.T, p string) ([]string, []string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Parse(p, b)
	if err != nil {
		t.Fatalf("Parse(%s): %v", p, err)
	}
	return lines(res.Packages), messages(res.Warnings)
}

func TestFixtures(t *testing.T) {
	tests := []struct {
		file  string
		want  []string
		warns []string
	}{
		{"requirements.txt", []string{"Django==4.2", "PyJWT==2.4.0", "cryptography==39.0.1", "requests==2.28.2", "urllib3==1.26.9"},
			[]string{
				"requirements line 12: -r other-requirements.txt not followed (only this file is read)",
				"requirements line 13: --constraint constraints.txt not followed (only this file is read)",
				`requirements line 18: cannot read "bad name==1.0"`,
			}},
		{"Pipfile.lock", []string{"django==4.2", "pytest==7.0.0 dev"},
			[]string{
				`Pipfile.lock default "odd": json: cannot unmarshal number into Go struct field .version of type string`,
				`Pipfile.lock default "ranged": bad name or version ">=1.0"`,
			}},
		{"poetry.lock", []string{"black==23.1.0 dev", "django==4.2", "private==1.0.0", "pytest==7.0.0 dev"}, nil},
		{"uv.lock", []string{"django==4.2"}, nil},
		{"site/Django-4.2.dist-info/METADATA", []string{"Django==4.2 license=BSD-3-Clause"}, nil},
		{"site/PyYAML-5.1.egg-info/PKG-INFO", []string{"PyYAML==5.1 license=MIT"}, nil},
		{"site/distutils_thing-0.3.egg-info", []string{"distutils-thing==0.3"}, nil},
		{"site/pkg/EGG-INFO/PKG-INFO", []string{"egg-pkg==1.0"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, warns := parseFile(t, filepath.Join("testdata", tt.file))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.warns, warns); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []struct{ name, data string }{
		{"Pipfile.lock", "{"}, {"poetry.lock", "[[package]\n"}, {"uv.lock", "x = "}, {"setup.py", ""},
	} {
		if _, err := Parse("/p/"+bad.name, []byte(bad.data)); err == nil || !strings.Contains(err.Error(), "/p/"+bad.name) {
			t.Errorf("Parse(%s, %q) error = %v, want one naming the file", bad.name, bad.data, err)
		}
	}
	got, warns := func() ([]string, []string) {
		res, _ := Parse("/x.dist-info/METADATA", []byte("Name: \nVersion: 1\n"))
		return lines(res.Packages), messages(res.Warnings)
	}()
	if len(got) != 0 || len(warns) != 1 {
		t.Errorf("METADATA without a name: %v %v", got, warns)
	}
}

// naiveRequirements: every line that is "name==version" and nothing else.
func naiveRequirements(_ *testing.T, b []byte) []string {
	out := []string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		n, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "==")
		if ok && !strings.ContainsAny(n+v, " <>=!~;[") {
			out = append(out, n+"=="+v)
		}
	}
	slices.Sort(out)
	return out
}

// naivePipfile decodes the lock generically.
func naivePipfile(t *testing.T, b []byte) []string {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	lock := map[string]map[string]map[string]any{}
	for _, sec := range []string{"default", "develop"} {
		var m map[string]map[string]any
		if err := json.Unmarshal(raw[sec], &m); err != nil {
			t.Fatal(err)
		}
		lock[sec] = m
	}
	seen := map[string]bool{} // name==version -> dev
	for _, sec := range []string{"default", "develop"} {
		for name, e := range lock[sec] {
			v, _ := e["version"].(string)
			if v == "" {
				continue // git or path
			}
			k := name + "==" + strings.TrimPrefix(v, "==")
			dev, ok := seen[k]
			seen[k] = (sec == "develop") && (!ok || dev)
		}
	}
	out := []string{}
	for k, dev := range seen {
		if dev {
			k += " dev"
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// naiveTOML reads the name, version, category and source lines of each
// [[package]] block.
func naiveTOML(_ *testing.T, b []byte) []string {
	out := []string{}
	var name, version, category, source string
	flush := func() {
		if name != "" && !strings.Contains(source, "virtual") && !strings.Contains(source, "editable") {
			s := name + "==" + version
			if category == "dev" {
				s += " dev"
			}
			out = append(out, s)
		}
		name, version, category, source = "", "", "", ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if line == "[[package]]" {
			flush()
		}
		if k, v, ok := strings.Cut(line, " = "); ok {
			switch k {
			case "name":
				name = strings.Trim(v, `"`)
			case "version":
				version = strings.Trim(v, `"`)
			case "category":
				category = strings.Trim(v, `"`)
			case "source":
				source = v
			}
		}
	}
	flush()
	slices.Sort(out)
	return out
}

func TestRealFiles(t *testing.T) {
	tests := []struct {
		rel   string
		naive func(*testing.T, []byte) []string
		n     int
	}{
		{"pygoat/requirements.txt", naiveRequirements, 34},
		{"trivy-fixture-pip/requirements.txt", naiveRequirements, 7},
		{"trivy-ci-test/Pipfile.lock", naivePipfile, 85},
		{"trivy-fixture-pipenv/Pipfile.lock", naivePipfile, 1},
		{"trivy-fixture-poetry/poetry.lock", naiveTOML, 3},
		{"trivy-fixture-uv/uv.lock", naiveTOML, 3},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			p := testutil.Data(t, "lockfiles/pypi/"+tt.rel)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			got, warns := parseFile(t, p)
			if len(warns) != 0 {
				t.Errorf("warnings: %v", warns)
			}
			if diff := cmp.Diff(tt.naive(t, b), got); diff != "" {
				t.Errorf("Parse(%s) differs from the naive reading (-naive +got):\n%s", tt.rel, diff)
			}
			if len(got) != tt.n {
				t.Errorf("Parse(%s): %d packages, want %d", tt.rel, len(got), tt.n)
			}
		})
	}
}

func TestWants(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/app/requirements.txt", true},
		{"/app/requirements-dev.txt", true},
		{"/app/Pipfile.lock", true},
		{"/app/Pipfile", false},
		{"/app/poetry.lock", true},
		{"/app/uv.lock", true},
		{"/usr/lib/python3/dist-packages/Django-4.2.dist-info/METADATA", true},
		{"/usr/lib/python3/dist-packages/Django-4.2.dist-info/RECORD", false},
		{"/usr/lib/python3/dist-packages/x.egg-info/PKG-INFO", true},
		{"/usr/lib/python3/dist-packages/x-1.0.egg-info", true},
		{"/src/pkg/EGG-INFO/PKG-INFO", true},
		{"/src/sdist/PKG-INFO", false},
		{"/src/METADATA", false},
	}
	for _, tt := range tests {
		if got := (Extractor{}).Wants(tt.path, 0o644, 10); got != tt.want {
			t.Errorf("Wants(%s) = %v, want %v", tt.path, got, tt.want)
		}
	}
	if (Extractor{}).Wants("/a/uv.lock", fs.ModeDir, 10) || !(Extractor{}).Wants("/a/uv.lock", 0o644, extract.MaxLockFileBytes+1) {
		t.Errorf("Wants(dir) = true or Wants(huge) = false (a huge one must be a warning, not skipped)")
	}
}

func FuzzParse(f *testing.F) {
	names := []string{"requirements.txt", "Pipfile.lock", "poetry.lock", "uv.lock", "x.dist-info/METADATA"}
	for i, n := range names[:4] {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
	}
	f.Add(uint8(4), []byte("Name: a\nVersion: 1\n\nbody"))
	f.Fuzz(func(t *testing.T, k uint8, data []byte) {
		res, err := Parse("/p/"+names[int(k)%len(names)], data)
		if err != nil {
			return
		}
		for _, p := range res.Packages {
			if !nameRE().MatchString(p.Name) || !validVersion(p.Version) {
				t.Fatalf("package %+v", p)
			}
		}
	})
}

// BenchmarkParsePipfileLock reads the largest real Python lock file
// (trivy-ci-test's Pipfile.lock, 43 kB, 85 packages).
func BenchmarkParsePipfileLock(b *testing.B) {
	extracttest.BenchFile(b, Parse, "lockfiles/pypi/trivy-ci-test/Pipfile.lock")
}

// BenchmarkParseRequirements reads pygoat's requirements.txt.
func BenchmarkParseRequirements(b *testing.B) {
	extracttest.BenchFile(b, Parse, "lockfiles/pypi/pygoat/requirements.txt")
}

// BenchmarkParsePoetryLock reads the trivy poetry fixture (the only real one).
func BenchmarkParsePoetryLock(b *testing.B) {
	extracttest.BenchFile(b, Parse, "lockfiles/pypi/trivy-fixture-poetry/poetry.lock")
}
