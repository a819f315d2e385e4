package catalog

import (
	"slices"
	"strconv"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// enrich fills in what depends on the distribution: Ecosystem, PURL, ID.
func enrich(p *model.Package, d *model.Distro) {
	p.Ecosystem = Ecosystem(p.Type, d)
	p.PURL = PURL(*p, d)
	p.ID = model.StableID(*p)
}

// family reports which package format a distribution uses: "deb", "apk",
// "rpm" or "".
func family(d *model.Distro) string {
	if d == nil {
		return ""
	}
	ids := append([]string{d.ID}, d.IDLike...)
	switch {
	case slices.ContainsFunc(ids, func(s string) bool { return s == "debian" || s == "ubuntu" }):
		return model.TypeDeb
	case slices.ContainsFunc(ids, func(s string) bool { return s == "alpine" || s == "wolfi" || s == "chainguard" }):
		return model.TypeAPK
	case slices.ContainsFunc(ids, func(s string) bool {
		return s == "rhel" || s == "fedora" || s == "centos" || s == "suse" || s == "opensuse" || s == "sles" || s == "mariner" || s == "azurelinux" || s == "amzn"
	}):
		return model.TypeRPM
	}
	return ""
}

// langEcosystems maps the language package types to their OSV ecosystem,
// which does not depend on the distribution.
var langEcosystems = map[string]string{
	model.TypeGolang:   "Go",
	model.TypeNPM:      "npm",
	model.TypeMaven:    "Maven",
	model.TypePyPI:     "PyPI",
	model.TypeCargo:    "crates.io",
	model.TypeComposer: "Packagist",
	model.TypeGem:      "RubyGems",
	model.TypeNuGet:    "NuGet",
}

// Ecosystem returns the OSV ecosystem of a package of type typ on
// distribution d: "Debian:12" (major only), "Ubuntu:18.04", "Alpine:v3.20"
// (major.minor), "AlmaLinux:9", "Rocky Linux:9"; for language packages the
// distribution does not matter: "Go", "npm", "Maven", "PyPI", "crates.io",
// "Packagist", "RubyGems", "NuGet". "" when OSV has no such ecosystem for
// it (Red Hat, an unknown distribution, a release without a number such as
// Debian testing).
func Ecosystem(typ string, d *model.Distro) string {
	if eco, ok := langEcosystems[typ]; ok {
		return eco
	}
	if d == nil || typ != family(d) || d.VersionID == "" {
		return ""
	}
	switch typ {
	case model.TypeDeb:
		switch d.ID {
		case "debian":
			if major := majorOf(d.VersionID); isNumber(major) {
				return "Debian:" + major
			}
		case "ubuntu":
			return "Ubuntu:" + d.VersionID
		}
	case model.TypeAPK:
		if d.ID == "alpine" {
			if mm := majorMinor(d.VersionID); mm != "" {
				return "Alpine:v" + mm
			}
		}
	case model.TypeRPM:
		major := majorOf(d.VersionID)
		if !isNumber(major) {
			return ""
		}
		switch d.ID {
		case "almalinux":
			return "AlmaLinux:" + major
		case "rocky":
			return "Rocky Linux:" + major
		}
	}
	return ""
}

// majorMinor returns "3.20" for "3.20.3" (and for "3.21_alpha2024"), or ""
// when v does not start with two numbers.
func majorMinor(v string) string {
	major, rest, ok := strings.Cut(v, ".")
	if !ok || !isNumber(major) {
		return ""
	}
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	if end == 0 {
		return ""
	}
	return major + "." + rest[:end]
}

// distroQualifier is the purl "distro" qualifier: "debian-12",
// "alpine-3.20.3", "ubuntu-18.04"; the codename when there is no number.
func distroQualifier(d *model.Distro) string {
	if d == nil || d.ID == "" {
		return ""
	}
	switch {
	case d.VersionID != "":
		return d.ID + "-" + d.VersionID
	case d.Codename != "":
		return d.ID + "-" + d.Codename
	}
	return d.ID
}

// PURL returns the package URL of p on distribution d:
//
//	deb:    pkg:deb/debian/NAME@VER?arch=ARCH&distro=debian-12[&upstream=SRC[@SRCVER]]
//	apk:    pkg:apk/alpine/NAME@VER?arch=ARCH&distro=alpine-3.20.3[&upstream=ORIGIN]
//	rpm:    pkg:rpm/ID/NAME@VER-REL?arch=ARCH[&epoch=N]&distro=ID-VERSION
//	golang: pkg:golang/MODULE@VERSION, pkg:golang/stdlib@1.22.3
//	npm:    pkg:npm/NAME@VER, pkg:npm/%40SCOPE/NAME@VER
//	maven:  pkg:maven/GROUP/ARTIFACT@VER (Name is "GROUP:ARTIFACT")
//	pypi:   pkg:pypi/NAME@VER, NAME in PEP 503 normal form
//	cargo:  pkg:cargo/NAME@VER
//	composer: pkg:composer/VENDOR/NAME@VER
//	gem:    pkg:gem/NAME@VER
//	nuget:  pkg:nuget/NAME@VER
//
// Language packages carry no qualifiers.
//
// upstream names the source package when it differs from the binary one
// (with its version when that differs too). A Go module replaced by a local
// directory has no PURL.
func PURL(p model.Package, d *model.Distro) string {
	q := map[string]string{}
	if p.Arch != "" {
		q["arch"] = p.Arch
	}
	fam := family(d)
	distro := ""
	if fam == p.Type {
		distro = distroQualifier(d)
	}
	if distro != "" {
		q["distro"] = distro
	}
	var ns, name, version = "", p.Name, p.Version
	switch p.Type {
	case model.TypeDeb:
		ns = "debian"
		if fam == model.TypeDeb && d.ID != "" {
			ns = d.ID
		}
		if up := upstream(p); up != "" {
			q["upstream"] = up
		}
	case model.TypeAPK:
		ns = "alpine"
		if fam == model.TypeAPK && d.ID != "" {
			ns = d.ID
		}
		if up := upstream(p); up != "" {
			q["upstream"] = up
		}
	case model.TypeRPM:
		if fam == model.TypeRPM {
			ns = d.ID
		}
		if _, vr, ok := strings.Cut(version, ":"); ok {
			version = vr
		}
		if p.Epoch != 0 {
			q["epoch"] = strconv.Itoa(p.Epoch)
		}
	case model.TypeGolang:
		if strings.HasPrefix(p.Name, ".") || strings.HasPrefix(p.Name, "/") {
			return "" // a local directory, not a module
		}
		if i := strings.LastIndexByte(p.Name, '/'); i >= 0 {
			ns, name = p.Name[:i], p.Name[i+1:]
		}
		q = map[string]string{}
	case model.TypeNPM, model.TypeComposer:
		// "@scope/name", "vendor/name"
		if i := strings.LastIndexByte(p.Name, '/'); i >= 0 {
			ns, name = p.Name[:i], p.Name[i+1:]
		}
		q = map[string]string{}
	case model.TypeMaven:
		group, artifact, ok := strings.Cut(p.Name, ":")
		if !ok {
			return ""
		}
		ns, name = group, artifact
		q = map[string]string{}
	case model.TypePyPI:
		name = PEP503(p.Name)
		q = map[string]string{}
	case model.TypeCargo, model.TypeGem, model.TypeNuGet:
		q = map[string]string{}
	default:
		return ""
	}
	if name == "" {
		return ""
	}
	u := packageurl.NewPackageURL(p.Type, ns, name, version, packageurl.QualifiersFromMap(q), "")
	return u.ToString()
}

// upstream is the purl "upstream" qualifier of a deb or apk package: the
// source name, "@version" added when the source version differs.
func upstream(p model.Package) string {
	if p.SourceName == "" || (p.SourceName == p.Name && (p.SourceVersion == "" || p.SourceVersion == p.Version)) {
		return ""
	}
	if p.SourceVersion != "" && p.SourceVersion != p.Version {
		return p.SourceName + "@" + p.SourceVersion
	}
	return p.SourceName
}

// PEP503 returns the normal form of a Python package name: lower case,
// each run of "-", "_" and "." one "-" ("Jinja2" -> "jinja2",
// "zope.interface" -> "zope-interface", "typing_extensions" ->
// "typing-extensions").
func PEP503(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '-' || c == '_' || c == '.' {
			if !sep {
				b.WriteByte('-')
			}
			sep = true
			continue
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		sep = false
		b.WriteByte(c)
	}
	return b.String()
}
