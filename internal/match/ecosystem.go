package match

import "strings"

// NormalizeEcosystem returns the canonical form of an OSV ecosystem name,
// so that package ecosystems and advisory ecosystems compare equal when
// they mean the same release:
//
//   - Alpine: a "v" before the release ("Alpine:3.16" -> "Alpine:v3.16");
//   - Ubuntu: the ":LTS" suffix dropped
//     ("Ubuntu:22.04:LTS" -> "Ubuntu:22.04", "Ubuntu:Pro:18.04:LTS" ->
//     "Ubuntu:Pro:18.04");
//   - Debian, AlmaLinux, Rocky Linux: the major release only ("Debian:12.4"
//     -> "Debian:12"), as their advisories are keyed;
//   - language ecosystems: their OSV spelling whatever the case ("go" ->
//     "Go", "pypi" -> "PyPI", "maven" -> "Maven", "crates.io", "npm");
//   - anything else as given, trimmed.
func NormalizeEcosystem(eco string) string {
	eco = strings.TrimSpace(eco)
	base, rel, hasRel := strings.Cut(eco, ":")
	if !hasRel {
		return canonicalLang(eco)
	}
	switch strings.ToLower(base) {
	case "alpine":
		if rel != "" && rel[0] >= '0' && rel[0] <= '9' {
			rel = "v" + rel
		}
		return "Alpine:" + rel
	case "ubuntu":
		rel = strings.TrimSuffix(rel, ":LTS")
		return "Ubuntu:" + rel
	case "debian":
		return "Debian:" + majorOnly(rel)
	case "almalinux":
		return "AlmaLinux:" + majorOnly(rel)
	case "rocky linux":
		return "Rocky Linux:" + majorOnly(rel)
	}
	return eco
}

// majorOnly cuts "12.4" to "12"; other text is kept.
func majorOnly(rel string) string {
	if i := strings.IndexByte(rel, '.'); i > 0 {
		for _, c := range rel[:i] {
			if c < '0' || c > '9' {
				return rel
			}
		}
		return rel[:i]
	}
	return rel
}

// canonicalLang spells a language ecosystem as OSV does.
func canonicalLang(eco string) string {
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
	}
	return eco
}
