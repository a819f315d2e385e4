// Package version implements the version orderings Lockdown matches
// advisories with: dpkg, apk, rpm, Go, SemVer (also the OSV "SEMVER" range
// type), PEP 440, Maven, RubyGems, NuGet and Packagist. Which ecosystem
// uses which is internal/ecosystem's table.
//
// Every scheme follows its ecosystem's own rules, cited in the file that
// implements it. A Scheme is stateless and safe for concurrent use.
package version

import (
	"fmt"
	"strings"
)

// Version is one parsed version. String returns the text it was parsed from.
type Version interface{ String() string }

// Scheme parses and orders the versions of one ecosystem.
type Scheme interface {
	// Name is the scheme's name: "dpkg", "apk", "rpm", "Go", "SemVer",
	// "PEP 440", "Maven", "RubyGems", "NuGet", "Packagist".
	Name() string
	// Parse reads a version; a string the scheme cannot read is an error
	// naming the string and the scheme.
	Parse(s string) (Version, error)
	// Compare returns -1, 0 or +1 as a is older than, equal to or newer
	// than b. Both should come from this scheme's Parse; a version from
	// another scheme is re-parsed from its String, and if that fails the
	// two strings are compared bytewise, so Compare never panics.
	Compare(a, b Version) int
}

// ParseError is the error of every Parse: the string, the scheme and why.
type ParseError struct {
	Scheme string
	Input  string
	Reason string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("parse %s version %q: %s", e.Scheme, e.Input, e.Reason)
}

func parseErr(scheme, input, reason string) error {
	return &ParseError{Scheme: scheme, Input: input, Reason: reason}
}

// coerce returns v as a T: directly when it is one, else by re-parsing its
// String with parse. ok is false when that fails too.
func coerce[T Version](v Version, parse func(string) (T, error)) (T, bool) {
	if t, ok := v.(T); ok {
		return t, true
	}
	var zero T
	if v == nil {
		return zero, false
	}
	t, err := parse(v.String())
	if err != nil {
		return zero, false
	}
	return t, true
}

// compareWith is the shared body of every Compare: coerce both sides, then
// order them with cmp; fall back to comparing the strings.
func compareWith[T Version](a, b Version, parse func(string) (T, error), cmp func(T, T) int) int {
	x, okA := coerce(a, parse)
	y, okB := coerce(b, parse)
	if okA && okB {
		return cmp(x, y)
	}
	return strings.Compare(str(a), str(b))
}

func str(v Version) string {
	if v == nil {
		return ""
	}
	return v.String()
}

// sign turns any int into -1, 0 or +1.
func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// cmpDigits compares two strings of ASCII digits numerically, whatever their
// length (leading zeros ignored), without converting to an integer.
func cmpDigits(a, b string) int {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return sign(len(a) - len(b))
	}
	return strings.Compare(a, b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isAlpha(c byte) bool { return isLower(c) || isUpper(c) }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
