package scan

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/json"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
	"github.com/lockdown-sec/lockdown/internal/vulndb"
)

// reachModules links old, vulnerable modules, calling some of their
// vulnerable functions and not others (x/net's html but not its http2
// server, x/crypto's bcrypt but not its ssh).
var reachModules = map[string]string{
	"go.mod": `module example.com/lockdown/reach

go 1.21

require (
	golang.org/x/crypto v0.0.0-20200622213623-75b288015ac9
	golang.org/x/net v0.0.0-20210226172049-e18ecbb05110
	golang.org/x/sys v0.28.0
	golang.org/x/text v0.3.5
	gopkg.in/yaml.v2 v2.2.2
)
`,
	"main.go": `package main

import (
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/net/html"
	"golang.org/x/text/language"
	"gopkg.in/yaml.v2"
)

func main() {
	doc, err := html.Parse(strings.NewReader("<p>hello"))
	tag, _ := language.Parse("en-US")
	var v map[string]any
	_ = yaml.Unmarshal([]byte("a: 1"), &v)
	h, _ := bcrypt.GenerateFromPassword([]byte("x"), 4)
	fmt.Println(doc != nil, err, tag, v, len(h))
}
`,
}

// reachStdlib calls standard library functions that Go 1.22.0 had
// vulnerabilities in (net/http, net/mail, html/template, net/netip,
// path/filepath) and leaves others (crypto/tls servers, archive/zip) out.
var reachStdlib = map[string]string{
	"go.mod": "module example.com/lockdown/reachstd\n\ngo 1.22\n",
	"main.go": `package main

import (
	"fmt"
	"html/template"
	"net/http"
	"net/mail"
	"net/netip"
	"os"
	"path/filepath"
)

func main() {
	resp, err := http.Get(os.Args[0])
	if err == nil {
		resp.Body.Close()
	}
	list, _ := mail.ParseAddressList("a@example.com, b@example.com")
	tpl, _ := template.New("x").Parse("<a href={{.}}>x</a>")
	addr, _ := netip.ParseAddr("::ffff:1.2.3.4")
	fmt.Println(len(list), tpl != nil, addr.Is4In6(), filepath.Clean(os.Args[0]))
}
`,
}

// TestGoReachabilityParity is the proof that Lockdown's Go reachability
// agrees with govulncheck -mode=binary: for each binary built here (old
// vulnerable modules, for linux/amd64 and windows/arm64, and stripped with
// -s -w; the standard library of an old Go release, whose windows-only
// advisories do not apply on linux), against the same
// Go vulnerability records (../shared/data/osv/go.zip, a Lockdown database
// and a file:// database in the Go vulndb layout built from it):
//
//   - the findings Lockdown marks present are the findings govulncheck
//     reports at symbol level;
//   - every finding govulncheck reports at module level is a Lockdown
//     finding, and Lockdown's others are those it marks absent because the
//     advisory is for other platforms (govulncheck drops those);
//   - documented divergence, for the stripped binary: govulncheck cannot
//     read its inline trees and reports every module-level finding as
//     called; Lockdown reads the function name table, which stripping
//     keeps, so its present findings are those govulncheck reports called
//     for the same program built unstripped (a subset of govulncheck's for
//     the stripped one), and none is unknown.
func TestGoReachabilityParity(t *testing.T) {
	govulncheck := testutil.RequireCmd(t, "govulncheck")
	goZip := testutil.Data(t, "osv/go.zip")
	ctx := context.Background()

	dbPath := filepath.Join(t.TempDir(), "db")
	srcs, err := vulndb.DetectSources(goZip)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vulndb.Update(ctx, dbPath, srcs, vulndb.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := vulndb.Open(dbPath, vulndb.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	goDB := goVulnDB(t, goZip)

	cases := []struct {
		name     string
		files    map[string]string
		build    testutil.GoBuild
		stripped bool
	}{
		{"modules", reachModules, testutil.GoBuild{}, false},
		{"modules stripped", reachModules, testutil.GoBuild{LDFlags: "-s -w"}, true},
		{"stdlib go1.22.0", reachStdlib, testutil.GoBuild{Toolchain: "go1.22.0"}, false},
		{"modules windows/arm64", reachModules, testutil.GoBuild{GOOS: "windows", GOARCH: "arm64"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bin := testutil.GoBinaryWith(t, c.files, c.build)
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "app"), 0o755); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "app", "app"), data, 0o755); err != nil {
				t.Fatal(err)
			}
			r, err := Run(ctx, "dir:"+root, st, Options{})
			if err != nil {
				t.Fatal(err)
			}
			states := map[string]map[string]bool{} // state -> GO IDs
			all := map[string]*model.Finding{}
			for i := range r.Findings {
				f := &r.Findings[i]
				if f.Package == nil || f.Package.Type != model.TypeGolang {
					continue
				}
				if f.Reachability == nil {
					t.Fatalf("%s %s: Go finding without reachability", f.Package.Name, f.RuleID)
				}
				for _, id := range goIDs(f) {
					if states[f.Reachability.State] == nil {
						states[f.Reachability.State] = map[string]bool{}
					}
					states[f.Reachability.State][id] = true
					all[id] = f
				}
			}
			for _, p := range r.Packages {
				if _, ok := p.Metadata["goSymbols"]; ok {
					t.Fatal("the symbol index leaked into the report's packages")
				}
			}
			gvSym, gvMod := runGovulncheck(t, govulncheck, goDB, bin)
			present, absent, unknown := states[model.ReachPresent], states[model.ReachAbsent], states[model.ReachUnknown]
			t.Logf("%s: %d findings (%d present, %d absent, %d unknown); govulncheck: %d module level, %d called",
				c.name, len(all), len(present), len(absent), len(unknown), len(gvMod), len(gvSym))
			if len(present) == 0 || len(gvMod) == 0 {
				t.Fatal("nothing present: the binary proves nothing")
			}
			if len(absent) == 0 {
				t.Fatal("nothing absent: the binary proves nothing")
			}
			// Module level: govulncheck's are all ours; ours beyond are
			// absent for another platform.
			for id := range gvMod {
				if all[id] == nil {
					t.Errorf("govulncheck reports %s, Lockdown does not", id)
				}
			}
			for id, f := range all {
				if !gvMod[id] && (f.Reachability.State != model.ReachAbsent || !strings.Contains(f.Reachability.Reason, "other platforms")) {
					t.Errorf("Lockdown reports %s (%s: %s), govulncheck does not", id, f.Reachability.State, f.Reachability.Reason)
				}
			}
			if c.stripped {
				for id := range present {
					if !gvSym[id] {
						t.Errorf("%s present, not called per govulncheck", id)
					}
				}
				// govulncheck on the unstripped twin, which it reads whole.
				gvSym, _ = runGovulncheck(t, govulncheck, goDB, testutil.GoBinaryWith(t, c.files, testutil.GoBuild{}))
			}
			if diff := setDiff(present, gvSym); diff != "" {
				t.Errorf("present vs govulncheck's called:\n%s", diff)
			}
			if len(unknown) != 0 {
				t.Errorf("unknown %v for a Go 1.16+ binary (its function name table is whole)", slices.Sorted(maps.Keys(unknown)))
			}
		})
	}
}

