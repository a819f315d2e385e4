package termsafe

import (
	"io"
	"sync"
	"unicode/utf8"
)

// maxSGR bounds the parameters of a colour sequence the Writer lets
// through (ESC [ 1;31 m).
const maxSGR = 16

// Writer passes a stream to w with every control character but newline
// and tab escaped (as \u001b, JSON-safe inside a string), invalid UTF-8
// bytes escaped (\x9b), and only colour sequences (ESC [ digits ; m) kept
// as they are: whatever reaches it, the terminal behind w can at most
// change colour. Sequences and UTF-8 characters split across Writes are
// handled; Flush writes what an unfinished one held back. Safe for
// concurrent use.
type Writer struct {
	mu   sync.Mutex
	w    io.Writer
	pend []byte // an unfinished sequence or UTF-8 character
	out  []byte
}

// NewWriter returns a Writer to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Unwrap returns the underlying writer (to check whether it is a terminal).
func (t *Writer) Unwrap() io.Writer { return t.w }

// Write implements io.Writer: it reports len(p) written when w took all
// of the escaped output.
func (t *Writer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	data := p
	if len(t.pend) > 0 {
		data = append(t.pend, p...)
		t.pend = nil
	}
	if err := t.write(data, false); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes, escaped, what an unfinished sequence or character held
// back.
func (t *Writer) Flush() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	data := t.pend
	t.pend = nil
	return t.write(data, true)
}

// write escapes data to w; unless final, an unfinished sequence or
// character at its end is held back in pend.
func (t *Writer) write(data []byte, final bool) error {
	out := t.out[:0]
	for i := 0; i < len(data); {
		c := data[i]
		switch {
		case c >= 0x20 && c < 0x7f, c == '\n', c == '\t':
			j := i + 1
			for j < len(data) && (data[j] >= 0x20 && data[j] < 0x7f || data[j] == '\n' || data[j] == '\t') {
				j++
			}
			out = append(out, data[i:j]...)
			i = j
		case c == 0x1b:
			n, done := sgrLen(data[i:])
			if !done && !final {
				t.pend = append(t.pend, data[i:]...)
				i = len(data)
				break
			}
			if n > 0 {
				out = append(out, data[i:i+n]...)
				i += n
				break
			}
			out = appendHex(out, `\u`, uint32(c), 4)
			i++
		case c < 0x80:
			out = appendHex(out, `\u`, uint32(c), 4)
			i++
		default:
			if !utf8.FullRune(data[i:]) && !final {
				t.pend = append(t.pend, data[i:]...)
				i = len(data)
				break
			}
			r, n := utf8.DecodeRune(data[i:])
			switch {
			case r == utf8.RuneError && n == 1:
				out = appendHex(out, `\x`, uint32(c), 2)
			case Unsafe(r):
				out = appendHex(out, `\u`, uint32(r), 4)
			default:
				out = append(out, data[i:i+n]...)
			}
			i += n
		}
	}
	t.out = out
	if len(out) > 0 {
		if _, err := t.w.Write(out); err != nil {
			return err
		}
	}
	return nil
}

// sgrLen looks at an ESC at b[0]: n > 0 is the length of a colour
// sequence (ESC [ params m); n == 0 means it is not one; done is false
// when b ends before that can be told.
func sgrLen(b []byte) (n int, done bool) {
	if len(b) < 2 {
		return 0, false
	}
	if b[1] != '[' {
		return 0, true
	}
	for i := 2; i < len(b); i++ {
		switch c := b[i]; {
		case c == 'm':
			return i + 1, true
		case (c >= '0' && c <= '9') || c == ';':
			if i-2 >= maxSGR {
				return 0, true
			}
		default:
			return 0, true
		}
	}
	if len(b)-2 > maxSGR {
		return 0, true
	}
	return 0, false
}

func appendHex(b []byte, prefix string, v uint32, digits int) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, prefix...)
	for d := digits - 1; d >= 0; d-- {
		b = append(b, hexDigits[(v>>(4*uint(d)))&0xf])
	}
	return b
}
