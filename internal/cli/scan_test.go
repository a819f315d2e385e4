package cli

import (
	"archive/zip"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/semver"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
	"github.com/lockdown-sec/lockdown/internal/version"
	"github.com/lockdown-sec/lockdown/internal/vulndb"
)

var (
	scanDBOnce sync.Once
	scanDBPath string
	scanDBErr  error
)

// scanDB is the advisory DB built from everything in ../shared/data (OSV
// exports and the distribution data), cached for the machine keyed on the
// data's SHA256SUMS.
func scanDB(t testing.TB) string {
	t.Helper()
	data := testutil.DataDir(t)
	scanDBOnce.Do(func() {
		sums, err := os.ReadFile(filepath.Join(data, "SHA256SUMS"))
		if err != nil {
			scanDBErr = err
			return
		}
		dir := testutil.CacheDir(t, "vulndb")
		// Keyed on the data and on the ingest code that builds the DB.
		key := fmt.Sprintf("%x", sha256.Sum256(sums))[:12] + "-" + testutil.SourceHash(t, "internal/osv", "internal/ecosystem", "internal/vulndb", "internal/vulndb/distro")
		p := filepath.Join(dir, "shared-"+key+".db")
		lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			scanDBErr = err
			return
		}
		defer lock.Close()
		syscall.Flock(int(lock.Fd()), syscall.LOCK_EX)
		defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
		if st, err := vulndb.Open(p, vulndb.OpenOptions{}); err == nil {
			st.Close()
			scanDBPath = p
			return
		}
		var srcs []vulndb.Source
		for _, s := range []string{"osv", "distro"} {
			d, err := vulndb.DetectSources(filepath.Join(data, s))
			if err != nil {
				scanDBErr = err
				return
			}
			srcs = append(srcs, d...)
		}
		if _, err := vulndb.Update(context.Background(), p, srcs, vulndb.UpdateOptions{}); err != nil {
			scanDBErr = err
			return
		}
		scanDBPath = p
	})
	if scanDBErr != nil {
		t.Fatalf("build the test advisory DB: %v", scanDBErr)
	}
	return scanDBPath
}

// scanJSON runs `lockdown scan` and decodes its JSON report.
func scanJSON(t *testing.T, args ...string) (model.Report, int) {
	t.Helper()
	code, out, errOut := runCLI(t, append([]string{"scan", "--format", "json", "--quiet", "--max-db-age", "0"}, args...)...)
	if code == ExitBadInput {
		t.Fatalf("lockdown scan %v = exit 2: %s", args, errOut)
	}
	var r model.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("decode scan report: %v\n%s", err, out)
	}
	return r, code
}

