package osv

import (
	"strings"
)

// NormalizeEcosystem returns the one form of an OSV ecosystem name that
// Lockdown stores advisories under and matches packages with, so that names
// meaning the same release compare equal whatever the source wrote:
//
//   - Alpine: a "v" before the release ("Alpine:3.16" -> "Alpine:v3.16");
//   - Ubuntu: the ":LTS" suffix dropped ("Ubuntu:22.04:LTS" ->
//     "Ubuntu:22.04", "Ubuntu:Pro:18.04:LTS" -> "Ubuntu:Pro:18.04");
//   - Debian from 4 on, AlmaLinux, Rocky Linux: the major release only
//     ("Debian:12.4" -> "Debian:12"), as their advisories are keyed; Debian
//     3.0 and 3.1 were releases of their own and stay;
//   - distribution and language names spelt as OSV spells them, whatever
//     the case ("go" -> "Go", "pypi" -> "PyPI", "alpine:v3.20" ->
//     "Alpine:v3.20");
//   - anything else as given, without surrounding spaces.
func NormalizeEcosystem(eco string) string {
	eco = strings.TrimSpace(eco)
	base, rel, hasRel := strings.Cut(eco, ":")
	if !hasRel {
		return canonicalName(eco)
	}
	switch strings.ToLower(base) {
	case "alpine":
		if rel != "" && rel[0] >= '0' && rel[0] <= '9' {
			rel = "v" + rel
		}
		return "Alpine:" + rel
	case "ubuntu":
		return "Ubuntu:" + strings.TrimSuffix(rel, ":LTS")
	case "debian":
		if major := majorOnly(rel); major != rel && !isOld(major) {
			return "Debian:" + major
		}
		return "Debian:" + rel
	case "almalinux":
		return "AlmaLinux:" + majorOnly(rel)
	case "rocky linux":
		return "Rocky Linux:" + majorOnly(rel)
	}
	return eco
}

// isOld reports a Debian major release below 4 (whose point numbers were
// releases: 3.0 woody, 3.1 sarge).
func isOld(major string) bool { return len(major) == 1 && major[0] < '4' }

// majorOnly cuts "12.4" to "12"; other text is kept.
func majorOnly(rel string) string {
	i := strings.IndexByte(rel, '.')
	if i <= 0 {
		return rel
	}
	for _, c := range rel[:i] {
		if c < '0' || c > '9' {
			return rel
		}
	}
	return rel[:i]
}

// canonicalName spells an ecosystem without a release as OSV does.
func canonicalName(eco string) string {
	switch strings.ToLower(eco) {
	case "go":
		return "Go"
	case "npm":
		return "npm"
	case "pypi":
		return "PyPI"
	case "crates.io":
		return "crates.io"
	case "maven":
		return "Maven"
	case "rubygems":
		return "RubyGems"
	case "nuget":
		return "NuGet"
	case "packagist":
		return "Packagist"
	case "bitnami":
		return "Bitnami"
	case "alpine":
		return "Alpine"
	case "debian":
		return "Debian"
	case "ubuntu":
		return "Ubuntu"
	case "almalinux":
		return "AlmaLinux"
	case "rocky linux":
		return "Rocky Linux"
	}
	return eco
}
