// Package ecosystem is the one table of the package ecosystems Lockdown
// knows: for each OSV ecosystem its name and other spellings, the
// distributions (os-release IDs) whose packages belong to it, the package
// type, the version scheme, how its release suffix is normalised and which
// name and version a package is looked up under. The advisory store, the
// catalog and the matcher all derive from it, so they cannot disagree.
//
// Every ecosystem of the OSV schema's list is in the table: either
// supported (it has a version scheme, so its packages are checked) or
// unsupported with the reason, so a package in it is reported as not
// checked rather than silently skipped.
package ecosystem

import (
	"slices"
	"strconv"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/catalog/apk"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/version"
)

// Ecosystem is one row of the table. The zero value is an unknown
// ecosystem.
type Ecosystem struct {
	// Name is the OSV ecosystem name as OSV spells it: "Debian",
	// "Rocky Linux", "crates.io".
	Name string
	// Aliases are other spellings read as Name (compared case-insensitively,
	// like Name).
	Aliases []string
	// DistroIDs are the os-release IDs whose packages belong here.
	DistroIDs []string
	// PackageType is the package type Lockdown catalogs into this ecosystem
	// (model.TypeDeb, model.TypeGolang, …); "" when it catalogs none.
	PackageType string
	// Scheme orders the ecosystem's versions; nil when unsupported.
	Scheme version.Scheme
	// Unsupported says why Lockdown cannot check packages of a known
	// ecosystem; "" for a supported one.
	Unsupported string
	// Note is a limit of a supported ecosystem worth telling users.
	Note string

	release func(rel string) string                 // normalises the part after "Name:"; nil keeps it
	distro  func(d *model.Distro) (string, bool)    // release of an image's os-release; nil: images are not mapped
	query   func(p *model.Package) (string, string) // name and version to look up; nil: Name, Version
	name    func(string) string                     // package names' normal form; nil: as written
}

// SchemeFor is the scheme that orders p's versions: e.Scheme, except for an
// apk package of an image whose apk-tools is version 3 or later (its
// database says so: apk.MetaAPKTools), which apk-tools 3's rules order.
func (e Ecosystem) SchemeFor(p *model.Package) version.Scheme {
	if e.PackageType == model.TypeAPK && p.Type == model.TypeAPK {
		return version.APKFor(p.Metadata[apk.MetaAPKTools])
	}
	return e.Scheme
}

// Supported reports whether packages of e are checked against advisories:
// Lockdown knows how to order its versions.
func (e Ecosystem) Supported() bool { return e.Scheme != nil }