// hits returns "package ID" pairs: for every finding, each of its IDs that
// has the prefix.
func hits(r model.Report, prefix string) []string {
	var out []string
	for _, f := range r.Findings {
		for _, id := range append([]string{f.RuleID}, f.Aliases...) {
			if strings.HasPrefix(id, prefix) {
				out = append(out, f.Package.Name+" "+id)
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// goModules parses `go version -m BINARY`: module path -> version, with
// replacements applied, plus "stdlib".
func goModules(t *testing.T, bin string) map[string]string {
	t.Helper()
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	mods := map[string]string{}
	lines := strings.Split(string(out), "\n")
	for i, line := range lines {
		f := strings.Fields(line)
		if i == 0 && len(f) >= 2 {
			mods["stdlib"] = strings.TrimPrefix(f[1], "go")
			continue
		}
		if len(f) >= 3 && f[0] == "dep" {
			mods[f[1]] = f[2]
		}
		if len(f) >= 3 && f[0] == "=>" {
			prev := strings.Fields(lines[i-1])
			delete(mods, prev[1])
			mods[f[1]] = f[2]
		}
	}
	return mods
}

// naiveOSV evaluates SEMVER ranges the way the OSV schema describes it,
// with golang.org/x/mod/semver: independent of internal/match.
func naiveOSV(ranges []struct {
	Type   string              `json:"type"`
	Events []map[string]string `json:"events"`
}, v string) bool {
	cv := "v" + strings.TrimPrefix(v, "v")
	for _, r := range ranges {
		if r.Type != "SEMVER" {
			continue
		}
		evs := slices.Clone(r.Events)
		key := func(e map[string]string) string {
			for _, k := range []string{"introduced", "fixed", "last_affected"} {
				if x, ok := e[k]; ok {
					if x == "0" {
						return "v0.0.0-0"
					}
					return "v" + x
				}
			}
			return "v0.0.0"
		}
		sort.SliceStable(evs, func(i, j int) bool { return semver.Compare(key(evs[i]), key(evs[j])) < 0 })
		affected := false
		for _, e := range evs {
			k := key(e)
			if _, ok := e["introduced"]; ok && semver.Compare(cv, k) >= 0 {
				affected = true
			}
			if _, ok := e["fixed"]; ok && semver.Compare(cv, k) >= 0 {
				affected = false
			}
			if _, ok := e["last_affected"]; ok && semver.Compare(cv, k) > 0 {
				affected = false
			}
		}
		if affected {
			return true
		}
	}
	return false
}

// TestScanGoBinary: a Go binary built with old modules; the findings equal
// the advisories of ../shared/data/osv/go.zip that cover those versions,
// computed here from the raw records.
func TestScanGoBinary(t *testing.T) {
	// Only go.zip: other sources (the GHSA subsets) name Go modules too.
	db := filepath.Join(t.TempDir(), "go.db")
	if code, _, errOut := runCLI(t, "db", "update", "--quiet", "--db", db, "--source", testutil.Data(t, "osv/go.zip")); code != ExitOK {
		t.Fatalf("db update: exit %d: %s", code, errOut)
	}
	bin := testutil.GoBinary(t, map[string]string{
		"go.mod": `module example.com/vulnapp

go 1.21

require (
	github.com/gin-gonic/gin v1.6.0
	golang.org/x/net v0.0.0-20200226121028-0de0cce0169b
	golang.org/x/text v0.3.5
)
`,
		"main.go": `package main

import (
	"fmt"

	"github.com/gin-gonic/gin"
	"golang.org/x/net/html"
	"golang.org/x/text/language"
)

func main() {
	fmt.Println(gin.Version, html.ElementNode, language.English)
}
`,
	})
	root := t.TempDir()
	dst := filepath.Join(root, "usr", "local", "bin", "vulnapp")
	os.MkdirAll(filepath.Dir(dst), 0o755)
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(dst, data, 0o755)

	mods := goModules(t, bin)
	for _, m := range []string{"github.com/gin-gonic/gin", "golang.org/x/text", "golang.org/x/net"} {
		if mods[m] == "" {
			t.Fatalf("go version -m lacks %s: %v", m, mods)
		}
	}
	// The expectation, from the raw records.
	zr, err := zip.OpenReader(testutil.Data(t, "osv/go.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var want []string
	names := map[string]map[string]bool{} // record ID -> package names it affects
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			ID        string `json:"id"`
			Withdrawn string `json:"withdrawn"`
			Affected  []struct {
				Package struct{ Ecosystem, Name string } `json:"package"`
				Ranges  []struct {
					Type   string              `json:"type"`
					Events []map[string]string `json:"events"`
				} `json:"ranges"`
			} `json:"affected"`
		}
		err = json.NewDecoder(rc).Decode(&rec)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if rec.Withdrawn != "" {
			continue
		}
		for _, a := range rec.Affected {
			if names[rec.ID] == nil {
				names[rec.ID] = map[string]bool{}
			}
			names[rec.ID][a.Package.Name] = true
			v, ok := mods[a.Package.Name]
			if !ok || a.Package.Ecosystem != "Go" || v == "(devel)" {
				continue
			}
			if naiveOSV(a.Ranges, v) {
				want = append(want, a.Package.Name+" "+rec.ID)
			}
		}
	}
	sort.Strings(want)
	want = slices.Compact(want)
	if len(want) < 10 {
		t.Fatalf("expectation has only %d advisories; the test modules should be old enough for more: %v", len(want), want)
	}

	r, code := scanJSON(t, "--db", db, "dir:"+root)
	if code != ExitOK {
		t.Errorf("exit = %d, want 0 without --fail-on", code)
	}
	// A finding carries the IDs of every record that names the same
	// vulnerability (aliases); count those that name this package.
	var got []string
	for _, f := range r.Findings {
		n := 0
		for _, id := range append([]string{f.RuleID}, f.Aliases...) {
			if names[id][f.Package.Name] {
				got = append(got, f.Package.Name+" "+id)
				n++
			}
		}
		if n == 0 {
			t.Errorf("finding %s %v on %s names no Go record for that module", f.RuleID, f.Aliases, f.Package.Name)
		}
	}
	sort.Strings(got)
	got = slices.Compact(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Go findings (-want +got):\n%s", diff)
	}
	for _, f := range r.Findings {
		if f.Package.Location != "/usr/local/bin/vulnapp" || f.Package.Ecosystem != "Go" {
			t.Errorf("finding %s on %s: location %q ecosystem %q", f.RuleID, f.Package.Name, f.Package.Location, f.Package.Ecosystem)
		}
	}

	// --fail-on: exit 1 when a finding reaches it, 0 when none does.
	// The Go records carry no severity: every finding is UNKNOWN.
	maxSev := model.SeverityUnknown
	for _, f := range r.Findings {
		maxSev = max(maxSev, f.Severity)
	}
	if _, code := scanJSON(t, "--db", db, "--fail-on", "unknown", "dir:"+root); code != ExitFindings {
		t.Errorf("--fail-on unknown: exit %d, want 1", code)
	}
	if maxSev < model.SeverityCritical {
		if _, code := scanJSON(t, "--db", db, "--fail-on", "critical", "dir:"+root); code != ExitOK {
			t.Errorf("--fail-on critical with nothing critical (max %v): exit %d, want 0", maxSev, code)
		}
	}
}

// apkInstalled reads lib/apk/db/installed out of a minirootfs tarball
// with plain string handling: binary name -> (version, origin).
func apkInstalled(t *testing.T, tarball string) map[string][2]string {
	t.Helper()
	db := testutil.TarGzFile(t, tarball, "lib/apk/db/installed")
	out := map[string][2]string{}
	var name, ver, origin string
	flush := func() {
		if name != "" {
			if origin == "" {
				origin = name
			}
			out[name] = [2]string{ver, origin}
		}
		name, ver, origin = "", "", ""
	}
	sc := bufio.NewScanner(strings.NewReader(string(db)))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case l == "":
			flush()
		case strings.HasPrefix(l, "P:"):
			name = l[2:]
		case strings.HasPrefix(l, "V:"):
			ver = l[2:]
		case strings.HasPrefix(l, "o:"):
			origin = l[2:]
		}
	}
	flush()
	return out
}

// TestScanAlpineAgainstSecdb: the Alpine 3.10 and 3.11 minirootfs tarballs
// and docker-save images against the secdb of the same branch: findings
// equal the secdb entries whose fixed version is newer than the installed
// one, and none for packages at or above the fix.
func TestScanAlpineAgainstSecdb(t *testing.T) {
	db := scanDB(t)
	apkv := version.APK()
	cases := []struct{ branch, rootfs, image string }{
		{"v3.10", "rootfs/alpine-minirootfs-3.10.9-x86_64.tar.gz", "images/alpine-3.10-docker-save.tar.gz"},
		{"v3.11", "rootfs/alpine-minirootfs-3.11.13-x86_64.tar.gz", "images/alpine-3.11-docker-save.tar.gz"},
	}
	for _, c := range cases {
		t.Run(c.branch, func(t *testing.T) {
			// secdb: origin -> fixed version -> IDs.
			secfixes := map[string]map[string][]string{}
			for _, repo := range []string{"main", "community"} {
				raw, err := os.ReadFile(testutil.Data(t, "distro/alpine-secdb/"+c.branch+"/"+repo+".json"))
				if err != nil {
					t.Fatal(err)
				}
				var doc struct {
					Packages []struct {
						Pkg struct {
							Name     string              `json:"name"`
							Secfixes map[string][]string `json:"secfixes"`
						} `json:"pkg"`
					} `json:"packages"`
				}
				if err := json.Unmarshal(raw, &doc); err != nil {
					t.Fatal(err)
				}
				for _, p := range doc.Packages {
					if secfixes[p.Pkg.Name] == nil {
						secfixes[p.Pkg.Name] = map[string][]string{}
					}
					for fixed, ids := range p.Pkg.Secfixes {
						secfixes[p.Pkg.Name][fixed] = append(secfixes[p.Pkg.Name][fixed], ids...)
					}
				}
			}
			expect := func(installed map[string][2]string) []string {
				var want []string
				for name, vo := range installed {
					for fixed, ids := range secfixes[vo[1]] {
						if fixed == "0" {
							continue
						}
						fv, err := apkv.Parse(fixed)
						if err != nil {
							continue
						}
						iv, err := apkv.Parse(vo[0])
						if err != nil {
							t.Fatalf("installed %s %s: %v", name, vo[0], err)
						}
						if apkv.Compare(iv, fv) >= 0 {
							continue
						}
						for _, idList := range ids {
							for _, id := range strings.Fields(idList) {
								if strings.HasPrefix(id, "CVE-") {
									want = append(want, name+" "+id)
								}
							}
						}
					}
				}
				sort.Strings(want)
				return slices.Compact(want)
			}

			// The rootfs tarball, unpacked into a dir: target.
			root := t.TempDir()
			if out, err := exec.Command("tar", "-xzf", testutil.Data(t, c.rootfs), "-C", root).CombinedOutput(); err != nil {
				t.Fatalf("untar %s: %v\n%s", c.rootfs, err, out)
			}
			installed := apkInstalled(t, testutil.Data(t, c.rootfs))
			r, _ := scanJSON(t, "--db", db, "dir:"+root)
			if diff := cmp.Diff(expect(installed), hits(r, "CVE-")); diff != "" {
				t.Errorf("rootfs %s findings (-want +got):\n%s", c.rootfs, diff)
			}
			for _, f := range r.Findings {
				if f.Status != model.StatusFixed || f.FixedVersion == "" {
					t.Errorf("%s %s: status %q fixed %q; secdb entries always name the fix", f.Package.Name, f.RuleID, f.Status, f.FixedVersion)
				}
			}

			// The docker-save image of the same branch.
			r, _ = scanJSON(t, "--db", db, "docker-archive:"+testutil.Data(t, c.image))
			var imgInstalled = map[string][2]string{}
			for _, p := range r.Packages {
				origin := p.SourceName
				if origin == "" {
					origin = p.Name
				}
				imgInstalled[p.Name] = [2]string{p.Version, origin}
			}
			if len(imgInstalled) == 0 {
				t.Fatalf("no packages in %s", c.image)
			}
			if diff := cmp.Diff(expect(imgInstalled), hits(r, "CVE-")); diff != "" {
				t.Errorf("image %s findings (-want +got):\n%s", c.image, diff)
			}
		})
	}
}

// TestScanUbuntuTracker: the real Ubuntu 18.04 dpkg status files against
// the Ubuntu CVE tracker: specific CVEs found with the tracker's fixed
// versions, patched versions not reported, not-affected and needs-triage
// entries not reported, negligible ones reported.
func TestScanUbuntuTracker(t *testing.T) {
	db := scanDB(t)
	root := ubuntuRoot(t)
	r, _ := scanJSON(t, "--db", db, "dir:"+root)
	ubuntuCheck(t, r)

	// --severity shows only those severities; --fail-on then judges what is shown.
	var high int
	for _, f := range r.Findings {
		if f.Severity == model.SeverityHigh || f.Severity == model.SeverityCritical {
			high++
		}
	}
	if high == 0 || high == len(r.Findings) {
		t.Fatalf("%d of %d findings are high or critical; the --severity check needs both kinds", high, len(r.Findings))
	}
	hr, code := scanJSON(t, "--db", db, "--severity", "high,critical", "--fail-on", "low", "dir:"+root)
	if len(hr.Findings) != high || code != ExitFindings {
		t.Errorf("--severity high,critical: %d findings, exit %d; want %d and exit 1", len(hr.Findings), code, high)
	}
	for _, f := range hr.Findings {
		if f.Severity < model.SeverityHigh {
			t.Errorf("--severity high,critical shows %s at %v", f.RuleID, f.Severity)
		}
	}
	if code, _, errOut := runCLI(t, "scan", "--db", db, "--severity", "severe", "dir:"+root); code != ExitBadInput || !strings.Contains(errOut, "--severity") {
		t.Errorf("--severity severe: exit %d, stderr %q; want 2 naming --severity", code, errOut)
	}
}

// ubuntuRoot is a root filesystem holding the real Ubuntu 18.04 dpkg
// status file from ../shared/data and Ubuntu 18.04's os-release.
func ubuntuRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.MkdirAll(filepath.Join(root, "var", "lib", "dpkg"), 0o755)
	os.WriteFile(filepath.Join(root, "etc", "os-release"), []byte(`NAME="Ubuntu"
VERSION="18.04.4 LTS (Bionic Beaver)"
ID=ubuntu
ID_LIKE=debian
PRETTY_NAME="Ubuntu 18.04.4 LTS"
VERSION_ID="18.04"
VERSION_CODENAME=bionic
UBUNTU_CODENAME=bionic
`), 0o644)
	status, err := os.ReadFile(testutil.Data(t, "pkgdb/dpkg/ubuntu-18.04-fanal.status"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "var", "lib", "dpkg", "status"), status, 0o644)
	return root
}

func ubuntuCheck(t *testing.T, r model.Report) {
	t.Helper()
	if len(r.Findings) == 0 {
		t.Fatal("no findings for an Ubuntu 18.04 image from 2019 against the 2020 tracker")
	}
	// Independent check of every finding and of the absence of the rest:
	// read the tracker's bionic lines for the image's source packages and
	// compare versions with dpkg itself.
	srcVersion := map[string]string{}
	for _, p := range r.Packages {
		src, v := p.SourceName, p.SourceVersion
		if src == "" {
			src, v = p.Name, p.Version
		}
		srcVersion[src] = v
	}
	type exp struct{ Fixed, Status string }
	want := map[string]exp{} // "src CVE" -> expectation
	tr := testutil.TarGzFiles(t, testutil.Data(t, "distro/ubuntu-cve-tracker/ubuntu-cve-tracker-2020-06.tar.gz"))
	for name, body := range tr {
		base := filepath.Base(name)
		if !strings.HasPrefix(base, "CVE-") || strings.Contains(base, "NNN") {
			continue
		}
		for _, line := range strings.Split(body, "\n") {
			if !strings.HasPrefix(line, "bionic_") {
				continue
			}
			k, v, ok := strings.Cut(strings.TrimPrefix(line, "bionic_"), ":")
			if !ok {
				continue
			}
			inst, ok := srcVersion[k]
			if !ok {
				continue
			}
			v = strings.TrimSpace(v)
			st, ver, _ := strings.Cut(v, " ")
			ver = strings.Trim(ver, "()")
			key := k + " " + base
			// Negligible priorities are findings too (LOW); needs-triage is
			// hidden by default (vulndb/distro VendorStatuses).
			switch {
			case st == "released" && ver != "":
				if exec.Command("dpkg", "--compare-versions", inst, "lt", ver).Run() == nil {
					want[key] = exp{ver, model.StatusFixed}
				}
			case st == "needed" || (st == "pending" && ver == ""):
				want[key] = exp{"", model.StatusUnfixed}
			case st == "deferred":
				want[key] = exp{"", model.StatusFixDeferred}
			case st == "ignored":
				want[key] = exp{"", model.StatusWillNotFix}
			case st == "pending":
				if exec.Command("dpkg", "--compare-versions", inst, "lt", ver).Run() == nil {
					want[key] = exp{ver, model.StatusFixed}
				}
			}
		}
	}
	got := map[string]exp{}
	for _, f := range r.Findings {
		src := f.Package.SourceName
		if src == "" {
			src = f.Package.Name
		}
		for _, id := range append([]string{f.RuleID}, f.Aliases...) {
			if strings.HasPrefix(id, "CVE-") {
				got[src+" "+id] = exp{f.FixedVersion, f.Status}
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Ubuntu 18.04 findings by (source, CVE) (-want +got):\n%s", diff)
	}
	t.Logf("%d findings, %d (source, CVE) pairs", len(r.Findings), len(got))
}

// TestScanSuppression: an ignore file and a VEX document hide findings,
// and the JSON lists what was hidden and why.
func TestScanSuppression(t *testing.T) {
	db := scanDB(t)
	root := ubuntuRoot(t)
	r, _ := scanJSON(t, "--db", db, "dir:"+root)
	if len(r.Findings) < 2 {
		t.Fatalf("needs at least two findings on the Ubuntu 18.04 status file, got %d", len(r.Findings))
	}
	first := r.Findings[0]
	second := r.Findings[len(r.Findings)-1]
	if second.RuleID == first.RuleID {
		t.Fatalf("first and last finding share %s", first.RuleID)
	}
	dir := t.TempDir()
	ignore := filepath.Join(dir, "ignore")
	os.WriteFile(ignore, []byte(first.RuleID+" # accepted by the test\n"), 0o644)
	vexDoc := filepath.Join(dir, "vex.json")
	os.WriteFile(vexDoc, []byte(fmt.Sprintf(`{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.invalid/vex/1",
  "author": "test",
  "timestamp": "2026-11-01T00:00:00Z",
  "version": 1,
  "statements": [{"vulnerability": {"name": %q}, "products": [{"@id": %q}], "status": "not_affected", "justification": "vulnerable_code_not_present"}]
}`, second.RuleID, strings.SplitN(second.Package.PURL, "@", 2)[0])), 0o644)

	r2, _ := scanJSON(t, "--db", db, "--ignorefile", ignore, "--vex", vexDoc, "dir:"+root)
	reasons := map[string]string{}
	for _, s := range r2.Suppressed {
		reasons[s.By+" "+s.Finding.RuleID+" "+s.Finding.Package.Name] = s.Reason
	}
	wantIgnored := 0
	for _, f := range r.Findings {
		if f.RuleID == first.RuleID {
			wantIgnored++
			if reasons["ignore-file "+f.RuleID+" "+f.Package.Name] != "accepted by the test" {
				t.Errorf("%s on %s not suppressed by the ignore file: %v", f.RuleID, f.Package.Name, reasons)
			}
		}
	}
	if reasons["vex "+second.RuleID+" "+second.Package.Name] != "vex: not_affected (vulnerable_code_not_present)" {
		t.Errorf("%s on %s not suppressed by VEX: %v", second.RuleID, second.Package.Name, reasons)
	}
	if len(r2.Findings)+len(r2.Suppressed) != len(r.Findings) {
		t.Errorf("kept %d + suppressed %d != %d findings without suppression", len(r2.Findings), len(r2.Suppressed), len(r.Findings))
	}
	for _, f := range r2.Findings {
		if f.RuleID == first.RuleID || (f.RuleID == second.RuleID && f.Package.Name == second.Package.Name) {
			t.Errorf("suppressed finding %s on %s still reported", f.RuleID, f.Package.Name)
		}
	}
}

// TestScanBadInput: every bad input exits 2 with one line naming it.
func TestScanBadInput(t *testing.T) {
	db := scanDB(t)
	dir := t.TempDir()
	badIgnore := filepath.Join(dir, "ignore")
	os.WriteFile(badIgnore, []byte("CVE-1 exp:someday\n"), 0o644)
	newer := filepath.Join(dir, "newer.db")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing target file", []string{"scan", "--db", db, "docker-archive:" + filepath.Join(dir, "nope.tar")}, "nope.tar"},
		{"no target", []string{"scan", "--db", db}, "needs exactly one TARGET"},
		{"bad fail-on", []string{"scan", "--db", db, "--fail-on", "severe", "dir:" + dir}, "unknown severity"},
		{"bad format", []string{"scan", "--db", db, "--format", "xml", "dir:" + dir}, "unknown --format"},
		{"bad ignore file", []string{"scan", "--db", db, "--ignorefile", badIgnore, "dir:" + dir}, "is not YYYY-MM-DD"},
		{"missing vex", []string{"scan", "--db", db, "--vex", filepath.Join(dir, "vex.json"), "dir:" + dir}, "vex.json"},
		{"db source missing", []string{"scan", "--db", newer, "--db-source", filepath.Join(dir, "nothing"), "dir:" + dir}, "nothing"},
		{"corrupt archive", []string{"scan", "--db", db, "docker-archive:" + badIgnore}, "ignore"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, c.args...)
			if code != ExitBadInput {
				t.Errorf("exit = %d, want 2 (stderr %q)", code, errOut)
			}
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if !strings.Contains(lines[len(lines)-1], c.want) || !strings.HasPrefix(lines[len(lines)-1], "lockdown: ") {
				t.Errorf("stderr = %q, want a last line `lockdown: …%s…`", errOut, c.want)
			}
		})
	}
}

