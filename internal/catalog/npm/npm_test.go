package npm

import (
	"context"
	"encoding/json"
	"fmt"
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

// lines renders packages as "name@version [dev] [optional]".
func lines(pkgs []model.Package) []string {
	out := make([]string, 0, len(pkgs))
	for _, p := range pkgs {
		s := p.Name + "@" + p.Version
		if p.Metadata["dev"] == "true" {
			s += " dev"
		}
		if p.Metadata["optional"] == "true" {
			s += " optional"
		}
		if p.Type != model.TypeNPM {
			s += " type=" + p.Type
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func warnings(ws []model.Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Message)
	}
	return out
}

func parseFile(t *testing.T, path, as string) extract.Result {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Parse("/src/"+as, b)
	if err != nil {
		t.Fatalf("Parse(%s) error: %v", path, err)
	}
	return res
}

// TestParseFixtures checks hand-written lock files covering the formats'
// corners: workspaces and links, aliases, dev/optional flags, local and git
// dependencies, malformed entries.
func TestParseFixtures(t *testing.T) {
	tests := []struct {
		file, as string
		want     []string
		warns    []string
	}{
		{"workspace-v3.package-lock.json", PackageLock,
			[]string{"@acme/ui@0.3.0", "@babel/core@7.12.3 dev", "chokidar@3.5.3 optional", "fsevents@2.3.2 optional",
				"lodash@4.17.20", "lodash@4.17.21", "string-width@4.2.3"},
			[]string{
				`package-lock entry "node_modules/broken-link": link to "packages/missing", which has no entry`,
				`package-lock entry "node_modules/no-version": no version`,
				`package-lock entry "node_modules/odd": json: cannot unmarshal number into Go struct field lockPackage.version of type string`,
			}},
		{"alias-v1.package-lock.json", Shrinkwrap,
			[]string{"@types/node@14.14.6 dev", "debug@2.6.9", "debug@4.3.1 dev", "express@4.16.0", "fsevents@1.2.13 optional",
				"lodash@4.17.21", "ms@2.0.0", "ms@2.1.2 dev"},
			[]string{`package-lock dependency bad: json: cannot unmarshal array into Go struct field lockDep.version of type string`}},
		{"classic.yarn.lock", YarnLock,
			[]string{"@babel/code-frame@7.12.13", "js-tokens@4.0.0", "string-width@4.2.3", "string-width@5.1.2"},
			[]string{"yarn.lock line 22: no-version@^1.0.0 has no version"}},
		{"berry.yarn.lock", YarnLock,
			[]string{"@babel/code-frame@7.12.13", "lodash@4.17.21", "resolve@1.22.1"},
			[]string{`yarn.lock entry "broken@npm:^1.0.0": yaml: unmarshal errors:` + "\n" + `  line 36: cannot unmarshal !!seq into string`}},
		{"v5.pnpm-lock.yaml", PnpmLock,
			[]string{"@babel/core@7.12.3 dev", "loose-envify@1.4.0", "react@17.0.2", "thing@2.0.0"},
			[]string{`pnpm-lock entry "/nonsense": cannot tell name and version`}},
		{"v9.pnpm-lock.yaml", PnpmLock,
			[]string{"@types/express@4.17.21 dev", "debug@2.6.9", "express@4.18.2", "ms@2.0.0", "string-width@4.2.3", "typescript@5.4.5 dev"},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			res := parseFile(t, filepath.Join("testdata", tt.file), tt.as)
			if diff := cmp.Diff(tt.want, lines(res.Packages)); diff != "" {
				t.Errorf("Parse(%s) packages (-want +got):\n%s", tt.file, diff)
			}
			if diff := cmp.Diff(tt.warns, warnings(res.Warnings)); diff != "" {
				t.Errorf("Parse(%s) warnings (-want +got):\n%s", tt.file, diff)
			}
			for _, w := range res.Warnings {
				if w.Path != "/src/"+tt.as {
					t.Errorf("warning path = %q, want %q", w.Path, "/src/"+tt.as)
				}
			}
		})
	}
}

func TestParsePackageJSON(t *testing.T) {
	tests := []struct {
		name, json string
		want       []string
		licenses   []string
		warns      int
	}{
		{"plain", `{"name":"lodash","version":"4.17.21","license":"MIT"}`, []string{"lodash@4.17.21"}, []string{"MIT"}, 0},
		{"scoped, license object", `{"name":"@babel/core","version":"7.12.3","license":{"type":"MIT","url":"x"}}`, []string{"@babel/core@7.12.3"}, []string{"MIT"}, 0},
		{"legacy licenses", `{"name":"a","version":"1.0.0","licenses":[{"type":"MIT"},{"type":"Apache-2.0"}]}`, []string{"a@1.0.0"}, []string{"MIT", "Apache-2.0"}, 0},
		{"BOM", "\ufeff" + `{"name":"a","version":"1.0.0"}`, []string{"a@1.0.0"}, nil, 0},
		{"no version", `{"name":"a"}`, []string{}, nil, 1},
		{"bad name", `{"name":"a b","version":"1.0.0"}`, []string{}, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Parse("/app/node_modules/x/package.json", []byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, lines(res.Packages)); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
			if len(res.Packages) == 1 && !slices.Equal(res.Packages[0].Licenses, tt.licenses) {
				t.Errorf("licenses = %v, want %v", res.Packages[0].Licenses, tt.licenses)
			}
			if len(res.Warnings) != tt.warns {
				t.Errorf("warnings = %v, want %d", res.Warnings, tt.warns)
			}
		})
	}
	if _, err := Parse("/app/node_modules/x/package.json", []byte(`{"name":`)); err == nil || !strings.Contains(err.Error(), "/app/node_modules/x/package.json") {
		t.Errorf("Parse(truncated) error = %v, want one naming the file", err)
	}
}

