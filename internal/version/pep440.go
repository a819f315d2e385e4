package version

import (
	"regexp"
	"strings"
	"sync"
	"unicode"
)

// PEP440 returns the Python version scheme of PEP 440 ("Version
// specifiers", https://peps.python.org/pep-0440/), as the packaging
// library orders it.
//
// [N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local], with the spec's
// normalisation: case-insensitive, leading "v" and surrounding whitespace
// ignored, "alpha"/"beta"/"c"/"pre"/"preview" spelled a/b/rc, "rev"/"r" and
// "-N" spelled post, separators "-", "_", "." optional, a missing number 0.
// Order: epoch; release with trailing zeros ignored (1.0 == 1.0.0);
// then dev < a < b < rc < (final) < post, where a ".devN" on a release
// without pre or post sorts before its pre-releases; a local version
// ("+…") is newer than the same version without one, local parts comparing
// numbers above strings.
func PEP440() Scheme { return pep440Scheme{} }

type pep440Scheme struct{}

// PEP440Version is a parsed Python version.
type PEP440Version struct {
	raw     string
	epoch   string   // digits
	release []string // digits, trailing zeros removed
	preL    int      // 0 none, 1 a, 2 b, 3 rc
	preN    string
	hasPost bool
	postN   string
	hasDev  bool
	devN    string
	local   []string // lower case
}

func (v PEP440Version) String() string { return v.raw }

func (pep440Scheme) Name() string { return "PEP 440" }

func (pep440Scheme) Parse(s string) (Version, error) { return parsePEP440(s) }

func (pep440Scheme) Compare(a, b Version) int {
	return compareWith(a, b, parsePEP440, comparePEP440)
}

// pep440Re is PEP 440's VERSION_PATTERN (Appendix B), anchored.
var pep440Re = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^\s*v?` +
		`(?:(?P<epoch>[0-9]+)!)?` +
		`(?P<release>[0-9]+(?:\.[0-9]+)*)` +
		`(?P<pre>[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?` +
		`(?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?` +
		`(?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?` +
		`(?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?` +
		`\s*$`)
})

func parsePEP440(s string) (PEP440Version, error) {
	v := PEP440Version{raw: s}
	// packaging's pattern is matched with Python's Unicode \s: surrounding
	// Unicode whitespace (U+00A0, U+2003, U+3000, …) is trimmed too, which
	// Go's ASCII \s would not do.
	// Case is ignored for ASCII letters only: packaging matches the local
	// segment with re.ASCII, so "+\u0130" or "+\u212a" (KELVIN SIGN), which
	// Unicode case folding would turn into "i" and "k", are not versions
	// (strings.ToLower would fold them).
	low := strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, strings.TrimFunc(s, pySpace))
	m := pep440Re().FindStringSubmatchIndex(low)
	if m == nil {
		return v, parseErr("PEP 440", s, "not a PEP 440 version")
	}
	get := func(name string) (string, bool) {
		i := pep440Re().SubexpIndex(name)
		if m[2*i] < 0 {
			return "", false
		}
		return low[m[2*i]:m[2*i+1]], true
	}
	num := func(d string) string {
		d = strings.TrimLeft(d, "0")
		if d == "" {
			return "0"
		}
		return d
	}
	if e, ok := get("epoch"); ok {
		v.epoch = num(e)
	} else {
		v.epoch = "0"
	}
	rel, _ := get("release")
	parts := strings.Split(rel, ".")
	for k := range parts {
		parts[k] = num(parts[k])
	}
	for len(parts) > 0 && parts[len(parts)-1] == "0" {
		parts = parts[:len(parts)-1]
	}
	v.release = parts
	if l, ok := get("pre_l"); ok {
		switch l {
		case "a", "alpha":
			v.preL = 1
		case "b", "beta":
			v.preL = 2
		default: // c, rc, pre, preview
			v.preL = 3
		}
		n, _ := get("pre_n")
		v.preN = num(n)
	}
	if _, ok := get("post"); ok {
		v.hasPost = true
		n, ok := get("post_n1")
		if !ok {
			n, _ = get("post_n2")
		}
		v.postN = num(n)
	}
	if _, ok := get("dev"); ok {
		v.hasDev = true
		n, _ := get("dev_n")
		v.devN = num(n)
	}
	if l, ok := get("local"); ok {
		v.local = strings.FieldsFunc(l, func(r rune) bool { return r == '-' || r == '_' || r == '.' })
	}
	return v, nil
}

// comparePEP440 follows packaging's _cmpkey.
func comparePEP440(a, b PEP440Version) int {
	if c := cmpDigits(a.epoch, b.epoch); c != 0 {
		return c
	}
	for k := 0; k < len(a.release) || k < len(b.release); k++ {
		x, y := "0", "0"
		if k < len(a.release) {
			x = a.release[k]
		}
		if k < len(b.release) {
			y = b.release[k]
		}
		if c := cmpDigits(x, y); c != 0 {
			return c
		}
	}
	// Pre-release: a dev release of a final (no pre, no post) sorts before
	// every pre-release; no pre-release sorts after every one.
	preKey := func(v PEP440Version) (int, string) {
		switch {
		case v.preL == 0 && !v.hasPost && v.hasDev:
			return -1, ""
		case v.preL == 0:
			return 4, ""
		}
		return v.preL, v.preN
	}
	al, an := preKey(a)
	bl, bn := preKey(b)
	if al != bl {
		return sign(al - bl)
	}
	if c := cmpDigits(an, bn); c != 0 {
		return c
	}
	// Post-release: none sorts before any.
	if a.hasPost != b.hasPost {
		if a.hasPost {
			return 1
		}
		return -1
	}
	if c := cmpDigits(a.postN, b.postN); c != 0 {
		return c
	}
	// Development release: none sorts after any.
	if a.hasDev != b.hasDev {
		if a.hasDev {
			return -1
		}
		return 1
	}
	if c := cmpDigits(a.devN, b.devN); c != 0 {
		return c
	}
	// Local version: none sorts before any; numeric parts above strings.
	for k := 0; k < len(a.local) && k < len(b.local); k++ {
		x, y := a.local[k], b.local[k]
		xn, yn := allDigits(x), allDigits(y)
		var c int
		switch {
		case xn && yn:
			c = cmpDigits(x, y)
		case xn:
			c = 1
		case yn:
			c = -1
		default:
			c = strings.Compare(x, y)
		}
		if c != 0 {
			return c
		}
	}
	return sign(len(a.local) - len(b.local))
}

// pySpace is Python's str.isspace: Unicode White_Space (unicode.IsSpace)
// plus the ASCII separators U+001C-U+001F.
func pySpace(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) }
