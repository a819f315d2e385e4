package version

import (
	"strconv"
	"strings"
)

// APK3 returns the Alpine version scheme of apk-tools 3, whose
// src/version.c (token_first/token_next/token_cmp) differs from apk-tools
// 2's (APK) in three ways:
//
//   - a "~hash" commit suffix (lower-case hex) may follow the suffixes,
//     before the revision: digit{.digit}...{letter}{_suf{#}}...{~hash}{-r#};
//   - a dot part after the first with a leading zero, on either side,
//     compares as text ("1.0 < 1.00 < 1.001 < 1.01 < 1.1",
//     "8.2.0015 < 8.2.002"), where apk-tools 2 reads a fraction;
//   - the grammar is strict: one letter, not followed by digits ("0.1a1"),
//     a suffix name exactly one of the ten, a number after "." and "-r"
//     ("0.1-r"), nothing after the revision.
//
// Tokens that are equal in type are compared in turn; when the types
// differ, a pre-release suffix is older, else the version whose token is
// earlier in the grammar's order (digits, letter, suffix, suffix number,
// hash, revision, end) is newer.
func APK3() Scheme { return apk3Scheme{} }

// APKFor is the apk scheme of an image whose apk-tools package is at
// version apkTools ("2.14.4-r1", "3.0.0_rc4-r0"): APK3 from apk-tools 3 on,
// APK otherwise (also when apkTools is empty or unreadable).
func APKFor(apkTools string) Scheme {
	major, _, _ := strings.Cut(apkTools, ".")
	if n, err := strconv.Atoi(major); err == nil && n >= 3 {
		return APK3()
	}
	return APK()
}

type apk3Scheme struct{}

// APK3Version is a version parsed by apk-tools 3's rules.
type APK3Version struct {
	raw    string
	tokens []apk3Token
}

func (v APK3Version) String() string { return v.raw }

func (apk3Scheme) Name() string { return "apk (apk-tools 3)" }

func (apk3Scheme) Parse(s string) (Version, error) { return parseAPK3(s) }

func (apk3Scheme) Compare(a, b Version) int { return compareWith(a, b, parseAPK3, compareAPK3) }

// apk-tools 3's token types, in its order.
const (
	apk3Initial = iota
	apk3Digit
	apk3Letter
	apk3Suffix
	apk3SuffixNo
	apk3Hash
	apk3Revision
	apk3End
)

type apk3Token struct {
	typ   int
	value string // as written: digits, the letter, the suffix name, the hash
	rank  int    // suffixes: apkSuffixRank's (pre-releases negative)
}

func parseAPK3(s string) (APK3Version, error) {
	const name = "apk (apk-tools 3)"
	v := APK3Version{raw: s}
	digits := func(i int) int {
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		return i
	}
	i := digits(0)
	if i == 0 {
		return v, parseErr(name, s, "version does not start with a digit")
	}
	v.tokens = append(v.tokens, apk3Token{typ: apk3Initial, value: s[:i]})
	prev := apk3Initial
	for i < len(s) {
		start, t := i, apk3Token{}
		switch c := s[i]; {
		case isLower(c) && prev <= apk3Digit:
			t.typ, t.value, i = apk3Letter, s[i:i+1], i+1
		case (c == '.' && prev <= apk3Digit) || (isDigit(c) && prev == apk3Suffix):
			t.typ = apk3SuffixNo
			if c == '.' {
				t.typ, i = apk3Digit, i+1
			}
			j := digits(i)
			if j == i {
				return v, parseErr(name, s, "no number at "+quoteAt(s, start))
			}
			t.value, i = s[i:j], j
		case c == '_' && prev <= apk3SuffixNo:
			j := i + 1
			for j < len(s) && isLower(s[j]) {
				j++
			}
			rank, n, ok := apkSuffixRank(s[i+1 : j])
			if !ok || n != j-i-1 {
				return v, parseErr(name, s, "unknown suffix at "+quoteAt(s, start))
			}
			t.typ, t.value, t.rank, i = apk3Suffix, s[i+1:j], rank, j
		case c == '~' && prev < apk3Hash:
			j := i + 1
			for j < len(s) && (isDigit(s[j]) || 'a' <= s[j] && s[j] <= 'f') {
				j++
			}
			if j == i+1 {
				return v, parseErr(name, s, "no commit hash at "+quoteAt(s, start))
			}
			t.typ, t.value, i = apk3Hash, s[i+1:j], j
		case c == '-' && prev < apk3Revision && strings.HasPrefix(s[i:], "-r"):
			j := digits(i + 2)
			if j == i+2 {
				return v, parseErr(name, s, "no revision number at "+quoteAt(s, start))
			}
			t.typ, t.value, i = apk3Revision, s[i+2:j], j
		default:
			return v, parseErr(name, s, "invalid character at "+quoteAt(s, start))
		}
		v.tokens = append(v.tokens, t)
		prev = t.typ
	}
	return v, nil
}

// cmpAPK3Token is token_cmp for two tokens of one type.
func cmpAPK3Token(a, b apk3Token) int {
	switch a.typ {
	case apk3Digit:
		if a.value[0] == '0' || b.value[0] == '0' {
			return strings.Compare(a.value, b.value)
		}
		return cmpDigits(strings.TrimLeft(a.value, "0"), strings.TrimLeft(b.value, "0"))
	case apk3Initial, apk3SuffixNo, apk3Revision:
		return cmpDigits(strings.TrimLeft(a.value, "0"), strings.TrimLeft(b.value, "0"))
	case apk3Suffix:
		return sign(a.rank - b.rank)
	default: // letter, hash
		return strings.Compare(a.value, b.value)
	}
}

// compareAPK3 is apk_version_compare_fuzzy without fuzzy matching.
func compareAPK3(a, b APK3Version) int {
	k := 0
	for ; k < len(a.tokens) && k < len(b.tokens) && a.tokens[k].typ == b.tokens[k].typ; k++ {
		if c := cmpAPK3Token(a.tokens[k], b.tokens[k]); c != 0 {
			return c
		}
	}
	ta, tb := apk3Token{typ: apk3End}, apk3Token{typ: apk3End}
	if k < len(a.tokens) {
		ta = a.tokens[k]
	}
	if k < len(b.tokens) {
		tb = b.tokens[k]
	}
	switch {
	case ta.typ == tb.typ:
		return 0
	case ta.typ == apk3Suffix && ta.rank < 0:
		return -1
	case tb.typ == apk3Suffix && tb.rank < 0:
		return 1
	case ta.typ > tb.typ:
		return -1
	}
	return 1
}
