package deploy_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// The metric contract shared with internal/server: metric name → its labels.
// Deploy files may use only these (plus the target labels Prometheus adds).
var contract = map[string][]string{
	"lockdown_build_info":                     {"version", "goversion"},
	"lockdown_image_vulnerabilities":          {"image", "digest", "severity"},
	"lockdown_container_vulnerabilities":      {"container", "image", "severity"},
	"lockdown_audit_results":                  {"check", "status", "scope"},
	"lockdown_audit_score_ratio":              nil,
	"lockdown_scans_total":                    {"result"},
	"lockdown_scan_duration_seconds":          nil, // histogram
	"lockdown_jobs":                           {"state"},
	"lockdown_db_age_seconds":                 nil,
	"lockdown_db_built_timestamp_seconds":     nil,
	"lockdown_db_records":                     {"ecosystem"},
	"lockdown_webhook_deliveries_total":       {"result"},
	"lockdown_top_vulnerability_images":       {"id", "severity"},
	"lockdown_image_packages":                 {"image", "digest"},
	"lockdown_image_packages_unchecked":       {"image", "digest"},
	"lockdown_image_package_files_unreadable": {"image", "digest"},
	"lockdown_policy_packets_total":           {"policy", "rule", "action"},
	"lockdown_policy_drift":                   nil,
	"lockdown_policy_drift_repairs_total":     nil,
	"lockdown_policy_rules":                   nil,
	"lockdown_policy_endpoints":               nil,
	// serve --admission only.
	"lockdown_admission_decisions_total":     {"result", "reason"},
	"lockdown_admission_duration_seconds":    nil, // histogram
	"lockdown_admission_scans_queued_total":  nil,
	"lockdown_admission_image_lookups_total": {"source"},
	"up":                                     nil, // Prometheus's own
}

// histograms are exposed as NAME_bucket{le}, NAME_sum and NAME_count.
var histograms = map[string]bool{"lockdown_scan_duration_seconds": true, "lockdown_admission_duration_seconds": true}

// targetLabels are added by Prometheus (job, instance) or by the Kubernetes
// relabelling documented in deploy/README.md (namespace, pod).
var targetLabels = []string{"job", "instance", "namespace", "pod"}

// enumLabels are labels whose values the contract fixes.
var enumLabels = map[string][]string{
	"severity": {"critical", "high", "medium", "low", "unknown"},
	"status":   {"pass", "fail", "warn", "info", "skip"},
	"result":   {"success", "error"},
	"state":    {"queued", "running", "done", "failed"},
	"action":   {"Allow", "Deny", "Pass", "Log"},
}

// metricEnums are label values that one metric fixes, where its label
// shares a name with enumLabels' (admission results are not scan results).
var metricEnums = map[string]map[string][]string{
	"lockdown_admission_decisions_total": {
		"result": {"allowed", "warned", "denied", "error"},
		"reason": {"none", "exempt", "skipped", "pss", "policy", "vulnerabilities", "unknown_image", "malformed", "oversize", "unauthorized", "internal"},
	},
	"lockdown_admission_image_lookups_total": {"source": {"cache", "store"}},
}

// enumValues are the values the contract allows label to have on metric
// (any metric when metric is empty), and whether it fixes them.
func enumValues(metric, label string) ([]string, bool) {
	if v, ok := metricEnums[metric][label]; ok {
		return v, true
	}
	v, ok := enumLabels[label]
	return v, ok
}

// contractSeries resolves a series name to its contract metric and labels.
func contractSeries(name string) (labels []string, ok bool) {
	if l, ok := contract[name]; ok && !histograms[name] {
		return l, true
	}
	for h := range histograms {
		switch name {
		case h + "_bucket":
			return append(slices.Clone(contract[h]), "le"), true
		case h + "_sum", h + "_count":
			return contract[h], true
		}
	}
	return nil, false
}

