// Package termsafe makes untrusted text safe to show on a terminal. File
// names from image layers, image tags, package names, policy names and
// ecosystem names can carry escape sequences that move the cursor, rewrite
// earlier lines, set the window title or write the clipboard: printed raw,
// a scanned image could forge or hide what Lockdown reports.
//
// String escapes one untrusted value for a line of output (a table cell, a
// log attribute, an error line); Writer is the last line of defence on a
// whole output stream (standard output and standard error), letting only
// colour (SGR) sequences through.
package termsafe

import (
	"strings"
	"unicode/utf8"
)

// Unsafe reports whether r must not reach a terminal as is: C0 and C1
// control characters, DEL, the Unicode line and paragraph separators and
// the bidirectional controls that reorder what is shown.
func Unsafe(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true // bidirectional embeddings, overrides, isolates and marks
	}
	return false
}

// String returns s safe for one line of terminal output: line breaks and
// tabs become spaces; every other control character, bidirectional
// control and invalid UTF-8 byte is shown escaped (\x1b, \u009b, \u202e),
// never sent. Safe text comes back unchanged (and unallocated).
func String(s string) string {
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if Unsafe(r) || (r == utf8.RuneError && n == 1) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	b := make([]byte, 0, len(s)+8)
	b = append(b, s[:i]...)
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b = append(b, ' ')
		case r == utf8.RuneError && n == 1:
			b = appendHex(b, `\x`, uint32(s[i]), 2)
		case r < 0x20 || r == 0x7f:
			b = appendHex(b, `\x`, uint32(r), 2)
		case Unsafe(r):
			b = appendHex(b, `\u`, uint32(r), 4)
		default:
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return string(b)
}

// Safe reports whether String(s) == s.
func Safe(s string) bool { return String(s) == s }

// Lines is String for text of several lines: every line escaped, the line
// breaks kept ("\r\n" is one). Safe text comes back unchanged.
func Lines(s string) string {
	if Safe(strings.ReplaceAll(s, "\n", " ")) {
		return s
	}
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = String(l)
	}
	return strings.Join(lines, "\n")
}

// ShellWord returns s as one word of a shell command line (bash, zsh, ksh)
// that is safe to show on a terminal and, pasted, passes exactly s: as it
// is when it needs no quoting, in single quotes when it holds no control
// character, else in ANSI-C quotes ($'…') with every control character,
// line break, bidirectional control and invalid byte written as \xHH or
// \uHHHH.
func ShellWord(s string) string {
	plain := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,@%+", r)) {
			plain = false
			break
		}
	}
	switch {
	case plain:
		return s
	case Safe(s): // no control character, tab or line break
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	b := make([]byte, 0, len(s)+16)
	b = append(b, "$'"...)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1, r < 0x80 && Unsafe(r):
			b = appendHex(b, `\x`, uint32(s[i]), 2)
		case Unsafe(r):
			b = appendHex(b, `\u`, uint32(r), 4)
		case r == '\\' || r == '\'':
			b = append(b, '\\', byte(r))
		default:
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return string(append(b, '\''))
}
