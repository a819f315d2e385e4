package version

import "strings"

// RPM returns the RPM version scheme (AlmaLinux, Rocky Linux, RHEL, SUSE,
// Mariner): [epoch:]version[-release], compared epoch first (numerically,
// missing = 0), then version, then release, each with rpm's rpmvercmp
// (rpmio/rpmvercmp.c, rpm ≥ 4.15).
//
// rpmvercmp splits a string into runs of digits and runs of letters; any
// other character only separates. Digit runs compare numerically and are
// newer than letter runs; letter runs compare by ASCII. "~" sorts before
// everything, even the end of the string (1.0~rc1 < 1.0); "^" sorts after
// the end but before anything else (1.0 < 1.0^git1 < 1.0.1). When one
// string has more runs it is newer (1.0 < 1.0.0).
//
// A missing release is older than any release, even one starting with "~"
// (as rpm 4.18's rpmverCmp orders them: 1.0 < 1.0-~b < 1.0-0).
func RPM() Scheme { return rpmScheme{} }

type rpmScheme struct{}

// RPMVersion is a parsed RPM EVR.
type RPMVersion struct {
	raw     string
	epoch   string // digits without leading zeros; "" = 0
	version string
	release string
}

func (v RPMVersion) String() string { return v.raw }

// Epoch returns the epoch digits ("" when 0 or missing); Version and Release
// the other two parts.
func (v RPMVersion) Epoch() string   { return v.epoch }
func (v RPMVersion) Version() string { return v.version }
func (v RPMVersion) Release() string { return v.release }

func (rpmScheme) Name() string { return "rpm" }

func (rpmScheme) Parse(s string) (Version, error) { return parseRPM(s) }

func (rpmScheme) Compare(a, b Version) int { return compareWith(a, b, parseRPM, compareRPM) }

func parseRPM(s string) (RPMVersion, error) {
	const name = "rpm"
	v := RPMVersion{raw: s}
	str := s
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
		str = rest
	}
	if strings.Contains(str, ":") {
		return v, parseErr(name, s, "more than one ':'")
	}
	if i := strings.LastIndexByte(str, '-'); i >= 0 {
		v.version, v.release = str[:i], str[i+1:]
		if v.release == "" {
			return v, parseErr(name, s, "empty release after '-'")
		}
	} else {
		v.version = str
	}
	if v.version == "" {
		return v, parseErr(name, s, "empty version part")
	}
	return v, nil
}

func compareRPM(a, b RPMVersion) int {
	if c := cmpDigits(a.epoch, b.epoch); c != 0 {
		return c
	}
	if c := rpmvercmp(a.version, b.version); c != 0 {
		return c
	}
	switch {
	case a.release == "" && b.release == "":
		return 0
	case a.release == "":
		return -1
	case b.release == "":
		return 1
	}
	return rpmvercmp(a.release, b.release)
}

// rpmvercmp compares two version or release strings as rpm does.
func rpmvercmp(a, b string) int {
	if a == b {
		return 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isAlnum(a[i]) && a[i] != '~' && a[i] != '^' {
			i++
		}
		for j < len(b) && !isAlnum(b[j]) && b[j] != '~' && b[j] != '^' {
			j++
		}
		// Tilde sorts before everything else.
		if (i < len(a) && a[i] == '~') || (j < len(b) && b[j] == '~') {
			if i >= len(a) || a[i] != '~' {
				return 1
			}
			if j >= len(b) || b[j] != '~' {
				return -1
			}
			i++
			j++
			continue
		}
		// Caret is like tilde, except that the end of the string sorts
		// before it.
		if (i < len(a) && a[i] == '^') || (j < len(b) && b[j] == '^') {
			if i >= len(a) {
				return -1
			}
			if j >= len(b) {
				return 1
			}
			if a[i] != '^' {
				return 1
			}
			if b[j] != '^' {
				return -1
			}
			i++
			j++
			continue
		}
		if i >= len(a) || j >= len(b) {
			break
		}
		si, sj := i, j
		isNum := isDigit(a[i])
		if isNum {
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
		} else {
			for i < len(a) && isAlpha(a[i]) {
				i++
			}
			for j < len(b) && isAlpha(b[j]) {
				j++
			}
		}
		// Segments of different kinds: a number is newer than letters.
		if sj == j {
			if isNum {
				return 1
			}
			return -1
		}
		var c int
		if isNum {
			c = cmpDigits(a[si:i], b[sj:j])
		} else {
			c = strings.Compare(a[si:i], b[sj:j])
		}
		if c != 0 {
			return c
		}
	}
	switch {
	case i >= len(a) && j >= len(b):
		return 0
	case i < len(a):
		return 1
	}
	return -1
}
