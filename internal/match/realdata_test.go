package match

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/semver"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/osv"
	"github.com/lockdown-sec/lockdown/internal/testutil"
	"github.com/lockdown-sec/lockdown/internal/vulndb/distro"
)

// The real-data tests compare Match with an independent, deliberately
// naive evaluation of the raw records: events walked in the order written,
// versions compared with golang.org/x/mod/semver (Go, npm), rpm's own
// rpm.vercmp (AlmaLinux) or the record's explicit versions list (Maven).

type expectKey struct{ pkg, id string } // pkg: "name@version"

// naiveRanges walks each range's events in written order with cmp.
// It returns whether any range holds v and the smallest fix above v among
// those that do.
func naiveRanges(a osv.Affected, v string, cmp func(x, y string) int, keep func(osv.Range) bool) (bool, string) {
	hit, fixed := false, ""
	for _, r := range a.Ranges {
		if r.Type == osv.RangeGit || (keep != nil && !keep(r)) {
			continue
		}
		in := false
		for _, e := range r.Events {
			switch {
			case e.Introduced == "0":
				in = true
			case e.Introduced != "":
				if cmp(v, e.Introduced) >= 0 {
					in = true
				}
			case e.Fixed != "":
				if cmp(v, e.Fixed) >= 0 {
					in = false
				}
			case e.LastAffected != "":
				if cmp(v, e.LastAffected) > 0 {
					in = false
				}
			}
		}
		if !in {
			continue
		}
		hit = true
		for _, e := range r.Events {
			if e.Fixed != "" && cmp(e.Fixed, v) > 0 && (fixed == "" || cmp(e.Fixed, fixed) < 0) {
				fixed = e.Fixed
			}
		}
	}
	return hit, fixed
}

func vsemver(x, y string) int {
	return semver.Compare("v"+strings.TrimPrefix(x, "v"), "v"+strings.TrimPrefix(y, "v"))
}

// findingIDs maps every finding to (package, record ID) pairs for the record
// IDs it carries, and checks that no pair is reported twice.
func findingIDs(t *testing.T, fs []model.Finding, isRecord map[string]bool) map[expectKey]model.Finding {
	t.Helper()
	got := map[expectKey]model.Finding{}
	for _, f := range fs {
		for _, id := range append([]string{f.RuleID}, f.Aliases...) {
			if !isRecord[id] {
				continue
			}
			k := expectKey{f.Package.Name + "@" + f.Package.Version + "@" + f.Package.Location, id}
			if _, dup := got[k]; dup {
				t.Errorf("record %s reported twice for %s", id, k.pkg)
			}
			got[k] = f
		}
	}
	return got
}

func recordSet(vs []osv.Vulnerability) map[string]bool {
	m := map[string]bool{}
	for _, v := range vs {
		m[v.ID] = true
	}
	return m
}

func runMatch(t *testing.T, vs []osv.Vulnerability, pkgs []model.Package) ([]model.Finding, []model.Warning) {
	t.Helper()
	fs, ws, err := Match(context.Background(), newMemSource(vs), pkgs, Options{})
	if err != nil {
		t.Fatalf("Match: %v", err)
	}
	return fs, ws
}

