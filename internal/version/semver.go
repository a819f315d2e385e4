package version

import "strings"

// Semver returns the SemVer 2.0.0 scheme (https://semver.org, §2, §9–§11),
// used for OSV "SEMVER" ranges and by npm, crates.io and Bitnami. It is
// tolerant in two ways only: a leading "v" or "V" is skipped, and a missing
// minor or patch number counts as 0 ("1.2" = "1.2.0"). Leading zeros in
// numeric parts are refused, as §2 and §9 require.
//
// Precedence (§11): major, minor, patch numerically; a pre-release is
// older than its release; pre-release identifiers compare left to right,
// numeric ones numerically, alphanumeric ones by ASCII, numeric before
// alphanumeric, a shorter list before a longer one with the same prefix.
// Build metadata ("+…") is ignored.
func Semver() Scheme { return semverScheme{} }

type semverScheme struct{}

// SemVersion is a parsed semantic version.
type SemVersion struct {
	raw                 string
	major, minor, patch string // digits
	rev                 string // NuGet's fourth number; "0" otherwise
	pre                 []string
	build               string
}

func (v SemVersion) String() string { return v.raw }

// Canonical returns the version as "MAJOR.MINOR.PATCH[-PRE]" with no "v"
// and no build metadata.
func (v SemVersion) Canonical() string {
	s := v.major + "." + v.minor + "." + v.patch
	if len(v.pre) > 0 {
		s += "-" + strings.Join(v.pre, ".")
	}
	return s
}

// Prerelease returns the pre-release identifiers.
func (v SemVersion) Prerelease() []string { return v.pre }

// Build returns the build metadata without "+".
func (v SemVersion) Build() string { return v.build }

func (semverScheme) Name() string { return "SemVer" }

func (semverScheme) Parse(s string) (Version, error) { return parseSemver(s) }

func (semverScheme) Compare(a, b Version) int {
	return compareWith(a, b, parseSemver, compareSemver)
}

// NPM returns npm's version scheme: SemVer as node-semver reads a version
// in loose mode (the npm CLI's): surrounding whitespace and leading "=" and
// "v" are ignored; a version longer than 256 characters, or whose major,
// minor or patch exceeds JavaScript's largest safe integer
// (9007199254740991), is invalid (node-semver internal/constants.js,
// classes/semver.js).
func NPM() Scheme { return npmScheme{} }

type npmScheme struct{}

func (npmScheme) Name() string { return "npm" }

func (npmScheme) Parse(s string) (Version, error) { return parseNPM(s) }

func (npmScheme) Compare(a, b Version) int { return compareWith(a, b, parseNPM, compareSemver) }

// npmMaxLength and npmMaxSafe are node-semver's MAX_LENGTH and
// MAX_SAFE_INTEGER.
const (
	npmMaxLength = 256
	npmMaxSafe   = "9007199254740991"
)

func parseNPM(s string) (SemVersion, error) {
	if len(s) > npmMaxLength {
		return SemVersion{raw: s}, parseErr("npm", s, "longer than 256 characters")
	}
	t := strings.TrimLeft(strings.TrimSpace(s), "=v \t\n\r\f\v")
	v, reason := parseSemverCore(s, t, false)
	if reason != "" {
		return v, parseErr("npm", s, reason)
	}
	if strings.Count(strings.SplitN(strings.SplitN(t, "+", 2)[0], "-", 2)[0], ".") != 2 {
		return v, parseErr("npm", s, "want major.minor.patch")
	}
	for _, n := range []string{v.major, v.minor, v.patch} {
		if cmpDigits(n, npmMaxSafe) > 0 {
			return v, parseErr("npm", s, "a number is larger than JavaScript's largest safe integer")
		}
	}
	return v, nil
}

func parseSemver(s string) (SemVersion, error) {
	v, reason := parseSemverCore(s, s, false)
	if reason != "" {
		return v, parseErr("SemVer", s, reason)
	}
	return v, nil
}

// parseSemverCore parses s (raw is kept for String). With four set (NuGet),
// the version may have a fourth number and numbers may have leading zeros.
func parseSemverCore(raw, s string, four bool) (SemVersion, string) {
	v := SemVersion{raw: raw}
	if s == "" {
		return v, "empty version"
	}
	if s[0] == 'v' || s[0] == 'V' {
		s = s[1:]
	}
	if i := strings.IndexByte(s, '+'); i >= 0 {
		v.build = s[i+1:]
		s = s[:i]
		if v.build == "" {
			return v, "empty build metadata"
		}
		for _, id := range strings.Split(v.build, ".") {
			if id == "" || !semverIdent(id) {
				return v, "invalid build metadata"
			}
		}
	}
	core := s
	if i := strings.IndexByte(s, '-'); i >= 0 {
		core = s[:i]
		pre := s[i+1:]
		if pre == "" {
			return v, "empty pre-release"
		}
		v.pre = strings.Split(pre, ".")
		for _, id := range v.pre {
			if id == "" {
				return v, "empty pre-release identifier"
			}
			if !semverIdent(id) {
				return v, "invalid character in pre-release"
			}
			if allDigits(id) && len(id) > 1 && id[0] == '0' {
				return v, "leading zero in numeric pre-release identifier"
			}
		}
	}
	nums := strings.Split(core, ".")
	limit := 3
	if four {
		limit = 4
	}
	if len(nums) > limit {
		return v, "too many numbers"
	}
	for k, n := range nums {
		if !allDigits(n) {
			if n == "" {
				return v, "empty number"
			}
			return v, "not a number: " + n
		}
		if len(n) > 1 && n[0] == '0' && !four {
			return v, "leading zero in " + n
		}
		nums[k] = strings.TrimLeft(n, "0")
		if nums[k] == "" {
			nums[k] = "0"
		}
	}
	for len(nums) < 4 {
		nums = append(nums, "0")
	}
	v.major, v.minor, v.patch, v.rev = nums[0], nums[1], nums[2], nums[3]
	return v, ""
}

func semverIdent(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

func compareSemver(a, b SemVersion) int { return compareSemverFold(a, b, false) }

func compareSemverFold(a, b SemVersion, fold bool) int {
	for _, p := range [][2]string{{a.major, b.major}, {a.minor, b.minor}, {a.patch, b.patch}, {a.rev, b.rev}} {
		if c := cmpDigits(p[0], p[1]); c != 0 {
			return c
		}
	}
	return comparePre(a.pre, b.pre, fold)
}

// comparePre orders pre-release identifier lists (SemVer §11.4); no list
// is newer than any list. fold compares letters case-insensitively (NuGet).
func comparePre(a, b []string, fold bool) int {
	switch {
	case len(a) == 0 && len(b) == 0:
		return 0
	case len(a) == 0:
		return 1
	case len(b) == 0:
		return -1
	}
	for k := 0; k < len(a) && k < len(b); k++ {
		x, y := a[k], b[k]
		xn, yn := allDigits(x), allDigits(y)
		var c int
		switch {
		case xn && yn:
			c = cmpDigits(x, y)
		case xn:
			c = -1
		case yn:
			c = 1
		case fold:
			c = strings.Compare(strings.ToLower(x), strings.ToLower(y))
		default:
			c = strings.Compare(x, y)
		}
		if c != 0 {
			return c
		}
	}
	return sign(len(a) - len(b))
}