func TestWants(t *testing.T) {
	tests := []struct {
		path string
		mode fs.FileMode
		size int64
		want bool
	}{
		{"/app/package-lock.json", 0o644, 100, true},
		{"/app/npm-shrinkwrap.json", 0o644, 100, true},
		{"/app/yarn.lock", 0o644, 100, true},
		{"/app/pnpm-lock.yaml", 0o644, 100, true},
		{"/package-lock.json", 0o644, 100, true},
		{"/app/package-lock.json", fs.ModeSymlink, 100, false},
		{"/app/package-lock.json", 0o644, extract.MaxLockFileBytes + 1, true}, // read, to warn that it is too large
		{"/app/node_modules/x/yarn.lock", 0o644, 100, false},                  // shipped by a package
		{"/app/node_modules/.package-lock.json", 0o644, 100, false},           // npm's hidden lock file
		{"/app/package.json", 0o644, 100, false},                              // the project itself
		{"/app/node_modules/lodash/package.json", 0o644, 100, true},           // installed
		{"/app/node_modules/@babel/core/package.json", 0o644, 100, true},
		{"/app/node_modules/a/node_modules/b/package.json", 0o644, 100, true},
		{"/usr/lib/node_modules/npm/package.json", 0o644, 100, true},
		{"/app/node_modules/lodash/fp/package.json", 0o644, 100, false}, // a package's inner manifest
		{"/app/node_modules/@babel/package.json", 0o644, 100, false},
		{"/app/node_modules/package.json", 0o644, 100, false},
		{"/app/node_modules/@babel/core/lib/package.json", 0o644, 100, false},
	}
	for _, tt := range tests {
		if got := (Extractor{}).Wants(tt.path, tt.mode, tt.size); got != tt.want {
			t.Errorf("Wants(%s, %v, %d) = %v, want %v", tt.path, tt.mode, tt.size, got, tt.want)
		}
	}
}

// realLocks are the real npm lock files in the shared data (all v2: both
// "packages" and the v1 "dependencies" tree).
var realLocks = []string{
	"santa-tracker-osv-scanner",
	"NodeGoat",
	"nodejs-goof",
	"osv-scanner-in-place-npm",
}

