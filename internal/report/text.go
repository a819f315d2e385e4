package report

import (
	"bufio"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/termsafe"
)

// ANSI colours, used only when Options.Color is set.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiBRed   = "\x1b[1;31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiBlue   = "\x1b[34m"
	ansiCyan   = "\x1b[36m"
)

func severityColor(s model.Severity) string {
	switch s {
	case model.SeverityCritical:
		return ansiBRed
	case model.SeverityHigh:
		return ansiRed
	case model.SeverityMedium:
		return ansiYellow
	case model.SeverityLow:
		return ansiBlue
	}
	return ""
}

func statusColor(s string) string {
	switch s {
	case model.StatusPass:
		return ansiGreen
	case model.StatusFail:
		return ansiRed
	case model.StatusWarn:
		return ansiYellow
	case model.StatusInfo:
		return ansiCyan
	case model.StatusSkip:
		return ansiDim
	}
	return ""
}

// clean makes untrusted text safe for one line of a terminal table: line
// breaks and tabs become spaces, other control characters (an escape
// sequence in a container name, say) are shown escaped, never sent.
func clean(s string) string { return termsafe.String(s) }

// cleanLines splits multi-line untrusted text into cleaned, non-empty lines.
func cleanLines(s string) []string {
	var out []string
	for line := range strings.SplitSeq(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if line = strings.TrimRightFunc(clean(line), unicode.IsSpace); strings.TrimSpace(line) != "" {
			out = append(out, line)
		}
	}
	return out
}

// textWidth is the number of terminal cells s takes (one per rune; tables
// hold cleaned text, so no control characters).
func textWidth(s string) int { return utf8.RuneCountInString(s) }

// truncate shortens s to at most n cells, ending in "…" when cut.
func truncate(s string, n int) string {
	if n <= 0 || textWidth(s) <= n {
		return s
	}
	if n == 1 {
		return "…"
	}
	i, count := 0, 0
	for j := range s {
		if count == n-1 {
			i = j
			break
		}
		count++
	}
	return strings.TrimRightFunc(s[:i], unicode.IsSpace) + "…"
}

// cell is one table cell; color is an ANSI sequence or "".
type cell struct {
	text  string
	color string
}

// line is one output line of a grid: a row of cells, or free text
// (a group heading, an indented note) that does not take part in the column
// widths.
type line struct {
	cells  []cell
	text   string
	header bool // a column header row, or a heading line: bold when coloured
}

// grid lays out rows in aligned columns, two spaces apart, with free lines
// in between. Column widths are those of the widest cell over all rows.
// With a width hint, the flex column is cut so that rows fit.
type grid struct {
	indent string
	flex   int // column that gives way to Options.Width; -1 none
	lines  []line
}

func (g *grid) row(cells ...cell) { g.lines = append(g.lines, line{cells: cells}) }
func (g *grid) headerRow(cols ...string) {
	cells := make([]cell, len(cols))
	for i, c := range cols {
		cells[i] = cell{text: c}
	}
	g.lines = append(g.lines, line{cells: cells, header: true})
}
func (g *grid) text(s string)    { g.lines = append(g.lines, line{text: s}) }
func (g *grid) heading(s string) { g.lines = append(g.lines, line{text: s, header: true}) }

func (g *grid) write(w *bufio.Writer, opts Options) {
	var widths []int
	for _, l := range g.lines {
		for i, c := range l.cells {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], textWidth(c.text))
		}
	}
	if opts.Width > 0 && g.flex >= 0 && g.flex < len(widths) {
		used := textWidth(g.indent)
		for i, wd := range widths {
			if i != g.flex {
				used += wd
			}
			if i > 0 {
				used += 2
			}
		}
		widths[g.flex] = min(widths[g.flex], max(opts.Width-used, 10))
	}
	for _, l := range g.lines {
		if l.cells == nil {
			if opts.Color && l.header && l.text != "" {
				w.WriteString(ansiBold + l.text + ansiReset + "\n")
				continue
			}
			w.WriteString(l.text)
			w.WriteByte('\n')
			continue
		}
		w.WriteString(g.indent)
		last := len(l.cells) - 1
		for last > 0 && l.cells[last].text == "" {
			last-- // no trailing blanks
		}
		for i := 0; i <= last; i++ {
			c := l.cells[i]
			text := c.text
			if i == g.flex {
				text = truncate(text, widths[i])
			}
			color := c.color
			if l.header {
				color = ansiBold
			}
			if opts.Color && color != "" && text != "" {
				w.WriteString(color)
				w.WriteString(text)
				w.WriteString(ansiReset)
			} else {
				w.WriteString(text)
			}
			if i < last {
				w.WriteString(strings.Repeat(" ", widths[i]-textWidth(text)+2))
			}
		}
		w.WriteByte('\n')
	}
}

// shortDigest shortens "sha256:0123…" to its first 12 hex digits.
func shortDigest(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 {
		d = d[i+1:]
	}
	if len(d) > 12 {
		d = d[:12]
	}
	return d
}

// layerText renders a layer as "2 (0123456789ab)", or "2" without a diff ID.
func layerText(l *model.LayerRef) string {
	if l == nil {
		return ""
	}
	s := strconv.Itoa(l.Index)
	if l.DiffID != "" {
		s += " (" + shortDigest(l.DiffID) + ")"
	}
	return s
}
