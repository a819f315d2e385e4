package ecosystem

import (
	"strings"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/version"
)

// table is every ecosystem of the OSV schema's list
// (testdata/osv-ecosystems.txt) with what Lockdown knows of it. A row
// without a Scheme is known but unsupported, and says why.
//
// Query keys (which name and version a package is looked up under):
// Debian and Ubuntu advisories are per source package and source version
// (a binNMU "+b1" binary version is not a source version); Alpine-style
// secdbs per origin; AlmaLinux, Rocky Linux and Azure Linux list every
// binary RPM by its own name (openssl and openssl-libs), while Mageia,
// openEuler, Photon OS, SUSE and openSUSE name the source RPM; RPM
// versions carry the epoch; PyPI names are compared in PEP 503 form.
var table = []Ecosystem{
	// Distributions with a version scheme.
	{Name: "AlmaLinux", DistroIDs: []string{"almalinux"}, PackageType: model.TypeRPM, Scheme: version.RPM(),
		release: majorOnly, distro: distroMajor, query: queryRPM},
	{Name: "Alpine", DistroIDs: []string{"alpine"}, PackageType: model.TypeAPK, Scheme: version.APK(),
		release: alpineRelease, distro: alpineDistro, query: queryOrigin},
	{Name: "Azure Linux", Aliases: []string{"Mariner", "CBL-Mariner"}, DistroIDs: []string{"azurelinux", "mariner"},
		PackageType: model.TypeRPM, Scheme: version.RPM(), release: majorOnly, distro: distroMajor, query: queryRPM},
	{Name: "Chainguard", DistroIDs: []string{"chainguard"}, PackageType: model.TypeAPK, Scheme: version.APK(),
		distro: noRelease, query: queryOrigin},
	{Name: "Debian", DistroIDs: []string{"debian"}, PackageType: model.TypeDeb, Scheme: version.Dpkg(),
		release: debianRelease, distro: distroMajor, query: querySource},
	{Name: "Mageia", DistroIDs: []string{"mageia"}, PackageType: model.TypeRPM, Scheme: version.RPM(),
		release: majorOnly, distro: distroMajor, query: queryRPMSource},
	{Name: "openEuler", DistroIDs: []string{"openeuler"}, PackageType: model.TypeRPM, Scheme: version.RPM(),
		distro: openEulerDistro, query: queryRPMSource},
	{Name: "openSUSE", DistroIDs: []string{"opensuse", "opensuse-leap", "opensuse-tumbleweed"},
		PackageType: model.TypeRPM, Scheme: version.RPM(), distro: suseDistro("openSUSE "), query: queryRPMSource},
	{Name: "Photon OS", DistroIDs: []string{"photon"}, PackageType: model.TypeRPM, Scheme: version.RPM(),
		distro: distroVersion, query: queryRPMSource},
	{Name: "Red Hat", Aliases: []string{"RedHat", "RHEL"}, DistroIDs: []string{"rhel"}, PackageType: model.TypeRPM,
		Scheme: version.RPM(), query: queryRPM,
		Note: "images are not mapped to it: its releases are CPEs read from repository data, not os-release"},
	{Name: "Rocky Linux", DistroIDs: []string{"rocky"}, PackageType: model.TypeRPM, Scheme: version.RPM(),
		release: majorOnly, distro: distroMajor, query: queryRPM},
	{Name: "SUSE", DistroIDs: []string{"sles", "sled", "sles_sap", "sle-micro"}, PackageType: model.TypeRPM,
		Scheme: version.RPM(), distro: suseDistro("SUSE "), query: queryRPMSource},
	{Name: "Ubuntu", DistroIDs: []string{"ubuntu"}, PackageType: model.TypeDeb, Scheme: version.Dpkg(),
		release: ubuntuRelease, distro: distroVersion, query: querySource},
	{Name: "Wolfi", DistroIDs: []string{"wolfi"}, PackageType: model.TypeAPK, Scheme: version.APK(),
		distro: noRelease, query: queryOrigin},

	// Languages and other package registries with a version scheme.
	{Name: "Bitnami", Scheme: version.Semver(),
		Note: "no extractor: Bitnami's component manifests are not read"},
	{Name: "crates.io", PackageType: model.TypeCargo, Scheme: version.Semver()},
	{Name: "Go", PackageType: model.TypeGolang, Scheme: version.Go()},
	{Name: "Hex", Scheme: version.Semver(), Note: "no extractor: mix.lock is not read"},
	{Name: "Maven", PackageType: model.TypeMaven, Scheme: version.Maven()},
	{Name: "npm", PackageType: model.TypeNPM, Scheme: version.NPM()},
	{Name: "NuGet", PackageType: model.TypeNuGet, Scheme: version.NuGet()},
	{Name: "Packagist", PackageType: model.TypeComposer, Scheme: version.Packagist()},
	{Name: "PyPI", PackageType: model.TypePyPI, Scheme: version.PEP440(), name: PEP503},
	{Name: "RubyGems", PackageType: model.TypeGem, Scheme: version.RubyGems()},
	{Name: "SwiftURL", Scheme: version.Semver(), Note: "no extractor: Package.resolved is not read"},

	// Known, unsupported: advisories are stored, packages are not checked.
	{Name: "Alpaquita", Unsupported: vendorDistro},
	{Name: "Android", Unsupported: "Android components are not packages in a container image"},
	{Name: "BellSoft Hardened Containers", Unsupported: vendorDistro},
	{Name: "Bioconductor", Unsupported: noScheme("R")},
	{Name: "CleanStart", Unsupported: vendorDistro},
	{Name: "ConanCenter", Unsupported: noScheme("Conan")},
	{Name: "CRAN", Unsupported: noScheme("R")},
	{Name: "Docker Hardened Images", Unsupported: vendorDistro},
	{Name: "Echo", Unsupported: vendorDistro},
	{Name: "GHC", Unsupported: noScheme("Haskell")},
	{Name: "GIT", Unsupported: "commit ranges: matching needs the source repository's history"},
	{Name: "GitHub Actions", Unsupported: "workflows are not part of a container image"},
	{Name: "Hackage", Unsupported: noScheme("Haskell")},
	{Name: "Julia", Unsupported: noScheme("Julia")},
	{Name: "Kubernetes", Unsupported: "its advisories name Go modules, which are checked through the Go ecosystem"},
	{Name: "Linux", Unsupported: "the kernel is the host's, not the image's"},
	{Name: "MinimOS", Unsupported: vendorDistro},
	{Name: "opam", Unsupported: noScheme("OCaml")},
	{Name: "OSS-Fuzz", Unsupported: "commit ranges: matching needs the source repository's history"},
	{Name: "Pub", Unsupported: noScheme("Dart")},
	{Name: "Red Hat Lightwell", Unsupported: vendorDistro},
	{Name: "Root", Unsupported: vendorDistro},
	{Name: "TuxCare", Unsupported: vendorDistro},
	{Name: "VSCode", Unsupported: "editor extensions are not part of a container image"},
}

