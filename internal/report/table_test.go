package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// TestChecksTableOrder: the summary comes first, then failures worst
// first; the finding repeated on two containers is one row with a count;
// passed results only with ShowPassed.
func TestChecksTableOrder(t *testing.T) {
	out := string(reportOut(t, "table", fixtureAudit(), Options{}))
	var got []string
	for l := range strings.Lines(out) {
		l = strings.TrimRight(l, "\n")
		if strings.HasPrefix(l, "Summary") || strings.HasPrefix(l, "Fix first") || strings.HasPrefix(l, "Failures") ||
			strings.HasPrefix(l, "  Score") || strings.HasPrefix(l, "  To fix") || strings.HasPrefix(l, "  Results") ||
			strings.HasPrefix(l, "  CRITICAL") || strings.HasPrefix(l, "  MEDIUM") || strings.HasPrefix(l, "  LOW") ||
			strings.HasSuffix(l, "lists them).") || strings.HasPrefix(l, "      on: ") || strings.HasPrefix(l, "  1  ") || strings.HasPrefix(l, "  2  ") || strings.HasPrefix(l, "  3  ") {
			got = append(got, strings.Join(strings.Fields(l), " "))
		}
	}
	want := []string{
		"Summary",
		"Results: 13 (FAIL 2, WARN 3, PASS 6, INFO 1, SKIP 1)",
		"To fix: 1 CRITICAL, 3 MEDIUM, 1 LOW",
		// lost 10 + 3 + 1.5 + 1.5 + 0.5 = 16.5 of 5+3+1+10+3+3+3+10+3+3+1 = 45
		"Score: 63/100 (severity-weighted: a failed CRITICAL check costs 10, HIGH 5, MEDIUM 3, LOW 1; a WARN half)",
		"Fix first (the 2 fixes that clear the most severe failures)",
		"1 CRITICAL LD-CONTAINER-PRIVILEGED 1 container Privileged containers are not used",
		"2 MEDIUM LD-DAEMON-ICC the daemon Network traffic is restricted between containers on the default bridge",
		"Failures, worst first",
		"CRITICAL FAIL LD-CONTAINER-PRIVILEGED 5.5 Privileged containers are not used",
		"on: container web",
		"MEDIUM FAIL LD-DAEMON-ICC 2.2 Network traffic is restricted between containers on the default bridge",
		"on: daemon",
		"MEDIUM WARN LD-CONTAINER-MEMORY 5.11 Memory usage for containers is limited",
		"on: 2 containers: api, web",
		"LOW WARN LD-DAEMON-LIVE-RESTORE 2.15 Live restore is enabled",
		"on: daemon",
		"8 passed, informational or skipped results not listed (--show-passed lists them).",
	}
	if d := cmpLines(want, got); d != "" {
		t.Errorf("table lines (-want +got):\n%s\n%s", d, out)
	}
	all := string(reportOut(t, "table", fixtureAudit(), Options{ShowPassed: true}))
	for _, s := range []string{"Passed, informational and skipped", "PASS    LD-DAEMON-TLS", "SKIP    LD-HOST-AUDITD"} {
		if !strings.Contains(all, s) {
			t.Errorf("ShowPassed table lacks %q:\n%s", s, all)
		}
	}
	if strings.Contains(out, "LD-DAEMON-TLS") {
		t.Errorf("table without ShowPassed lists a PASS:\n%s", out)
	}
	for _, s := range []string{"Engine:", "Containers audited:"} {
		if !strings.Contains(out, s) {
			t.Errorf("header lacks the label %q:\n%s", s, out)
		}
	}
}

func cmpLines(want, got []string) string {
	if strings.Join(want, "\n") == strings.Join(got, "\n") {
		return ""
	}
	return "want:\n  " + strings.Join(want, "\n  ") + "\ngot:\n  " + strings.Join(got, "\n  ")
}

func TestMetaLabel(t *testing.T) {
	for k, want := range map[string]string{"apiVersion": "API version", "baselineAccepted": "Accepted by the baseline", "someNewKey": "Some new key", "score": "",
		"maxMTUSize": "Max MTU size", "dbURL": "Db URL", "underlayMTU": "Underlay MTU"} {
		if got := metaLabel(k); got != want {
			t.Errorf("metaLabel(%q) = %q, want %q", k, got, want)
		}
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
	// Lint rows: at width 70 every row fits; TITLE gives way.
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
	if rows != 10 {
		t.Errorf("%d rows, want 10 (summary 2, fixes 1 + 3, failures 1 + 3)", rows)
	}
	if !strings.Contains(out, "Rule is shadowed by an…\n") {
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
		{"audit", "No checks ran.\n"},
		{"netpol-lint", "No problems found.\n"},
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
