package termsafe

import (
	"bytes"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

func TestString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"libc6 2.36-9", "libc6 2.36-9"},
		{"naïve ✓ 日本", "naïve ✓ 日本"},
		{"a\x1b[2Jb", `a\x1b[2Jb`},
		{"title\x1b]0;pwned\x07", `title\x1b]0;pwned\x07`},
		{"two\nlines\r\tx", "two lines  x"},
		{"del\x7f", `del\x7f`},
		{"c1 \u009b31m", `c1 \u009b31m`},
		{"bad utf8 \x9b\xff", `bad utf8 \x9b\xff`},
		{"rtl \u202egnp.exe", `rtl \u202egnp.exe`},
		{"isolate \u2066x\u2069 sep\u2028", `isolate \u2066x\u2069 sep\u2028`},
		{"nul\x00", `nul\x00`},
	}
	for _, tt := range tests {
		if got := String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if Safe(tt.in) != (tt.in == tt.want) {
			t.Errorf("Safe(%q) = %v", tt.in, Safe(tt.in))
		}
	}
}

// raw reports the first raw control character in b, if any: a C0 control
// other than newline and tab, DEL, a C1 control, a bidirectional control
// or an invalid UTF-8 byte. Colour sequences are allowed when sgr.
func raw(b []byte, sgr bool) (int, bool) {
	for i := 0; i < len(b); {
		if b[i] == 0x1b && sgr {
			if n, done := sgrLen(b[i:]); done && n > 0 {
				i += n
				continue
			}
		}
		r, n := utf8.DecodeRune(b[i:])
		if (r == utf8.RuneError && n == 1) || (Unsafe(r) && r != '\n' && r != '\t') {
			return i, true
		}
		i += n
	}
	return 0, false
}

func writeAll(t testing.TB, chunks ...[]byte) []byte {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, c := range chunks {
		n, err := w.Write(c)
		if err != nil || n != len(c) {
			t.Fatalf("Write(%q) = %d, %v", c, n, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestWriter(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain\ttext\n", "plain\ttext\n"},
		{"\x1b[1;31mCRITICAL\x1b[0m\n", "\x1b[1;31mCRITICAL\x1b[0m\n"}, // colour passes
		{"\x1b[2J\x1b[H", `\u001b[2J\u001b[H`},                         // clear screen does not
		{"\x1b]52;c;cHduZWQ=\x07", `\u001b]52;c;cHduZWQ=\u0007`},       // clipboard write
		{"over\rwrite", `over\u000dwrite`},
		{"c1 \u009b2J", `c1 \u009b2J`},
		{"bad \x9b utf8", `bad \x9b utf8`},
		{"bidi \u202e", `bidi \u202e`},
		{"json \"\\u001b\" stays", "json \"\\u001b\" stays"},
		{"trailing \x1b", `trailing \u001b`},
		{"trailing \x1b[1;3", `trailing \u001b[1;3`},
		{"trailing \xe2\x80", `trailing \xe2\x80`},
		{"long sgr \x1b[11111111111111111111m", `long sgr \u001b[11111111111111111111m`},
		{"é日本✓", "é日本✓"},
	}
	for _, tt := range tests {
		if got := string(writeAll(t, []byte(tt.in))); got != tt.want {
			t.Errorf("Writer(%q) = %q, want %q", tt.in, got, tt.want)
		}
		// Every split into two writes gives the same output.
		for i := range len(tt.in) {
			if got := string(writeAll(t, []byte(tt.in[:i]), []byte(tt.in[i:]))); got != tt.want {
				t.Errorf("Writer(%q | %q) = %q, want %q", tt.in[:i], tt.in[i:], got, tt.want)
			}
		}
	}
}

func FuzzString(f *testing.F) {
	for _, s := range []string{"a\x1b[2Jb", "\u009b\u202e\xff", "two\nlines", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := String(s)
		if i, bad := raw([]byte(got), false); bad || strings.ContainsAny(got, "\n\t") {
			t.Fatalf("String(%q) = %q: raw control at %d", s, got, i)
		}
		if String(got) != got {
			t.Errorf("String(String(%q)) = %q, want %q (idempotent)", s, String(got), got)
		}
	})
}

func FuzzWriter(f *testing.F) {
	for _, s := range []string{"\x1b[1;31mx\x1b[0m", "\x1b[2J", "\x1b]0;t\x07", "\xc2\x9b", "\xe2\x80", "a\rb"} {
		f.Add([]byte(s), uint(1))
	}
	f.Fuzz(func(t *testing.T, b []byte, split uint) {
		whole := writeAll(t, b)
		if i, bad := raw(whole, true); bad {
			t.Fatalf("Writer(%q) = %q: raw control at %d", b, whole, i)
		}
		cut := int(split % uint(len(b)+1))
		if parts := writeAll(t, b[:cut], b[cut:]); !bytes.Equal(parts, whole) {
			t.Errorf("Writer(%q) split at %d = %q, whole = %q", b, cut, parts, whole)
		}
	})
}

func BenchmarkString(b *testing.B) {
	for _, s := range []string{"libssl3 3.0.15-1~deb12u1 CVE-2024-5535", "evil\x1b[2J\x1b]0;title\x07name"} {
		b.Run(String(s)[:8], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				String(s)
			}
		})
	}
}

