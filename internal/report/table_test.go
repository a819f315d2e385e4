package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lockdown-sec/lockdown/internal/model"
)

func TestAuditScore(t *testing.T) {
	tests := []struct {
		name     string
		statuses []string
		want     string
	}{
		{"two of three", []string{"PASS", "PASS", "FAIL", "INFO", "SKIP"}, "67% (2 pass, 1 fail, 0 warn; not counted: 1 info, 1 skip)"},
		{"warn counts against", []string{"PASS", "WARN", "WARN"}, "33% (1 pass, 0 fail, 2 warn; not counted: 0 info, 0 skip)"},
		{"all pass", []string{"PASS"}, "100% (1 pass, 0 fail, 0 warn; not counted: 0 info, 0 skip)"},
		{"nothing counted", []string{"INFO", "SKIP"}, "n/a (0 pass, 0 fail, 0 warn; not counted: 1 info, 1 skip)"},
		{"half rounds up", []string{"PASS", "FAIL", "PASS", "FAIL", "PASS", "FAIL", "PASS", "FAIL"}, "50% (4 pass, 4 fail, 0 warn; not counted: 0 info, 0 skip)"},
		{"one of eight", []string{"PASS", "FAIL", "FAIL", "FAIL", "FAIL", "FAIL", "FAIL", "FAIL"}, "13% (1 pass, 7 fail, 0 warn; not counted: 0 info, 0 skip)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s score
			for _, st := range tt.statuses {
				s.add(st)
			}
			if got := s.String(); got != tt.want {
				t.Errorf("score(%v) = %q, want %q", tt.statuses, got, tt.want)
			}
		})
	}
}

func TestAuditTableScores(t *testing.T) {
	out := string(reportOut(t, "table", fixtureAudit(), Options{}))
	var got []string
	for l := range strings.Lines(out) {
		if strings.Contains(l, "Score:") || strings.HasPrefix(l, "Overall") {
			got = append(got, strings.TrimSpace(l))
		}
	}
	want := []string{
		"Score: 33% (1 pass, 1 fail, 1 warn; not counted: 1 info, 0 skip)",  // daemon
		"Score: 100% (3 pass, 0 fail, 0 warn; not counted: 0 info, 1 skip)", // host
		"Score: 100% (1 pass, 0 fail, 0 warn; not counted: 0 info, 0 skip)", // container db
		"Score: 33% (1 pass, 1 fail, 1 warn; not counted: 0 info, 0 skip)",  // container web
		"Overall score: 60% (6 pass, 2 fail, 2 warn; not counted: 1 info, 1 skip)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("score lines = %q, want %q", got, want)
	}
}

