package version

import "strings"

// Go returns the Go version scheme: module versions are semantic versions
// with a leading "v" (https://go.dev/ref/mod#versions), which is optional
// here as in the Go vulnerability database; "+incompatible" is build
// metadata and ignored; pseudo-versions (v0.0.0-20200226121028-0de0cce0169b)
// are pre-releases and order by their timestamp. The toolchain ("stdlib")
// is written either as a semantic version ("1.22.0", "1.22.0-rc.1", the
// "-0" marker "1.22.0-0" that sorts before every 1.22.0 pre-release) or as a
// Go release tag ("go1.22", "go1.20.1", "go1.21rc2", "go1.9beta1"), which is
// read as the same semantic version the Go vulnerability database uses:
// go1.22 = 1.22.0, go1.21rc2 = 1.21.0-rc.2.
func Go() Scheme { return goScheme{} }

type goScheme struct{}

func (goScheme) Name() string { return "Go" }

func (goScheme) Parse(s string) (Version, error) { return parseGo(s) }

func (goScheme) Compare(a, b Version) int { return compareWith(a, b, parseGo, compareSemver) }

func parseGo(s string) (SemVersion, error) {
	norm := s
	if strings.HasPrefix(s, "go") {
		t, ok := goTagToSemver(s[2:])
		if !ok {
			return SemVersion{raw: s}, parseErr("Go", s, "not a Go release tag")
		}
		norm = t
	} else if isBareGoPrerelease(s) {
		// A toolchain tag without "go", as the stdlib package of a binary
		// built by a release candidate carries it: "1.21rc2".
		if t, ok := goTagToSemver(s); ok {
			norm = t
		}
	}
	// golang.org/x/mod/semver: "v1" and "v1.2" are shorthands for v1.0.0
	// and v1.2.0, but only bare: "v1-pre", "v1.2+meta" are invalid.
	core, _, _ := strings.Cut(strings.TrimPrefix(norm, "v"), "+")
	core, _, hasPre := strings.Cut(core, "-")
	if strings.Count(core, ".") < 2 && (hasPre || strings.Contains(norm, "+")) {
		return SemVersion{raw: s}, parseErr("Go", s, "a short version cannot have a pre-release or build suffix")
	}
	v, reason := parseSemverCore(s, norm, false)
	if reason != "" {
		return v, parseErr("Go", s, reason)
	}
	return v, nil
}

// isBareGoPrerelease reports whether s looks like a Go toolchain
// pre-release tag without its "go" prefix: digits and dots, then "rc" or
// "beta" and digits ("1.21rc2", "1.9beta1"), no "-" or "+".
func isBareGoPrerelease(s string) bool {
	if s == "" || !isDigit(s[0]) || strings.ContainsAny(s, "-+") {
		return false
	}
	return strings.Contains(s, "rc") || strings.Contains(s, "beta")
}

// goTagToSemver turns the part of a Go release tag after "go" into a
// semantic version: "1.22" -> "1.22.0", "1.21rc2" -> "1.21.0-rc.2",
// "1.20.1" -> "1.20.1".
func goTagToSemver(t string) (string, bool) {
	num, pre := t, ""
	for _, p := range []string{"beta", "rc"} {
		if i := strings.Index(t, p); i > 0 {
			num, pre = t[:i], t[i:]
			if !allDigits(t[i+len(p):]) {
				return "", false
			}
			pre = p + "." + t[i+len(p):]
			break
		}
	}
	parts := strings.Split(num, ".")
	if len(parts) > 3 {
		return "", false
	}
	for _, p := range parts {
		if !allDigits(p) {
			return "", false
		}
	}
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	s := strings.Join(parts, ".")
	if pre != "" {
		s += "-" + pre
	}
	return s, true
}
