package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/lockdown-sec/lockdown/internal/server/store"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files.
type testPKI struct {
	caFile, serverCert, serverKey string
	clientCert                    tls.Certificate
	pool                          *x509.CertPool
	otherClient                   tls.Certificate // signed by another CA
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	dir := t.TempDir()
	ca := testutil.NewCA(t, "lockdown test CA")
	srv := ca.Issue(t, "lockdown", x509.ExtKeyUsageServerAuth, "127.0.0.1")
	return &testPKI{
		caFile:      testutil.WriteFile(t, dir, "ca.pem", ca.CertPEM(), 0o600),
		serverCert:  testutil.WriteFile(t, dir, "tls.crt", srv.CertPEM(), 0o600),
		serverKey:   testutil.WriteFile(t, dir, "tls.key", srv.KeyPEM(t), 0o600),
		clientCert:  ca.Issue(t, "kube-apiserver", x509.ExtKeyUsageClientAuth).TLS(),
		pool:        ca.Pool(),
		otherClient: testutil.NewCA(t, "other CA").Issue(t, "intruder", x509.ExtKeyUsageClientAuth).TLS(),
	}
}

// client is an HTTPS client that trusts the test CA (and presents cert
// when given).
func (p *testPKI) client(certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: p.pool, Certificates: certs, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 256,
	}}
}

// admissionServer is a TLS server with the admission webhook, and the two
// images it knows: vulnerable (the Alpine 3.16 apk database: two findings
// of CVE-2025-26519) and clean (no packages), scanned for real by its
// workers.
type admissionServer struct {
	*testServer
	pki               *testPKI
	st                *store.Store
	vulnerable, clean store.ImageResult
}

const (
	vulnImage  = "registry.example.com/shop/api:1.4"
	cleanImage = "registry.example.com/shop/web:2.0"
)