// checkContract reports every metric, label or label value in expr that
// the contract does not have.
func checkContract(expr string) []string {
	q, err := scanPromQL(expr)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	allowed := map[string]bool{"__name__": true}
	for _, l := range targetLabels {
		allowed[l] = true
	}
	for _, m := range q.Metrics {
		labels, ok := contractSeries(m)
		if !ok {
			problems = append(problems, fmt.Sprintf("metric %s is not in the contract", m))
			continue
		}
		for _, l := range labels {
			allowed[l] = true
		}
	}
	for _, m := range q.Matchers {
		if m.Metric != "" {
			labels, _ := contractSeries(m.Metric)
			if !slices.Contains(labels, m.Label) && !slices.Contains(targetLabels, m.Label) {
				problems = append(problems, fmt.Sprintf("%s has no label %s", m.Metric, m.Label))
				continue
			}
		} else if !allowed[m.Label] {
			problems = append(problems, fmt.Sprintf("label %s is not in the contract", m.Label))
		}
		if vals, ok := enumValues(m.Metric, m.Label); ok && (m.Op == "=" || m.Op == "!=") && !slices.Contains(vals, m.Value) {
			problems = append(problems, fmt.Sprintf("%s%s%q: the contract's values are %v", m.Label, m.Op, m.Value, vals))
		}
	}
	for _, l := range q.Grouping {
		if !allowed[l] {
			problems = append(problems, fmt.Sprintf("grouping label %s is not a label of the metrics used", l))
		}
	}
	return problems
}

// ---- a small PromQL scanner: enough to find metric names, label matchers
// and grouping labels. Parsing proper is left to Prometheus itself.

type matcher struct {
	Metric string // "" for a selector without a name
	Label  string
	Op     string
	Value  string
}

type promQuery struct {
	Metrics  []string // sorted, unique
	Matchers []matcher
	Grouping []string // labels of by/without/on/ignoring/group_left/group_right, sorted, unique
}

// promKeywords are identifiers that are never metric names when they stand
// alone: operators, modifiers, aggregation operators (sum by (x) (...)), and
// number literals.
var promKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "atan2": true, "bool": true, "offset": true,
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"sum": true, "avg": true, "min": true, "max": true, "count": true, "group": true, "stddev": true,
	"stdvar": true, "topk": true, "bottomk": true, "quantile": true, "count_values": true,
	"inf": true, "nan": true, "start": true, "end": true,
}

var groupingKeywords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

type tokKind int

const (
	tIdent tokKind = iota
	tString
	tNumber
	tPunct
)

