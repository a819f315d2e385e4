package catalog

import (
	"strconv"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/lockdown-sec/lockdown/internal/ecosystem"
	"github.com/lockdown-sec/lockdown/internal/model"
)

// enrich fills in what depends on the distribution: Ecosystem, PURL, ID.
func enrich(p *model.Package, d *model.Distro) {
	p.Ecosystem = ecosystem.ForPackage(p.Type, d)
	p.PURL = PURL(*p, d)
	p.ID = model.StableID(*p)
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
	fam := ecosystem.DistroType(d)
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
		name = ecosystem.PEP503(p.Name)
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