func startAdmission(t testing.TB, adm Admission, requireCert bool) *admissionServer {
	t.Helper()
	pki := newTestPKI(t)
	tlsCfg, err := TLSFromFiles(pki.serverCert, pki.serverKey, pki.caFile)
	if err != nil {
		t.Fatal(err)
	}
	adm.Enabled = true
	st := openStore(t, store.SQLite)
	ts := startServer(t, Config{Store: st, AdvisoryDB: mixedDB(t), AllowLocalTargets: true, TLS: tlsCfg,
		Admission: adm, RequireClientCert: requireCert})
	ts.URL = strings.Replace(ts.URL, "http://", "https://", 1)
	a := &admissionServer{testServer: ts, pki: pki, st: st}
	clean := t.TempDir()
	os.MkdirAll(filepath.Join(clean, "etc"), 0o755)
	os.WriteFile(filepath.Join(clean, "etc", "os-release"), []byte("ID=alpine\nVERSION_ID=3.16.2\n"), 0o644)
	for _, s := range []struct{ dir, image string }{{alpine316Dir(t), vulnImage}, {clean, cleanImage}} {
		b, _ := json.Marshal(ScanRequest{Target: "dir:" + s.dir, Image: s.image})
		code, body := a.do(t, pki.client(pki.clientCert), "POST", "/v1/scans", "Bearer "+testToken, b)
		if code != http.StatusAccepted {
			t.Fatalf("POST /v1/scans = %d %s", code, body)
		}
		var j JobResponse
		json.Unmarshal(body, &j)
		for {
			got, err := st.Job(context.Background(), j.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State == store.StateFailed {
				t.Fatalf("scan of %s failed: %s", s.image, got.Error)
			}
			if got.State == store.StateDone {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	imgs, err := st.Images(context.Background())
	if err != nil || len(imgs) != 2 {
		t.Fatalf("stored images = %v, %v; want 2", imgs, err)
	}
	for _, im := range imgs {
		switch im.Image {
		case vulnImage:
			a.vulnerable = im
		case cleanImage:
			a.clean = im
		}
	}
	if n := a.vulnerable.Counts["critical"] + a.vulnerable.Counts["high"] + a.vulnerable.Counts["medium"] + a.vulnerable.Counts["low"] + a.vulnerable.Counts["unknown"]; n != 2 {
		t.Fatalf("vulnerable image counts = %v, want 2 findings", a.vulnerable.Counts)
	}
	if n := a.clean.Counts["critical"] + a.clean.Counts["high"] + a.clean.Counts["medium"] + a.clean.Counts["low"] + a.clean.Counts["unknown"]; n != 0 {
		t.Fatalf("clean image counts = %v, want none", a.clean.Counts)
	}
	return a
}

func (a *admissionServer) do(t testing.TB, c *http.Client, method, path, auth string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, a.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// review is an AdmissionReview as the API server sends it.
func review(uid, op, kind, ns, name string, dryRun bool, object string) []byte {
	group, version := "", "v1"
	switch kind {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet":
		group = "apps"
	case "Job", "CronJob":
		group = "batch"
	}
	resource := strings.ToLower(kind) + "s"
	obj := "null"
	if object != "" {
		obj = object
	}
	return fmt.Appendf(nil, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{
"uid":%q,"kind":{"group":%q,"version":%q,"kind":%q},"resource":{"group":%q,"version":%q,"resource":%q},
"requestKind":{"group":%q,"version":%q,"kind":%q},"requestResource":{"group":%q,"version":%q,"resource":%q},
"name":%q,"namespace":%q,"operation":%q,"userInfo":{"username":"alice","groups":["system:authenticated"]},
"object":%s,"oldObject":null,"dryRun":%t,"options":{"apiVersion":"meta.k8s.io/v1","kind":"CreateOptions"}}}`,
		uid, group, version, kind, group, version, resource, group, version, kind, group, version, resource, name, ns, op, obj, dryRun)
}

// restrictedPod is a pod that passes the restricted profile.
func restrictedPod(name, image string) string {
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q,"namespace":"shop"},"spec":{
"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},
"containers":[{"name":"app","image":%q,"securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}`, name, image)
}

func (a *admissionServer) admit(t testing.TB, c *http.Client, body []byte) admissionv1.AdmissionResponse {
	t.Helper()
	code, out := a.do(t, c, "POST", "/v1/admission", "", body)
	if code != http.StatusOK {
		t.Fatalf("POST /v1/admission = %d %s, want 200", code, out)
	}
	var rv admissionv1.AdmissionReview
	if err := json.Unmarshal(out, &rv); err != nil {
		t.Fatal(err)
	}
	if rv.APIVersion != "admission.k8s.io/v1" || rv.Kind != "AdmissionReview" || rv.Response == nil {
		t.Fatalf("response = %s, want an admission.k8s.io/v1 AdmissionReview with a response", out)
	}
	return *rv.Response
}

func TestAdmissionDecisions(t *testing.T) {
	a := startAdmission(t, Admission{FailOn: "low", Unknown: "deny", ExemptNamespaces: []string{"kube-system"}}, false)
	c := a.pki.client()
	vuln := a.vulnerable
	var vulnParts []string
	for _, sev := range store.Severities {
		if n := vuln.Counts[sev]; n > 0 && sev != "unknown" {
			vulnParts = append(vulnParts, fmt.Sprintf("%d %s", n, sev))
		}
	}
	vulnReason := fmt.Sprintf("image %s (%s, scanned %s) has %s vulnerabilities at or above low",
		vulnImage, vuln.Digest, vuln.ScannedAt.UTC().Format(time.RFC3339), strings.Join(vulnParts, ", "))
	restrictedWarnings := func(ctr string) []string {
		return []string{
			fmt.Sprintf(`PSS restricted: Privilege Escalation: container %q must set securityContext.allowPrivilegeEscalation=false`, ctr),
			fmt.Sprintf(`PSS restricted: Running as Non-root: pod or containers %q must set securityContext.runAsNonRoot=true`, ctr),
			fmt.Sprintf(`PSS restricted: Seccomp: pod or containers %q must set securityContext.seccompProfile.type to RuntimeDefault or Localhost`, ctr),
			fmt.Sprintf(`PSS restricted: Capabilities: container %q must set securityContext.capabilities.drop=["ALL"]`, ctr),
		}
	}
	tests := []struct {
		name     string
		class    string // result/reason of lockdown_admission_decisions_total
		body     []byte
		allowed  bool
		message  string // exact, or a regexp when it starts with ^
		warnings []string
	}{
		{name: "restricted pod with a clean image", class: "allowed/none", body: review("u1", "CREATE", "Pod", "shop", "web", false, restrictedPod("web", cleanImage)), allowed: true},
		{name: "baseline pod: allowed, restricted controls as warnings", class: "warned/pss",
			body:    review("u2", "CREATE", "Pod", "shop", "web", false, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"nginx","image":"`+cleanImage+`"}]}}`),
			allowed: true, warnings: restrictedWarnings("nginx")},
		{name: "privileged pod with host namespaces and hostPath: every reason", class: "denied/pss",
			body: review("u3", "CREATE", "Pod", "shop", "debug", false, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"debug"},"spec":{
"hostPID":true,"hostNetwork":true,"volumes":[{"name":"root","hostPath":{"path":"/"}}],
"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},
"containers":[{"name":"sh","image":"`+cleanImage+`","securityContext":{"privileged":true,"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"],"add":["SYS_ADMIN"]}}}]}}`),
			message: `lockdown denied Pod shop/debug: PSS baseline: Host Namespaces (hostNetwork=true); PSS baseline: Host Namespaces (hostPID=true); ` +
				`PSS baseline: Privileged Containers (container "sh" sets securityContext.privileged=true); PSS baseline: Capabilities (container "sh" adds SYS_ADMIN); ` +
				`PSS baseline: HostPath Volumes (volume "root" mounts hostPath /)`,
			warnings: []string{`PSS restricted: Volume Types: volume "root" is of type hostPath`, `PSS restricted: Capabilities: container "sh" adds SYS_ADMIN (only NET_BIND_SERVICE is allowed)`}},
		{name: "deployment whose image has findings at or above the threshold", class: "denied/vulnerabilities",
			body:    review("u4", "CREATE", "Deployment", "shop", "api", false, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api","namespace":"shop"},"spec":{"selector":{"matchLabels":{"app":"api"}},"template":{"metadata":{"labels":{"app":"api"}},"spec":{"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},"containers":[{"name":"api","image":"`+vulnImage+`","securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}}}`),
			message: "lockdown denied Deployment shop/api: " + vulnReason},
		{name: "cronjob: the pod template is checked", class: "denied/pss",
			body:    review("u5", "UPDATE", "CronJob", "shop", "nightly", false, `{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"nightly","namespace":"shop"},"spec":{"schedule":"@daily","jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never","hostIPC":true,"containers":[{"name":"job","image":"`+cleanImage+`"}]}}}}}}`),
			message: `lockdown denied CronJob shop/nightly: PSS baseline: Host Namespaces (hostIPC=true)`, warnings: restrictedWarnings("job")},
		{name: "unknown image: denied, scan queued", class: "denied/unknown_image",
			body:    review("u6", "CREATE", "Pod", "shop", "new", false, restrictedPod("new", "registry.example.com/shop/new:0.1")),
			message: `^lockdown denied Pod shop/new: image registry.example.com/shop/new:0.1: no scan yet; scan [0-9a-f]{32} queued \(unknown images are denied\)$`},
		{name: "unknown image again: one scan only", class: "denied/unknown_image",
			body:    review("u7", "CREATE", "Pod", "shop", "new", false, restrictedPod("new", "registry.example.com/shop/new:0.1")),
			message: `lockdown denied Pod shop/new: image registry.example.com/shop/new:0.1: no scan yet; a scan is queued (unknown images are denied)`},
		{name: "dry run of an unknown image queues nothing", class: "denied/unknown_image",
			body:    review("u8", "CREATE", "Pod", "shop", "dry", true, restrictedPod("dry", "registry.example.com/shop/dry:0.1")),
			message: `lockdown denied Pod shop/dry: image registry.example.com/shop/dry:0.1: no scan yet (dry run: no scan queued) (unknown images are denied)`},
		{name: "exempt namespace", class: "allowed/exempt", body: review("u9", "CREATE", "Pod", "kube-system", "proxy", false, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"proxy"},"spec":{"hostNetwork":true,"containers":[{"name":"p","image":"unknown:1"}]}}`), allowed: true},
		{name: "delete is allowed", class: "allowed/skipped", body: review("u10", "DELETE", "Pod", "shop", "web", false, ""), allowed: true},
		{name: "a kind without pods is allowed", class: "allowed/skipped", body: review("u11", "CREATE", "ConfigMap", "shop", "cm", false, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"}}`), allowed: true},
		{name: "another tag of a scanned repository is another image", class: "denied/unknown_image",
			body:    review("u12", "CREATE", "Pod", "shop", "api", false, restrictedPod("api", "registry.example.com/shop/api:1.5")),
			message: `^lockdown denied Pod shop/api: image registry.example.com/shop/api:1.5: no scan yet; scan [0-9a-f]{32} queued \(unknown images are denied\)$`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := a.admit(t, c, tc.body)
			var uid struct {
				Request struct{ UID string } `json:"request"`
			}
			json.Unmarshal(tc.body, &uid)
			if string(resp.UID) != uid.Request.UID {
				t.Errorf("response uid = %q, want %q", resp.UID, uid.Request.UID)
			}
			wantAllowed := tc.allowed || tc.message == ""
			if resp.Allowed != wantAllowed {
				t.Fatalf("allowed = %v, want %v (status %+v)", resp.Allowed, wantAllowed, resp.Result)
			}
			if !resp.Allowed {
				if resp.Result == nil || resp.Result.Code != http.StatusForbidden || resp.Result.Reason != "Forbidden" {
					t.Fatalf("status = %+v, want code 403, reason Forbidden", resp.Result)
				}
				if strings.HasPrefix(tc.message, "^") {
					if !regexp.MustCompile(tc.message).MatchString(resp.Result.Message) {
						t.Errorf("message = %q, want it to match %s", resp.Result.Message, tc.message)
					}
				} else if resp.Result.Message != tc.message {
					t.Errorf("message:\n got %q\nwant %q", resp.Result.Message, tc.message)
				}
			} else if resp.Result != nil {
				t.Errorf("allowed with status %+v, want none", resp.Result)
			}
			if diff := cmp.Diff(tc.warnings, resp.Warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
	// The unknown image got exactly one scan job; the dry run none.
	jobs, err := a.st.Jobs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, j := range jobs {
		targets = append(targets, j.Target)
	}
	sort.Strings(targets)
	if n := strings.Count(strings.Join(targets, "\n"), "registry.example.com/shop/new:0.1"); n != 1 {
		t.Errorf("scan jobs for the unknown image = %d, want 1 (jobs: %v)", n, targets)
	}
	if slices.ContainsFunc(targets, func(s string) bool { return strings.Contains(s, "dry") }) {
		t.Errorf("a dry run queued a scan: %v", targets)
	}
	// Every decision counted once under its result and reason; every
	// other pair at 0. Two scans queued (u6, u12).
	want := map[string]float64{}
	for result, reasons := range admissionReasons {
		for _, reason := range reasons {
			want[result+"/"+reason] = 0
		}
	}
	for _, tc := range tests {
		want[tc.class]++
	}
	if diff := cmp.Diff(want, a.decisions(t)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", mAdmissionDecisions, diff)
	}
	if got := promtest.ToFloat64(a.adm.m.queued); got != 2 {
		t.Errorf("%s = %v, want 2", mAdmissionQueued, got)
	}
	if n := histogramCount(t, a.Registry(), mAdmissionDuration); n != uint64(len(tests)) {
		t.Errorf("%s count = %d, want %d", mAdmissionDuration, n, len(tests))
	}
	if problems, err := promtest.GatherAndLint(a.Registry(), mAdmissionDecisions, mAdmissionDuration, mAdmissionQueued, mAdmissionLookups); err != nil || len(problems) > 0 {
		t.Errorf("promlint on the admission metrics: %+v, %v", problems, err)
	}
}

// decisions reads lockdown_admission_decisions_total as result/reason → value.
func (a *admissionServer) decisions(t testing.TB) map[string]float64 {
	t.Helper()
	mfs, err := a.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != mAdmissionDecisions {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			out[l["result"]+"/"+l["reason"]] = m.GetCounter().GetValue()
		}
	}
	return out
}

// histogramCount is the number of observations of a histogram family.
func histogramCount(t testing.TB, reg interface {
	Gather() ([]*dto.MetricFamily, error)
}, name string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("no histogram %s", name)
	return 0
}

func TestAdmissionUnknownAllowWarns(t *testing.T) {
	a := startAdmission(t, Admission{Level: "restricted", FailOn: "critical"}, false)
	resp := a.admit(t, a.pki.client(), review("w1", "CREATE", "Pod", "shop", "new", false, restrictedPod("new", "registry.example.com/shop/other:3")))
	if !resp.Allowed || len(resp.Warnings) != 1 || !regexp.MustCompile(`^image registry.example.com/shop/other:3: no scan yet; scan [0-9a-f]{32} queued$`).MatchString(resp.Warnings[0]) {
		t.Errorf("response = %+v, want allowed with one 'no scan yet; scan … queued' warning", resp)
	}
	// Level restricted: the restricted controls deny.
	resp = a.admit(t, a.pki.client(), review("w2", "CREATE", "Pod", "shop", "web", false, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},"containers":[{"name":"app","image":"`+cleanImage+`","securityContext":{"capabilities":{"drop":["ALL"]}}}]}}`))
	want := `lockdown denied Pod shop/web: PSS restricted: Privilege Escalation (container "app" must set securityContext.allowPrivilegeEscalation=false)`
	if resp.Allowed || resp.Result == nil || resp.Result.Message != want {
		t.Errorf("response = %+v, want denied: %s", resp, want)
	}
}

// TestAdmissionImageTargetRules: an image a pod names is scanned under
// the same target rules as POST /v1/scans (CheckTarget, no local targets
// whatever --allow-local-targets says): images on loopback, link-local and
// private registries (server-side request forgery) and refs that read the
// server's filesystem queue no scan and say why.
func TestAdmissionImageTargetRules(t *testing.T) {
	a := startAdmission(t, Admission{Level: "restricted", FailOn: "critical"}, false)
	c := a.pki.client()
	before, err := a.st.Jobs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, image := range []string{
		"localhost:5000/shop/app:1",
		"127.0.0.1:5000/shop/app:1",
		"169.254.169.254/latest/meta-data:1",
		"10.1.2.3:5000/shop/app:1",
		"[::1]:5000/shop/app:1",
		"dir:/etc",
		"docker-archive:/tmp/x.tar",
	} {
		resp := a.admit(t, c, review(fmt.Sprintf("ssrf%d", i), "CREATE", "Pod", "shop", "p", false, restrictedPod("p", image)))
		want := []string{"image " + image + ": no scan yet and its registry is not allowed (--allow-registry): no scan queued"}
		if !resp.Allowed || !slices.Equal(resp.Warnings, want) {
			t.Errorf("pod with image %s: allowed %t, warnings %q; want allowed with %q", image, resp.Allowed, resp.Warnings, want)
		}
	}
	after, err := a.st.Jobs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		var targets []string
		for _, j := range after[len(before):] {
			targets = append(targets, j.Target)
		}
		t.Errorf("%d jobs queued (%q), want none", len(after)-len(before), targets)
	}
}

func TestAdmissionBadInput(t *testing.T) {
	a := startAdmission(t, Admission{}, false)
	c := a.pki.client()
	huge := make([]byte, DefaultAdmissionMaxBody+1)
	for i := range huge {
		huge[i] = ' '
	}
	tests := []struct {
		name string
		body []byte
		code int
		msg  string
	}{
		{"not JSON", []byte("{nope"), 400, `malformed AdmissionReview: invalid character 'n' looking for beginning of object key string`},
		{"wrong kind", []byte(`{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}`), 400,
			`malformed AdmissionReview: apiVersion "admission.k8s.io/v1beta1", kind "AdmissionReview": want admission.k8s.io/v1 AdmissionReview`},
		{"no request", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), 400, "malformed AdmissionReview: no request"},
		{"no uid", review("", "CREATE", "Pod", "shop", "p", false, restrictedPod("p", cleanImage)), 400, "malformed AdmissionReview: request.uid is empty"},
		{"object of the wrong shape", review("b1", "CREATE", "Pod", "shop", "p", false, `{"apiVersion":"v1","kind":"Pod","spec":{"containers":"app"}}`), 400,
			"malformed AdmissionReview: request.object: decode Pod: json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type []v1.Container"},
		{"create without object", review("b2", "CREATE", "Pod", "shop", "p", false, ""), 400, "malformed AdmissionReview: request.object is empty for CREATE"},
		{"oversize", huge, 413, fmt.Sprintf("AdmissionReview is over the limit of %d bytes", DefaultAdmissionMaxBody)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := a.do(t, c, "POST", "/v1/admission", "", tc.body)
			var e apiError
			json.Unmarshal(body, &e)
			if code != tc.code || e.Error != tc.msg {
				t.Errorf("POST = %d %q, want %d %q", code, e.Error, tc.code, tc.msg)
			}
		})
	}
	// Counted as errors by reason; the plain HTTP request below never
	// reaches the handler.
	got := a.decisions(t)
	if got["error/malformed"] != 6 || got["error/oversize"] != 1 {
		t.Errorf("%s = %v, want error/malformed 6, error/oversize 1", mAdmissionDecisions, got)
	}
	// Plain HTTP to the TLS port is refused.
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Post(strings.Replace(a.URL, "https://", "http://", 1)+"/v1/admission", "application/json", bytes.NewReader(review("p", "CREATE", "Pod", "shop", "p", false, restrictedPod("p", cleanImage))))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP = %d, want 400 (client sent an HTTP request to an HTTPS server)", resp.StatusCode)
		}
	}
}

func TestAdmissionClientCert(t *testing.T) {
	a := startAdmission(t, Admission{}, true)
	body := review("c1", "CREATE", "Pod", "shop", "web", false, restrictedPod("web", cleanImage))
	if code, out := a.do(t, a.pki.client(), "POST", "/v1/admission", "", body); code != http.StatusUnauthorized {
		t.Errorf("without a client certificate = %d %s, want 401", code, out)
	}
	if resp := a.admit(t, a.pki.client(a.pki.clientCert), body); !resp.Allowed {
		t.Errorf("with the API server's certificate: %+v, want allowed", resp)
	}
	// A certificate of another CA is not sent (the server names the CAs
	// it accepts) or fails the handshake: never admitted.
	unauthorized := 1.0
	req, _ := http.NewRequest("POST", a.URL+"/v1/admission", bytes.NewReader(body))
	if resp, err := a.pki.client(a.pki.otherClient).Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("a client certificate of another CA = %d, want 401 or a TLS error", resp.StatusCode)
		}
		unauthorized++
	}
	if got := a.decisions(t); got["error/unauthorized"] != unauthorized || got["allowed/none"] != 1 {
		t.Errorf("%s = %v, want error/unauthorized %v, allowed/none 1", mAdmissionDecisions, got, unauthorized)
	}
}

// TestAdmissionConcurrent sends 200 reviews at once (known images, every
// decision checked) and reports the latency percentiles; no assertion on
// time.
func TestAdmissionConcurrent(t *testing.T) {
	a := startAdmission(t, Admission{FailOn: "low"}, false)
	c := a.pki.client()
	const n = 200
	// Round 1 opens 200 TLS connections at once (handshakes included); the
	// next rounds reuse them, as the API server's client does.
	for _, round := range []string{"new connections", "kept-alive connections", "kept-alive connections, again"} {
		concurrentRound(t, a, c, n, round)
	}
	steadyRound(t, a, c, 4, 1000)
}

// steadyRound sends total reviews over conns kept-alive connections, each
// sending its next review when the last is answered (how an API server's
// webhook client sends them under steady load), and logs the latency
// percentiles of a decision.
func steadyRound(t *testing.T, a *admissionServer, c *http.Client, conns, total int) {
	lat := make([]time.Duration, total)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				var bad string
				if lat[i], bad = postReview(context.Background(), a, c, "s", i); bad != "" {
					t.Error(bad)
					return
				}
			}
		})
	}
	wall0 := time.Now()
	wg.Wait()
	wall := time.Since(wall0)
	slices.Sort(lat)
	t.Logf("%d admission reviews over %d kept-alive TLS connections, one at a time on each: p50 %v, p99 %v, max %v; %.0f reviews/s",
		total, conns, lat[total/2], lat[total*99/100-1], lat[total-1], float64(total)/wall.Seconds())
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime(t testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// postReview sends review i (a clean image when i is even, a vulnerable
// one when odd) and checks the answer; it returns the latency, or a reason
// the answer is wrong.
func postReview(ctx context.Context, a *admissionServer, c *http.Client, uidPrefix string, i int) (time.Duration, string) {
	img, wantAllowed := cleanImage, true
	if i%2 == 1 {
		img, wantAllowed = vulnImage, false
	}
	uid := fmt.Sprint(uidPrefix, i)
	body := review(uid, "CREATE", "Pod", "shop", fmt.Sprint("p", i), false, restrictedPod(fmt.Sprint("p", i), img))
	t0 := time.Now()
	req, _ := http.NewRequestWithContext(ctx, "POST", a.URL+"/v1/admission", bytes.NewReader(body))
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	var rv admissionv1.AdmissionReview
	err = json.NewDecoder(resp.Body).Decode(&rv)
	resp.Body.Close()
	lat := time.Since(t0)
	switch {
	case err != nil || resp.StatusCode != 200 || rv.Response == nil:
		return lat, fmt.Sprintf("review %d: %d %v", i, resp.StatusCode, err)
	case rv.Response.Allowed != wantAllowed || string(rv.Response.UID) != uid:
		return lat, fmt.Sprintf("review %d: allowed=%v uid=%s, want %v %s", i, rv.Response.Allowed, rv.Response.UID, wantAllowed, uid)
	}
	return lat, ""
}

func concurrentRound(t *testing.T, a *admissionServer, c *http.Client, n int, round string) {
	var wg sync.WaitGroup
	lat := make([]time.Duration, n)
	errs := make(chan string, n)
	start := make(chan struct{})
	var reused atomic.Int64
	trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
		if ci.Reused {
			reused.Add(1)
		}
	}}
	for i := range n {
		wg.Go(func() {
			ctx := httptrace.WithClientTrace(context.Background(), trace)
			<-start
			var bad string
			if lat[i], bad = postReview(ctx, a, c, "c", i); bad != "" {
				errs <- bad
			}
		})
	}
	cpu0, wall0 := cpuTime(t), time.Now()
	close(start)
	wg.Wait()
	cpu, wall := cpuTime(t)-cpu0, time.Since(wall0)
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	slices.Sort(lat)
	// CPU per review counts both ends (the client is in this process): on
	// an idle machine the last of n reviews waits about n × that / cores.
	t.Logf("%d concurrent admission reviews over TLS (%s, %d reused): p50 %v, p90 %v, p99 %v, max %v; all done in %v using %v CPU (%v a review, client and server)",
		n, round, reused.Load(), lat[n/2], lat[n*9/10], lat[n*99/100-1], lat[n-1], wall.Round(time.Millisecond), cpu.Round(time.Millisecond), (cpu / time.Duration(n)).Round(time.Microsecond))
}

// BenchmarkAdmissionDecision: one review of a Deployment whose image has a
// stored scan, through the handler (decode, PSS checks, store lookup,
// response), without the network.
func BenchmarkAdmissionDecision(b *testing.B) {
	a := startAdmission(b, Admission{FailOn: "high", Level: "baseline"}, false)
	body := review("bench", "CREATE", "Deployment", "shop", "api", false, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api","namespace":"shop"},"spec":{"selector":{"matchLabels":{"app":"api"}},"template":{"metadata":{"labels":{"app":"api"}},"spec":{"containers":[{"name":"api","image":"`+vulnImage+`"},{"name":"web","image":"`+cleanImage+`"}]}}}}`)
	h := a.Handler()
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/admission", bytes.NewReader(body)))
		if rec.Code != 200 {
			b.Fatalf("code %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkAdmissionOverTLS: one review at a time over a kept-alive TLS
// connection, as the API server sends them (HTTP/1.1, connections reused):
// the handler plus TLS records, HTTP parsing and both ends' JSON.
func BenchmarkAdmissionOverTLS(b *testing.B) {
	a := startAdmission(b, Admission{FailOn: "high", Level: "baseline"}, false)
	body := review("bench", "CREATE", "Deployment", "shop", "api", false, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api","namespace":"shop"},"spec":{"selector":{"matchLabels":{"app":"api"}},"template":{"metadata":{"labels":{"app":"api"}},"spec":{"containers":[{"name":"api","image":"`+vulnImage+`"},{"name":"web","image":"`+cleanImage+`"}]}}}}`)
	c := a.pki.client()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Post(a.URL+"/v1/admission", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		out, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || !bytes.Contains(out, []byte(`"allowed":false`)) {
			b.Fatalf("POST /v1/admission = %d %s, %v; want 200 and a denial", resp.StatusCode, out, err)
		}
	}
}
