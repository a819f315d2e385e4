package version

import (
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Maven returns the Maven version scheme: maven-artifact's
// ComparableVersion (Maven 3.8/3.9, as described in the POM reference,
// "Version Order Specification").
//
// The lower-cased version is split at ".", "-" and digit/letter
// transitions; "-" and a transition open a sub-list, and a qualifier after
// "." that ends the version or is followed by a digit is treated as after
// "-" (1.sp = 1-sp, 1.0.0.beta1 = 1-beta-1). Empty parts
// are 0. Trailing "null" items (0, "", "ga", "final", "release", empty
// lists) are trimmed, so 1 = 1.0 = 1.0.0 = 1-0 = 1-ga. Qualifiers order
// alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release
// < sp < any other (by text); "a1", "b1", "m1" mean alpha-1, beta-1,
// milestone-1. A number is newer than a sub-list, which is newer than a
// qualifier: 1-snapshot < 1 < 1-sp < 1-1 < 1.1.
func Maven() Scheme { return mavenScheme{} }

type mavenScheme struct{}

// MavenVersion is a parsed Maven version: its item tree.
type MavenVersion struct {
	raw   string
	items mvnItem
}

func (v MavenVersion) String() string { return v.raw }

// Canonical returns the canonical form Maven prints for the version
// ("1.0.0" -> "1", "1.sp" -> "1-sp"). A zero version ("0", "000", "0.0")
// has every item trimmed away; its canonical form is "0", which parses back
// to an equal version (an empty string would not parse at all).
func (v MavenVersion) Canonical() string {
	if c := v.items.canonical(); c != "" {
		return c
	}
	return "0"
}

func (mavenScheme) Name() string { return "Maven" }

func (mavenScheme) Parse(s string) (Version, error) { return parseMaven(s) }

func (mavenScheme) Compare(a, b Version) int {
	return compareWith(a, b, parseMaven, func(x, y MavenVersion) int { return mvnCompare(&x.items, &y.items) })
}

type mvnKind int

const (
	mvnInt mvnKind = iota
	mvnString
	mvnList
)

type mvnItem struct {
	kind   mvnKind
	digits string // mvnInt: digits without leading zeros ("" = 0)
	value  string // mvnString: the qualifier after aliasing
	list   []*mvnItem
}

var mvnQualifiers = []string{"alpha", "beta", "milestone", "rc", "snapshot", "", "sp"}

const mvnReleaseIndex = "5" // index of "" in mvnQualifiers

// comparable is ComparableVersion's comparableQualifier: the qualifier's
// index, or "7-qualifier" for an unknown one, compared as strings.
func (it *mvnItem) comparable() string {
	for k, q := range mvnQualifiers {
		if q == it.value {
			return strconv.Itoa(k)
		}
	}
	return strconv.Itoa(len(mvnQualifiers)) + "-" + it.value
}

func (it *mvnItem) isNull() bool {
	switch it.kind {
	case mvnInt:
		return it.digits == ""
	case mvnString:
		return it.comparable() == mvnReleaseIndex
	}
	return len(it.list) == 0
}

func newMvnString(s string, followedByDigit bool) *mvnItem {
	if followedByDigit && len(s) == 1 {
		switch s {
		case "a":
			s = "alpha"
		case "b":
			s = "beta"
		case "m":
			s = "milestone"
		}
	}
	switch s {
	case "ga", "final", "release":
		s = ""
	case "cr":
		s = "rc"
	}
	return &mvnItem{kind: mvnString, value: s}
}

func mvnParseItem(isDigit bool, s string) *mvnItem {
	if isDigit {
		return &mvnItem{kind: mvnInt, digits: strings.TrimLeft(s, "0")}
	}
	return newMvnString(s, false)
}

func parseMaven(s string) (MavenVersion, error) {
	v := MavenVersion{raw: s}
	if strings.TrimSpace(s) == "" {
		return v, parseErr("Maven", s, "empty version")
	}
	// ComparableVersion takes any text; Lockdown refuses what cannot be a
	// version written in a POM: invalid UTF-8, spaces and control or other
	// non-printing characters. Non-ASCII letters and digits are read as
	// Maven reads them: letters of a qualifier (only ASCII 0-9 are digits).
	if !utf8.ValidString(s) {
		return v, parseErr("Maven", s, "not UTF-8")
	}
	for _, r := range s {
		if r < utf8.RuneSelf && (r < 0x21 || r > 0x7e) || r >= utf8.RuneSelf && (!unicode.IsGraphic(r) || unicode.IsSpace(r)) {
			return v, parseErr("Maven", s, "invalid character")
		}
	}
	// toLowerCase(Locale.ENGLISH): Unicode lower case, "1.É" = "1.é".
	str := strings.ToLower(s)
	root := &mvnItem{kind: mvnList}
	list := root
	stack := []*mvnItem{root}
	push := func() {
		n := &mvnItem{kind: mvnList}
		list.list = append(list.list, n)
		list = n
		stack = append(stack, n)
	}
	isDigit := false
	start := 0
	for i := 0; i < len(str); i++ {
		c := str[i]
		switch {
		case c == '.' || c == '-':
			if i == start {
				list.list = append(list.list, &mvnItem{kind: mvnInt})
			} else {
				list.list = append(list.list, mvnParseItem(isDigit, str[start:i]))
			}
			start = i + 1
			if c == '-' {
				push()
			}
		case c >= '0' && c <= '9':
			if !isDigit && i > start {
				// A qualifier followed by a digit after ".": treat .X as -X.
				if len(list.list) > 0 {
					push()
				}
				list.list = append(list.list, newMvnString(str[start:i], true))
				start = i
				push()
			}
			isDigit = true
		default:
			if isDigit && i > start {
				list.list = append(list.list, mvnParseItem(true, str[start:i]))
				start = i
				push()
			}
			isDigit = false
		}
	}
	if len(str) > start {
		// A trailing qualifier after ".": treat .X as -X.
		if !isDigit && len(list.list) > 0 {
			push()
		}
		list.list = append(list.list, mvnParseItem(isDigit, str[start:]))
	}
	for k := len(stack) - 1; k >= 0; k-- {
		stack[k].normalize()
	}
	v.items = *root
	return v, nil
}

// normalize removes trailing null items, stopping at the first non-null
// item that is not a list.
func (it *mvnItem) normalize() {
	for i := len(it.list) - 1; i >= 0; i-- {
		last := it.list[i]
		if last.isNull() {
			it.list = append(it.list[:i], it.list[i+1:]...)
		} else if last.kind != mvnList {
			break
		}
	}
}

// mvnCompare is Item.compareTo; b may be nil (a missing item).
func mvnCompare(a, b *mvnItem) int {
	switch a.kind {
	case mvnInt:
		if b == nil {
			if a.digits == "" {
				return 0
			}
			return 1
		}
		switch b.kind {
		case mvnInt:
			return cmpDigits(a.digits, b.digits)
		default:
			return 1
		}
	case mvnString:
		if b == nil {
			return javaCompare(a.comparable(), mvnReleaseIndex)
		}
		switch b.kind {
		case mvnString:
			return javaCompare(a.comparable(), b.comparable())
		default:
			return -1
		}
	}
	// a is a list.
	if b == nil {
		// The whole list against nothing, not only its first item (MNG-6964).
		for _, it := range a.list {
			if c := mvnCompare(it, nil); c != 0 {
				return c
			}
		}
		return 0
	}
	switch b.kind {
	case mvnInt:
		return -1
	case mvnString:
		return 1
	}
	for k := 0; k < len(a.list) || k < len(b.list); k++ {
		var l, r *mvnItem
		if k < len(a.list) {
			l = a.list[k]
		}
		if k < len(b.list) {
			r = b.list[k]
		}
		var c int
		switch {
		case l == nil && r == nil:
			c = 0
		case l == nil:
			c = -mvnCompare(r, nil)
		default:
			c = mvnCompare(l, r)
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// javaCompare is Java's String.compareTo: UTF-16 code units in order
// (which differs from UTF-8's byte order for characters beyond the BMP
// against U+E000-U+FFFF).
func javaCompare(a, b string) int {
	if isASCII(a) && isASCII(b) {
		return strings.Compare(a, b)
	}
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// canonical prints the item tree as ComparableVersion.getCanonical does.
func (it *mvnItem) canonical() string {
	switch it.kind {
	case mvnInt:
		if it.digits == "" {
			return "0"
		}
		return it.digits
	case mvnString:
		return it.value
	}
	var b strings.Builder
	for k, c := range it.list {
		if k > 0 {
			if c.kind == mvnList {
				b.WriteByte('-')
			} else {
				b.WriteByte('.')
			}
		}
		b.WriteString(c.canonical())
	}
	return b.String()
}