// TestScanAlpineOSV: real apk databases against the osv.dev Alpine record
// in ../shared/data (ALPINE-CVE-2025-26519: musl fixed in 1.2.3-r4 on
// v3.16, later on newer branches): found on the release it names, with its
// fixed version, for the binary packages of the musl origin; never on a
// release the record does not name.
func TestScanAlpineOSV(t *testing.T) {
	db := scanDB(t)
	cases := []struct {
		name, installed, versionID string
		want                       []string // "package fixed"
	}{
		{"3.16 vulnerable", "pkgdb/apk/alpine-3.16-syft-multiple-2.installed", "3.16.2", []string{"musl 1.2.3-r4", "musl-utils 1.2.3-r4"}},
		{"3.15 not named by the record", "pkgdb/apk/alpine-3.16-syft-multiple-2.installed", "3.15.4", nil},
		{"3.20.3 below its branch's fix", "pkgdb/apk/alpine-3.20.3-x86_64.installed", "3.20.3", []string{"musl 1.2.5-r1", "musl-utils 1.2.5-r1"}},
		{"3.18 below its branch's fix", "pkgdb/apk/alpine-3.18-scalibr.installed", "3.18.4", []string{"musl 1.2.4-r3", "musl-utils 1.2.4-r3"}},
		{"1.2.5-r0 above the 3.19 fix (1.2.4_git20230717-r5)", "pkgdb/apk/alpine-3.20.3-x86_64.installed", "3.19.1", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			os.MkdirAll(filepath.Join(root, "etc"), 0o755)
			os.MkdirAll(filepath.Join(root, "lib", "apk", "db"), 0o755)
			os.WriteFile(filepath.Join(root, "etc", "os-release"), []byte("NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID="+c.versionID+"\nPRETTY_NAME=\"Alpine Linux v"+c.versionID[:4]+"\"\n"), 0o644)
			b, err := os.ReadFile(testutil.Data(t, c.installed))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(root, "lib", "apk", "db", "installed"), b, 0o644)
			r, _ := scanJSON(t, "--db", db, "dir:"+root)
			var got []string
			for _, f := range r.Findings {
				if f.RuleID != "CVE-2025-26519" {
					continue
				}
				got = append(got, f.Package.Name+" "+f.FixedVersion)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("CVE-2025-26519 findings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFailedRunKeepsOutput: a scan or sbom that fails (here: a missing
// target) exits 2 and leaves an earlier --output file as it was, instead of
// truncating it; an output in a missing directory is refused before any
// work.
func TestFailedRunKeepsOutput(t *testing.T) {
	db := scanDB(t)
	dir := t.TempDir()
	missing := "dir:" + filepath.Join(dir, "no-such-rootfs")
	for _, args := range [][]string{
		{"scan", "--db", db, missing},
		{"sbom", missing},
	} {
		t.Run(args[0], func(t *testing.T) {
			out := filepath.Join(dir, args[0]+".json")
			if err := os.WriteFile(out, []byte("earlier report\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			code, _, errOut := runCLI(t, append([]string{args[0], "-o", out}, args[1:]...)...)
			if code != ExitBadInput {
				t.Errorf("%s exit = %d, want 2 (stderr %q)", args[0], code, errOut)
			}
			if b, err := os.ReadFile(out); err != nil || string(b) != "earlier report\n" {
				t.Errorf("after a failed %s, %s = %q, %v; want it unchanged", args[0], out, b, err)
			}
			nodir := filepath.Join(dir, "missing-dir", "out.json")
			code, _, errOut = runCLI(t, append([]string{args[0], "-o", nodir}, args[1:]...)...)
			if code != ExitBadInput || !strings.Contains(errOut, "lockdown: output "+nodir+": ") {
				t.Errorf("%s -o %s: exit %d, stderr %q; want 2 and `lockdown: output %s: …`", args[0], nodir, code, errOut, nodir)
			}
		})
	}
}
