package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/server/store"
	"github.com/lockdown-sec/lockdown/internal/testutil"
	"github.com/lockdown-sec/lockdown/internal/vulndb"
)

// TestMetricsLint: every exported family is promlint clean, and the
// families are exactly the metric contract (top-N on).
func TestMetricsLint(t *testing.T) {
	st := openStore(t, store.SQLite)
	ts := startServer(t, Config{Store: st, AdvisoryDB: mixedDB(t), AllowLocalTargets: true, MetricsTopVulns: 5})
	ts.wait(t, "/v1/scans/"+ts.enqueue(t, "dir:"+alpine316Dir(t)))
	audit := model.Report{Kind: "audit", Findings: []model.Finding{
		{Kind: model.KindPosture, RuleID: "LD-DKR-001", Status: model.StatusPass, Scope: "daemon"},
		{Kind: model.KindPosture, RuleID: "LD-DKR-002", Status: model.StatusFail, Scope: "container"},
		{Kind: model.KindPosture, RuleID: "LD-DKR-002", Status: model.StatusFail, Scope: "container"},
		{Kind: model.KindPosture, RuleID: "LD-DKR-003", Status: model.StatusWarn, Scope: "host"},
		{Kind: model.KindPosture, RuleID: "LD-DKR-004", Status: model.StatusSkip, Scope: "host"},
	}}
	b, _ := json.Marshal(audit)
	if err := st.PutAudit(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	problems, err := promtest.GatherAndLint(ts.Registry())
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 0 {
		t.Errorf("promlint problems: %+v", problems)
	}
	mfs, err := ts.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	want := []string{mAuditResults, mAuditScore, mBuildInfo, mDBAge, mDBBuilt, mDBRecords, mImageUnreadable, mImagePackages, mImageUnchecked, mImageVulns, mJobs, mScanDuration, mScansTotal, mTopVulnImages, mWebhookDeliveries}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("metric families (-want +got):\n%s", diff)
	}
	out, _ := gatherText(t, ts)
	for _, line := range []string{
		"\nlockdown_audit_score_ratio 0.25\n", // 1 PASS of 4 scored results
		`lockdown_audit_results{check="LD-DKR-002",scope="container",status="fail"} 2`,
		`lockdown_audit_results{check="LD-DKR-004",scope="host",status="skip"} 1`,
		`lockdown_top_vulnerability_images{id="CVE-2025-26519",severity=`,
		`lockdown_jobs{state="done"} 1`,
	} {
		if !strings.Contains(out, line) {
			t.Errorf("/metrics lacks %q:\n%s", line, out)
		}
	}
}

func gatherText(t *testing.T, ts *testServer) (string, int) {
	t.Helper()
	code, body := ts.call(t, "GET", "/metrics", "")
	return string(body), code
}