func TestMatchGoRealData(t *testing.T) {
	vs := testutil.OSVZip(t, "osv/go.zip")
	pkgs := []model.Package{
		{Name: "golang.org/x/text", Version: "v0.3.5", Type: model.TypeGolang, Ecosystem: "Go", Location: "/app"},
		{Name: "golang.org/x/net", Version: "v0.0.0-20200226121028-0de0cce0169b", Type: model.TypeGolang, Ecosystem: "Go", Location: "/app"},
		{Name: "github.com/gin-gonic/gin", Version: "v1.6.0", Type: model.TypeGolang, Ecosystem: "Go", Location: "/app"},
		{Name: "stdlib", Version: "1.20.1", Type: model.TypeGolang, Ecosystem: "Go", Location: "/app"},
		{Name: "stdlib", Version: "go1.20.1", Type: model.TypeGolang, Ecosystem: "Go", Location: "/other"},
	}
	fs, ws := runMatch(t, vs, pkgs)
	if len(ws) != 0 {
		t.Errorf("warnings: %v", ws)
	}

	want := map[expectKey]string{} // -> fixed
	for _, p := range pkgs {
		for _, v := range vs {
			if v.Withdrawn != nil {
				continue
			}
			hit, fixed := false, ""
			for _, a := range v.Affected {
				if a.Package.Ecosystem != "Go" || a.Package.Name != p.Name {
					continue
				}
				ver := strings.TrimPrefix(p.Version, "go")
				h, f := naiveRanges(a, ver, vsemver, nil)
				if h {
					hit = true
					if f != "" && (fixed == "" || vsemver(f, fixed) < 0) {
						fixed = f
					}
				}
			}
			if hit {
				want[expectKey{p.Name + "@" + p.Version + "@" + p.Location, v.ID}] = fixed
			}
		}
	}
	checkAgainstOracle(t, fs, recordSet(vs), want, vsemver)
	for _, f := range fs {
		for _, id := range f.Aliases {
			if strings.HasPrefix(id, "CVE-") && !strings.HasPrefix(f.RuleID, "CVE-") {
				t.Errorf("%s: RuleID %s although alias %s is a CVE", f.Subject, f.RuleID, id)
			}
		}
		if f.Source != "GO" || f.Title == "" || len(f.References) == 0 {
			t.Errorf("%s %s: Source %q, Title %q, %d references", f.Subject, f.RuleID, f.Source, f.Title, len(f.References))
		}
	}
	if len(want) < 100 {
		t.Fatalf("oracle found only %d (package, advisory) hits; the data changed?", len(want))
	}
	t.Logf("%d findings, %d (package, GO record) hits", len(fs), len(want))
}