func BenchmarkWriter(b *testing.B) {
	line := []byte(`{"name":"libssl3","version":"3.0.15-1~deb12u1","purl":"pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64"},` + "\n")
	chunk := bytes.Repeat(line, 300)
	w := NewWriter(io.Discard)
	b.ReportAllocs()
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		w.Write(chunk)
	}
}

func TestLines(t *testing.T) {
	for in, want := range map[string]string{
		"":                                 "",
		"one\ntwo\n":                       "one\ntwo\n",
		"a\x1b[2J\r\nb\tc\n\u202ed":        "a\\x1b[2J\nb c\n\\u202ed",
		"--- x\n+ \"k\": \"\x1b]0;t\x07\"": "--- x\n+ \"k\": \"\\x1b]0;t\\x07\"",
	} {
		if got := Lines(in); got != want {
			t.Errorf("Lines(%q) = %q, want %q", in, got, want)
		}
	}
}

// shellWords are inputs for ShellWord: plain, quoted, hostile.
var shellWords = []string{"", "nginx:1.25", "--cap-drop=ALL", "a b", "it's", "$HOME `id` \\", "a\x1b[2Jb", "x\ny\tz",
	"\u009b31m", "rtl\u202eexe", "bad\xff\xc2", "\x00nul", "'\\'", "日本 ✓"}

// TestShellWord: bash reads every word back as exactly the input, and
// what is printed holds no raw control character.
func TestShellWord(t *testing.T) {
	testutil.RequireCmd(t, "bash")
	for _, s := range shellWords {
		w := ShellWord(s)
		if i, bad := raw([]byte(w), false); bad || strings.ContainsAny(w, "\n\t") {
			t.Errorf("ShellWord(%q) = %q: raw control at %d", s, w, i)
		}
		if strings.ContainsRune(s, 0) {
			continue // a shell word cannot hold NUL: only its printing is checked
		}
		out, err := exec.Command("bash", "-c", "printf %s "+w).Output()
		if err != nil || string(out) != s {
			t.Errorf("bash printf %s = %q (%v), want %q", w, out, err, s)
		}
		if got, ok := unquoteShellWord(w); !ok || got != s {
			t.Errorf("unquoteShellWord(%s) = %q, %v; want %q (the fuzz target's decoder disagrees with bash)", w, got, ok, s)
		}
	}
	for in, want := range map[string]string{"nginx:1.25": "nginx:1.25", "a b": "'a b'", "it's": `'it'\''s'`, "a\x1bb": `$'a\x1bb'`, "": "''"} {
		if got := ShellWord(in); got != want {
			t.Errorf("ShellWord(%q) = %s, want %s", in, got, want)
		}
	}
}

// unquoteShellWord reads back the three forms ShellWord writes, as bash
// does (TestShellWord checks it against bash).
func unquoteShellWord(w string) (string, bool) {
	switch {
	case strings.HasPrefix(w, "$'") && strings.HasSuffix(w, "'") && len(w) >= 3:
		var b []byte
		body := w[2 : len(w)-1]
		for i := 0; i < len(body); i++ {
			if body[i] != '\\' {
				b = append(b, body[i])
				continue
			}
			if i+1 >= len(body) {
				return "", false
			}
			switch body[i+1] {
			case '\\', '\'':
				b = append(b, body[i+1])
				i++
			case 'x':
				v, err := strconv.ParseUint(body[i+2:min(i+4, len(body))], 16, 8)
				if err != nil || i+4 > len(body) {
					return "", false
				}
				b = append(b, byte(v))
				i += 3
			case 'u':
				v, err := strconv.ParseUint(body[i+2:min(i+6, len(body))], 16, 32)
				if err != nil || i+6 > len(body) {
					return "", false
				}
				b = utf8.AppendRune(b, rune(v))
				i += 5
			default:
				return "", false
			}
		}
		return string(b), true
	case strings.HasPrefix(w, "'"):
		return strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(w, "'"), "'"), `'\''`, "'"), true
	}
	return w, true
}

func FuzzShellWord(f *testing.F) {
	for _, s := range shellWords {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w := ShellWord(s)
		if i, bad := raw([]byte(w), false); bad || strings.ContainsAny(w, "\n\t") {
			t.Fatalf("ShellWord(%q) = %q: raw control at %d", s, w, i)
		}
		if got, ok := unquoteShellWord(w); !ok || got != s {
			t.Errorf("ShellWord(%q) = %s, reads back as %q (%v)", s, w, got, ok)
		}
	})
}