const vendorDistro = "no version scheme or os-release mapping for this vendor's packages yet"

func noScheme(lang string) string {
	return "no version scheme: Lockdown neither orders " + lang + " versions nor catalogs " + lang + " packages"
}

// otherRPM and otherDeb are distributions without an OSV ecosystem whose
// package format is still known (for PURLs and ID_LIKE chains).
var otherFamilies = map[string]string{
	"fedora": model.TypeRPM, "centos": model.TypeRPM, "amzn": model.TypeRPM, "ol": model.TypeRPM,
	"suse": model.TypeRPM,
}

// --- release normalisers (the part after "Name:") ---

// alpineRelease puts the "v" OSV requires before a numeric branch
// ("3.16" -> "v3.16").
func alpineRelease(rel string) string {
	if rel != "" && rel[0] >= '0' && rel[0] <= '9' {
		return "v" + rel
	}
	return rel
}

// ubuntuRelease drops the ":LTS" suffix ("22.04:LTS" -> "22.04",
// "Pro:18.04:LTS" -> "Pro:18.04"): advisories and images name a release
// with and without it.
func ubuntuRelease(rel string) string {
	for {
		r, ok := strings.CutSuffix(rel, ":LTS")
		if !ok {
			return rel
		}
		rel = strings.TrimSpace(r)
	}
}

