package deploy_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Definition string          `json:"definition"`
			Datasource *datasource     `json:"datasource"`
			Multi      bool            `json:"multi"`
			IncludeAll bool            `json:"includeAll"`
			AllValue   string          `json:"allValue"`
		} `json:"list"`
	} `json:"templating"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID          int                      `json:"id"`
	Type        string                   `json:"type"`
	Title       string                   `json:"title"`
	Description string                   `json:"description"`
	Datasource  *datasource              `json:"datasource"`
	GridPos     struct{ X, Y, W, H int } `json:"gridPos"`
	Targets     []struct {
		RefID      string      `json:"refId"`
		Expr       string      `json:"expr"`
		Datasource *datasource `json:"datasource"`
		Instant    bool        `json:"instant"`
		Format     string      `json:"format"`
	} `json:"targets"`
	FieldConfig struct {
		Defaults struct {
			Custom struct {
				Stacking struct {
					Mode string `json:"mode"`
				} `json:"stacking"`
			} `json:"custom"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Panels []panel `json:"panels"` // collapsed rows
}

func loadDashboard(t testing.TB) dashboard {
	t.Helper()
	var d dashboard
	if err := json.Unmarshal(readFile(t, "grafana/lockdown.json"), &d); err != nil {
		t.Fatalf("parse deploy/grafana/lockdown.json: %v", err)
	}
	return d
}

// allPanels flattens rows.
func allPanels(d dashboard) []panel {
	var out []panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// grafanaVars are the substitutions for the dashboard's template
// variables: "All" for the regex variables, interval-sized ranges for the
// built-ins.
var grafanaVars = map[string]string{
	"image": ".*", "container": ".*",
	"__rate_interval": "1m", "__interval": "15s", "__range": "1h",
}

var varRef = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::[a-z]+)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)\]\]`)

// expand replaces Grafana variables; an unknown one is an error.
func expand(expr string, vars map[string]string) (string, error) {
	var bad []string
	out := varRef.ReplaceAllStringFunc(expr, func(m string) string {
		sm := varRef.FindStringSubmatch(m)
		name := sm[1] + sm[2] + sm[3]
		v, ok := vars[name]
		if !ok {
			bad = append(bad, m)
			return m
		}
		return v
	})
	if len(bad) > 0 {
		return "", fmt.Errorf("unknown template variables %v", bad)
	}
	return out, nil
}

var labelValuesRe = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$`)

func TestDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.SchemaVersion < 39 {
		t.Errorf("schemaVersion = %d, want >= 39", d.SchemaVersion)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid, title = %q, %q: want both set (a stable uid keeps links working)", d.UID, d.Title)
	}

	// Variables: a Prometheus datasource variable, then image and container
	// from the contract's labels.
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		switch v.Type {
		case "datasource":
			var q string
			if err := json.Unmarshal(v.Query, &q); err != nil || q != "prometheus" || v.Name != "datasource" {
				t.Errorf("datasource variable %q query %s: want variable \"datasource\" of plugin prometheus", v.Name, v.Query)
			}
		case "query":
			if v.Datasource == nil || v.Datasource.UID != "${datasource}" {
				t.Errorf("variable %s: datasource = %+v, want uid ${datasource}", v.Name, v.Datasource)
			}
			m := labelValuesRe.FindStringSubmatch(v.Definition)
			if m == nil {
				t.Errorf("variable %s: definition %q, want label_values(metric, label)", v.Name, v.Definition)
				continue
			}
			labels, ok := contractSeries(m[1])
			if !ok || !slices.Contains(labels, m[2]) {
				t.Errorf("variable %s: label_values(%s, %s) is not a metric and label of the contract", v.Name, m[1], m[2])
			}
			if !v.Multi || !v.IncludeAll || v.AllValue != ".*" {
				t.Errorf("variable %s: multi %v, includeAll %v, allValue %q; want a multi-select with All = .*", v.Name, v.Multi, v.IncludeAll, v.AllValue)
			}
		default:
			t.Errorf("variable %s: unexpected type %s", v.Name, v.Type)
		}
	}
	for _, want := range []string{"datasource", "image", "container"} {
		if !vars[want] {
			t.Errorf("no template variable %q", want)
		}
	}

	ids := map[int]string{}
	titles := map[string]bool{}
	var boxes []panel
	for _, p := range allPanels(d) {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panel id %d used by %q and %q", p.ID, prev, p.Title)
		}
		ids[p.ID] = p.Title
		if titles[p.Title] {
			t.Errorf("two panels titled %q", p.Title)
		}
		titles[p.Title] = true
		g := p.GridPos
		if g.W < 1 || g.H < 1 || g.X < 0 || g.X+g.W > 24 || g.Y < 0 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, g)
		}
		for _, b := range boxes {
			o := b.GridPos
			if g.X < o.X+o.W && o.X < g.X+g.W && g.Y < o.Y+o.H && o.Y < g.Y+g.H {
				t.Errorf("panels %q %+v and %q %+v overlap", p.Title, g, b.Title, o)
			}
		}
		boxes = append(boxes, p)
		if p.Type == "row" {
			continue
		}
		if p.Description == "" {
			t.Errorf("panel %q: no description", p.Title)
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || p.Datasource.Type != "prometheus" {
			t.Errorf("panel %q: datasource = %+v, want prometheus ${datasource}", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q: no queries", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Datasource == nil || tg.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q query %s: datasource = %+v, want ${datasource}", p.Title, tg.RefID, tg.Datasource)
			}
			if p.Type == "table" && (!tg.Instant || tg.Format != "table") {
				t.Errorf("panel %q query %s: a table needs instant queries in table format", p.Title, tg.RefID)
			}
			expr, err := expand(tg.Expr, grafanaVars)
			if err != nil {
				t.Errorf("panel %q query %s: %v", p.Title, tg.RefID, err)
				continue
			}
			if problems := checkContract(expr); len(problems) > 0 {
				t.Errorf("panel %q query %s uses what the metric contract lacks: %s\n%s", p.Title, tg.RefID, strings.Join(problems, "; "), tg.Expr)
			}
		}
	}

	// The panels the brief asks for, with the query shape each needs.
	byTitle := map[string]panel{}
	for _, p := range allPanels(d) {
		byTitle[p.Title] = p
	}
	need := []struct{ title, typ, contains string }{
		{"Vulnerabilities by severity", "timeseries", "sum by (severity)"},
		{"Top vulnerable images", "table", "topk(10,"},
		{"Top vulnerable running containers", "table", "topk(10,"},
		{"Audit failures by check", "bargauge", `lockdown_audit_results{status="fail"}`},
		{"Audit score", "gauge", "lockdown_audit_score_ratio"},
		{"Scan latency", "timeseries", "histogram_quantile(0.95, sum by (le) (rate(lockdown_scan_duration_seconds_bucket[$__rate_interval])))"},
		{"Scan error rate", "timeseries", `lockdown_scans_total{result="error"}`},
		{"Jobs by state", "timeseries", "lockdown_jobs"},
		{"Vulnerability DB age", "stat", "lockdown_db_age_seconds"},
		{"DB records by ecosystem", "bargauge", "lockdown_db_records"},
		{"Packages not checked by image", "table", "lockdown_image_packages_unchecked"},
		{"Webhook deliveries", "timeseries", "lockdown_webhook_deliveries_total"},
		{"Denied flows by policy", "timeseries", `lockdown_policy_packets_total{action="Deny"}`},
		{"Admission decisions", "timeseries", "sum by (result) (rate(lockdown_admission_decisions_total"},
		{"Admission denials and warnings by reason", "timeseries", "sum by (result, reason)"},
		{"Admission latency", "timeseries", "histogram_quantile(0.99, sum by (le) (rate(lockdown_admission_duration_seconds_bucket"},
		{"Unknown images queued", "timeseries", "lockdown_admission_scans_queued_total"},
		{"Admission error and deny ratios", "stat", `lockdown_admission_decisions_total{result="error"}`},
	}
	for _, n := range need {
		p, ok := byTitle[n.title]
		if !ok {
			t.Errorf("no panel %q", n.title)
			continue
		}
		var exprs []string
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
		if p.Type != n.typ || !strings.Contains(strings.Join(exprs, "\n"), n.contains) {
			t.Errorf("panel %q: type %s, queries %q; want a %s querying %s", n.title, p.Type, exprs, n.typ, n.contains)
		}
	}
	if m := byTitle["Vulnerabilities by severity"].FieldConfig.Defaults.Custom.Stacking.Mode; m != "normal" {
		t.Errorf("Vulnerabilities by severity: stacking %q, want normal", m)
	}
	if q := byTitle["Scan latency"].Targets; len(q) != 2 || !strings.Contains(q[0].Expr, "histogram_quantile(0.5,") {
		t.Errorf("Scan latency: want p50 and p95 queries, got %+v", q)
	}
}

