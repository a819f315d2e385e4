package deploy_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []rule `json:"rules"`
	} `json:"groups"`
}

type rule struct {
	Record      string            `json:"record,omitempty"`
	Alert       string            `json:"alert,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type ruleTestFile struct {
	RuleFiles          []string `json:"rule_files"`
	EvaluationInterval string   `json:"evaluation_interval"`
	Tests              []struct {
		Name        string `json:"name"`
		Interval    string `json:"interval"`
		InputSeries []struct {
			Series string `json:"series"`
			Values string `json:"values"`
		} `json:"input_series"`
		AlertRuleTest []struct {
			EvalTime  string `json:"eval_time"`
			Alertname string `json:"alertname"`
			ExpAlerts []struct {
				ExpLabels      map[string]string `json:"exp_labels"`
				ExpAnnotations map[string]string `json:"exp_annotations"`
			} `json:"exp_alerts"`
		} `json:"alert_rule_test"`
		PromQLExprTest []struct {
			Expr       string `json:"expr"`
			EvalTime   string `json:"eval_time"`
			ExpSamples []struct {
				Labels string  `json:"labels"`
				Value  float64 `json:"value"`
			} `json:"exp_samples"`
		} `json:"promql_expr_test"`
	} `json:"tests"`
}

func loadRules(t testing.TB) []rule {
	t.Helper()
	var f ruleFile
	if err := yaml.UnmarshalStrict(readFile(t, "prometheus/rules.yml"), &f); err != nil {
		t.Fatalf("parse deploy/prometheus/rules.yml: %v", err)
	}
	var out []rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

// promtool runs promtool in deploy/prometheus and fails the test with its
// output unless it succeeds.
func promtool(t *testing.T, args ...string) string {
	t.Helper()
	bin := testutil.RequireCmd(t, "promtool")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = filepath.Join(deployDir(t), "prometheus")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestPromtoolCheckRules(t *testing.T) {
	out := promtool(t, "check", "rules", "rules.yml")
	want := fmt.Sprintf("SUCCESS: %d rules found", len(loadRules(t)))
	if !strings.Contains(out, want) {
		t.Errorf("promtool check rules rules.yml = %q, want it to contain %q", out, want)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	out := promtool(t, "test", "rules", "rules_test.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules rules_test.yml = %q, want SUCCESS", out)
	}
}

func TestPromtoolCheckConfig(t *testing.T) {
	out := promtool(t, "check", "config", "prometheus.yml")
	if !strings.Contains(out, "SUCCESS: 1 rule files found") {
		t.Errorf("promtool check config prometheus.yml = %q, want it to load rules.yml", out)
	}
	var cfg struct {
		ScrapeConfigs []struct {
			JobName     string `json:"job_name"`
			MetricsPath string `json:"metrics_path"`
		} `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal(readFile(t, "prometheus/prometheus.yml"), &cfg); err != nil {
		t.Fatalf("parse prometheus.yml: %v", err)
	}
	if len(cfg.ScrapeConfigs) != 1 || cfg.ScrapeConfigs[0].JobName != "lockdown" || cfg.ScrapeConfigs[0].MetricsPath != "/metrics" {
		t.Errorf("prometheus.yml scrape_configs = %+v, want one job \"lockdown\" on /metrics", cfg.ScrapeConfigs)
	}
}

// wantAlerts are the alerts the deploy brief asks for.
var wantAlerts = []string{
	"AdmissionHighDenyRate", "AdmissionWebhookErrors", "AuditRegression", "AuditScoreLow", "CriticalVulnerabilityInRunningContainer", "ImagePackageFilesUnreadable",
	"ImagePackagesNotChecked", "LockdownDBStale", "LockdownDown", "PolicyDrift", "ScanErrors", "WebhookFailures",
}

func TestRules(t *testing.T) {
	rules := loadRules(t)
	var alerts []string
	for _, r := range rules {
		name := r.Alert + r.Record
		if problems := checkContract(r.Expr); len(problems) > 0 {
			t.Errorf("rule %s: expression uses what the metric contract lacks: %s", name, strings.Join(problems, "; "))
		}
		if r.Record != "" {
			if !strings.HasPrefix(r.Record, "lockdown:") || strings.Count(r.Record, ":") != 2 {
				t.Errorf("recording rule %s: want the level:metric:operations form lockdown:…:…", r.Record)
			}
			continue
		}
		alerts = append(alerts, r.Alert)
		switch r.Labels["severity"] {
		case "critical", "warning":
		default:
			t.Errorf("alert %s: severity label = %q, want critical or warning", r.Alert, r.Labels["severity"])
		}
		for _, a := range []string{"summary", "description"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("alert %s: no %s annotation", r.Alert, a)
			}
		}
	}
	slices.Sort(alerts)
	if !slices.Equal(alerts, wantAlerts) {
		t.Errorf("alerts = %v, want %v", alerts, wantAlerts)
	}
	// The brief's thresholds.
	byName := map[string]rule{}
	for _, r := range rules {
		byName[r.Alert] = r
	}
	for name, want := range map[string]struct{ expr, for_ string }{
		"CriticalVulnerabilityInRunningContainer": {`lockdown_container_vulnerabilities{severity="critical"} > 0`, "5m"},
		"LockdownDBStale":                         {`lockdown_db_age_seconds > 2 * 86400`, "1h"},
		"LockdownDown":                            {`up{job="lockdown"} == 0`, "5m"},
		"ImagePackagesNotChecked":                 {`max by (image, digest) (lockdown_image_packages_unchecked) > 0`, "30m"},
		"ImagePackageFilesUnreadable":             {`max by (image, digest) (lockdown_image_package_files_unreadable) > 0`, "5m"},
	} {
		if got := byName[name]; strings.TrimSpace(got.Expr) != want.expr || got.For != want.for_ {
			t.Errorf("alert %s = %q for %q, want %q for %q", name, got.Expr, got.For, want.expr, want.for_)
		}
	}
}

// TestRuleUnitTestsCoverEveryAlert checks that rules_test.yml has, for every
// alert, a case where it fires and one where it must not.
func TestRuleUnitTestsCoverEveryAlert(t *testing.T) {
	var f ruleTestFile
	if err := yaml.UnmarshalStrict(readFile(t, "prometheus/rules_test.yml"), &f); err != nil {
		t.Fatalf("parse deploy/prometheus/rules_test.yml: %v", err)
	}
	if !slices.Equal(f.RuleFiles, []string{"rules.yml"}) {
		t.Errorf("rules_test.yml rule_files = %v, want [rules.yml]", f.RuleFiles)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	recorded := map[string]bool{}
	for _, tc := range f.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
				for _, e := range a.ExpAlerts {
					if e.ExpAnnotations["summary"] == "" || e.ExpAnnotations["description"] == "" {
						t.Errorf("test %q, %s at %s: expected alert without its summary and description: the templates go untested", tc.Name, a.Alertname, a.EvalTime)
					}
				}
			} else {
				quiet[a.Alertname] = true
			}
		}
		for _, p := range tc.PromQLExprTest {
			recorded[p.Expr] = true
		}
	}
	for _, a := range wantAlerts {
		if !fires[a] {
			t.Errorf("rules_test.yml: no case where %s fires", a)
		}
		if !quiet[a] {
			t.Errorf("rules_test.yml: no case where %s must not fire", a)
		}
	}
	for _, r := range loadRules(t) {
		if r.Record != "" && !recorded[r.Record] {
			t.Errorf("rules_test.yml: recording rule %s has no promql_expr_test", r.Record)
		}
	}
}