// checkAgainstOracle: the (package, record) pairs in the findings are
// exactly the oracle's, and each finding's fixed version is the highest of
// its records' oracle fixes.
func checkAgainstOracle(t *testing.T, fs []model.Finding, records map[string]bool, want map[expectKey]string, cmp func(x, y string) int) {
	t.Helper()
	got := findingIDs(t, fs, records)
	var missing, extra []string
	for k := range want {
		if _, ok := got[k]; !ok {
			missing = append(missing, k.pkg+" "+k.id)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, k.pkg+" "+k.id)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	if len(missing)+len(extra) > 0 {
		t.Fatalf("findings differ from the oracle:\nmissing: %v\nextra: %v", missing, extra)
	}
	for _, f := range fs {
		wantFix := ""
		for _, id := range append([]string{f.RuleID}, f.Aliases...) {
			fx, ok := want[expectKey{f.Package.Name + "@" + f.Package.Version + "@" + f.Package.Location, id}]
			if ok && fx != "" && (wantFix == "" || cmp(fx, wantFix) > 0) {
				wantFix = fx
			}
		}
		if f.FixedVersion != wantFix {
			t.Errorf("%s %s: FixedVersion = %q, oracle %q", f.Subject, f.RuleID, f.FixedVersion, wantFix)
		}
		wantStatus := model.StatusFixed
		if wantFix == "" {
			wantStatus = model.StatusUnfixed
		}
		if f.Status != wantStatus {
			t.Errorf("%s %s: Status = %q, want %q", f.Subject, f.RuleID, f.Status, wantStatus)
		}
	}
}

// TestMatchNPMSantaTracker matches every package of santa-tracker's
// package-lock.json ("packages") against the npm GHSA subset.
//
// The data README says a quick semver check finds "64 (advisory, package,
// version) hits = 49 advisories on 38 packages". Match (and the naive
// oracle below) find 65 = 50 on 39: the lock pins google-closure-library at
// "v20190909.0.0", with a leading "v" that strict SemVer parsers reject, so
// the README's check dropped GHSA-vh5w-fg69-rc8m. Without v-prefixed
// versions the count is exactly the README's.
func TestMatchNPMSantaTracker(t *testing.T) {
	vs := testutil.OSVZip(t, "osv/npm-ghsa-subset.zip")
	lockPath := testutil.Data(t, "lockfiles/npm/santa-tracker-osv-scanner/package-lock.json")
	b, err := os.ReadFile(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		t.Fatalf("parse %s: %v", lockPath, err)
	}
	var pkgs []model.Package
	for key, e := range lock.Packages {
		if key == "" {
			continue // the project itself
		}
		name := e.Name
		if name == "" {
			name = key[strings.LastIndex(key, "node_modules/")+len("node_modules/"):]
		}
		pkgs = append(pkgs, model.Package{Name: name, Version: e.Version, Type: model.TypeNPM, Ecosystem: "npm", Location: key})
	}
	if len(pkgs) != 652 {
		t.Fatalf("read %d packages from the lock file, want 652", len(pkgs))
	}
	fs, ws := runMatch(t, vs, pkgs)
	if len(ws) != 0 {
		t.Errorf("warnings: %v", ws)
	}

	want := map[expectKey]string{}
	type triple struct{ id, name, version string }
	hits := map[triple]bool{}
	for _, p := range pkgs {
		for _, v := range vs {
			hit, fixed := false, ""
			for _, a := range v.Affected {
				if a.Package.Ecosystem != "npm" || a.Package.Name != p.Name {
					continue
				}
				if slices.Contains(a.Versions, p.Version) {
					hit = true
				}
				h, f := naiveRanges(a, p.Version, vsemver, nil)
				if h {
					hit = true
					if f != "" && (fixed == "" || vsemver(f, fixed) < 0) {
						fixed = f
					}
				}
			}
			if hit {
				want[expectKey{p.Name + "@" + p.Version + "@" + p.Location, v.ID}] = fixed
				hits[triple{v.ID, p.Name, p.Version}] = true
			}
		}
	}
	checkAgainstOracle(t, fs, recordSet(vs), want, vsemver)

	count := func(skipV bool) (n, advisories, packages int) {
		as, ps := map[string]bool{}, map[string]bool{}
		for h := range hits {
			if skipV && strings.HasPrefix(h.version, "v") {
				continue
			}
			n++
			as[h.id] = true
			ps[h.name] = true
		}
		return n, len(as), len(ps)
	}
	if n, a, p := count(false); n != 65 || a != 50 || p != 39 {
		t.Errorf("hits = %d on %d advisories, %d packages; want 65, 50, 39", n, a, p)
	}
	if n, a, p := count(true); n != 64 || a != 49 || p != 38 {
		t.Errorf("hits without v-prefixed versions = %d on %d advisories, %d packages; want the README's 64, 49, 38", n, a, p)
	}
	if !hits[triple{"GHSA-vh5w-fg69-rc8m", "google-closure-library", "v20190909.0.0"}] {
		t.Errorf("GHSA-vh5w-fg69-rc8m on google-closure-library v20190909.0.0 not found")
	}
}

// TestMatchMavenZeppelin matches dependencies of Apache Zeppelin's poms
// (versions read by hand from parent/pom.xml properties) and the log4shell
// fixture against the Maven GHSA subset. Oracle: the record's explicit
// versions list (exact string), which GHSA fills from Maven Central —
// independent of the Maven version order.
func TestMatchMavenZeppelin(t *testing.T) {
	vs := testutil.OSVZip(t, "osv/maven-ghsa-subset.zip")
	deps := []struct{ name, version string }{
		{"org.eclipse.jetty:jetty-server", "9.4.52.v20230823"},
		{"org.eclipse.jetty:jetty-http", "9.4.52.v20230823"},
		{"org.apache.commons:commons-compress", "1.21"},
		{"org.apache.commons:commons-text", "1.10.0"},
		{"commons-io:commons-io", "2.7"},
		{"org.apache.shiro:shiro-core", "1.10.0"},
		{"org.apache.shiro:shiro-web", "1.10.0"},
		{"org.bouncycastle:bcprov-jdk15on", "1.70"},
		{"com.google.code.gson:gson", "2.8.9"},
		{"org.apache.httpcomponents:httpclient", "4.5.13"},
		{"org.json:json", "20240205"},
		{"com.google.protobuf:protobuf-java", "3.21.7"},
		{"org.codehaus.jettison:jettison", "1.5.4"},
		{"org.jsoup:jsoup", "1.16.1"},
		{"org.apache.thrift:libthrift", "0.13.0"},
		{"org.apache.hadoop:hadoop-common", "2.7.7"},
		{"org.quartz-scheduler:quartz", "2.3.2"},
		{"com.fasterxml.jackson.core:jackson-databind", "2.9.1"}, // trivy log4shell fixture
	}
	var pkgs []model.Package
	for _, d := range deps {
		pkgs = append(pkgs, model.Package{Name: d.name, Version: d.version, Type: model.TypeMaven, Ecosystem: "Maven", Location: "/pom.xml"})
	}
	fs, ws := runMatch(t, vs, pkgs)
	if len(ws) != 0 {
		t.Errorf("warnings: %v", ws)
	}
	got := findingIDs(t, fs, recordSet(vs))
	want := map[expectKey]bool{}
	for _, p := range pkgs {
		for _, v := range vs {
			for _, a := range v.Affected {
				if a.Package.Ecosystem == "Maven" && a.Package.Name == p.Name && slices.Contains(a.Versions, p.Version) {
					want[expectKey{p.Name + "@" + p.Version + "@" + p.Location, v.ID}] = true
				}
			}
		}
	}
	var missing, extra []string
	for k := range want {
		if _, ok := got[k]; !ok {
			missing = append(missing, k.pkg+" "+k.id)
		}
	}
	for k := range got {
		if !want[k] {
			extra = append(extra, k.pkg+" "+k.id)
		}
	}
	if len(missing)+len(extra) > 0 {
		t.Fatalf("findings differ from the versions lists:\nmissing: %v\nextra: %v", missing, extra)
	}
	if len(want) < 20 {
		t.Fatalf("only %d hits; the data changed?", len(want))
	}
	t.Logf("%d findings, %d (package, GHSA) hits", len(fs), len(want))
}

// rpmVercmp compares EVR pairs with the real rpm (rpm.vercmp in Lua), all
// in one run; it returns a lookup function.
func rpmVercmp(t *testing.T, pairs [][2]string) func(x, y string) int {
	t.Helper()
	rpm := testutil.RequireCmd(t, "rpm")
	in := filepath.Join(t.TempDir(), "pairs")
	var sb strings.Builder
	for _, p := range pairs {
		fmt.Fprintf(&sb, "%s\t%s\n", p[0], p[1])
	}
	if err := os.WriteFile(in, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	lua := `%{lua: local out = {}
for line in io.lines("` + in + `") do
  local a, b = line:match("^([^\t]*)\t([^\t]*)$")
  out[#out+1] = a .. "\t" .. b .. "\t" .. rpm.vercmp(a, b)
end
print(table.concat(out, ";"))}`
	out, err := exec.Command(rpm, "--eval", lua).Output()
	if err != nil {
		t.Fatalf("rpm --eval: %v", err)
	}
	res := map[[2]string]int{}
	for _, rec := range strings.Split(strings.TrimSpace(string(out)), ";") {
		f := strings.Split(rec, "\t")
		if len(f) != 3 {
			t.Fatalf("rpm answered %q", rec)
		}
		res[[2]string{f[0], f[1]}] = map[string]int{"-1": -1, "0": 0, "1": 1}[f[2]]
	}
	return func(x, y string) int {
		c, ok := res[[2]string{x, y}]
		if !ok {
			t.Fatalf("rpm was not asked about %q vs %q", x, y)
		}
		return c
	}
}

func TestMatchAlmaLinuxRealData(t *testing.T) {
	vs := testutil.OSVZip(t, "osv/almalinux.zip")
	pkgs := []model.Package{
		// Epoch inside Version.
		{Name: "openssl-libs", Version: "1:1.1.1k-5.el8_5", Type: model.TypeRPM, Ecosystem: "AlmaLinux:8", Location: "/var/lib/rpm"},
		// Epoch only in the Epoch field.
		{Name: "openssl-libs", Version: "1.1.1k-9.el8_7", Epoch: 1, Type: model.TypeRPM, Ecosystem: "AlmaLinux:8", Location: "/var/lib/rpm/x"},
		{Name: "git", Version: "2.31.1-2.el8", Type: model.TypeRPM, Ecosystem: "AlmaLinux:8", Location: "/var/lib/rpm"},
		{Name: "python3-libs", Version: "3.6.8-45.el8.alma", Type: model.TypeRPM, Ecosystem: "AlmaLinux:8", Location: "/var/lib/rpm"},
		// perl has modular and non-modular advisories: both kinds installed.
		{Name: "perl", Version: "4:5.26.3-419.el8_4.1", Type: model.TypeRPM, Ecosystem: "AlmaLinux:8", Location: "/var/lib/rpm"},
		{Name: "perl", Version: "4:5.30.1-452.module_el8.4.0+2396+b2b60bb5", Type: model.TypeRPM, Ecosystem: "AlmaLinux:8", Location: "/var/lib/rpm/m"},
		// Modular only.
		{Name: "nodejs", Version: "1:16.14.0-3.module_el8.5.0+2645+c1ec41c4", Type: model.TypeRPM, Ecosystem: "AlmaLinux:8", Location: "/var/lib/rpm"},
		{Name: "httpd", Version: "2.4.37-43.module_el8.5.0+2597+c4b14997.alma", Type: model.TypeRPM, Ecosystem: "AlmaLinux:8", Location: "/var/lib/rpm"},
		{Name: "openssl", Version: "1:3.0.7-27.el9", Type: model.TypeRPM, Ecosystem: "AlmaLinux:9", Location: "/var/lib/rpm"},
	}
	evr := func(p model.Package) string {
		if p.Epoch > 0 {
			return fmt.Sprintf("%d:%s", p.Epoch, p.Version)
		}
		return p.Version
	}
	// Ask rpm about every pair of versions the oracle can need: per
	// package, the installed version and every fix named for it.
	var pairs [][2]string
	for _, p := range pkgs {
		set := map[string]bool{evr(p): true}
		for _, v := range vs {
			for _, a := range v.Affected {
				if a.Package.Ecosystem != p.Ecosystem || a.Package.Name != p.Name {
					continue
				}
				for _, r := range a.Ranges {
					for _, e := range r.Events {
						if e.Fixed != "" {
							set[e.Fixed] = true
						}
					}
				}
			}
		}
		for x := range set {
			for y := range set {
				pairs = append(pairs, [2]string{x, y})
			}
		}
	}
	rpmCmp := rpmVercmp(t, pairs)
	fs, ws := runMatch(t, vs, pkgs)
	if len(ws) != 0 {
		t.Errorf("warnings: %v", ws)
	}
	want := map[expectKey]string{}
	for _, p := range pkgs {
		installed := evr(p)
		modular := strings.Contains(installed, "module_el")
		for _, v := range vs {
			hit, fixed := false, ""
			for _, a := range v.Affected {
				if a.Package.Ecosystem != p.Ecosystem || a.Package.Name != p.Name {
					continue
				}
				h, f := naiveRanges(a, installed, rpmCmp, func(r osv.Range) bool {
					for _, e := range r.Events {
						if e.Fixed != "" {
							return strings.Contains(e.Fixed, "module_el") == modular
						}
					}
					return true
				})
				if h {
					hit = true
					if f != "" && (fixed == "" || rpmCmp(f, fixed) < 0) {
						fixed = f
					}
				}
			}
			if hit {
				want[expectKey{p.Name + "@" + p.Version + "@" + p.Location, v.ID}] = fixed
			}
		}
	}
	checkAgainstOracle(t, fs, recordSet(vs), want, rpmCmp)
	// The epoch matters: without it openssl-libs 1.1.1k-9.el8_7 would be
	// older than every 1:… fix.
	perPkg := map[string]int{}
	for k := range want {
		perPkg[k.pkg]++
	}
	if a, b := perPkg["openssl-libs@1:1.1.1k-5.el8_5@/var/lib/rpm"], perPkg["openssl-libs@1.1.1k-9.el8_7@/var/lib/rpm/x"]; a <= b || b == 0 {
		t.Errorf("openssl-libs hits: 1:…-5.el8_5 %d, 1:…-9.el8_7 %d; want more for the older, some for both", a, b)
	}
	if perPkg["perl@4:5.26.3-419.el8_4.1@/var/lib/rpm"] == 0 || perPkg["perl@4:5.30.1-452.module_el8.4.0+2396+b2b60bb5@/var/lib/rpm/m"] == 0 {
		t.Errorf("perl hits = %v; want both the modular and the non-modular build affected", perPkg)
	}
	t.Logf("%d findings; hits per package: %v", len(fs), perPkg)
}

// TestMatchMixedSamples uses the Debian and Alpine records of
// mixed-samples.zip: source package names and versions, ecosystem
// releases, the Alpine upstream CVE.
func TestMatchMixedSamples(t *testing.T) {
	vs := testutil.OSVZip(t, "osv/mixed-samples.zip")
	layer := &model.LayerRef{Index: 1, DiffID: "sha256:abc"}
	pkgs := []model.Package{
		// Binary tzdata, source tzdata: DLA-3051-1 lists Debian:9 versions.
		{Name: "tzdata", Version: "2021a-0+deb9u1", Type: model.TypeDeb, Ecosystem: "Debian:9", Location: "/var/lib/dpkg/status", Layer: layer},
		// Same package on Debian 10: no Debian:10 record, no finding.
		{Name: "tzdata", Version: "2021a-0+deb9u1", Type: model.TypeDeb, Ecosystem: "Debian:10", Location: "/var/lib/dpkg/status"},
		// musl-utils from origin musl on Alpine 3.16, ecosystem written without "v".
		{Name: "musl-utils", Version: "1.2.3-r3", SourceName: "musl", Type: model.TypeAPK, Ecosystem: "Alpine:3.16", Location: "/lib/apk/db/installed"},
		{Name: "musl", Version: "1.2.3-r4", Type: model.TypeAPK, Ecosystem: "Alpine:v3.16", Location: "/lib/apk/db/installed"},
	}
	fs, ws := runMatch(t, vs, pkgs)
	if len(ws) != 0 {
		t.Errorf("warnings: %v", ws)
	}
	var got []string
	for _, f := range fs {
		got = append(got, fmt.Sprintf("%s %s %s fixed=%s src=%s", f.Subject, f.RuleID, strings.Join(f.Aliases, ","), f.FixedVersion, f.Source))
	}
	want := []string{
		"musl-utils 1.2.3-r3 CVE-2025-26519 ALPINE-CVE-2025-26519 fixed=1.2.3-r4 src=https://storage.googleapis.com/cve-osv-conversion/alpine/ALPINE-CVE-2025-26519.json",
		"tzdata 2021a-0+deb9u1 DLA-3051-1  fixed=2021a-0+deb9u4 src=https://storage.googleapis.com/debian-osv/dla-osv/DLA-3051-1.json",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	for _, f := range fs {
		if f.Subject == "tzdata 2021a-0+deb9u1" && (f.Layer == nil || f.Layer.DiffID != "sha256:abc" || f.Location != "/var/lib/dpkg/status") {
			t.Errorf("tzdata finding layer/location = %v %q", f.Layer, f.Location)
		}
	}
}

// TestMatchDebianTrackerBundles: the real DSA list (../shared/data). An
// advisory fixing several CVEs is one finding per CVE: libssl1.1
// 1.1.1n-0+deb11u3 on Debian 11 is affected by exactly the five CVEs of
// DSA-5343-1 (fixed in 1.1.1n-0+deb11u4; the earlier bullseye openssl DSAs
// are fixed at or below it), and libxml2 2.9.10+dfsg-6.7+deb11u2 by the two
// of DSA-5271-1.
func TestMatchDebianTrackerBundles(t *testing.T) {
	f, err := os.Open(testutil.Data(t, "distro/debian-security-tracker/DSA-list"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []osv.Vulnerability
	if err := distro.ParseDebianList(context.Background(), f, "DSA-list", func(v osv.Vulnerability) error {
		vs = append(vs, v)
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	pkgs := []model.Package{
		{Name: "libssl1.1", Version: "1.1.1n-0+deb11u3", SourceName: "openssl", Type: model.TypeDeb, Ecosystem: "Debian:11", Location: "/var/lib/dpkg/status"},
		{Name: "libxml2", Version: "2.9.10+dfsg-6.7+deb11u2+b1", SourceName: "libxml2", SourceVersion: "2.9.10+dfsg-6.7+deb11u2", Type: model.TypeDeb, Ecosystem: "Debian:11", Location: "/var/lib/dpkg/status"},
	}
	fs, ws := runMatch(t, vs, pkgs)
	if len(ws) != 0 {
		t.Errorf("warnings: %v", ws)
	}
	var got []string
	for _, f := range fs {
		got = append(got, fmt.Sprintf("%s %s [%s] fixed=%s", f.Package.Name, f.RuleID, strings.Join(f.Aliases, " "), f.FixedVersion))
	}
	slices.Sort(got)
	want := []string{
		"libssl1.1 CVE-2022-2097 [DSA-5343-1] fixed=1.1.1n-0+deb11u4",
		"libssl1.1 CVE-2022-4304 [DSA-5343-1] fixed=1.1.1n-0+deb11u4",
		"libssl1.1 CVE-2022-4450 [DSA-5343-1] fixed=1.1.1n-0+deb11u4",
		"libssl1.1 CVE-2023-0215 [DSA-5343-1] fixed=1.1.1n-0+deb11u4",
		"libssl1.1 CVE-2023-0286 [DSA-5343-1] fixed=1.1.1n-0+deb11u4",
		"libxml2 CVE-2022-40303 [DSA-5271-1] fixed=2.9.10+dfsg-6.7+deb11u3",
		"libxml2 CVE-2022-40304 [DSA-5271-1] fixed=2.9.10+dfsg-6.7+deb11u3",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}
