package version

import "strings"

// APK returns the Alpine version scheme, as apk-tools' src/version.c orders
// versions (get_token/next_token and apk_version_compare).
//
// A version is digits separated by dots, an optional lower-case letter,
// any number of suffixes "_name[N]" and an optional "-rN" revision.
// Suffix order: _alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git <
// _hg < _p. Parts are compared token by token; when one version runs out
// first, the longer one is newer unless its next token is a pre-release
// suffix. A dot part with leading zeros compares as a fraction (apk gives
// it the value minus the number of zeros but one, then reads the rest).
func APK() Scheme { return apkScheme{} }

type apkScheme struct{}

// APKVersion is a parsed Alpine version, held as its token list.
type APKVersion struct {
	raw    string
	tokens []apkToken
	end    apkTokType // the type after the last token: END
}

func (v APKVersion) String() string { return v.raw }

func (apkScheme) Name() string { return "apk" }

func (apkScheme) Parse(s string) (Version, error) { return parseAPK(s) }

func (apkScheme) Compare(a, b Version) int { return compareWith(a, b, parseAPK, compareAPK) }

type apkTokType int

// Token types, in apk's order (the order matters: see compareAPK).
const (
	apkInvalid apkTokType = iota - 1
	apkDigitOrZero
	apkDigit
	apkLetter
	apkSuffix
	apkSuffixNo
	apkRevisionNo
	apkEnd
)

// apkToken is one token: its type and its value. Numbers keep their digits
// (no overflow); other values (letters, suffix ranks, the negative count of
// leading zeros) are in n.
type apkToken struct {
	typ    apkTokType
	n      int
	digits string // numeric tokens: digits without leading zeros
	num    bool
}

var apkPreSuffixes = []string{"alpha", "beta", "pre", "rc"}
var apkPostSuffixes = []string{"cvs", "svn", "git", "hg", "p"}

// parseAPK tokenises like apk's get_token loop, starting with a digit
// token, and fails where apk_version_validate fails. It also refuses an
// empty string and a version that does not start with a digit, which apk
// would accept but never writes.
func parseAPK(s string) (APKVersion, error) {
	const name = "apk"
	v := APKVersion{raw: s}
	if s == "" {
		return v, parseErr(name, s, "empty version")
	}
	if !isDigit(s[0]) {
		return v, parseErr(name, s, "version does not start with a digit")
	}
	typ := apkDigit
	i := 0
	for typ != apkEnd {
		tok := apkToken{typ: typ}
		switch typ {
		case apkDigitOrZero:
			// Leading zeros: apk skips all but the last zero and gives the
			// token the value minus the number skipped; the last zero is
			// then read as a digit token.
			if i < len(s) && s[i] == '0' {
				j := i
				for j+1 < len(s) && s[j+1] == '0' {
					j++
				}
				if j > i {
					tok.n = -(j - i)
				} else {
					tok.num = true
				}
				i = j
				v.tokens = append(v.tokens, tok)
				typ = apkDigit
				continue
			}
			fallthrough
		case apkDigit, apkSuffixNo, apkRevisionNo:
			j := i
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			tok.num = true
			tok.digits = strings.TrimLeft(s[i:j], "0")
			i = j
		case apkLetter:
			tok.n = int(s[i])
			i++
		case apkSuffix:
			rank, n, ok := apkSuffixRank(s[i:])
			if !ok {
				return v, parseErr(name, s, "unknown suffix at "+quoteAt(s, i))
			}
			tok.n = rank
			i += n
		default:
			return v, parseErr(name, s, "invalid version at "+quoteAt(s, i))
		}
		v.tokens = append(v.tokens, tok)
		if i >= len(s) {
			typ = apkEnd
			break
		}
		var err bool
		typ, i, err = apkNext(typ, s, i)
		if err {
			return v, parseErr(name, s, "invalid character at "+quoteAt(s, i))
		}
	}
	v.end = apkEnd
	return v, nil
}

// apkNext is apk's next_token: the type of the token starting at s[i]
// (after the one of type prev), and where its value starts.
func apkNext(prev apkTokType, s string, i int) (apkTokType, int, bool) {
	c := s[i]
	n := apkInvalid
	switch {
	case (prev == apkDigit || prev == apkDigitOrZero) && isLower(c):
		n = apkLetter
	case prev == apkLetter && isDigit(c):
		n = apkDigit
	case prev == apkSuffix && isDigit(c):
		n = apkSuffixNo
	default:
		switch c {
		case '.':
			n = apkDigitOrZero
		case '_':
			n = apkSuffix
		case '-':
			if i+1 < len(s) && s[i+1] == 'r' {
				n = apkRevisionNo
				i++
			}
		}
		i++
	}
	if n < prev {
		if !((n == apkDigitOrZero && prev == apkDigit) ||
			(n == apkSuffix && prev == apkSuffixNo) ||
			(n == apkDigit && prev == apkLetter)) {
			n = apkInvalid
		}
	}
	if n == apkInvalid {
		return n, i, true
	}
	return n, i, false
}

// apkSuffixRank returns a suffix's rank (pre-release suffixes negative),
// and its length.
func apkSuffixRank(s string) (int, int, bool) {
	for k, p := range apkPreSuffixes {
		if strings.HasPrefix(s, p) {
			return k - len(apkPreSuffixes), len(p), true
		}
	}
	for k, p := range apkPostSuffixes {
		if strings.HasPrefix(s, p) {
			return k, len(p), true
		}
	}
	return 0, 0, false
}

func quoteAt(s string, i int) string {
	if i >= len(s) {
		return "end"
	}
	return "\"" + s[i:] + "\""
}

func cmpAPKToken(a, b apkToken) int {
	if a.num && b.num {
		return cmpDigits(a.digits, b.digits)
	}
	// A run of leading zeros (negative n) sorts below any number; numbers
	// have n == 0.
	if a.n != b.n {
		return sign(a.n - b.n)
	}
	if a.num != b.num {
		if a.num {
			return 1
		}
		return -1
	}
	return 0
}

// compareAPK is apk_version_compare: walk both token lists while types and
// values agree, then decide on the first difference.
func compareAPK(a, b APKVersion) int {
	k := 0
	for ; k < len(a.tokens) && k < len(b.tokens); k++ {
		ta, tb := a.tokens[k], b.tokens[k]
		if ta.typ != tb.typ {
			break
		}
		if c := cmpAPKToken(ta, tb); c != 0 {
			return c
		}
	}
	at, bt := apkEnd, apkEnd
	var ta, tb apkToken
	if k < len(a.tokens) {
		ta = a.tokens[k]
		at = ta.typ
	}
	if k < len(b.tokens) {
		tb = b.tokens[k]
		bt = tb.typ
	}
	if at == bt {
		return 0
	}
	// The non-terminating version is newer unless its next token is a
	// pre-release suffix.
	if at == apkSuffix && ta.n < 0 {
		return -1
	}
	if bt == apkSuffix && tb.n < 0 {
		return 1
	}
	if at > bt {
		return -1
	}
	return 1
}
