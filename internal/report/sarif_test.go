package report

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/model"
)

func decodeSARIF(t *testing.T, b []byte) *sarifLog {
	t.Helper()
	var l sarifLog
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatalf("decode SARIF: %v", err)
	}
	if len(l.Runs) != 1 {
		t.Fatalf("%d runs, want 1", len(l.Runs))
	}
	return &l
}

// resultLine summarises a result: "RULE level uri[:line[:col]] suppressed?".
func resultLine(r sarifResult) string {
	pl := r.Locations[0].PhysicalLocation
	s := r.RuleID + " " + r.Level + " " + pl.ArtifactLocation.URI
	if pl.Region != nil {
		s += ":" + itoaT(pl.Region.StartLine)
		if pl.Region.StartColumn > 0 {
			s += ":" + itoaT(pl.Region.StartColumn)
		}
	}
	if len(r.Suppressions) > 0 {
		s += " suppressed(" + r.Suppressions[0].Justification + ")"
	}
	return s
}

func itoaT(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestSARIF(t *testing.T) {
	tests := []struct {
		name        string
		report      *model.Report
		wantResults []string
		wantRules   map[string]string // id -> security-severity
	}{
		{
			name:   "scan",
			report: fixtureScan(),
			wantResults: []string{
				"CVE-2023-45853 error var/lib/dpkg/status",
				"CVE-2024-2961 error var/lib/dpkg/status",
				"CVE-2020-8203 error app/package-lock.json",
				"CVE-2021-23337 error app/package-lock.json",
				"CVE-2023-5678 warning var/lib/dpkg/status",
				"CVE-2024-0727 warning var/lib/dpkg/status",
				"GO-2023-1988 note app/server",
				"GO-2023-2102 warning app/server suppressed(vex: vulnerable_code_not_in_execute_path)",
				"CVE-2010-4756 note var/lib/dpkg/status suppressed(ignore-file: disputed upstream; not a vulnerability in glibc)",
			},
			wantRules: map[string]string{
				"CVE-2010-4756": "2.0", "CVE-2020-8203": "8.0", "CVE-2021-23337": "8.0", "CVE-2023-5678": "5.5",
				"CVE-2023-45853": "9.5", "CVE-2024-0727": "5.5", "CVE-2024-2961": "8.0", "GO-2023-1988": "0.0", "GO-2023-2102": "5.5",
			},
		},
		{
			name:   "audit: FAIL and WARN only",
			report: fixtureAudit(),
			wantResults: []string{
				"LD-DAEMON-ICC warning etc/docker/daemon.json",
				"LD-DAEMON-LIVE-RESTORE note etc/docker/daemon.json:7",
				"LD-CONTAINER-MEMORY warning api",
				"LD-CONTAINER-PRIVILEGED error containers/3f1c2b/json",
				"LD-CONTAINER-MEMORY warning web",
			},
			wantRules: map[string]string{"LD-CONTAINER-MEMORY": "5.5", "LD-CONTAINER-PRIVILEGED": "9.5", "LD-DAEMON-ICC": "5.5", "LD-DAEMON-LIVE-RESTORE": "2.0"},
		},
		{
			name:   "lint",
			report: fixtureLint(),
			wantResults: []string{
				"NP-SHADOWED warning policies/system.yaml:3",
				"NP-ALLOW-ALL-INGRESS error policies/shop.yaml:22",
				"NP-EMPTY-SELECTOR note policies/shop.yaml:14",
			},
			wantRules: map[string]string{"NP-ALLOW-ALL-INGRESS": "8.0", "NP-EMPTY-SELECTOR": "2.0", "NP-SHADOWED": "5.5"},
		},
		{
			name:        "empty",
			report:      &model.Report{Kind: "audit"},
			wantResults: nil,
			wantRules:   map[string]string{},
		},
		{
			name: "odd locations",
			report: &model.Report{Kind: "netpol-lint", Findings: []model.Finding{
				{Kind: model.KindPolicyLint, RuleID: "R1", Severity: model.SeverityMedium, Subject: "ns/p", Location: "/abs/dir with space/p.yaml:3:9"},
				{Kind: model.KindPolicyLint, RuleID: "R2", Severity: model.SeverityCritical, Subject: "ns/q", Location: "sha256:abc/x.json"},
				{Kind: model.KindPolicyLint, RuleID: "", Severity: model.SeverityLow, Subject: "ns/r"},
			}},
			wantResults: []string{
				"R1 warning abs/dir%20with%20space/p.yaml:3:9",
				"R2 error ./sha256:abc/x.json",
				"unknown note ns/r",
			},
			wantRules: map[string]string{"R1": "5.5", "R2": "9.5", "unknown": "2.0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := reportOut(t, "sarif", tt.report, Options{})
			validateSARIF(t, out)
			l := decodeSARIF(t, out)
			run := l.Runs[0]
			if run.Tool.Driver.Name != "lockdown" {
				t.Errorf("driver = %q, want lockdown", run.Tool.Driver.Name)
			}
			var got []string
			for _, r := range run.Results {
				got = append(got, resultLine(r))
				if rule := run.Tool.Driver.Rules[r.RuleIndex]; rule.ID != r.RuleID {
					t.Errorf("result %s has ruleIndex %d, which is rule %s", r.RuleID, r.RuleIndex, rule.ID)
				}
				if len(r.PartialFingerprints[fingerprintKey]) != 32 {
					t.Errorf("result %s fingerprint = %v, want a 32-hex %s", r.RuleID, r.PartialFingerprints, fingerprintKey)
				}
				if r.Message.Text == "" {
					t.Errorf("result %s has no message", r.RuleID)
				}
			}
			if diff := cmp.Diff(tt.wantResults, got); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
			rules := map[string]string{}
			var ids []string
			for _, r := range run.Tool.Driver.Rules {
				if _, dup := rules[r.ID]; dup {
					t.Errorf("rule %s twice", r.ID)
				}
				rules[r.ID] = r.Properties.SecuritySeverity
				ids = append(ids, r.ID)
				if r.Help.Text == "" || r.ShortDescription.Text == "" {
					t.Errorf("rule %s lacks help or description", r.ID)
				}
			}
			if diff := cmp.Diff(tt.wantRules, rules); diff != "" {
				t.Errorf("rules -> security-severity (-want +got):\n%s", diff)
			}
			if !slices.IsSortedFunc(ids, naturalCompare) {
				t.Errorf("rules not sorted: %v", ids)
			}
			// Fingerprints tell results apart.
			seen := map[string]string{}
			for _, r := range run.Results {
				fp := r.PartialFingerprints[fingerprintKey]
				if other, dup := seen[fp]; dup {
					t.Errorf("results %s and %s share fingerprint %s", other, r.RuleID, fp)
				}
				seen[fp] = r.RuleID
			}
		})
	}
}

func TestSARIFRuleHelp(t *testing.T) {
	// One advisory on two packages: the rule names both upgrades, at the
	// highest severity of its findings.
	a := pkg(model.Package{Name: "libssl3", Version: "3.0.11-1~deb12u1", Type: model.TypeDeb, Location: "/var/lib/dpkg/status"})
	b := pkg(model.Package{Name: "openssl", Version: "3.0.11-1~deb12u1", Type: model.TypeDeb, Location: "/var/lib/dpkg/status"})
	r := &model.Report{Kind: "scan", Findings: []model.Finding{
		vuln(&a, "CVE-2024-0727", model.SeverityLow, "3.0.13-1~deb12u1", "NULL dereference on malformed PKCS12 files", ""),
		vuln(&b, "CVE-2024-0727", model.SeverityHigh, "3.0.13-1~deb12u2", "NULL dereference on malformed PKCS12 files", ""),
	}}
	out := reportOut(t, "sarif", r, Options{})
	validateSARIF(t, out)
	l := decodeSARIF(t, out)
	rules := l.Runs[0].Tool.Driver.Rules
	if len(rules) != 1 {
		t.Fatalf("%d rules, want 1", len(rules))
	}
	wantHelp := "NULL dereference on malformed PKCS12 files\n\nRemediation: upgrade libssl3 to 3.0.13-1~deb12u1; openssl to 3.0.13-1~deb12u2 or later."
	if rules[0].Help.Text != wantHelp {
		t.Errorf("help = %q, want %q", rules[0].Help.Text, wantHelp)
	}
	if rules[0].Properties.SecuritySeverity != "8.0" || rules[0].DefaultConfiguration.Level != "error" {
		t.Errorf("rule severity = %s %s, want 8.0 error", rules[0].Properties.SecuritySeverity, rules[0].DefaultConfiguration.Level)
	}
	levels := []string{l.Runs[0].Results[0].Level, l.Runs[0].Results[1].Level}
	if !slices.Equal(levels, []string{"error", "note"}) {
		t.Errorf("result levels = %v, want [error note] (most severe first)", levels)
	}
	if msg := l.Runs[0].Results[0].Message.Text; msg != "openssl 3.0.11-1~deb12u1: CVE-2024-0727 (HIGH), fixed in 3.0.13-1~deb12u2: NULL dereference on malformed PKCS12 files" {
		t.Errorf("message = %q", msg)
	}
}

func TestSplitLocation(t *testing.T) {
	tests := []struct {
		in        string
		path      string
		line, col int
	}{
		{"/etc/docker/daemon.json", "/etc/docker/daemon.json", 0, 0},
		{"/etc/docker/daemon.json:12", "/etc/docker/daemon.json", 12, 0},
		{"policies/a.yaml:3:9", "policies/a.yaml", 3, 9},
		{"a.yaml:0", "a.yaml:0", 0, 0},
		{"a.yaml:-3", "a.yaml:-3", 0, 0},
		{"sha256:abc", "sha256:abc", 0, 0},
		{"host:8080:x", "host:8080:x", 0, 0},
		{"f:1:0", "f:1:0", 0, 0}, // column 0 is no position at all
		{"f:99999999999", "f:99999999999", 0, 0},
		{":5", "", 5, 0},
		{"", "", 0, 0},
	}
	for _, tt := range tests {
		p, l, c := splitLocation(tt.in)
		if p != tt.path || l != tt.line || c != tt.col {
			t.Errorf("splitLocation(%q) = %q, %d, %d, want %q, %d, %d", tt.in, p, l, c, tt.path, tt.line, tt.col)
		}
	}
}

func FuzzSplitLocation(f *testing.F) {
	for _, s := range []string{"/etc/docker/daemon.json:12", "a.yaml:3:9", "sha256:abc", "::", ":1:1", "x:0:1"} {
		f.Add(s)
	}
	// num reads an all-digit, positive number.
	num := func(s string) int {
		if s == "" || strings.Trim(s, "0123456789") != "" {
			return -1
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return -1
		}
		return n
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, line, col := splitLocation(s)
		switch {
		case line == 0 && col == 0:
			if p != s {
				t.Fatalf("splitLocation(%q) = %q, 0, 0: path must be the input", s, p)
			}
		case line > 0 && col == 0:
			rest, ok := strings.CutPrefix(s, p+":")
			if !ok || num(rest) != line {
				t.Fatalf("splitLocation(%q) = %q, %d: does not rebuild the input", s, p, line)
			}
		case line > 0 && col > 0:
			rest, ok := strings.CutPrefix(s, p+":")
			l, c, ok2 := strings.Cut(rest, ":")
			if !ok || !ok2 || num(l) != line || num(c) != col {
				t.Fatalf("splitLocation(%q) = %q, %d, %d: does not rebuild the input", s, p, line, col)
			}
		default:
			t.Fatalf("splitLocation(%q) = %q, %d, %d: column without line, or negative", s, p, line, col)
		}
		if u := artifactURI(p); strings.HasPrefix(u, "/") {
			t.Fatalf("artifactURI(%q) = %q starts with /", p, u)
		}
	})
}
