package check

import (
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/model"
)

var infos = []Info{
	{ID: "LD-A-1", CIS: "2.2", Title: "a", Scope: "daemon", Tags: []string{"network"}, Severity: model.SeverityHigh},
	{ID: "LD-A-2", CIS: "1.1.4-1.1.13", Title: "b", Scope: "host", Tags: []string{"auditd"}},
	{ID: "LD-B-1", CIS: "5.4,5.5", Title: "c", Scope: "container"},
	{ID: "LD-B-2", Title: "d", Scope: "policy", Tags: []string{"Network"}},
}

func ids(in []Info) string {
	var s []string
	for _, x := range in {
		s = append(s, x.ID)
	}
	return strings.Join(s, ",")
}

func TestSelect(t *testing.T) {
	id := func(i Info) Info { return i }
	tests := []struct {
		name             string
		include, exclude []string
		want             string
		wantErr          bool
	}{
		{"all", nil, nil, "LD-A-1,LD-A-2,LD-B-1,LD-B-2", false},
		{"by ID, case-insensitive", []string{"ld-a-1"}, nil, "LD-A-1", false},
		{"by tag", []string{"network"}, nil, "LD-A-1,LD-B-2", false},
		{"by scope", []string{"host"}, nil, "LD-A-2", false},
		{"cis in a range", []string{"cis:1.1.7"}, nil, "LD-A-2", false},
		{"cis in a list", []string{"cis:5.5"}, nil, "LD-B-1", false},
		{"skip", nil, []string{"network", "cis:1.1.13"}, "LD-B-1", false},
		{"typo is an error", []string{"netwrok"}, nil, "", true},
		{"range edge outside", []string{"cis:1.1.14"}, nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Select(infos, id, tt.include, tt.exclude)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Select(%v, %v) error = %v, want error %v", tt.include, tt.exclude, err, tt.wantErr)
			}
			if !tt.wantErr && ids(got) != tt.want {
				t.Errorf("Select(%v, %v) = %s, want %s", tt.include, tt.exclude, ids(got), tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	if err := Validate(infos); err != nil {
		t.Errorf("Validate(infos) = %v", err)
	}
	if err := Validate(infos, "daemon", "host", "container"); err == nil || !strings.Contains(err.Error(), `unknown scope "policy"`) {
		t.Errorf("Validate with scopes = %v, want unknown scope", err)
	}
	if err := Validate(append(infos, Info{ID: "LD-A-1", Title: "x"})); err == nil || !strings.Contains(err.Error(), "duplicate check ID LD-A-1") {
		t.Errorf("Validate(duplicate) = %v", err)
	}
	if err := Validate([]Info{{ID: "X"}}); err == nil {
		t.Error("Validate(no title) = nil")
	}
}

func TestScore(t *testing.T) {
	f := func(status string, sev model.Severity) model.Finding {
		return model.Finding{Status: status, Severity: sev}
	}
	tests := []struct {
		name string
		fs   []model.Finding
		want int
		ok   bool
	}{
		{"nothing counted", []model.Finding{f(model.StatusInfo, model.SeverityHigh), f(model.StatusSkip, model.SeverityLow)}, 0, false},
		{"all pass", []model.Finding{f(model.StatusPass, model.SeverityCritical)}, 100, true},
		// A CRITICAL failure weighs ten LOW passes: 10 lost of 20.
		{"critical against lows", append(repeat(f(model.StatusPass, model.SeverityLow), 10), f(model.StatusFail, model.SeverityCritical)), 50, true},
		// Ten LOW failures against one CRITICAL pass: 10 lost of 20 too.
		{"lows against a critical", append(repeat(f(model.StatusFail, model.SeverityLow), 10), f(model.StatusPass, model.SeverityCritical)), 50, true},
		// A WARN costs half: 1.5 lost of 3 + 3.
		{"warn counts half", []model.Finding{f(model.StatusWarn, model.SeverityMedium), f(model.StatusPass, model.SeverityMedium)}, 75, true},
		{"unknown weighs one", []model.Finding{f(model.StatusFail, model.SeverityUnknown), f(model.StatusPass, model.SeverityLow)}, 50, true},
	}
	for _, tt := range tests {
		got, ok := Score(tt.fs)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Score(%s) = %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func repeat(f model.Finding, n int) []model.Finding {
	out := make([]model.Finding, n)
	for i := range out {
		out[i] = f
	}
	return out
}
