package termsafe

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
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
		if (r == utf8.RuneError && n == 1) || (unsafeRune(r) && r != '\n' && r != '\t') {
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
