package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// WarningGroup is the warnings of one kind and shape about one file, said
// once with a count, or the caches a host scan left out.
type WarningGroup struct {
	Kind    string // model.Warning.Kind
	Layer   string // diff ID
	Path    string // the file the warnings are about ("" when none)
	Message string // the first warning's message
	Count   int    // warnings in the group
	Files   int    // distinct files the warnings are about
	// Paths lists the directories of a model.WarnCacheSkipped group.
	Paths []string
}

// String is the group in one line, safe for a terminal:
//
//	/lib/apk/db/installed (layer 0123456789ab): apk: line 5: not a field: "x" (and 41 more like it)
func (g WarningGroup) String() string {
	if g.Kind == model.WarnCacheSkipped {
		return clean(fmt.Sprintf("left out %s that %s not part of the installed system (--include-caches reads them): %s",
			plural(len(g.Paths), "cache", "caches"), isAre(len(g.Paths)), strings.Join(g.Paths, ", ")))
	}
	where := g.Path
	if g.Layer != "" {
		where = strings.TrimSpace(where + " (layer " + shortDigest(g.Layer) + ")")
	}
	s := g.Message
	if where != "" {
		s = where + ": " + s
	}
	switch {
	case g.Count > 1 && g.Files > 1:
		s += fmt.Sprintf(" (and %d more like it, about %d files)", g.Count-1, g.Files)
	case g.Count > 1:
		s += fmt.Sprintf(" (and %d more like it)", g.Count-1)
	}
	return clean(s)
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// GroupWarnings groups ws for people: warnings of one kind whose messages
// differ only in numbers and quoted text are one group (whatever file they
// are about: the group says about how many); the skipped caches are one
// group. Most important first: unreadable files, then the skipped caches
// (what a host scan did not read), then the largest groups.
func GroupWarnings(ws []model.Warning) []WarningGroup {
	type key struct{ kind, shape string }
	idx := map[key]int{}
	type file struct{ layer, path string }
	files := map[key]map[file]bool{}
	var out []WarningGroup
	caches := -1
	for _, w := range ws {
		if w.Kind == model.WarnCacheSkipped {
			if caches < 0 {
				caches = len(out)
				out = append(out, WarningGroup{Kind: w.Kind})
			}
			out[caches].Count++
			out[caches].Paths = append(out[caches].Paths, w.Path)
			continue
		}
		k := key{w.Kind, messageShape(w.Message)}
		if files[k] == nil {
			files[k] = map[file]bool{}
		}
		files[k][file{w.Layer, w.Path}] = true
		if i, ok := idx[k]; ok {
			out[i].Count++
			out[i].Files = len(files[k])
			continue
		}
		idx[k] = len(out)
		out = append(out, WarningGroup{Kind: w.Kind, Layer: w.Layer, Path: w.Path, Message: w.Message, Count: 1, Files: 1})
	}
	if caches >= 0 {
		slices.Sort(out[caches].Paths)
		out[caches].Paths = slices.Compact(out[caches].Paths)
	}
	rank := func(kind string) int {
		switch kind {
		case model.WarnUnreadable:
			return 0
		case model.WarnCacheSkipped:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(out, func(a, b WarningGroup) int {
		return cmp.Or(cmp.Compare(rank(a.Kind), rank(b.Kind)), cmp.Compare(b.Count, a.Count),
			strings.Compare(a.Path, b.Path), strings.Compare(a.Layer, b.Layer), strings.Compare(a.Message, b.Message))
	})
	return out
}

// messageShape is a message with its numbers and quoted parts blanked:
// "line 5: not a field: \"x\"" and "line 9: not a field: \"yy\"" have one
// shape.
func messageShape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c):
			for i+1 < len(s) && isDigit(s[i+1]) {
				i++
			}
			b.WriteByte('#')
		case c == '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
			b.WriteString(`""`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
