package vulndb

import (
	"regexp"
	"strconv"
	"strings"
)

var (
	alpineVersionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
	debianPointRE   = regexp.MustCompile(`^([0-9]+)\.[0-9]+$`)
)

// NormalizeEcosystem returns the form of an OSV ecosystem that the store
// indexes under:
//
//	Alpine:3.16, Alpine:v3.16  -> Alpine:v3.16
//	Ubuntu:22.04:LTS           -> Ubuntu:22.04
//	Ubuntu:Pro:18.04:LTS       -> Ubuntu:Pro:18.04
//	Debian:12.4                -> Debian:12 (point releases; Debian 3.0
//	                              and 3.1 are releases and stay)
//
// Everything else (Debian:12, AlmaLinux:8, Rocky Linux:9, Go, …) is kept as
// it is, without surrounding spaces.
func NormalizeEcosystem(eco string) string {
	eco = strings.TrimSpace(eco)
	base, rest, ok := strings.Cut(eco, ":")
	if !ok {
		return eco
	}
	switch base {
	case "Alpine":
		if alpineVersionRE.MatchString(rest) {
			return "Alpine:v" + rest
		}
	case "Ubuntu":
		return strings.TrimSuffix(eco, ":LTS")
	case "Debian":
		if m := debianPointRE.FindStringSubmatch(rest); m != nil {
			if major, err := strconv.Atoi(m[1]); err == nil && major >= 4 {
				return "Debian:" + m[1]
			}
		}
	}
	return eco
}

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
