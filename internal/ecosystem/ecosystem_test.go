package ecosystem

import (
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/catalog/apk"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/version"
)

func TestNormalize(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Alpine:v3.16", "Alpine:v3.16"},
		{"Alpine:3.16", "Alpine:v3.16"},
		{"alpine:3.20", "Alpine:v3.20"},
		{" Alpine:v3.10 ", "Alpine:v3.10"},
		{"Alpine :edge", "Alpine:edge"},
		{"Ubuntu:22.04:LTS", "Ubuntu:22.04"},
		{"Ubuntu:Pro:18.04:LTS", "Ubuntu:Pro:18.04"},
		{"Ubuntu:20.10", "Ubuntu:20.10"},
		{"Ubuntu:22.04:LTS:LTS", "Ubuntu:22.04"},
		{"UBuntu: :LTS", "Ubuntu"}, // the fuzz reproducer of issue 11
		{"Ubuntu:", "Ubuntu"},
		{"Debian:12", "Debian:12"},
		{"Debian:12.4", "Debian:12"},
		{"Debian:3.0", "Debian:3.0"},
		{"Debian:3.1", "Debian:3.1"}, // sarge, not a point release of 3
		{"Debian:4.0", "Debian:4"},
		{"AlmaLinux:8", "AlmaLinux:8"},
		{"AlmaLinux:9.4", "AlmaLinux:9"},
		{"Rocky Linux:9", "Rocky Linux:9"},
		{"Rocky Linux:8.10", "Rocky Linux:8"},
		{"Azure Linux:3.0", "Azure Linux:3"},
		{"Mariner:2.0", "Azure Linux:2"},
		{"Mageia:9", "Mageia:9"},
		{"Photon OS:5.0", "Photon OS:5.0"},
		{"openEuler:22.03-LTS-SP1", "openEuler:22.03-LTS-SP1"},
		{"wolfi", "Wolfi"},
		{"Chainguard", "Chainguard"},
		{"Go", "Go"},
		{"go", "Go"},
		{"pypi", "PyPI"},
		{" PyPI ", "PyPI"},
		{"crates.io", "crates.io"},
		{"maven", "Maven"},
		{"npm", "npm"},
		{"Bitnami", "Bitnami"},
		{"rhel:9", "Red Hat:9"},
		{"Red Hat:enterprise_linux:9::appstream", "Red Hat:enterprise_linux:9::appstream"},
		{"Packagist:https://packages.drupal.org/8", "Packagist:https://packages.drupal.org/8"},
		{"SUSE:Linux Enterprise Server 15 SP5", "SUSE:Linux Enterprise Server 15 SP5"},
		{"OSS-Fuzz", "OSS-Fuzz"},
		{"Frobnitz:1", "Frobnitz:1"},
		{"", ""},
	} {
		if got := Normalize(c.in); got != c.want {
			t.Errorf("Normalize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestLookup(t *testing.T) {
	for _, c := range []struct {
		in        string
		name      string // "" = not found
		supported bool
	}{
		{"Debian:12", "Debian", true},
		{"Ubuntu:Pro:18.04", "Ubuntu", true},
		{"Alpine:v3.20", "Alpine", true},
		{"Rocky Linux:9", "Rocky Linux", true},
		{"Red Hat:enterprise_linux:9::appstream", "Red Hat", true},
		{"SUSE:Linux Enterprise Server 15 SP5", "SUSE", true},
		{"openSUSE:Leap 15.5", "openSUSE", true},
		{"Mariner:2.0", "Azure Linux", true},
		{"Azure Linux:3", "Azure Linux", true},
		{"Photon OS:5.0", "Photon OS", true},
		{"openEuler:22.03-LTS", "openEuler", true},
		{"Wolfi", "Wolfi", true},
		{"Chainguard", "Chainguard", true},
		{"Mageia:9", "Mageia", true},
		{"Go", "Go", true}, {"go", "Go", true}, {"npm", "npm", true}, {"PyPI", "PyPI", true},
		{"crates.io", "crates.io", true}, {"Maven", "Maven", true}, {"NuGet", "NuGet", true},
		{"RubyGems", "RubyGems", true}, {"Packagist", "Packagist", true}, {"Bitnami", "Bitnami", true},
		{"Hex", "Hex", true}, {"SwiftURL", "SwiftURL", true},
		// Known, unsupported.
		{"Pub", "Pub", false}, {"GIT", "GIT", false}, {"OSS-Fuzz", "OSS-Fuzz", false},
		{"Linux", "Linux", false}, {"Hackage", "Hackage", false}, {"MinimOS", "MinimOS", false},
		// Unknown.
		{"Frobnitz", "", false}, {"Debian12", "", false}, {"", "", false}, {":12", "", false},
	} {
		e, ok := Lookup(c.in)
		if ok != (c.name != "") || e.Name != c.name || e.Supported() != c.supported {
			t.Errorf("Lookup(%q) = %q (ok %v, supported %v), want %q (supported %v)",
				c.in, e.Name, ok, e.Supported(), c.name, c.supported)
		}
		if ok && e.Supported() == (e.Unsupported != "") {
			t.Errorf("Lookup(%q): Supported %v but Unsupported = %q", c.in, e.Supported(), e.Unsupported)
		}
	}
}

// TestTable checks the table's own consistency: one row per spelling and per
// os-release ID, a reason for every unsupported row, a package type and a
// scheme for every distribution.
func TestTable(t *testing.T) {
	names := map[string]string{}
	ids := map[string]string{}
	for _, e := range All() {
		for _, n := range append([]string{e.Name}, e.Aliases...) {
			k := strings.ToLower(n)
			if prev, dup := names[k]; dup {
				t.Errorf("spelling %q names both %s and %s", n, prev, e.Name)
			}
			names[k] = e.Name
		}
		for _, id := range e.DistroIDs {
			if prev, dup := ids[id]; dup {
				t.Errorf("os-release ID %q maps to both %s and %s", id, prev, e.Name)
			}
			ids[id] = e.Name
			if _, dup := otherFamilies[id]; dup {
				t.Errorf("os-release ID %q is both %s's and in otherFamilies", id, e.Name)
			}
		}
		if e.Supported() == (e.Unsupported != "") {
			t.Errorf("%s: Supported() = %v with Unsupported %q", e.Name, e.Supported(), e.Unsupported)
		}
		if len(e.DistroIDs) > 0 && (e.PackageType == "" || !e.Supported()) {
			t.Errorf("%s: distribution without a package type or a scheme", e.Name)
		}
		if Normalize(e.Name) != e.Name {
			t.Errorf("Normalize(%q) = %q: a table name must be its own normal form", e.Name, Normalize(e.Name))
		}
	}
}

func TestForPackage(t *testing.T) {
	d := func(id, version string, like ...string) *model.Distro {
		return &model.Distro{ID: id, VersionID: version, IDLike: like}
	}
	pretty := func(id, version, pretty string) *model.Distro {
		return &model.Distro{ID: id, VersionID: version, PrettyName: pretty}
	}
	tests := []struct {
		typ    string
		distro *model.Distro
		want   string
	}{
		{model.TypeDeb, d("debian", "12"), "Debian:12"},
		{model.TypeDeb, d("debian", "11.7"), "Debian:11"},
		{model.TypeDeb, &model.Distro{ID: "debian", Codename: "trixie"}, ""},
		{model.TypeDeb, d("ubuntu", "18.04", "debian"), "Ubuntu:18.04"},
		{model.TypeDeb, d("linuxmint", "21", "ubuntu", "debian"), ""},
		{model.TypeAPK, d("alpine", "3.20.3"), "Alpine:v3.20"},
		{model.TypeAPK, d("alpine", "3.21_alpha20240807"), "Alpine:v3.21"},
		{model.TypeAPK, d("alpine", "edge"), ""},
		{model.TypeAPK, d("wolfi", "20230201"), "Wolfi"},
		{model.TypeAPK, d("wolfi", ""), "Wolfi"},
		{model.TypeAPK, d("chainguard", "20230214"), "Chainguard"},
		{model.TypeRPM, d("almalinux", "9.4", "rhel", "centos", "fedora"), "AlmaLinux:9"},
		{model.TypeRPM, d("rocky", "8.10", "rhel", "centos", "fedora"), "Rocky Linux:8"},
		{model.TypeRPM, d("rhel", "9.4", "fedora"), ""},
		{model.TypeRPM, d("mariner", "2.0"), "Azure Linux:2"},
		{model.TypeRPM, d("azurelinux", "3.0"), "Azure Linux:3"},
		{model.TypeRPM, d("photon", "5.0"), "Photon OS:5.0"},
		{model.TypeRPM, d("mageia", "9"), "Mageia:9"},
		{model.TypeRPM, pretty("openeuler", "22.03", "openEuler 22.03 (LTS-SP1)"), "openEuler:22.03-LTS-SP1"},
		{model.TypeRPM, pretty("openeuler", "24.03", "openEuler 24.03 (LTS)"), "openEuler:24.03-LTS"},
		{model.TypeRPM, pretty("openeuler", "23.09", "openEuler 23.09"), "openEuler:23.09"},
		{model.TypeRPM, pretty("opensuse-leap", "15.5", "openSUSE Leap 15.5"), "openSUSE:Leap 15.5"},
		{model.TypeRPM, pretty("opensuse-tumbleweed", "20240101", "openSUSE Tumbleweed"), "openSUSE:Tumbleweed"},
		{model.TypeRPM, pretty("sles", "15.5", "SUSE Linux Enterprise Server 15 SP5"), "SUSE:Linux Enterprise Server 15 SP5"},
		{model.TypeRPM, pretty("sles", "15.5", ""), ""},
		{model.TypeRPM, d("fedora", "40"), ""},
		{model.TypeDeb, d("alpine", "3.20.3"), ""}, // a dpkg database on Alpine is not Alpine's
		{model.TypeAPK, d("debian", "12"), ""},
		{model.TypeDeb, nil, ""},
		{model.TypeGolang, nil, "Go"},
		{model.TypeGolang, d("debian", "12"), "Go"},
		{model.TypeNPM, d("debian", "12"), "npm"},
		{model.TypeNPM, nil, "npm"},
		{model.TypeMaven, d("alpine", "3.20.3"), "Maven"},
		{model.TypePyPI, nil, "PyPI"},
		{model.TypeCargo, nil, "crates.io"},
		{model.TypeComposer, nil, "Packagist"},
		{model.TypeGem, nil, "RubyGems"},
		{model.TypeNuGet, nil, "NuGet"},
		{"binary", nil, ""},
	}
	for _, tt := range tests {
		if got := ForPackage(tt.typ, tt.distro); got != tt.want {
			t.Errorf("ForPackage(%s, %+v) = %q, want %q", tt.typ, tt.distro, got, tt.want)
		}
	}
}

func TestDistroType(t *testing.T) {
	for _, c := range []struct {
		d    *model.Distro
		want string
	}{
		{&model.Distro{ID: "debian"}, model.TypeDeb},
		{&model.Distro{ID: "linuxmint", IDLike: []string{"ubuntu", "debian"}}, model.TypeDeb},
		{&model.Distro{ID: "wolfi"}, model.TypeAPK},
		{&model.Distro{ID: "chainguard"}, model.TypeAPK},
		{&model.Distro{ID: "amzn", IDLike: []string{"centos", "rhel", "fedora"}}, model.TypeRPM},
		{&model.Distro{ID: "ol", IDLike: []string{"fedora"}}, model.TypeRPM},
		{&model.Distro{ID: "photon"}, model.TypeRPM},
		{&model.Distro{ID: "opensuse-leap", IDLike: []string{"suse", "opensuse"}}, model.TypeRPM},
		{&model.Distro{ID: "arch"}, ""},
		{nil, ""},
	} {
		if got := DistroType(c.d); got != c.want {
			t.Errorf("DistroType(%+v) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestQuery(t *testing.T) {
	for _, c := range []struct {
		eco       string
		p         model.Package
		name, ver string
	}{
		{"Debian:12", model.Package{Name: "libssl3", Version: "3.0.11-1~deb12u2+b1", SourceName: "openssl", SourceVersion: "3.0.11-1~deb12u2"},
			"openssl", "3.0.11-1~deb12u2"},
		{"Ubuntu:22.04", model.Package{Name: "bash", Version: "5.1-6ubuntu1"}, "bash", "5.1-6ubuntu1"},
		{"Alpine:v3.20", model.Package{Name: "libcrypto3", Version: "3.3.2-r0", SourceName: "openssl", SourceVersion: "3.3.2-r0"},
			"openssl", "3.3.2-r0"},
		{"Wolfi", model.Package{Name: "libcrypto3", Version: "3.3.2-r0", SourceName: "openssl"}, "openssl", "3.3.2-r0"},
		{"AlmaLinux:9", model.Package{Name: "openssl-libs", Version: "3.0.7-27.el9", Epoch: 1, SourceName: "openssl"},
			"openssl-libs", "1:3.0.7-27.el9"},
		{"AlmaLinux:9", model.Package{Name: "bash", Version: "5.1.8-9.el9"}, "bash", "5.1.8-9.el9"},
		{"Azure Linux:3", model.Package{Name: "openssl-libs", Version: "1:3.3.2-1.azl3", Epoch: 1, SourceName: "openssl"},
			"openssl-libs", "1:3.3.2-1.azl3"},
		{"openEuler:22.03-LTS-SP1", model.Package{Name: "libcurl", Version: "7.79.1-25.oe2203sp1", SourceName: "curl"},
			"curl", "7.79.1-25.oe2203sp1"},
		{"Photon OS:5.0", model.Package{Name: "openssl-libs", Version: "3.0.9-1.ph5", Epoch: 2, SourceName: "openssl"},
			"openssl", "2:3.0.9-1.ph5"},
		{"PyPI", model.Package{Name: "Jinja2", Version: "3.1.2"}, "jinja2", "3.1.2"},
		{"Go", model.Package{Name: "stdlib", Version: "go1.21.0"}, "stdlib", "go1.21.0"},
	} {
		e, ok := Lookup(c.eco)
		if !ok {
			t.Fatalf("Lookup(%q) failed", c.eco)
		}
		if name, ver := e.Query(&c.p); name != c.name || ver != c.ver {
			t.Errorf("%s.Query(%s %s) = %s %s, want %s %s", c.eco, c.p.Name, c.p.Version, name, ver, c.name, c.ver)
		}
	}
}

func TestPEP503(t *testing.T) {
	for in, want := range map[string]string{
		"Django": "django", "zope.interface": "zope-interface", "typing_extensions": "typing-extensions",
		"Foo-_.-Bar": "foo-bar", "_private": "-private", "a..": "a-", "": "",
	} {
		if got := PEP503(in); got != want {
			t.Errorf("PEP503(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzNormalize: Normalize is idempotent and agrees with Lookup. The seed
// "UBuntu: :LTS" is the reproducer of issue 11 item 9 ("Ubuntu: " on the
// first call, "Ubuntu:" on the second); testdata/fuzz keeps it too.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"Alpine:3.16", "Ubuntu:Pro:18.04:LTS", "Debian:12.4", "go", "UBuntu: :LTS",
		"Ubuntu:22.04:LTS:LTS", "Mariner: 2.0", " :x", "Alpine: 3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if nn := Normalize(n); nn != n {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, n, nn)
		}
		e1, ok1 := Lookup(s)
		e2, ok2 := Lookup(n)
		if ok1 != ok2 || e1.Name != e2.Name {
			t.Fatalf("Lookup(%q) = %q %v, Lookup(Normalize) = Lookup(%q) = %q %v", s, e1.Name, ok1, n, e2.Name, ok2)
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range []string{"Debian:12", "Ubuntu:22.04:LTS", "Go", "Rocky Linux:9.4", "Frobnitz"} {
			Normalize(s)
		}
	}
}

// TestSchemeFor: apk packages of an image with apk-tools 3 are ordered by
// apk-tools 3's rules, the others by the ecosystem's scheme.
func TestSchemeFor(t *testing.T) {
	apk3 := &model.Package{Type: model.TypeAPK, Metadata: map[string]string{apk.MetaAPKTools: "3.0.1-r1"}}
	apk2 := &model.Package{Type: model.TypeAPK, Metadata: map[string]string{apk.MetaAPKTools: "2.14.4-r1"}}
	for _, tt := range []struct {
		eco  string
		p    *model.Package
		want string
	}{
		{"Alpine:v3.23", apk3, version.APK3().Name()},
		{"Wolfi", apk3, version.APK3().Name()},
		{"Alpine:v3.20", apk2, version.APK().Name()},
		{"Alpine:v3.20", &model.Package{Type: model.TypeAPK}, version.APK().Name()},
		{"Debian:12", &model.Package{Type: model.TypeDeb, Metadata: apk3.Metadata}, version.Dpkg().Name()},
	} {
		e, ok := Lookup(tt.eco)
		if !ok {
			t.Fatalf("Lookup(%s) failed", tt.eco)
		}
		if got := e.SchemeFor(tt.p).Name(); got != tt.want {
			t.Errorf("%s SchemeFor(%v) = %s, want %s", tt.eco, tt.p.Metadata, got, tt.want)
		}
	}
}
