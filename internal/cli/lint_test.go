//go:build !scanonly

package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// TestLintCLI: exit codes, formats, selection, --list-checks, -o, and bad
// input with every problem listed.
func TestLintCLI(t *testing.T) {
	dir := t.TempDir()
	df := filepath.Join(dir, "Dockerfile")
	os.WriteFile(df, []byte("FROM alpine:latest\nUSER 1000\nHEALTHCHECK NONE\n"), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n    x: y\n"), 0o644)
	bad2 := filepath.Join(dir, "sub", "Dockerfile")
	os.MkdirAll(filepath.Dir(bad2), 0o755)
	os.WriteFile(bad2, []byte("FROM\n"), 0o644)
	out := filepath.Join(dir, "lint.sarif")

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring
		stderr string // exact when set
	}{
		{"findings below --fail-on", []string{"lint", df, "--format", "json", "--fail-on", "high"}, 0, `"ruleID": "LD-DF-109"`, ""},
		{"findings at --fail-on", []string{"lint", df, "--format", "json", "--fail-on", "medium"}, 1, `"kind": "misconfiguration"`, ""},
		{"skip by hadolint ID and by ID", []string{"lint", df, "--format", "json", "--skip", "DL3007,LD-DF-110", "--fail-on", "low"}, 0, `"findings": []`, ""},
		{"table", []string{"lint", df, "--format", "table"}, 0, "on: dockerfile stage 0 at " + df + ":1", ""},
		{"list checks", []string{"lint", "--list-checks", "--check", "pss-restricted"}, 0, "LD-K8S-326  -    kubernetes  MEDIUM    capabilities,pss,pss-restricted", ""},
		{"bad input lists every problem", []string{"lint", dir}, 2, "",
			bad + ":5: invalid YAML: mapping values are not allowed in this context\n" + bad2 + ":1: FROM requires either one or three arguments\nlockdown: 2 inputs could not be linted (listed above)\n"},
		{"unknown type", []string{"lint", "--type", "helm", df}, 2, "", "lockdown: --type \"helm\": want dockerfile, compose, kubernetes\n"},
		{"unknown selector", []string{"lint", "--check", "DL9999", df}, 2, "", "lockdown: --check/--skip \"DL9999\" matches no check ID, scope, tag or cis:ID\n"},
		{"sarif to a file", []string{"lint", df, "--format", "sarif", "-o", out}, 0, "", ""},
		{"no paths", []string{"lint"}, 2, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if tc.stdout != "" && !strings.Contains(stdout, tc.stdout) {
				t.Errorf("stdout does not contain %q:\n%s", tc.stdout, stdout)
			}
			if tc.stderr != "" && stderr != tc.stderr {
				t.Errorf("stderr:\n got %q\nwant %q", stderr, tc.stderr)
			}
		})
	}
	var sarif struct {
		Runs []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Locations []struct {
					PhysicalLocation struct {
						Region struct{ StartLine int } `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	b, err := os.ReadFile(out)
	if err != nil || json.Unmarshal(b, &sarif) != nil || len(sarif.Runs) != 1 || len(sarif.Runs[0].Results) != 2 {
		t.Fatalf("SARIF output %s: %v\n%s", out, err, b)
	}
	for _, r := range sarif.Runs[0].Results {
		if line := r.Locations[0].PhysicalLocation.Region.StartLine; line != 1 {
			t.Errorf("SARIF %s at line %d, want 1", r.RuleID, line)
		}
	}
	// JSON keeps every finding's fields.
	_, stdout, _ := runCLI(t, "lint", df, "--format", "json")
	var rep model.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Kind != "lint" || len(rep.Findings) != 2 || rep.Findings[0].Location == "" || rep.Findings[0].Remediation == "" || rep.Findings[0].CIS != "4.2" {
		t.Errorf("report = %+v", rep)
	}
}