type token struct {
	kind tokKind
	text string // for strings: the unquoted value
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

func lexPromQL(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#': // comment to the end of the line
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' && c != '`' {
					j++
					if j >= len(s) {
						break
					}
				}
				b.WriteByte(s[min(j, len(s)-1)])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string at offset %d", i)
			}
			toks = append(toks, token{tString, b.String()})
			i = j + 1
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			// numbers, durations (5m, 1h30m), exponents, hex: one token.
			j := i
			for j < len(s) && (isIdentChar(s[j]) || s[j] == '.' || (s[j] == '+' || s[j] == '-') && (s[j-1] == 'e' || s[j-1] == 'E')) {
				j++
			}
			toks = append(toks, token{tNumber, s[i:j]})
			i = j
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			toks = append(toks, token{tIdent, s[i:j]})
			i = j
		default:
			// two-character operators first.
			if i+1 < len(s) {
				switch s[i : i+2] {
				case "=~", "!~", "!=", "==", ">=", "<=":
					toks = append(toks, token{tPunct, s[i : i+2]})
					i += 2
					continue
				}
			}
			toks = append(toks, token{tPunct, s[i : i+1]})
			i++
		}
	}
	return toks, nil
}

// scanPromQL finds the metric names, label matchers and grouping labels of
// a PromQL expression.
func scanPromQL(expr string) (promQuery, error) {
	var q promQuery
	toks, err := lexPromQL(expr)
	if err != nil {
		return q, err
	}
	metrics := map[string]bool{}
	grouping := map[string]bool{}
	next := func(i int) token {
		if i+1 < len(toks) {
			return toks[i+1]
		}
		return token{kind: tPunct}
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.kind == tPunct && t.text == "[":
			for i < len(toks) && !(toks[i].kind == tPunct && toks[i].text == "]") {
				i++
			}
			if i == len(toks) {
				return q, fmt.Errorf("unclosed [")
			}
		case t.kind == tPunct && t.text == "{":
			metric := ""
			if i > 0 && toks[i-1].kind == tIdent && !promKeywords[strings.ToLower(toks[i-1].text)] {
				metric = toks[i-1].text
			}
			i++
			for ; i < len(toks) && !(toks[i].kind == tPunct && toks[i].text == "}"); i++ {
				if toks[i].kind == tPunct && toks[i].text == "," {
					continue
				}
				if toks[i].kind != tIdent || i+2 >= len(toks) || toks[i+1].kind != tPunct || toks[i+2].kind != tString {
					return q, fmt.Errorf("bad label matcher near %q", toks[i].text)
				}
				switch toks[i+1].text {
				case "=", "!=", "=~", "!~":
				default:
					return q, fmt.Errorf("bad label matcher operator %q", toks[i+1].text)
				}
				q.Matchers = append(q.Matchers, matcher{Metric: metric, Label: toks[i].text, Op: toks[i+1].text, Value: toks[i+2].text})
				i += 2
			}
			if i == len(toks) {
				return q, fmt.Errorf("unclosed {")
			}
		case t.kind == tIdent && groupingKeywords[strings.ToLower(t.text)]:
			if n := next(i); n.kind == tPunct && n.text == "(" {
				i += 2
				for ; i < len(toks) && !(toks[i].kind == tPunct && toks[i].text == ")"); i++ {
					switch {
					case toks[i].kind == tIdent:
						grouping[toks[i].text] = true
					case toks[i].kind == tPunct && toks[i].text == ",":
					default:
						return q, fmt.Errorf("bad grouping label %q", toks[i].text)
					}
				}
				if i == len(toks) {
					return q, fmt.Errorf("unclosed grouping")
				}
			}
		case t.kind == tIdent:
			if promKeywords[strings.ToLower(t.text)] {
				continue
			}
			if n := next(i); n.kind == tPunct && n.text == "(" {
				continue // a function
			}
			metrics[t.text] = true
		}
	}
	for m := range metrics {
		q.Metrics = append(q.Metrics, m)
	}
	slices.Sort(q.Metrics)
	for g := range grouping {
		q.Grouping = append(q.Grouping, g)
	}
	slices.Sort(q.Grouping)
	return q, nil
}

func TestScanPromQL(t *testing.T) {
	cases := []struct {
		expr     string
		metrics  []string
		grouping []string
		matchers []matcher
	}{
		{expr: `up{job="lockdown"} == 0`, metrics: []string{"up"}, matchers: []matcher{{"up", "job", "=", "lockdown"}}},
		{expr: `sum by (severity) (max by (image, digest, severity) (lockdown_image_vulnerabilities{image=~".*"}))`,
			metrics: []string{"lockdown_image_vulnerabilities"}, grouping: []string{"digest", "image", "severity"},
			matchers: []matcher{{"lockdown_image_vulnerabilities", "image", "=~", ".*"}}},
		{expr: `histogram_quantile(0.95, sum(rate(lockdown_scan_duration_seconds_bucket[5m])) by (le))`,
			metrics: []string{"lockdown_scan_duration_seconds_bucket"}, grouping: []string{"le"}},
		{expr: `sum(x{status="fail"} offset 1h) > bool 2 * 86400 and on (job) y unless ignoring(a, b) z`,
			metrics: []string{"x", "y", "z"}, grouping: []string{"a", "b", "job"}, matchers: []matcher{{"x", "status", "=", "fail"}}},
		{expr: `a / on (x) group_left (y) b @ start()`, metrics: []string{"a", "b"}, grouping: []string{"x", "y"}},
		{expr: `{__name__="m", l!~'a\'b'} + 1e3 - 0x1f + Inf + rate(c[1h30m:5m])`, metrics: []string{"c"},
			matchers: []matcher{{"", "__name__", "=", "m"}, {"", "l", "!~", "a'b"}}},
		{expr: "topk(10, count_values(\"v\", m) ) # a comment naming nope\n", metrics: []string{"m"}},
		{expr: `sum without (instance) (lockdown:recorded:rule)`, metrics: []string{"lockdown:recorded:rule"}, grouping: []string{"instance"}},
	}
	for _, c := range cases {
		t.Run(c.expr, func(t *testing.T) {
			q, err := scanPromQL(c.expr)
			if err != nil {
				t.Fatalf("scanPromQL(%q): %v", c.expr, err)
			}
			if diff := cmp.Diff(c.metrics, q.Metrics); diff != "" {
				t.Errorf("metrics (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.grouping, q.Grouping); diff != "" {
				t.Errorf("grouping (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.matchers, q.Matchers, cmp.AllowUnexported(matcher{})); diff != "" {
				t.Errorf("matchers (-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []string{`x{a="b}`, `x{a="b"`, `rate(x[5m)`, `x{a=}`, `sum by (a`, `x{a>"b"}`} {
		if _, err := scanPromQL(bad); err == nil {
			t.Errorf("scanPromQL(%q) = no error, want one", bad)
		}
	}
}

func TestCheckContract(t *testing.T) {
	cases := []struct {
		expr string
		want []string
	}{
		{`sum by (severity) (lockdown_image_vulnerabilities{severity="critical"})`, nil},
		{`histogram_quantile(0.5, sum by (le, job) (rate(lockdown_scan_duration_seconds_bucket[5m])))`, nil},
		{`lockdown_scan_duration_seconds_sum / lockdown_scan_duration_seconds_count`, nil},
		{`lockdown_scan_duration_seconds`, []string{"metric lockdown_scan_duration_seconds is not in the contract"}},
		{`lockdown_image_vulnerabilities{sev="critical"}`, []string{"lockdown_image_vulnerabilities has no label sev"}},
		{`lockdown_audit_results{status="FAIL"}`, []string{`status="FAIL": the contract's values are [pass fail warn info skip]`}},
		{`sum by (container) (lockdown_image_vulnerabilities)`, []string{"grouping label container is not a label of the metrics used"}},
		{`lockdown_vulns_total`, []string{"metric lockdown_vulns_total is not in the contract"}},
		{`up{job="lockdown"} == 0`, nil},
		// result is the admission result on the admission metric, the scan
		// result elsewhere.
		{`rate(lockdown_admission_decisions_total{result="denied",reason="pss"}[5m])`, nil},
		{`lockdown_admission_decisions_total{result="success"}`, []string{`result="success": the contract's values are [allowed warned denied error]`}},
		{`lockdown_scans_total{result="denied"}`, []string{`result="denied": the contract's values are [success error]`}},
	}
	for _, c := range cases {
		if got := checkContract(c.expr); !slices.Equal(got, c.want) {
			t.Errorf("checkContract(%q) = %q, want %q", c.expr, got, c.want)
		}
	}
}

func FuzzScanPromQL(f *testing.F) {
	for _, s := range []string{
		`up{job="lockdown"} == 0`,
		`sum by (severity) (max by (image, digest, severity) (lockdown_image_vulnerabilities{image=~"$image"}))`,
		`histogram_quantile(0.95, sum by (le) (rate(lockdown_scan_duration_seconds_bucket[5m])))`,
		`a / on (x) group_left (y) b offset 1h @ start()`,
		`{__name__="m", l!~'a\'b'} + 1e-3 + 0x1f`,
		"x{a=\"\\",
		"`raw",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		q, err := scanPromQL(expr)
		if err != nil {
			return
		}
		for _, m := range q.Metrics {
			if m == "" || !isIdentStart(m[0]) {
				t.Fatalf("scanPromQL(%q): metric %q is not an identifier", expr, m)
			}
		}
		checkContract(expr)
	})
}

