package version

import (
	"regexp"
	"strings"
	"sync"
)

// RubyGems returns the RubyGems scheme (Gem::Version, rubygems/version.rb):
// "-" means ".pre."; the version is split into runs of digits and runs of
// letters; trailing zeros of the release part and of the pre-release part
// are dropped; runs compare pairwise, a missing run counting as 0, a
// string run older than a number (so 1.0.a < 1.0 and 1.0.b1 < 1.0.b2).
func RubyGems() Scheme { return gemScheme{} }

type gemScheme struct{}

// GemVersion is a parsed RubyGems version.
type GemVersion struct {
	raw  string
	segs []gemSeg // canonical segments
}

type gemSeg struct {
	num  bool
	text string // digits without leading zeros, or letters
}

func (v GemVersion) String() string { return v.raw }

func (gemScheme) Name() string { return "RubyGems" }

func (gemScheme) Parse(s string) (Version, error) { return parseGem(s) }

func (gemScheme) Compare(a, b Version) int { return compareWith(a, b, parseGem, compareGem) }

// gemRe is Gem::Version::ANCHORED_VERSION_PATTERN.
var gemRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^\s*([0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?\s*$`)
})

func parseGem(s string) (GemVersion, error) {
	v := GemVersion{raw: s}
	if !gemRe().MatchString(s) {
		return v, parseErr("RubyGems", s, "malformed version number string")
	}
	str := strings.ReplaceAll(strings.TrimSpace(s), "-", ".pre.")
	if str == "" {
		str = "0"
	}
	var segs []gemSeg
	for i := 0; i < len(str); {
		j := i
		switch {
		case isDigit(str[i]):
			for j < len(str) && isDigit(str[j]) {
				j++
			}
			segs = append(segs, gemSeg{num: true, text: strings.TrimLeft(str[i:j], "0")})
		case isAlpha(str[i]):
			for j < len(str) && isAlpha(str[j]) {
				j++
			}
			segs = append(segs, gemSeg{text: str[i:j]})
		default:
			j++
		}
		i = j
	}
	// canonical_segments: drop trailing zeros of the numeric prefix and of
	// the rest, separately.
	k := 0
	for k < len(segs) && segs[k].num {
		k++
	}
	trim := func(p []gemSeg) []gemSeg {
		for len(p) > 0 && p[len(p)-1].num && p[len(p)-1].text == "" {
			p = p[:len(p)-1]
		}
		return p
	}
	rel := trim(append([]gemSeg(nil), segs[:k]...))
	v.segs = append(rel, trim(segs[k:])...)
	return v, nil
}

func compareGem(a, b GemVersion) int {
	zero := gemSeg{num: true}
	for k := 0; k < len(a.segs) || k < len(b.segs); k++ {
		l, r := zero, zero
		if k < len(a.segs) {
			l = a.segs[k]
		}
		if k < len(b.segs) {
			r = b.segs[k]
		}
		switch {
		case l.num && r.num:
			if c := cmpDigits(l.text, r.text); c != 0 {
				return c
			}
		case l.num:
			return 1
		case r.num:
			return -1
		default:
			if c := strings.Compare(l.text, r.text); c != 0 {
				return c
			}
		}
	}
	return 0
}

// NuGet returns the NuGet scheme (NuGet.Versioning's NuGetVersion and
// VersionComparer): SemVer 2.0 with an optional fourth number (revision),
// leading zeros allowed, pre-release labels compared case-insensitively,
// metadata ignored.
func NuGet() Scheme { return nugetScheme{} }

type nugetScheme struct{}

func (nugetScheme) Name() string { return "NuGet" }

func (nugetScheme) Parse(s string) (Version, error) { return parseNuGet(s) }

func (nugetScheme) Compare(a, b Version) int {
	return compareWith(a, b, parseNuGet, func(x, y SemVersion) int { return compareSemverFold(x, y, true) })
}

func parseNuGet(s string) (SemVersion, error) {
	v, reason := parseSemverCore(s, strings.TrimSpace(s), true)
	if reason != "" {
		return v, parseErr("NuGet", s, reason)
	}
	return v, nil
}

// Packagist returns the Composer scheme: the version is normalised as
// composer/semver's VersionParser does (leading "v" dropped, the numeric
// part padded to four numbers, so 1.2 = 1.2.0.0) and then ordered by PHP's
// version_compare: parts split at ".", "-", "_", "+" and digit/letter
// transitions; numbers numerically; special forms dev < alpha = a < beta =
// b < RC = rc < (a number) < pl = p; any other string below dev.
func Packagist() Scheme { return composerScheme{} }

type composerScheme struct{}

// ComposerVersion is a parsed Composer version: its canonical parts.
type ComposerVersion struct {
	raw   string
	parts []string
}

func (v ComposerVersion) String() string { return v.raw }

func (composerScheme) Name() string { return "Packagist" }

func (composerScheme) Parse(s string) (Version, error) { return parseComposer(s) }

func (composerScheme) Compare(a, b Version) int {
	return compareWith(a, b, parseComposer, func(x, y ComposerVersion) int { return phpVersionCompare(x.parts, y.parts) })
}

func parseComposer(s string) (ComposerVersion, error) {
	v := ComposerVersion{raw: s}
	str := strings.ToLower(strings.TrimSpace(s))
	str = strings.TrimPrefix(str, "v")
	if str == "" || !isDigit(str[0]) {
		return v, parseErr("Packagist", s, "version does not start with a number")
	}
	for i := 0; i < len(str); i++ {
		if c := str[i]; !isAlnum(c) && !strings.ContainsRune(".-_+", rune(c)) {
			return v, parseErr("Packagist", s, "invalid character")
		}
	}
	// Pad the leading dotted number run to four numbers.
	end := 0
	for end < len(str) && (isDigit(str[end]) || str[end] == '.') {
		end++
	}
	head := strings.TrimRight(str[:end], ".")
	n := strings.Count(head, ".") + 1
	if n <= 4 {
		str = head + strings.Repeat(".0", 4-n) + str[len(head):]
	}
	// php_canonicalize_version: separators to ".", a "." at each digit/
	// non-digit transition.
	var b strings.Builder
	for i := 0; i < len(str); i++ {
		c := str[i]
		if c == '-' || c == '_' || c == '+' {
			c = '.'
		}
		if i > 0 && c != '.' {
			p := str[i-1]
			if p != '-' && p != '_' && p != '+' && p != '.' && isDigit(p) != isDigit(c) {
				b.WriteByte('.')
			}
		}
		b.WriteByte(c)
	}
	for _, p := range strings.Split(b.String(), ".") {
		if p != "" {
			v.parts = append(v.parts, p)
		}
	}
	return v, nil
}

// phpSpecial is compare_special_version_forms' rank: the first form that
// the part starts with... as PHP matches it (the form name is a prefix of
// the part).
func phpSpecial(p string) int {
	forms := []struct {
		name string
		rank int
	}{{"dev", 0}, {"alpha", 1}, {"a", 1}, {"beta", 2}, {"b", 2}, {"rc", 3}, {"#", 4}, {"pl", 5}, {"p", 5}}
	for _, f := range forms {
		if strings.HasPrefix(p, f.name) {
			return f.rank
		}
	}
	return -6
}

func phpVersionCompare(a, b []string) int {
	k := 0
	for ; k < len(a) && k < len(b); k++ {
		x, y := a[k], b[k]
		xn, yn := allDigits(x), allDigits(y)
		var c int
		switch {
		case xn && yn:
			c = cmpDigits(x, y)
		case xn:
			c = sign(phpSpecial("#") - phpSpecial(y))
		case yn:
			c = sign(phpSpecial(x) - phpSpecial("#"))
		default:
			c = sign(phpSpecial(x) - phpSpecial(y))
		}
		if c != 0 {
			return c
		}
	}
	switch {
	case k < len(a):
		if allDigits(a[k]) {
			return 1
		}
		return phpVersionCompare(a[k:], []string{"#"})
	case k < len(b):
		if allDigits(b[k]) {
			return -1
		}
		return phpVersionCompare([]string{"#"}, b[k:])
	}
	return 0
}
