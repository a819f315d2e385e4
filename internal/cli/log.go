package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/lockdown-sec/lockdown/internal/termsafe"
)

// lineHandler writes log records for people at a terminal or in CI logs:
//
//	lockdown: warning: the layer cache is unavailable (err=permission denied)
//
// with attributes in parentheses and no timestamp (--debug adds the time).
// Messages, keys and values are escaped (termsafe.String): they carry file
// names and tags from scanned images.
type lineHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	level slog.Leveler
	time  bool
	attrs []slog.Attr
	group string
}

func newLineHandler(w io.Writer, level slog.Leveler, withTime bool) *lineHandler {
	return &lineHandler{mu: &sync.Mutex{}, w: w, level: level, time: withTime}
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("lockdown: ")
	if h.time {
		b.WriteString(r.Time.Format("15:04:05.000 "))
	}
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("warning: ")
	case r.Level >= slog.LevelInfo:
		b.WriteString("info: ")
	default:
		b.WriteString("debug: ")
	}
	b.WriteString(termsafe.String(r.Message))
	var parts []string
	add := func(group string) func(slog.Attr) bool {
		return func(a slog.Attr) bool {
			a.Value = a.Value.Resolve()
			if a.Equal(slog.Attr{}) || (a.Value.Kind() == slog.KindString && a.Value.String() == "") {
				return true
			}
			key := a.Key
			if group != "" {
				key = group + "." + key
			}
			parts = append(parts, termsafe.String(key)+"="+termsafe.String(fmt.Sprint(a.Value.Any())))
			return true
		}
	}
	for _, a := range h.attrs {
		add("")(a) // keys already carry the group they were added in
	}
	r.Attrs(add(h.group))
	if len(parts) > 0 {
		b.WriteString(" (" + strings.Join(parts, ", ") + ")")
	}
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]slog.Attr{}, h.attrs...)
	for _, a := range as {
		if h.group != "" {
			a.Key = h.group + "." + a.Key
		}
		c.attrs = append(c.attrs, a)
	}
	return &c
}

func (h *lineHandler) WithGroup(name string) slog.Handler {
	c := *h
	if c.group != "" {
		name = c.group + "." + name
	}
	c.group = name
	return &c
}
