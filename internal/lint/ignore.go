package lint

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lockdown-sec/lockdown/internal/lint/rule"
	"github.com/lockdown-sec/lockdown/internal/suppress"
)

// An inline suppression is a comment:
//
//	# lockdown:ignore=ID[,ID…] [exp:YYYY-MM-DD] [reason…]
//
// (hadolint's `# hadolint ignore=DL3008,DL3015` is read too, for the rules
// that map to those IDs). Placed on its own line it covers the next line
// that is not a comment and, in YAML, every line indented under it (a
// comment above `containers:` covers every container); at the end of a
// line it covers that line (and what is indented under it); among the
// comments that open a YAML document, before its first key, it covers the
// whole document. In a Dockerfile it covers the next instruction. An
// expiry works as in the ignore file: the suppression holds through that
// day, then stops and says so.
type ignore struct {
	ids      []string
	reason   string
	expires  string
	until    time.Time // zero: no expiry
	line     int       // the comment's line
	from, to int       // lines covered
}

var (
	ignoreRe   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`#\s*lockdown:ignore=(\S+)(.*)$`) })
	hadolintRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`#\s*hadolint\s+ignore=(\S+)`) })
)

// parseIgnores finds the suppressions in a file's text. yamlBlocks says
// whether indentation and documents give the covered lines (YAML) or the
// next instruction with its continuation lines does (Dockerfile).
func parseIgnores(file string, text string, yamlBlocks bool) ([]ignore, []string, error) {
	lines := strings.Split(text, "\n")
	var out []ignore
	var warns []string
	docStart := 0 // index of the line that opened the current YAML document
	for i, ln := range lines {
		trim := strings.TrimSpace(ln)
		if yamlBlocks && (trim == "---" || strings.HasPrefix(trim, "--- ")) {
			docStart = i + 1
		}
		var ig ignore
		switch m := ignoreRe().FindStringSubmatch(ln); {
		case m != nil:
			ig.ids = splitIDs(m[1])
			rest := strings.Fields(m[2])
			if len(rest) > 0 && strings.HasPrefix(rest[0], "exp:") {
				ig.expires = strings.TrimPrefix(rest[0], "exp:")
				t, err := suppress.ParseExpiry(ig.expires)
				if err != nil {
					return nil, nil, fmt.Errorf("%s:%d: lockdown:ignore: %w", file, i+1, err)
				}
				ig.until = t
				rest = rest[1:]
			}
			ig.reason = strings.Join(rest, " ")
		default:
			h := hadolintRe().FindStringSubmatch(ln)
			if h == nil {
				continue
			}
			for _, r := range rule.All() {
				for _, hid := range splitIDs(h[1]) {
					if slices.Contains(r.Hadolint, hid) && !slices.Contains(ig.ids, r.ID) {
						ig.ids = append(ig.ids, r.ID)
					}
				}
			}
			if len(ig.ids) == 0 {
				continue
			}
			ig.reason = "hadolint ignore=" + h[1]
		}
		for _, id := range ig.ids {
			if _, ok := rule.ByID(id); !ok {
				warns = append(warns, fmt.Sprintf("%s:%d: lockdown:ignore names %s, which is not a lint rule (see lockdown lint --list-checks)", file, i+1, id))
			}
		}
		ig.line = i + 1
		ownLine := strings.HasPrefix(trim, "#")
		target := i
		if ownLine {
			target = nextContent(lines, i+1)
			if target < 0 {
				continue
			}
		}
		ig.from = target + 1
		switch {
		case !yamlBlocks:
			ig.to = instructionEnd(lines, target) + 1
		case ownLine && onlyCommentsBetween(lines, docStart, i) && target == nextContent(lines, docStart):
			ig.to = documentEnd(lines, target) + 1
		default:
			ig.to = blockEnd(lines, target) + 1
		}
		out = append(out, ig)
	}
	return out, warns, nil
}

func splitIDs(s string) []string {
	var out []string
	for _, id := range strings.Split(s, ",") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}

func isBlankOrComment(s string) bool {
	t := strings.TrimSpace(s)
	return t == "" || strings.HasPrefix(t, "#")
}

// nextContent is the index of the first line at or after i that is not
// blank or a comment (-1 when none).
func nextContent(lines []string, i int) int {
	for ; i < len(lines); i++ {
		if !isBlankOrComment(lines[i]) {
			return i
		}
	}
	return -1
}

func onlyCommentsBetween(lines []string, from, to int) bool {
	for i := from; i < to && i < len(lines); i++ {
		if !isBlankOrComment(lines[i]) {
			return false
		}
	}
	return true
}

func indent(s string) int {
	n := 0
	for _, c := range s {
		if c != ' ' && c != '\t' {
			break
		}
		n++
	}
	return n
}

// blockEnd is the last line of the YAML block opened by line i: the lines
// after it indented more deeply, and for a key that opens a list, the
// items written at the key's own indentation ("containers:\n- name: …").
func blockEnd(lines []string, i int) int {
	base := indent(lines[i])
	head := strings.TrimSpace(stripComment(lines[i]))
	opensBlock := strings.HasSuffix(head, ":")
	end := i
	for j := i + 1; j < len(lines); j++ {
		if isBlankOrComment(lines[j]) {
			continue
		}
		t := strings.TrimSpace(lines[j])
		if t == "---" || strings.HasPrefix(t, "--- ") {
			break
		}
		in := indent(lines[j])
		if in < base || in == base && !(opensBlock && strings.HasPrefix(t, "-")) {
			break
		}
		end = j
	}
	return end
}

// stripComment drops a trailing " # …" comment (not one inside quotes,
// roughly: the comment must follow whitespace).
func stripComment(s string) string {
	if i := strings.Index(s, " #"); i >= 0 {
		return s[:i]
	}
	return s
}

// documentEnd is the last line of the YAML document holding line i.
func documentEnd(lines []string, i int) int {
	for j := i + 1; j < len(lines); j++ {
		if t := strings.TrimSpace(lines[j]); t == "---" || strings.HasPrefix(t, "--- ") {
			return j - 1
		}
	}
	return len(lines) - 1
}

// instructionEnd is the last line of the Dockerfile instruction starting
// at line i (continuation lines end with a backslash).
func instructionEnd(lines []string, i int) int {
	for i < len(lines)-1 && strings.HasSuffix(strings.TrimRight(lines[i], " \t\r"), "\\") {
		i++
	}
	return i
}

// covers reports whether the suppression applies to a finding of rule id
// at line.
func (ig ignore) covers(id string, line int) bool {
	return line >= ig.from && line <= ig.to && slices.Contains(ig.ids, id)
}
