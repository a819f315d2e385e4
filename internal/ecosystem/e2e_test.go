package ecosystem_test

import (
	"bufio"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/ecosystem"
	"github.com/lockdown-sec/lockdown/internal/match"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/osv"
)

// osvEcosystems reads testdata/osv-ecosystems.txt (see its header for the
// sources).
func osvEcosystems(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("testdata/osv-ecosystems.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// versions are an affected and a fixed version per scheme.
var versions = map[string][2]string{
	"dpkg":      {"1.2-1", "1.2-2"},
	"apk":       {"1.2-r0", "1.2-r1"},
	"rpm":       {"1.2-1", "1.2-2"},
	"Go":        {"v1.2.0", "1.2.1"},
	"SemVer":    {"1.2.0", "1.2.1"},
	"npm":       {"1.2.0", "1.2.1"},
	"PEP 440":   {"1.2", "1.2.1"},
	"Maven":     {"1.2", "1.2.1"},
	"RubyGems":  {"1.2", "1.2.1"},
	"NuGet":     {"1.2.0", "1.2.1"},
	"Packagist": {"1.2.0", "1.2.1"},
}

// distros are an os-release for each distribution ecosystem that images
// are mapped to.
var distros = map[string]*model.Distro{
	"AlmaLinux":   {ID: "almalinux", VersionID: "9.4"},
	"Alpine":      {ID: "alpine", VersionID: "3.20.3"},
	"Azure Linux": {ID: "azurelinux", VersionID: "3.0"},
	"Chainguard":  {ID: "chainguard", VersionID: "20230214"},
	"Debian":      {ID: "debian", VersionID: "12"},
	"Mageia":      {ID: "mageia", VersionID: "9"},
	"openEuler":   {ID: "openeuler", VersionID: "22.03", PrettyName: "openEuler 22.03 (LTS-SP1)"},
	"openSUSE":    {ID: "opensuse-leap", VersionID: "15.5", PrettyName: "openSUSE Leap 15.5"},
	"Photon OS":   {ID: "photon", VersionID: "5.0"},
	"Rocky Linux": {ID: "rocky", VersionID: "9.3"},
	"SUSE":        {ID: "sles", VersionID: "15.5", PrettyName: "SUSE Linux Enterprise Server 15 SP5"},
	"Ubuntu":      {ID: "ubuntu", VersionID: "22.04"},
	"Wolfi":       {ID: "wolfi", VersionID: "20230201"},
}

type memSource map[string][]osv.Vulnerability

func (m memSource) Lookup(_ context.Context, eco, name string) ([]osv.Vulnerability, error) {
	return m[eco+"\x00"+name], nil
}

// TestOSVEcosystemsEndToEnd: every ecosystem of the OSV schema's list is in
// the table, and is either supported end to end (a package of it, its
// ecosystem derived from an os-release where images are mapped to it, is
// found affected by an advisory naming it, and not by one it has the fix
// of) or unsupported with a reason, its packages then reported as not
// checked (a warning naming the ecosystem), never silently skipped.
func TestOSVEcosystemsEndToEnd(t *testing.T) {
	listed := map[string]bool{}
	for _, name := range osvEcosystems(t) {
		listed[name] = true
		t.Run(name, func(t *testing.T) {
			e, ok := ecosystem.Lookup(name)
			if !ok || e.Name != name {
				t.Fatalf("Lookup(%q) = %q, %v: every OSV ecosystem must be in the table", name, e.Name, ok)
			}
			if !e.Supported() {
				if e.Unsupported == "" {
					t.Fatalf("%s is unsupported without a reason", name)
				}
				p := model.Package{Name: "pkg", Version: "1.0", Ecosystem: name}
				fs, ws, err := match.Match(context.Background(), memSource{}, []model.Package{p}, match.Options{})
				if err != nil || len(fs) != 0 {
					t.Fatalf("Match = %d findings, %v; want none", len(fs), err)
				}
				if !warned(ws, name) {
					t.Fatalf("Match warnings %v do not report the %s package as not matched", ws, name)
				}
				return
			}
			vs, ok := versions[e.Scheme.Name()]
			if !ok {
				t.Fatalf("no sample versions for scheme %s", e.Scheme.Name())
			}
			eco := name
			if d := distros[name]; d != nil {
				eco = ecosystem.ForPackage(e.PackageType, d)
				if got, _ := ecosystem.Lookup(eco); got.Name != name {
					t.Fatalf("ForPackage(%s, %+v) = %q, not in %s", e.PackageType, d, eco, name)
				}
			} else if len(e.DistroIDs) > 0 && e.Note == "" {
				t.Fatalf("%s has os-release IDs but neither a sample distro here nor a Note saying why images are not mapped", name)
			}
			for _, installed := range []string{vs[0], vs[1]} {
				p := model.Package{Name: "libpkg", SourceName: "pkg", Version: installed, Type: e.PackageType, Ecosystem: eco}
				qname, _ := e.Query(&p)
				adv := osv.Vulnerability{ID: "TEST-1", Affected: []osv.Affected{{
					Package: osv.Package{Ecosystem: eco, Name: qname},
					Ranges:  []osv.Range{{Type: osv.RangeEcosystem, Events: []osv.Event{{Introduced: "0"}, {Fixed: vs[1]}}}},
				}}}
				db := memSource{ecosystem.Normalize(eco) + "\x00" + qname: {adv}}
				fs, ws, err := match.Match(context.Background(), db, []model.Package{p}, match.Options{})
				if err != nil || len(ws) != 0 {
					t.Fatalf("Match(%s %s) error %v, warnings %v", eco, installed, err, ws)
				}
				want := 0
				if installed == vs[0] {
					want = 1
				}
				if len(fs) != want {
					t.Fatalf("Match(%s %s) = %d findings, want %d", eco, installed, len(fs), want)
				}
				if want == 1 && fs[0].FixedVersion != vs[1] {
					t.Fatalf("FixedVersion = %q, want %q", fs[0].FixedVersion, vs[1])
				}
			}
		})
	}
	for _, e := range ecosystem.All() {
		if !listed[e.Name] {
			t.Errorf("table row %q is not an OSV ecosystem", e.Name)
		}
	}
	// The issue names these: each has a version scheme, so each must be
	// supported end to end.
	for _, name := range []string{"Wolfi", "Chainguard", "Azure Linux", "Photon OS", "openEuler"} {
		if e, _ := ecosystem.Lookup(name); !e.Supported() || distros[name] == nil {
			t.Errorf("%s: supported %v, mapped from os-release %v; want both", name, e.Supported(), distros[name] != nil)
		}
	}
}

func warned(ws []model.Warning, eco string) bool {
	for _, w := range ws {
		if strings.Contains(w.Message, `"`+eco+`"`) {
			return true
		}
	}
	return false
}