// ---- shared helpers

// deployDir is this package's directory (deploy/).
func deployDir(t testing.TB) string {
	t.Helper()
	return filepath.Join(testutil.RepoRoot(t), "deploy")
}

func readFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir(t), filepath.FromSlash(rel)))
	if err != nil {
		t.Fatalf("read deploy/%s: %v", rel, err)
	}
	return b
}

var binary struct {
	once sync.Once
	dir  string
	path string
	err  error
	out  []byte
}

// testVersion is stamped into the binary the tests build.
const testVersion = "deploy-test"

// lockdownBinary builds a static lockdown binary once per test process (as
// the Dockerfile's source build does: CGO_ENABLED=0, -trimpath).
func lockdownBinary(t testing.TB) string {
	t.Helper()
	binary.once.Do(func() {
		binary.dir, binary.err = os.MkdirTemp("", "lockdown-deploy-test-")
		if binary.err != nil {
			return
		}
		binary.path = filepath.Join(binary.dir, "lockdown")
		cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
			"-ldflags", "-X github.com/lockdown-sec/lockdown/internal/cli.Version="+testVersion,
			"-o", binary.path, "./cmd/lockdown")
		cmd.Dir = testutil.RepoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
		binary.out, binary.err = cmd.CombinedOutput()
	})
	if binary.err != nil {
		t.Fatalf("go build ./cmd/lockdown: %v\n%s", binary.err, binary.out)
	}
	return binary.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.dir != "" {
		os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}