// readPackagesNaively is the test's own reading of a v2/v3 lock file: every
// key of "packages" but the root, the name from the key's last
// node_modules/ segment (no lock file here uses "name", "link" or a
// workspace), dev/optional when every occurrence is.
func readPackagesNaively(t *testing.T, b []byte) []string {
	t.Helper()
	var lock struct {
		Packages map[string]struct {
			Name, Version              string
			Dev, Optional, DevOptional bool
			Link                       bool
		}
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		t.Fatal(err)
	}
	type flags struct{ dev, opt bool }
	seen := map[string]flags{}
	for key, e := range lock.Packages {
		if key == "" {
			continue
		}
		if e.Name != "" || e.Link || !strings.HasPrefix(key, "node_modules/") {
			t.Fatalf("entry %q uses a feature the naive reading does not handle", key)
		}
		parts := strings.Split(key, "node_modules/")
		id := parts[len(parts)-1] + "@" + e.Version
		f := flags{e.Dev, e.Optional || e.DevOptional}
		if old, ok := seen[id]; ok {
			f = flags{old.dev && f.dev, old.opt && f.opt}
		}
		seen[id] = f
	}
	var out []string
	for id, f := range seen {
		s := id
		if f.dev {
			s += " dev"
		}
		if f.opt {
			s += " optional"
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// readV1Naively walks the v1 "dependencies" tree with generic maps.
func readV1Naively(t *testing.T, b []byte) []string {
	t.Helper()
	var lock map[string]any
	if err := json.Unmarshal(b, &lock); err != nil {
		t.Fatal(err)
	}
	type flags struct{ dev, opt bool }
	seen := map[string]flags{}
	var walk func(deps map[string]any)
	walk = func(deps map[string]any) {
		for name, v := range deps {
			e := v.(map[string]any)
			dev, _ := e["dev"].(bool)
			opt, _ := e["optional"].(bool)
			version := e["version"].(string)
			if !strings.Contains(version, ":") { // else a tarball URL, not a version
				id := name + "@" + version
				f := flags{dev, opt}
				if old, ok := seen[id]; ok {
					f = flags{old.dev && f.dev, old.opt && f.opt}
				}
				seen[id] = f
			}
			if sub, ok := e["dependencies"].(map[string]any); ok {
				walk(sub)
			}
		}
	}
	walk(lock["dependencies"].(map[string]any))
	var out []string
	for id, f := range seen {
		s := id
		if f.dev {
			s += " dev"
		}
		if f.opt {
			s += " optional"
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// TestRealPackageLocks compares Parse on every real lock file with the
// naive reading of "packages", and with a parse of the same file's v1
// "dependencies" tree (the file with "packages" removed): npm writes both,
// so the two formats must give the same packages.
func TestRealPackageLocks(t *testing.T) {
	// The data README says santa-tracker has "522 packages": that is the
	// number of distinct package names, which is also the number of
	// top-level node_modules/NAME entries and of v1 top-level
	// "dependencies". The lock file installs 652 copies (nested
	// node_modules included) of 613 distinct name@version pairs; Parse
	// reports one package per pair.
	wantCounts := map[string][3]int{ // entries, distinct name@version, distinct names
		"santa-tracker-osv-scanner": {652, 613, 522},
	}
	for _, dir := range realLocks {
		t.Run(dir, func(t *testing.T) {
			p := testutil.Data(t, "lockfiles/npm/"+dir+"/package-lock.json")
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
			got := lines(res.Packages)
			if diff := cmp.Diff(readPackagesNaively(t, b), got); diff != "" {
				t.Errorf("Parse(%s) differs from the naive reading of \"packages\" (-naive +got):\n%s", dir, diff)
			}
			// v1 records a tarball dependency by its URL, "packages" by the
			// version in its package.json: NodeGoat's grunt-if is only in the
			// latter.
			onlyInPackages := map[string][]string{"NodeGoat": {"grunt-if@0.2.0 dev"}}[dir]
			want1 := slices.DeleteFunc(slices.Clone(got), func(s string) bool { return slices.Contains(onlyInPackages, s) })
			if len(want1) != len(got)-len(onlyInPackages) {
				t.Errorf("Parse(%s) lacks %v", dir, onlyInPackages)
			}
			if diff := cmp.Diff(readV1Naively(t, b), want1); diff != "" {
				t.Errorf("Parse(%s) differs from the naive reading of \"dependencies\" (-naive +got):\n%s", dir, diff)
			}
			var doc map[string]json.RawMessage
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			delete(doc, "packages")
			v1, _ := json.Marshal(doc)
			res1, err := Parse(p, v1)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want1, lines(res1.Packages)); diff != "" {
				t.Errorf("v1 tree of %s differs from its packages (-packages +v1):\n%s", dir, diff)
			}
			if want, ok := wantCounts[dir]; ok {
				names := map[string]bool{}
				for _, p := range res.Packages {
					names[p.Name] = true
				}
				var lock struct{ Packages map[string]json.RawMessage }
				json.Unmarshal(b, &lock)
				if g := [3]int{len(lock.Packages) - 1, len(res.Packages), len(names)}; g != want {
					t.Errorf("%s: entries, packages, names = %v, want %v", dir, g, want)
				}
			}
			t.Logf("%s: %d packages", dir, len(res.Packages))
		})
	}
}

// TestTrivyFixtures: the hand-edited trivy fixtures, expected lists written
// out from the files.
func TestTrivyFixtures(t *testing.T) {
	tests := []struct {
		rel  string
		want []string
	}{
		{"trivy-fixture-npm/package-lock.json", []string{
			"asap@2.0.6", "jquery@3.3.9", "js-tokens@4.0.0", "loose-envify@1.4.0", "object-assign@4.1.1",
			"promise@8.0.3", "prop-types@15.7.2", "react-is@16.8.6", "react@16.8.6", "redux@4.0.1",
			"scheduler@0.13.6", "symbol-observable@1.2.0", "z-lock@1.0.0 dev"}},
		{"trivy-fixture-yarn/yarn.lock", []string{"asap@2.0.6", "jquery@3.2.1", "promise@8.0.3"}},
		{"trivy-fixture-pnpm/pnpm-lock.yaml", []string{"jquery@3.3.9", "lodash@4.17.4"}},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			p := testutil.Data(t, "lockfiles/npm/"+tt.rel)
			res := parseFile(t, p, filepath.Base(p))
			if diff := cmp.Diff(tt.want, lines(res.Packages)); diff != "" {
				t.Errorf("Parse(%s) (-want +got):\n%s", tt.rel, diff)
			}
			if len(res.Warnings) != 0 {
				t.Errorf("warnings: %v", res.Warnings)
			}
		})
	}
	// The v1 fixture, read naively too.
	p := testutil.Data(t, "lockfiles/npm/trivy-fixture-npm/package-lock.json")
	b, _ := os.ReadFile(p)
	res := parseFile(t, p, PackageLock)
	if diff := cmp.Diff(readV1Naively(t, b), lines(res.Packages)); diff != "" {
		t.Errorf("trivy-fixture-npm differs from the naive v1 reading (-naive +got):\n%s", diff)
	}
}

func TestExtract(t *testing.T) {
	b := []byte(`{"lockfileVersion":3,"packages":{"":{},"node_modules/a":{"version":"1.0.0"}}}`)
	ctx := context.Background()
	res, err := Extractor{}.Extract(ctx, extract.Input{Path: "/x/package-lock.json", Reader: strings.NewReader(string(b))})
	if err != nil || len(res.Packages) != 1 || res.Packages[0].Name != "a" {
		t.Errorf("Extract = %v, %v; want a@1.0.0", res, err)
	}
	if _, err := (Extractor{}).Extract(ctx, extract.Input{Path: "/x/package-lock.json", Reader: strings.NewReader("[")}); err == nil || !strings.Contains(err.Error(), "/x/package-lock.json") {
		t.Errorf("Extract(bad json) error = %v, want one naming the file", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := (Extractor{}).Extract(cctx, extract.Input{Path: "/x/package-lock.json", Reader: strings.NewReader(string(b))}); err == nil {
		t.Errorf("Extract(cancelled) = nil error")
	}
	for _, bad := range []struct{ name, data string }{
		{PnpmLock, "lockfileVersion: [\n"},
		{PnpmLock, "lockfileVersion: x.y\n"},
		{YarnLock, "__metadata:\n  version: [\n"},
		{PackageLock, `{"packages": 5}`},
		{"other.json", "{}"},
	} {
		if _, err := Parse("/p/"+bad.name, []byte(bad.data)); err == nil {
			t.Errorf("Parse(%s, %q) = nil error, want one", bad.name, bad.data)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"workspace-v3.package-lock.json", "alias-v1.package-lock.json", "classic.yarn.lock",
		"berry.yarn.lock", "v5.pnpm-lock.yaml", "v9.pnpm-lock.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(fileKind(name), b)
	}
	f.Add(uint8(3), []byte(`{"name":"a","version":"1.0.0","license":{"type":"MIT"}}`))
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		name := []string{PackageLock, YarnLock, PnpmLock, PackageJSON}[kind%4]
		res, err := Parse("/f/node_modules/x/"+name, data)
		if err != nil {
			return
		}
		for _, p := range res.Packages {
			if !validName(p.Name) || !validVersion(p.Version) || p.Type != model.TypeNPM {
				t.Fatalf("Parse(%s) gave package %+v", name, p)
			}
		}
	})
}

func fileKind(name string) uint8 {
	switch {
	case strings.HasSuffix(name, "yarn.lock"):
		return 1
	case strings.HasSuffix(name, "pnpm-lock.yaml"):
		return 2
	}
	return 0
}

// BenchmarkParsePackageLock parses the largest real lock file (NodeGoat,
// 0.9 MB, 1,479 entries).
func BenchmarkParsePackageLock(b *testing.B) {
	extracttest.BenchFile(b, Parse, "lockfiles/npm/NodeGoat/package-lock.json")
}

// BenchmarkParseYarnLock and BenchmarkParsePnpmLock parse a lock file made
// from NodeGoat's packages (no real large yarn or pnpm lock file is in the
// shared data).
func BenchmarkParseYarnLock(b *testing.B) {
	benchGenerated(b, YarnLock, func(name, version string) string {
		return fmt.Sprintf("%q:\n  version %q\n  resolved \"https://registry.yarnpkg.com/%s/-/x-%s.tgz\"\n  integrity sha512-x\n\n", name+"@^"+version, version, name, version)
	}, "# yarn lockfile v1\n\n")
}

func BenchmarkParsePnpmLock(b *testing.B) {
	benchGenerated(b, PnpmLock, func(name, version string) string {
		return fmt.Sprintf("  '/%s@%s':\n    resolution: {integrity: sha512-x}\n    dev: false\n\n", name, version)
	}, "lockfileVersion: '6.0'\n\npackages:\n\n")
}

func benchGenerated(b *testing.B, name string, entry func(name, version string) string, header string) {
	p := testutil.Data(b, "lockfiles/npm/NodeGoat/package-lock.json")
	data, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	res, err := Parse(p, data)
	if err != nil {
		b.Fatal(err)
	}
	var sb strings.Builder
	sb.WriteString(header)
	for _, pk := range res.Packages {
		sb.WriteString(entry(pk.Name, pk.Version))
	}
	lock := []byte(sb.String())
	got, err := Parse("/b/"+name, lock)
	if err != nil || len(got.Packages) != len(res.Packages) {
		b.Fatalf("generated %s: %d packages, err %v; want %d", name, len(got.Packages), err, len(res.Packages))
	}
	extracttest.Bench(b, Parse, "/b/"+name, lock)
}
