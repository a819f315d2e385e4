package version

import "strings"

// Dpkg returns the Debian/Ubuntu version scheme: Debian Policy §5.6.12
// ("Version") and dpkg's lib/dpkg/version.c (parseversion, verrevcmp).
//
// A version is [epoch:]upstream_version[-debian_revision]. The epoch is a
// number (missing = 0); the revision is everything after the last hyphen
// (missing = empty, which compares equal to "0"). Upstream and revision are
// compared left to right in alternating non-digit and digit parts: in
// non-digit parts "~" sorts before everything, even the end of the part,
// then the end, then letters, then all other characters (by ASCII); digit
// parts compare numerically.
func Dpkg() Scheme { return dpkgScheme{} }

type dpkgScheme struct{}

// DpkgVersion is a parsed Debian version.
type DpkgVersion struct {
	raw      string
	epoch    string // digits, leading zeros removed; "" = 0
	upstream string
	revision string
}

func (v DpkgVersion) String() string { return v.raw }

// Epoch, Upstream and Revision return the parts of the version.
func (v DpkgVersion) Epoch() string    { return v.epoch }
func (v DpkgVersion) Upstream() string { return v.upstream }
func (v DpkgVersion) Revision() string { return v.revision }

func (dpkgScheme) Name() string { return "dpkg" }

func (s dpkgScheme) Parse(str string) (Version, error) { return parseDpkg(str) }

func (dpkgScheme) Compare(a, b Version) int { return compareWith(a, b, parseDpkg, compareDpkg) }

func parseDpkg(s string) (DpkgVersion, error) {
	const name = "dpkg"
	v := DpkgVersion{raw: s}
	str := strings.TrimSpace(s)
	if str == "" {
		return v, parseErr(name, s, "empty version")
	}
	if strings.ContainsAny(str, " \t\n") {
		return v, parseErr(name, s, "version contains whitespace")
	}
	if e, rest, ok := strings.Cut(str, ":"); ok {
		if !allDigits(e) {
			return v, parseErr(name, s, "epoch is not a number")
		}
		v.epoch = strings.TrimLeft(e, "0")
		// dpkg (lib/dpkg/parsehelp.c, parseversion) refuses an epoch above
		// INT_MAX: "epoch in version is too big".
		if cmpDigits(v.epoch, "2147483647") > 0 {
			return v, parseErr(name, s, "epoch is too big (dpkg's limit is 2147483647)")
		}
		str = rest
	}
	if i := strings.LastIndexByte(str, '-'); i >= 0 {
		v.upstream, v.revision = str[:i], str[i+1:]
		if v.revision == "" {
			return v, parseErr(name, s, "empty revision after '-'")
		}
	} else {
		v.upstream = str
	}
	if v.upstream == "" {
		return v, parseErr(name, s, "empty upstream version")
	}
	// dpkg refuses an upstream version that does not start with a digit.
	if !isDigit(v.upstream[0]) {
		return v, parseErr(name, s, "upstream version does not start with a digit")
	}
	for i := 0; i < len(v.upstream); i++ {
		if c := v.upstream[i]; !isAlnum(c) && !strings.ContainsRune(".+-~:", rune(c)) {
			return v, parseErr(name, s, "invalid character in upstream version")
		}
	}
	for i := 0; i < len(v.revision); i++ {
		if c := v.revision[i]; !isAlnum(c) && !strings.ContainsRune(".+~", rune(c)) {
			return v, parseErr(name, s, "invalid character in revision")
		}
	}
	return v, nil
}

func compareDpkg(a, b DpkgVersion) int {
	if c := cmpDigits(a.epoch, b.epoch); c != 0 {
		return c
	}
	if c := verrevcmp(a.upstream, b.upstream); c != 0 {
		return c
	}
	return verrevcmp(a.revision, b.revision)
}

// dpkgOrder is dpkg's order(): the weight of one character in a non-digit
// part; the end of the part (i == len) weighs 0.
func dpkgOrder(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	c := s[i]
	switch {
	case isDigit(c):
		return 0
	case isAlpha(c):
		return int(c)
	case c == '~':
		return -1
	default:
		return int(c) + 256
	}
}

// verrevcmp is dpkg's comparison of one upstream version or revision.
func verrevcmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			ac, bc := dpkgOrder(a, i), dpkgOrder(b, j)
			if ac != bc {
				return sign(ac - bc)
			}
			i++
			j++
		}
		si := i
		for i < len(a) && isDigit(a[i]) {
			i++
		}
		sj := j
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		if c := cmpDigits(a[si:min(i, len(a))], b[sj:min(j, len(b))]); c != 0 {
			return c
		}
	}
	return 0
}