func TestTableColour(t *testing.T) {
	for kind, mk := range map[string]func() *model.Report{"scan": fixtureScan, "audit": fixtureAudit, "netpol-lint": fixtureLint} {
		plain := reportOut(t, "table", mk(), Options{})
		if bytes.IndexByte(plain, 0x1b) >= 0 {
			t.Errorf("%s table without Color has an escape sequence", kind)
		}
		coloured := reportOut(t, "table", mk(), Options{Color: true})
		if bytes.IndexByte(coloured, 0x1b) < 0 {
			t.Errorf("%s table with Color has no colour", kind)
		}
		// Colour adds escape sequences and nothing else.
		stripped := stripANSI(string(coloured))
		if stripped != string(plain) {
			t.Errorf("%s table with colour, stripped = %q, want the plain table %q", kind, stripped, plain)
		}
	}
	if !strings.Contains(string(reportOut(t, "table", fixtureScan(), Options{Color: true})), ansiBRed+"CRITICAL"+ansiReset) {
		t.Errorf("CRITICAL is not bold red")
	}
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && s[j] != 'm' {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestTableWidth(t *testing.T) {
	// Lint rows: everything but TITLE is 58 cells; at width 70 every row fits.
	out := string(reportOut(t, "table", fixtureLint(), Options{Width: 70}))
	rows := 0
	for l := range strings.Lines(out) {
		l = strings.TrimSuffix(l, "\n")
		if strings.HasPrefix(l, "  ") && !strings.HasPrefix(l, "      ") { // rows, not notes
			rows++
			if n := utf8.RuneCountInString(l); n > 70 {
				t.Errorf("row %q is %d cells, want ≤ 70", l, n)
			}
		}
	}
	if rows != 5 {
		t.Errorf("%d rows, want 2 headers + 3 findings", rows)
	}
	if !strings.Contains(out, "  Rule is sha…\n") {
		t.Errorf("long title not cut with …:\n%s", out)
	}
	// SBOM: LOCATION gives way.
	sb := string(sbomOut(t, "table", fixtureSBOM(), Options{Width: 100}))
	for l := range strings.Lines(sb) {
		if strings.Contains(l, "/var/lib/dpkg") || strings.Contains(l, "/app/") {
			if n := utf8.RuneCountInString(strings.TrimSuffix(l, "\n")); n > 100 {
				t.Errorf("sbom row %q is %d cells, want ≤ 100", l, n)
			}
		}
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"hello world", 0, "hello world"},
		{"hello world", 11, "hello world"},
		{"hello world", 7, "hello…"},
		{"hello world", 6, "hello…"},
		{"héllo", 3, "hé…"},
		{"abc", 1, "…"},
	}
	for _, tt := range tests {
		if got := truncate(tt.s, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}

// TestHostileText: names from an image can carry escape sequences and
// line breaks; a table must not pass them to the terminal.
func TestHostileText(t *testing.T) {
	evil := "evil\x1b]0;pwned\x07\x1b[2J\nnext\tcol\u009b31m\x9b\xff"
	p := pkg(model.Package{Name: evil, Version: "1\r\n", Type: "npm", Location: "/app/" + evil})
	s := &model.SBOM{Target: model.Target{Name: evil}, Packages: []model.Package{p}}
	r := &model.Report{Kind: "audit", Findings: []model.Finding{{
		Kind: model.KindPosture, RuleID: "X", Status: "FAIL", Scope: "container", Subject: evil,
		Title: evil, Evidence: evil, Remediation: evil,
	}}}
	outs := map[string][]byte{
		"sbom table":  sbomOut(t, "table", s, Options{}),
		"audit table": reportOut(t, "table", r, Options{Color: true}),
	}
	for name, out := range outs {
		text := stripANSI(string(out))
		for i, c := range []byte(text) {
			if c < 0x20 && c != '\n' {
				t.Errorf("%s: control byte %#x at %d in %q", name, c, i, text)
				break
			}
		}
		if !strings.Contains(text, `evil\x1b]0;pwned\x07\x1b[2J next col\u009b31m\x9b\xff`) {
			t.Errorf("%s: hostile name not shown escaped:\n%s", name, text)
		}
		if !utf8.ValidString(text) {
			t.Errorf("%s: output is not valid UTF-8", name)
		}
	}
	// JSON outputs carry (valid UTF-8) text exactly, escaped by JSON itself.
	valid := strings.ToValidUTF8(evil, "")
	s.Packages[0].Name = valid
	var back model.SBOM
	if err := json.Unmarshal(sbomOut(t, "json", s, Options{}), &back); err != nil || back.Packages[0].Name != valid {
		t.Errorf("json round trip of the name = %q, %v; want %q", back.Packages[0].Name, err, valid)
	}
}

func TestEmptyTables(t *testing.T) {
	tests := []struct {
		kind string
		want string
	}{
		{"scan", "No vulnerabilities found in 0 packages\n"},
		{"audit", "No checks ran.\n\nOverall score: n/a (0 pass, 0 fail, 0 warn; not counted: 0 info, 0 skip)\n"},
		{"netpol-lint", "No problems found.\n\nTotal: 0 findings (CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0)\n"},
	}
	for _, tt := range tests {
		if got := string(reportOut(t, "table", &model.Report{Kind: tt.kind}, Options{})); got != tt.want {
			t.Errorf("empty %s table = %q, want %q", tt.kind, got, tt.want)
		}
	}
	got := string(sbomOut(t, "table", &model.SBOM{Target: model.Target{Input: "/srv/root", Kind: "dir"}}, Options{}))
	want := "Target:   /srv/root (dir)\nDistro:   unknown\nPackages: 0\n\nNAME  VERSION  TYPE  SOURCE  LAYER  LOCATION\n"
	if got != want {
		t.Errorf("empty sbom table = %q, want %q", got, want)
	}
	// JSON of empty lists: [] rather than null.
	if got := string(sbomOut(t, "json", &model.SBOM{}, Options{})); !strings.Contains(got, `"packages": []`) {
		t.Errorf("empty sbom json has no \"packages\": []:\n%s", got)
	}
	if got := string(reportOut(t, "json", &model.Report{Kind: "scan"}, Options{})); !strings.Contains(got, `"findings": []`) {
		t.Errorf("empty report json has no \"findings\": []:\n%s", got)
	}
}
