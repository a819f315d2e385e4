package vulndb

import (
	"strings"

	"github.com/lockdown-sec/lockdown/internal/osv"
)

// NormalizeEcosystem is osv.NormalizeEcosystem, the form the store indexes
// advisories under (and the matcher looks packages up with).
func NormalizeEcosystem(eco string) string { return osv.NormalizeEcosystem(eco) }

// KnownEcosystem reports whether Lockdown knows the version scheme of eco,
// judged by its part before the first ':' (Debian, Ubuntu, Alpine,
// AlmaLinux, Rocky Linux, Red Hat, SUSE, openSUSE, Mariner, Go, npm, PyPI,
// crates.io, Maven, NuGet, RubyGems, Packagist, Bitnami, Hex, Pub, GIT).
func KnownEcosystem(eco string) bool {
	base, _, _ := strings.Cut(strings.TrimSpace(eco), ":")
	switch base {
	case "Debian", "Ubuntu", "Alpine", "AlmaLinux", "Rocky Linux", "Red Hat", "SUSE", "openSUSE",
		"Mariner", "Go", "npm", "PyPI", "crates.io", "Maven", "NuGet", "RubyGems", "Packagist",
		"Bitnami", "Hex", "Pub", "GIT":
		return true
	}
	return false
}

// DefaultEcosystems is the common set `lockdown db update` fetches when
// told nothing else.
func DefaultEcosystems() []string {
	return []string{"Debian", "Ubuntu", "Alpine", "AlmaLinux", "Rocky Linux", "Go", "npm", "PyPI", "crates.io", "Maven"}
}