// debianRelease keeps the major release from 4 on ("12.4" -> "12");
// Debian 3.0 and 3.1 were releases of their own.
func debianRelease(rel string) string {
	if major := majorOnly(rel); major != rel && !(len(major) == 1 && major[0] < '4') {
		return major
	}
	return rel
}

// majorOnly cuts "9.4" to "9"; other text is kept.
func majorOnly(rel string) string {
	i := strings.IndexByte(rel, '.')
	if i <= 0 || !allDigits(rel[:i]) {
		return rel
	}
	return rel[:i]
}

// --- releases read from os-release ---

func noRelease(*model.Distro) (string, bool) { return "", true }

func distroVersion(d *model.Distro) (string, bool) { return d.VersionID, d.VersionID != "" }

// distroMajor is the major number of VERSION_ID ("11.7" -> "11"); false
// when it does not start with one (Debian testing).
func distroMajor(d *model.Distro) (string, bool) {
	major, _, _ := strings.Cut(d.VersionID, ".")
	return major, allDigits(major)
}

// alpineDistro is "v" and the branch of VERSION_ID ("3.20.3" -> "v3.20",
// "3.21_alpha20240807" -> "v3.21"); false for edge.
func alpineDistro(d *model.Distro) (string, bool) {
	major, rest, ok := strings.Cut(d.VersionID, ".")
	if !ok || !allDigits(major) {
		return "", false
	}
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	if end == 0 {
		return "", false
	}
	return "v" + major + "." + rest[:end], true
}

// openEulerDistro is VERSION_ID and the release kind that PRETTY_NAME
// gives in parentheses: PRETTY_NAME="openEuler 22.03 (LTS-SP1)" ->
// "22.03-LTS-SP1", as openEuler's advisories name their products.
func openEulerDistro(d *model.Distro) (string, bool) {
	if d.VersionID == "" {
		return "", false
	}
	if _, rest, ok := strings.Cut(d.PrettyName, "("); ok {
		if kind, _, ok := strings.Cut(rest, ")"); ok && strings.TrimSpace(kind) != "" {
			return d.VersionID + "-" + strings.ReplaceAll(strings.TrimSpace(kind), " ", "-"), true
		}
	}
	return d.VersionID, true
}

// suseDistro is PRETTY_NAME without the vendor word: OSV's SUSE and
// openSUSE releases are the product's marketing name as os-release's
// PRETTY_NAME writes it ("SUSE Linux Enterprise Server 15 SP5" ->
// "Linux Enterprise Server 15 SP5", "openSUSE Leap 15.5" -> "Leap 15.5").
func suseDistro(vendor string) func(*model.Distro) (string, bool) {
	return func(d *model.Distro) (string, bool) {
		rel, ok := strings.CutPrefix(d.PrettyName, vendor)
		rel = strings.TrimSpace(rel)
		return rel, ok && rel != ""
	}
}

// --- query keys ---

// querySource: the source package and its version (Debian, Ubuntu).
func querySource(p *model.Package) (string, string) {
	name, ver := p.Name, p.Version
	if p.SourceName != "" {
		name = p.SourceName
	}
	if p.SourceVersion != "" {
		ver = p.SourceVersion
	}
	return name, ver
}

// queryOrigin: the origin package and the package's own version (apk).
func queryOrigin(p *model.Package) (string, string) {
	if p.SourceName != "" {
		return p.SourceName, p.Version
	}
	return p.Name, p.Version
}

// queryRPM: the binary package and its [epoch:]version-release.
func queryRPM(p *model.Package) (string, string) { return p.Name, rpmEVR(p) }

// queryRPMSource: the source RPM's name and the package's
// [epoch:]version-release (a binary is built with its source's).
func queryRPMSource(p *model.Package) (string, string) {
	if p.SourceName != "" {
		return p.SourceName, rpmEVR(p)
	}
	return p.Name, rpmEVR(p)
}

func rpmEVR(p *model.Package) string {
	if p.Epoch > 0 && !strings.Contains(p.Version, ":") {
		return itoa(p.Epoch) + ":" + p.Version
	}
	return p.Version
}