func TestExpandGrafanaVars(t *testing.T) {
	cases := []struct{ in, want string }{
		{`x{image=~"$image"}[$__rate_interval]`, `x{image=~".*"}[1m]`},
		{`x{container=~"${container}"}[${__range}]`, `x{container=~".*"}[1h]`},
		{`x{image=~"${image:regex}"}`, `x{image=~".*"}`},
		{`x{image=~"[[image]]"}`, `x{image=~".*"}`},
	}
	for _, c := range cases {
		if got, err := expand(c.in, grafanaVars); err != nil || got != c.want {
			t.Errorf("expand(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if _, err := expand(`x{a="$nope"}`, grafanaVars); err == nil {
		t.Errorf("expand($nope) = no error, want unknown variable")
	}
}

// ---- a fixture exporter that serves the metric contract, as two replicas
// sharing one store would (store-derived series identical; containers,
// counters and the DB age per process).

type fixtureImage struct {
	image, digest string
	counts        [5]int // critical, high, medium, low, unknown
	packages      [3]int // all, not checked, unreadable files
}

var severities = []string{"critical", "high", "medium", "low", "unknown"}

var fixtureImages = []fixtureImage{
	{"nginx:1.25", "sha256:aaa", [5]int{2, 5, 7, 1, 0}, [3]int{150, 0, 0}},
	{"alpine:3.20", "sha256:bbb", [5]int{0, 1, 0, 2, 0}, [3]int{14, 14, 0}},
	{"debian:12", "sha256:ccc", [5]int{1, 0, 3, 10, 4}, [3]int{120, 3, 1}},
}

// fixtureDecisions are the admission decisions a fixture replica answers
// per scrape, by result and reason (every pair the server exports).
var fixtureDecisions = []struct {
	result, reason string
	perScrape      int
}{
	{"allowed", "none", 10}, {"allowed", "exempt", 1}, {"allowed", "skipped", 4},
	{"warned", "pss", 3}, {"warned", "policy", 0}, {"warned", "unknown_image", 0},
	{"denied", "pss", 1}, {"denied", "policy", 0}, {"denied", "vulnerabilities", 2}, {"denied", "unknown_image", 0},
	{"error", "malformed", 0}, {"error", "oversize", 0}, {"error", "unauthorized", 0}, {"error", "internal", 1},
}

// admissionDurationBuckets are the server's admission latency buckets.
var admissionDurationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// admissionDurations are the review latencies a fixture replica observes
// per scrape.
var admissionDurations = []float64{0.0008, 0.002, 0.003, 0.02}

// scanDurationBuckets are the server's histogram buckets.
var scanDurationBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// scanDurations are observed on every scrape.
var scanDurations = []float64{0.3, 0.7, 0.8, 3}

type fixtureExporter struct {
	mu          sync.Mutex
	scrapes     int
	dbAge       float64
	withWatcher bool // runs watch mode: exports running containers
}

func (e *fixtureExporter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/metrics" {
		http.NotFound(w, r)
		return
	}
	e.mu.Lock()
	e.scrapes++
	n := e.scrapes
	e.mu.Unlock()
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# TYPE lockdown_build_info gauge")
	p(`lockdown_build_info{goversion="go1.26.8",version="1.0.0"} 1`)
	p("# TYPE lockdown_image_vulnerabilities gauge")
	for _, im := range fixtureImages {
		for i, s := range severities {
			p(`lockdown_image_vulnerabilities{digest=%q,image=%q,severity=%q} %d`, im.digest, im.image, s, im.counts[i])
		}
	}
	for i, name := range []string{"lockdown_image_packages", "lockdown_image_packages_unchecked", "lockdown_image_package_files_unreadable"} {
		p("# TYPE %s gauge", name)
		for _, im := range fixtureImages {
			p(`%s{digest=%q,image=%q} %d`, name, im.digest, im.image, im.packages[i])
		}
	}
	p("# TYPE lockdown_container_vulnerabilities gauge")
	if e.withWatcher {
		for _, c := range []struct {
			name string
			im   fixtureImage
		}{{"web", fixtureImages[0]}, {"cache", fixtureImages[1]}} {
			for i, s := range severities {
				p(`lockdown_container_vulnerabilities{container=%q,image=%q,severity=%q} %d`, c.name, c.im.image, s, c.im.counts[i])
			}
		}
	}
	p("# TYPE lockdown_audit_results gauge")
	for _, a := range []struct {
		check, status, scope string
		n                    int
	}{{"1.1", "warn", "host", 1}, {"2.1", "fail", "daemon", 1}, {"2.2", "info", "daemon", 1}, {"5.1", "pass", "container", 4}, {"5.4", "fail", "container", 3}} {
		p(`lockdown_audit_results{check=%q,scope=%q,status=%q} %d`, a.check, a.scope, a.status, a.n)
	}
	p("# TYPE lockdown_audit_score_ratio gauge")
	p("lockdown_audit_score_ratio %g", 4.0/9.0)
	p("# TYPE lockdown_scans_total counter")
	p(`lockdown_scans_total{result="error"} %d`, n)
	p(`lockdown_scans_total{result="success"} %d`, 3*n)
	p("# TYPE lockdown_scan_duration_seconds histogram")
	sum := 0.0
	for _, d := range scanDurations {
		sum += d
	}
	for _, le := range scanDurationBuckets {
		c := 0
		for _, d := range scanDurations {
			if d <= le {
				c++
			}
		}
		p(`lockdown_scan_duration_seconds_bucket{le="%g"} %d`, le, c*n)
	}
	p(`lockdown_scan_duration_seconds_bucket{le="+Inf"} %d`, len(scanDurations)*n)
	p("lockdown_scan_duration_seconds_sum %g", sum*float64(n))
	p("lockdown_scan_duration_seconds_count %d", len(scanDurations)*n)
	p("# TYPE lockdown_jobs gauge")
	for _, j := range []struct {
		state string
		n     int
	}{{"queued", 2}, {"running", 1}, {"done", 40}, {"failed", 3}} {
		p(`lockdown_jobs{state=%q} %d`, j.state, j.n)
	}
	p("# TYPE lockdown_db_age_seconds gauge")
	p("lockdown_db_age_seconds %g", e.dbAge)
	p("# TYPE lockdown_db_built_timestamp_seconds gauge")
	p("lockdown_db_built_timestamp_seconds %d", time.Now().Unix()-int64(e.dbAge))
	p("# TYPE lockdown_db_records gauge")
	p(`lockdown_db_records{ecosystem="Debian:9"} 4`)
	p(`lockdown_db_records{ecosystem="Go"} 4291`)
	p(`lockdown_db_records{ecosystem="PyPI"} 2661`)
	p("# TYPE lockdown_webhook_deliveries_total counter")
	p(`lockdown_webhook_deliveries_total{result="error"} 1`)
	p(`lockdown_webhook_deliveries_total{result="success"} %d`, n)
	if e.withWatcher { // this replica enforces network policies (serve --enforce)
		p("# TYPE lockdown_policy_packets_total counter")
		for _, c := range []struct {
			policy, rule, action string
			perScrape            int
		}{
			{"shop/knp.default.web-to-api", "ingress/0", "Allow", 10},
			{"tier:default", "ingress/end-of-tier", "Deny", 3},
			{"shop/db-guard", "ingress/1", "Deny", 1},
			{"default", "egress/default", "Deny", 0},
		} {
			p(`lockdown_policy_packets_total{action=%q,policy=%q,rule=%q} %d`, c.action, c.policy, c.rule, c.perScrape*n)
		}
		p("# TYPE lockdown_policy_drift gauge")
		p("lockdown_policy_drift 0")
		p("# TYPE lockdown_policy_drift_repairs_total counter")
		p("lockdown_policy_drift_repairs_total 1")
		p("# TYPE lockdown_policy_rules gauge")
		p("lockdown_policy_rules 217")
		p("# TYPE lockdown_policy_endpoints gauge")
		p("lockdown_policy_endpoints 7")
	}
	// serve --admission, on both replicas: 22 reviews a scrape, 1 an
	// error and 3 denied; every result/reason pair is exported.
	p("# TYPE lockdown_admission_decisions_total counter")
	for _, d := range fixtureDecisions {
		p(`lockdown_admission_decisions_total{reason=%q,result=%q} %d`, d.reason, d.result, d.perScrape*n)
	}
	p("# TYPE lockdown_admission_duration_seconds histogram")
	sum = 0
	for _, d := range admissionDurations {
		sum += d
	}
	for _, le := range admissionDurationBuckets {
		c := 0
		for _, d := range admissionDurations {
			if d <= le {
				c++
			}
		}
		p(`lockdown_admission_duration_seconds_bucket{le="%g"} %d`, le, c*n)
	}
	p(`lockdown_admission_duration_seconds_bucket{le="+Inf"} %d`, len(admissionDurations)*n)
	p("lockdown_admission_duration_seconds_sum %g", sum*float64(n))
	p("lockdown_admission_duration_seconds_count %d", len(admissionDurations)*n)
	p("# TYPE lockdown_admission_scans_queued_total counter")
	p("lockdown_admission_scans_queued_total %d", 2*n)
	p("# TYPE lockdown_admission_image_lookups_total counter")
	p(`lockdown_admission_image_lookups_total{source="cache"} %d`, 20*n)
	p(`lockdown_admission_image_lookups_total{source="store"} %d`, 2*n)
	p("# TYPE lockdown_top_vulnerability_images gauge")
	p(`lockdown_top_vulnerability_images{id="CVE-2025-26519",severity="high"} 2`)
	p(`lockdown_top_vulnerability_images{id="GHSA-9wx4-h78v-vm56",severity="critical"} 1`)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	io.WriteString(w, b.String())
}

// ---- a real Prometheus

type promServer struct {
	url    string
	client *http.Client
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startPrometheus runs Debian's prometheus on 127.0.0.1 with config (YAML)
// until the test ends.
func startPrometheus(t *testing.T, config string) *promServer {
	t.Helper()
	bin := testutil.RequireCmd(t, "prometheus")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	// The port is free when picked but may be taken before prometheus binds
	// it: try again then.
	for attempt := 0; attempt < 3; attempt++ {
		if p := tryPrometheus(t, bin, cfgPath, filepath.Join(dir, "data")); p != nil {
			return p
		}
	}
	t.Fatalf("prometheus: no free port after 3 attempts")
	return nil
}

// tryPrometheus starts prometheus on a free port; nil means the port was
// taken meanwhile.
func tryPrometheus(t *testing.T, bin, cfgPath, dataDir string) *promServer {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	var logs lockedBuffer
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+dataDir,
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			if strings.Contains(logs.String(), "address already in use") {
				return nil
			}
			t.Fatalf("prometheus exited: %v\n%s", err, logs.String())
		default:
		}
		if resp, err := client.Get("http://" + addr + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Cleanup(stop)
				return &promServer{url: "http://" + addr, client: client}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	stop()
	t.Fatalf("prometheus on %s not ready after 60s:\n%s", addr, logs.String())
	return nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type apiResponse struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
}

func (p *promServer) api(t testing.TB, path string, form url.Values) (json.RawMessage, error) {
	t.Helper()
	// GET: every API endpoint answers it (POST only some).
	resp, err := p.client.Get(p.url + path + "?" + form.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r apiResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: decode: %w", path, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s: %s", path, r.ErrorType, r.Error)
	}
	return r.Data, nil
}

// sample is one series of an instant vector: its labels rendered
// {a="x",b="y"} (sorted, without __name__) and its value.
type samples map[string]float64

func (p *promServer) query(t testing.TB, expr string) (samples, error) {
	t.Helper()
	data, err := p.api(t, "/api/v1/query", url.Values{"query": {expr}})
	if err != nil {
		return nil, err
	}
	var v struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	if v.ResultType != "vector" {
		return nil, fmt.Errorf("result type %s, want vector", v.ResultType)
	}
	out := samples{}
	for _, r := range v.Result {
		s, _ := r.Value[1].(string)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("value %v: %w", r.Value[1], err)
		}
		out[labelString(r.Metric)] = f
	}
	return out, nil
}