// goIDs are the Go vulnerability database IDs a finding stands for.
func goIDs(f *model.Finding) []string {
	var out []string
	for _, id := range append([]string{f.RuleID}, f.Aliases...) {
		if strings.HasPrefix(id, "GO-") {
			out = append(out, id)
		}
	}
	return out
}

// setDiff describes what is in only one of lockdown and govulncheck.
func setDiff(lockdown, gv map[string]bool) string {
	var b strings.Builder
	for _, id := range slices.Sorted(maps.Keys(lockdown)) {
		if !gv[id] {
			b.WriteString("  only Lockdown: " + id + "\n")
		}
	}
	for _, id := range slices.Sorted(maps.Keys(gv)) {
		if !lockdown[id] {
			b.WriteString("  only govulncheck: " + id + "\n")
		}
	}
	return b.String()
}

// runGovulncheck runs govulncheck -mode=binary against the file:// database
// and returns the IDs it reports with a function (called) and at any level.
func runGovulncheck(t *testing.T, govulncheck, db, bin string) (called, module map[string]bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, govulncheck, "-mode=binary", "-db", "file://"+db, "-format", "json", bin)
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOTOOLCHAIN=local")
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("govulncheck %s: %v\n%s", bin, err, stderr)
	}
	called, module = map[string]bool{}, map[string]bool{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var msg struct {
			Finding *struct {
				OSV   string `json:"osv"`
				Trace []struct {
					Function string `json:"function"`
				} `json:"trace"`
			} `json:"finding"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("govulncheck output: %v", err)
		}
		if f := msg.Finding; f != nil {
			module[f.OSV] = true
			if len(f.Trace) > 0 && f.Trace[0].Function != "" {
				called[f.OSV] = true
			}
		}
	}
	return called, module
}

// goVulnDB writes the records of an OSV zip in the Go vulnerability
// database's layout (https://go.dev/security/vulndb/#protocol), which
// govulncheck reads from a file:// URL: ID/<id>.json, index/modules.json,
// index/db.json. It is written once per test run.
func goVulnDB(t *testing.T, zipPath string) string {
	t.Helper()
	dir := t.TempDir()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if err := os.MkdirAll(filepath.Join(dir, "ID"), 0o755); err != nil {
		t.Fatal(err)
	}
	type vuln struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
	}
	modules := map[string][]vuln{}
	var newest time.Time
	for _, zf := range zr.File {
		if !strings.HasSuffix(zf.Name, ".json") {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(bufio.NewReader(rc))
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			ID       string    `json:"id"`
			Modified time.Time `json:"modified"`
			Affected []struct {
				Package struct {
					Name string `json:"name"`
				} `json:"package"`
			} `json:"affected"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("%s: %v", zf.Name, err)
		}
		if e.Modified.After(newest) {
			newest = e.Modified
		}
		seen := map[string]bool{}
		for _, a := range e.Affected {
			if !seen[a.Package.Name] {
				seen[a.Package.Name] = true
				modules[a.Package.Name] = append(modules[a.Package.Name], vuln{e.ID, e.Modified})
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "ID", e.ID+".json"), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	type module struct {
		Path  string `json:"path"`
		Vulns []vuln `json:"vulns"`
	}
	var index []module
	for _, p := range slices.Sorted(maps.Keys(modules)) {
		vs := modules[p]
		sort.Slice(vs, func(i, j int) bool { return vs[i].ID < vs[j].ID })
		index = append(index, module{p, vs})
	}
	for name, v := range map[string]any{"modules.json": index, "db.json": map[string]time.Time{"modified": newest}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "index"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "index", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
