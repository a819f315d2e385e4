package report

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// fleetAudit is an audit of n containers with 30 checks each: a third fail
// with the same evidence everywhere, a few per container, the rest pass.
func fleetAudit(n int) *model.Report {
	r := &model.Report{Kind: KindAudit, Meta: map[string]string{"engine": "Docker Engine 20.10.24", "containers": fmt.Sprint(n)}}
	for c := range n {
		for k := range 30 {
			f := model.Finding{
				Kind: model.KindPosture, RuleID: fmt.Sprintf("LD-CTR-%d", 300+k), CIS: fmt.Sprintf("5.%d", k+1),
				Severity: model.Severity(2 + k%4), Status: model.StatusPass, Scope: "container",
				Subject: fmt.Sprintf("web-%03d", c), Title: "check " + fmt.Sprint(k), Remediation: "recreate NAME with --flag",
			}
			switch {
			case k%3 == 0:
				f.Status, f.Evidence = model.StatusFail, "HostConfig.Memory: 0 (unlimited)"
			case k == 1 && c%10 == 0:
				f.Status, f.Evidence = model.StatusFail, fmt.Sprintf("published: 0.0.0.0:%d->80/tcp", 8000+c)
			}
			r.Findings = append(r.Findings, f)
		}
	}
	return r
}

// TestFleetCollapse: the same failure on 200 containers is one row, and a
// failure with evidence of its own stays one row per container.
func TestFleetCollapse(t *testing.T) {
	out := string(reportOut(t, "table", fleetAudit(200), Options{}))
	if n := strings.Count(out, "on: 200 containers: web-000, web-001, web-002, …"); n != 10 {
		t.Errorf("%d rows for the 10 checks failing on all 200 containers, want 10:\n%.2000s", n, out)
	}
	if n := strings.Count(out, "\n      on: container web-"); n != 20 {
		t.Errorf("%d one-container rows, want 20 (LD-CTR-301 on every tenth container)", n)
	}
	if !strings.Contains(out, "Results: 6000 (FAIL 2020, PASS 3980)") {
		t.Errorf("summary counts wrong:\n%.600s", out)
	}
}

// BenchmarkWriteAuditTable writes the table of 200 containers × 30 checks.
func BenchmarkWriteAuditTable(b *testing.B) {
	r := fleetAudit(200)
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteReport(io.Discard, FormatTable, r, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