func labelString(m map[string]string) string {
	var parts []string
	for k, v := range m {
		if k != "__name__" {
			parts = append(parts, fmt.Sprintf("%s=%q", k, v))
		}
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

func (s samples) String() string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %g; ", k, s[k])
	}
	return b.String()
}

func approxEqual(a, b samples) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || math.Abs(v-w) > 1e-9*math.Max(1, math.Abs(w)) {
			return false
		}
	}
	return true
}

// TestDashboardAndRulesOnPrometheus runs every dashboard query and every
// rule on a real Prometheus that scrapes two replicas of a fixture exporter
// serving the metric contract: every query must parse and return data, the
// key panels must show exactly what the fixture holds (replicas that share
// a store counted once), every rule must evaluate without error, and the
// alerts the fixture should trigger (and only those) must become pending.
func TestDashboardAndRulesOnPrometheus(t *testing.T) {
	testutil.RequireCmd(t, "prometheus")
	a := httptest.NewServer(&fixtureExporter{dbAge: 3600, withWatcher: true})
	defer a.Close()
	b := httptest.NewServer(&fixtureExporter{dbAge: 7200})
	defer b.Close()
	instA, instB := strings.TrimPrefix(a.URL, "http://"), strings.TrimPrefix(b.URL, "http://")

	rules := filepath.Join(deployDir(t), "prometheus", "rules.yml")
	prom := startPrometheus(t, fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: lockdown
    static_configs:
      - targets: [%q, %q]
`, rules, instA, instB))

	// Wait for enough scrapes of both replicas for rate() over 1m.
	deadline := time.Now().Add(90 * time.Second)
	for {
		s, err := prom.query(t, `count(rate(lockdown_scans_total{result="error"}[1m]) > 0)`)
		if err == nil && s["{}"] == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus has not scraped both fixture replicas twice in 90s (last: %v, %v)", s, err)
		}
		time.Sleep(500 * time.Millisecond)
	}

	images := `{digest="sha256:aaa",image="nginx:1.25"}`
	alpine := `{digest="sha256:bbb",image="alpine:3.20"}`
	debian := `{digest="sha256:ccc",image="debian:12"}`
	web := fmt.Sprintf(`{container="web",image="nginx:1.25",instance=%q}`, instA)
	cache := fmt.Sprintf(`{container="cache",image="alpine:3.20",instance=%q}`, instA)
	// want: exact results of panel queries (title/refId).
	want := map[string]samples{
		"Critical in images/A":                            {"{}": 3},
		"Critical in running containers/A":                {"{}": 2},
		"Images scanned/A":                                {"{}": 3},
		"Audit score/A":                                   {"{}": 4.0 / 9.0},
		"Vulnerability DB age/A":                          {"{}": 7200},
		"Servers/A":                                       {"{}": 2},
		"Vulnerabilities by severity/A":                   {`{severity="critical"}`: 3, `{severity="high"}`: 6, `{severity="medium"}`: 10, `{severity="low"}`: 13, `{severity="unknown"}`: 4},
		"Running container vulnerabilities by severity/A": {`{severity="critical"}`: 2, `{severity="high"}`: 6, `{severity="medium"}`: 7, `{severity="low"}`: 3, `{severity="unknown"}`: 0},
		"Top vulnerable images/A":                         {images: 15, alpine: 3, debian: 18},
		"Top vulnerable images/B":                         {images: 2, alpine: 0, debian: 1},
		"Top vulnerable images/C":                         {images: 5, alpine: 1, debian: 0},
		"Top vulnerable running containers/A":             {web: 15, cache: 3},
		"Top vulnerable running containers/B":             {web: 2, cache: 0},
		"Top vulnerable running containers/C":             {web: 5, cache: 1},
		"Most widespread vulnerabilities/A":               {`{id="CVE-2025-26519",severity="high"}`: 2, `{id="GHSA-9wx4-h78v-vm56",severity="critical"}`: 1},
		"Packages not checked by image/A":                 {images: 0, alpine: 14, debian: 3},
		"Packages not checked by image/B":                 {images: 0, alpine: 0, debian: 1},
		"Packages not checked by image/C":                 {images: 150, alpine: 14, debian: 120},
		"Audit failures by check/A":                       {`{check="2.1",scope="daemon"}`: 1, `{check="5.4",scope="container"}`: 3},
		"Audit results by status/A":                       {`{status="pass"}`: 4, `{status="fail"}`: 4, `{status="warn"}`: 1, `{status="info"}`: 1},
		"Audit score over time/A":                         {"{}": 4.0 / 9.0},
		// Linear interpolation in the histogram's buckets: 2nd of 4
		// observations in (0.5, 1], 3.8th in (2.5, 5].
		"Scan latency/A":                    {"{}": 0.75},
		"Scan latency/B":                    {"{}": 4.5},
		"Scan error rate/A":                 {"{}": 0.25},
		"Jobs by state/A":                   {`{state="queued"}`: 2, `{state="running"}`: 1, `{state="done"}`: 40, `{state="failed"}`: 3},
		"Server versions/A":                 {`{goversion="go1.26.8",version="1.0.0"}`: 2},
		"DB records by ecosystem/A":         {`{ecosystem="Debian:9"}`: 4, `{ecosystem="Go"}`: 4291, `{ecosystem="PyPI"}`: 2661},
		"Vulnerability DB age per server/A": {fmt.Sprintf(`{instance=%q}`, instA): 3600, fmt.Sprintf(`{instance=%q}`, instB): 7200},
		"Policy drift/A":                    {"{}": 0},
		"Policy drift/B":                    {"{}": 1},
		"Rules and endpoints in force/A":    {"{}": 217},
		"Rules and endpoints in force/B":    {"{}": 7},
		// 1 error and 3 denials in 22 reviews; latency interpolated in the
		// buckets: 2nd of 4 in (1 ms, 2.5 ms], 3.96th in (10 ms, 25 ms].
		"Admission error and deny ratios/A": {"{}": 1.0 / 22},
		"Admission error and deny ratios/B": {"{}": 3.0 / 22},
		"Admission latency/A":               {"{}": 0.0025},
		"Admission latency/B":               {"{}": 0.0244},
	}
	// Rates depend on scrape timing: checked by their labels and ratios.
	checkLabels := map[string][]string{
		"Scans by result/A":        {`{result="error"}`, `{result="success"}`},
		"Webhook deliveries/A":     {`{result="error"}`, `{result="success"}`},
		"Denied flows by policy/A": {`{policy="default"}`, `{policy="shop/db-guard"}`, `{policy="tier:default"}`},
		"Admission decisions/A":    {`{result="allowed"}`, `{result="denied"}`, `{result="error"}`, `{result="warned"}`},
		// Pairs at 0 are left out.
		"Admission denials and warnings by reason/A": {`{reason="internal",result="error"}`, `{reason="pss",result="denied"}`,
			`{reason="pss",result="warned"}`, `{reason="vulnerabilities",result="denied"}`},
		"Unknown images queued/A": {"{}"},
	}

	seen := map[string]bool{}
	for _, p := range allPanels(loadDashboard(t)) {
		for _, tg := range p.Targets {
			key := p.Title + "/" + tg.RefID
			seen[key] = true
			expr, err := expand(tg.Expr, grafanaVars)
			if err != nil {
				t.Errorf("%s: %v", key, err)
				continue
			}
			got, err := prom.query(t, expr)
			if err != nil {
				t.Errorf("%s: Prometheus rejects the query: %v\n%s", key, err, expr)
				continue
			}
			if len(got) == 0 {
				t.Errorf("%s: no data from a fixture that has every contract metric (a label or metric name is wrong?)\n%s", key, expr)
				continue
			}
			if w, ok := want[key]; ok && !approxEqual(got, w) {
				t.Errorf("%s = %v, want %v\n%s", key, got, w, expr)
			}
			if w, ok := checkLabels[key]; ok {
				var keys []string
				for k := range got {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				if !slices.Equal(keys, w) {
					t.Errorf("%s: series %v, want %v", key, keys, w)
				}
			}
		}
	}
	for key := range want {
		if !seen[key] {
			t.Errorf("no dashboard query %s", key)
		}
	}
	if got, err := prom.query(t, `sum by (result) (rate(lockdown_scans_total[1m]))`); err != nil || math.Abs(got[`{result="success"}`]/got[`{result="error"}`]-3) > 1e-9 {
		t.Errorf("scan rates = %v, %v; want success = 3 × error", got, err)
	}

	// A selection of images, as Grafana renders a multi-value regex variable.
	sel := map[string]string{}
	for k, v := range grafanaVars {
		sel[k] = v
	}
	sel["image"] = `(nginx:1\\.25|debian:12)`
	for _, p := range allPanels(loadDashboard(t)) {
		if p.Title != "Critical in images" {
			continue
		}
		expr, _ := expand(p.Targets[0].Expr, sel)
		if got, err := prom.query(t, expr); err != nil || !approxEqual(got, samples{"{}": 3}) {
			t.Errorf("Critical in images for nginx and debian = %v, %v; want 3\n%s", got, err, expr)
		}
	}

	// Variables, as Grafana's label_values(metric, label) asks for them.
	for _, v := range []struct {
		metric, label string
		want          []string
	}{
		{"lockdown_image_vulnerabilities", "image", []string{"alpine:3.20", "debian:12", "nginx:1.25"}},
		{"lockdown_container_vulnerabilities", "container", []string{"cache", "web"}},
	} {
		data, err := prom.api(t, "/api/v1/label/"+v.label+"/values", url.Values{"match[]": {v.metric}})
		var got []string
		if err == nil {
			err = json.Unmarshal(data, &got)
		}
		if err != nil || !slices.Equal(got, v.want) {
			t.Errorf("label_values(%s, %s) = %v, %v; want %v", v.metric, v.label, got, err, v.want)
		}
	}

	// Rules: all evaluate; the fixture makes exactly these alerts pending
	// (each has a `for` longer than this test).
	wantPending := []string{
		"pending AuditScoreLow{job=\"lockdown\",severity=\"warning\"}",
		"pending ImagePackagesNotChecked{digest=\"sha256:bbb\",image=\"alpine:3.20\",severity=\"warning\"}",
		"pending ImagePackagesNotChecked{digest=\"sha256:ccc\",image=\"debian:12\",severity=\"warning\"}",
		"pending ImagePackageFilesUnreadable{digest=\"sha256:ccc\",image=\"debian:12\",severity=\"warning\"}",
		fmt.Sprintf("pending CriticalVulnerabilityInRunningContainer{container=\"web\",image=\"nginx:1.25\",instance=%q,job=\"lockdown\",severity=\"critical\"}", instA),
		fmt.Sprintf("pending ScanErrors{instance=%q,job=\"lockdown\",severity=\"warning\"}", instA),
		fmt.Sprintf("pending ScanErrors{instance=%q,job=\"lockdown\",severity=\"warning\"}", instB),
	}
	slices.Sort(wantPending) // ports are random: compare as sets
	var pending []string
	var ruleErrs []string
	deadline = time.Now().Add(30 * time.Second)
	for {
		pending, ruleErrs = ruleState(t, prom)
		slices.Sort(pending)
		if slices.Equal(pending, wantPending) && len(ruleErrs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rules after 30s: pending alerts %q, want %q; rule errors %q", pending, wantPending, ruleErrs)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The recording rules' results on live data.
	for expr, w := range map[string]samples{
		"lockdown:image_vulnerabilities:sum_by_severity":                                   {`{severity="critical"}`: 3, `{severity="high"}`: 6, `{severity="medium"}`: 10, `{severity="low"}`: 13, `{severity="unknown"}`: 4},
		`lockdown:container_vulnerabilities:sum_by_instance_severity{severity="critical"}`: {fmt.Sprintf(`{instance=%q,job="lockdown",severity="critical"}`, instA): 2},
		"lockdown:audit_failures:sum":                                                      {`{job="lockdown"}`: 4},
		"lockdown:admission_duration_seconds:p99_rate5m": {fmt.Sprintf(`{instance=%q,job="lockdown"}`, instA): 0.0244,
			fmt.Sprintf(`{instance=%q,job="lockdown"}`, instB): 0.0244},
	} {
		// A rule over rates has a value for an instance only once two of
		// its scrapes are in and the rule ran after them: wait for it.
		deadline := time.Now().Add(15 * time.Second)
		for {
			got, err := prom.query(t, expr)
			if err == nil && approxEqual(got, w) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s = %v, %v; want %v", expr, got, err, w)
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
}

// ruleState returns the pending or firing alerts as name{labels}, sorted, and
// the rules whose last evaluation failed.
func ruleState(t testing.TB, prom *promServer) (alerts, errs []string) {
	t.Helper()
	resp, err := prom.client.Get(prom.url + "/api/v1/rules")
	if err != nil {
		return nil, []string{err.Error()}
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name      string `json:"name"`
					Type      string `json:"type"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
					Alerts    []struct {
						Labels map[string]string `json:"labels"`
						State  string            `json:"state"`
					} `json:"alerts"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, []string{err.Error()}
	}
	n := 0
	for _, g := range r.Data.Groups {
		for _, rl := range g.Rules {
			n++
			if rl.Health != "ok" {
				errs = append(errs, fmt.Sprintf("%s: health %s %s", rl.Name, rl.Health, rl.LastError))
			}
			for _, a := range rl.Alerts {
				alerts = append(alerts, a.State+" "+rl.Name+labelString(without(a.Labels, "alertname")))
			}
		}
	}
	if n == 0 {
		errs = append(errs, "no rules loaded")
	}
	sort.Strings(alerts)
	return alerts, errs
}

// without copies m without the named keys.
func without(m map[string]string, drop ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if !slices.Contains(drop, k) {
			out[k] = v
		}
	}
	return out
}