// TestPrometheus: a real Prometheus scrapes the server on 127.0.0.1; after
// a scan of a real image in the Docker engine and an audit of the real
// engine, the series read back through Prometheus's query API carry the
// values the API reports.
func TestPrometheus(t *testing.T) {
	promBin := testutil.RequireCmd(t, "prometheus")
	testutil.RequireDocker(t)
	tag := testutil.AlpineImage(t, "lockdown-test/alpine:3.20.3")
	dbPath := mixedDB(t)
	st := openStore(t, store.SQLite)
	ts := startServer(t, Config{Store: st, AdvisoryDB: dbPath, Version: "test-1.2.3", PublicMetrics: false})

	scanID := ts.enqueue(t, "docker:"+tag)
	code, body := ts.call(t, "POST", "/v1/audits", "")
	if code != http.StatusAccepted {
		t.Fatalf("POST /v1/audits = %d %s", code, body)
	}
	var aj JobResponse
	json.Unmarshal(body, &aj)
	sj := ts.wait(t, "/v1/scans/"+scanID)
	if sj.State != store.StateDone {
		t.Fatalf("scan job %s: %s", sj.State, sj.Error)
	}
	var sr model.Report
	json.Unmarshal(sj.Report, &sr)
	if diff := cmp.Diff([]string{"musl CVE-2025-26519", "musl-utils CVE-2025-26519"}, findingIDs(sr)); diff != "" {
		t.Fatalf("scan of %s (-want +got):\n%s", tag, diff)
	}
	if j := ts.wait(t, "/v1/audits/"+aj.ID); j.State != store.StateDone {
		t.Fatalf("audit job %s: %s", j.State, j.Error)
	}
	code, body = ts.call(t, "GET", "/v1/audits/latest", "")
	var ar model.Report
	if code != 200 || json.Unmarshal(body, &ar) != nil || len(ar.Findings) == 0 {
		t.Fatalf("GET /v1/audits/latest = %d, %d findings", code, len(ar.Findings))
	}

	prom := startPrometheus(t, promBin, strings.TrimPrefix(ts.URL, "http://"), testToken)
	// Wait for a scrape that saw both jobs done.
	prom.waitFor(t, `lockdown_jobs{state="done"}`, 2)

	// Image vulnerabilities: one series per severity, the API's counts.
	var im ImageResponse
	_, body = ts.call(t, "GET", "/v1/images/"+sj.Digest, "")
	json.Unmarshal(body, &im)
	gotVulns := prom.vector(t, fmt.Sprintf(`lockdown_image_vulnerabilities{digest=%q}`, sj.Digest), "severity")
	wantVulns := map[string]float64{}
	for sev, n := range im.Counts {
		wantVulns[sev] = float64(n)
	}
	if diff := cmp.Diff(wantVulns, gotVulns); diff != "" {
		t.Errorf("lockdown_image_vulnerabilities by severity (-want +got):\n%s", diff)
	}
	if got := prom.vector(t, fmt.Sprintf(`sum by (image) (lockdown_image_vulnerabilities{digest=%q})`, sj.Digest), "image"); !cmp.Equal(got, map[string]float64{tag: 2}) {
		t.Errorf("image vulnerabilities by image = %v, want {%s: 2}", got, tag)
	}
	// Audit: per check/status/scope counts and the score, from the report.
	wantAudit := map[string]float64{}
	var pass, scored float64
	for _, f := range ar.Findings {
		wantAudit[f.RuleID+"/"+strings.ToLower(f.Status)+"/"+f.Scope]++
		switch f.Status {
		case model.StatusPass:
			pass++
			scored++
		case model.StatusFail, model.StatusWarn:
			scored++
		}
	}
	if diff := cmp.Diff(wantAudit, prom.vector(t, `lockdown_audit_results`, "check", "status", "scope")); diff != "" {
		t.Errorf("lockdown_audit_results (-want +got):\n%s", diff)
	}
	if got := prom.scalar(t, `lockdown_audit_score_ratio`); math.Abs(got-pass/scored) > 1e-9 {
		t.Errorf("lockdown_audit_score_ratio = %v, want %v", got, pass/scored)
	}
	for q, want := range map[string]float64{
		`lockdown_scans_total{result="success"}`:                1,
		`lockdown_scans_total{result="error"}`:                  0,
		`lockdown_scan_duration_seconds_count`:                  1,
		`lockdown_jobs{state="queued"}`:                         0,
		`lockdown_jobs{state="failed"}`:                         0,
		`lockdown_build_info{version="test-1.2.3"}`:             1,
		`lockdown_webhook_deliveries_total{result="success"}`:   0,
		`count(lockdown_image_vulnerabilities)`:                 5,
		`count(lockdown_top_vulnerability_images) or vector(0)`: 0,
		`lockdown_scan_duration_seconds_bucket{le="120"} - on() group_left() lockdown_scan_duration_seconds_count`: 0,
	} {
		if got := prom.scalar(t, q); got != want {
			t.Errorf("%s = %v, want %v", q, got, want)
		}
	}
	// The advisory DB: records per ecosystem and build time, as stored.
	vst, err := vulndb.Open(dbPath, vulndb.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	status, _ := vst.Status()
	vst.Close()
	wantEco := map[string]float64{}
	for _, e := range status.Ecosystems {
		wantEco[e.Name] = float64(e.Records)
	}
	if diff := cmp.Diff(wantEco, prom.vector(t, `lockdown_db_records`, "ecosystem")); diff != "" {
		t.Errorf("lockdown_db_records (-want +got):\n%s", diff)
	}
	if got := prom.scalar(t, `lockdown_db_built_timestamp_seconds`); math.Abs(got-float64(status.Built.UnixNano())/1e9) > 0.001 {
		t.Errorf("lockdown_db_built_timestamp_seconds = %v, want %v", got, float64(status.Built.UnixNano())/1e9)
	}
	if got := prom.scalar(t, `lockdown_db_age_seconds`); got <= 0 {
		t.Errorf("lockdown_db_age_seconds = %v, want > 0", got)
	}
}

type prometheusProc struct {
	base string
}

// startPrometheus runs Debian's prometheus on 127.0.0.1, scraping target
// every second with the bearer token.
func startPrometheus(t *testing.T, bin, target, token string) *prometheusProc {
	t.Helper()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte(token), 0o600)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: lockdown
    scrape_interval: 1s
    scrape_timeout: 900ms
    authorization:
      credentials_file: %s
    static_configs:
      - targets: [%q]
`, tokenFile, target)
	cfgFile := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfgFile, []byte(cfg), 0o644)
	port := testutil.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port), "--log.level=warn")
	logf, _ := os.Create(filepath.Join(dir, "prometheus.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Logf("prometheus log:\n%s", b)
		}
	})
	p := &prometheusProc{base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := testClient.Get(p.base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready on %s: %v", p.base, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (p *prometheusProc) query(t *testing.T, q string) []promSample {
	t.Helper()
	resp, err := testClient.Get(p.base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []promSample `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Status != "success" {
		t.Fatalf("query %s: %v %s", q, err, b)
	}
	return out.Data.Result
}

func sampleValue(t *testing.T, s promSample) float64 {
	str, _ := s.Value[1].(string)
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		t.Fatalf("sample value %v: %v", s.Value, err)
	}
	return v
}

// scalar is the value of a query that must give exactly one sample.
func (p *prometheusProc) scalar(t *testing.T, q string) float64 {
	t.Helper()
	r := p.query(t, q)
	if len(r) != 1 {
		t.Fatalf("query %s: %d samples, want 1: %v", q, len(r), r)
	}
	return sampleValue(t, r[0])
}

// vector maps the values of labels (joined by "/") to sample values.
func (p *prometheusProc) vector(t *testing.T, q string, labels ...string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, s := range p.query(t, q) {
		var k []string
		for _, l := range labels {
			k = append(k, s.Metric[l])
		}
		out[strings.Join(k, "/")] = sampleValue(t, s)
	}
	return out
}

// waitFor polls until q has one sample equal to want.
func (p *prometheusProc) waitFor(t *testing.T, q string, want float64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := p.query(t, q)
		if len(r) == 1 && sampleValue(t, r[0]) == want {
			return
		}
		if time.Now().After(deadline) {
			up := p.query(t, "up")
			t.Fatalf("prometheus: %s = %v after 60s, want %v (up: %v)", q, r, want, up)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