// All returns the table, sorted by name.
func All() []Ecosystem {
	out := slices.Clone(table)
	slices.SortFunc(out, func(a, b Ecosystem) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return out
}

// Lookup finds the ecosystem of an OSV ecosystem string, with or without
// its release ("Debian:12", "alpine", "Ubuntu:Pro:18.04:LTS"), by the part
// before the first ":" compared case-insensitively with every name and
// alias. ok is false for a name not in the table (nor "").
func Lookup(eco string) (Ecosystem, bool) {
	base, _, _ := strings.Cut(eco, ":")
	if e := find(strings.TrimSpace(base)); e != nil {
		return *e, true
	}
	return Ecosystem{}, false
}

func find(base string) *Ecosystem {
	if base == "" {
		return nil
	}
	for i := range table {
		e := &table[i]
		if strings.EqualFold(e.Name, base) {
			return e
		}
		for _, a := range e.Aliases {
			if strings.EqualFold(a, base) {
				return e
			}
		}
	}
	return nil
}

// Normalize returns the one form of an OSV ecosystem string that Lockdown
// stores advisories under and matches packages with, so that names meaning
// the same release compare equal whatever the source wrote:
//
//   - the name spelt as OSV spells it, whatever the case or alias ("go" ->
//     "Go", "alpine:v3.20" -> "Alpine:v3.20", "Mariner:2.0" ->
//     "Azure Linux:2");
//   - the release normalised as the ecosystem's advisories key it: Alpine
//     with a "v" ("Alpine:3.16" -> "Alpine:v3.16"); Ubuntu without ":LTS"
//     ("Ubuntu:Pro:18.04:LTS" -> "Ubuntu:Pro:18.04"); the major release
//     only for Debian from 4 on, AlmaLinux, Rocky Linux, Azure Linux and
//     Mageia ("Debian:12.4" -> "Debian:12"; Debian 3.0 and 3.1 stay);
//   - spaces around the name and the release removed, and an empty
//     release dropped ("Ubuntu:" -> "Ubuntu");
//   - an unknown name kept as written.
//
// Normalize is idempotent: Normalize(Normalize(s)) == Normalize(s).
func Normalize(eco string) string {
	base, rel, _ := strings.Cut(eco, ":")
	base, rel = strings.TrimSpace(base), strings.TrimSpace(rel)
	if e := find(base); e != nil {
		base = e.Name
		if e.release != nil {
			rel = strings.TrimSpace(e.release(rel))
		}
	}
	if rel == "" {
		return base
	}
	return base + ":" + rel
}

// Query returns the name and version a package is looked up under in e
// (see the table for each ecosystem's rule); the name is in e's normal
// form (PackageName).
func (e Ecosystem) Query(p *model.Package) (name, ver string) {
	name, ver = p.Name, p.Version
	if e.query != nil {
		name, ver = e.query(p)
	}
	return e.PackageName(name), ver
}

// PackageName is a package name in e's normal form, the form advisories
// and packages are compared in (PEP 503 for PyPI; as written elsewhere).
func (e Ecosystem) PackageName(name string) string {
	if e.name != nil {
		return e.name(name)
	}
	return name
}

// DistroType returns the package type ("deb", "apk", "rpm") of distribution
// d, judged by its ID and then its ID_LIKE list; "" when unknown.
func DistroType(d *model.Distro) string {
	if d == nil {
		return ""
	}
	for _, id := range append([]string{d.ID}, d.IDLike...) {
		if e := forDistroID(id); e != nil {
			return e.PackageType
		}
		if t, ok := otherFamilies[id]; ok {
			return t
		}
	}
	return ""
}

func forDistroID(id string) *Ecosystem {
	for i := range table {
		if slices.Contains(table[i].DistroIDs, id) {
			return &table[i]
		}
	}
	return nil
}

// ForPackage returns the OSV ecosystem of a package of type typ found on
// distribution d: for language packages the distribution does not matter
// ("Go", "npm", "PyPI", …); a distribution package gets its distribution's
// ecosystem and release ("Debian:12", "Ubuntu:22.04", "Alpine:v3.20",
// "AlmaLinux:9", "Wolfi", "Azure Linux:3", "Photon OS:5.0",
// "openEuler:22.03-LTS-SP1", "openSUSE:Leap 15.5") when typ is that
// distribution's package format. "" when there is none: an unknown
// distribution, a release os-release does not tell (Debian testing,
// Alpine edge), a distribution whose ecosystem is not keyed by os-release
// (Red Hat), or a package format foreign to the distribution.
func ForPackage(typ string, d *model.Distro) string {
	for i := range table {
		if e := &table[i]; e.PackageType == typ && len(e.DistroIDs) == 0 {
			return e.Name
		}
	}
	if d == nil {
		return ""
	}
	e := forDistroID(d.ID)
	if e == nil || e.PackageType != typ || e.distro == nil {
		return ""
	}
	rel, ok := e.distro(d)
	if !ok {
		return ""
	}
	return Normalize(e.Name + ":" + rel)
}

// PEP503 returns the normal form of a Python package name: lower case,
// each run of "-", "_" and "." one "-" ("Jinja2" -> "jinja2",
// "zope.interface" -> "zope-interface", "typing_extensions" ->
// "typing-extensions"), as https://peps.python.org/pep-0503/#normalized-names
// defines it.
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

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func itoa(n int) string { return strconv.Itoa(n) }
