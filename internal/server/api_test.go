package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/server/store"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

var dialects = []string{store.SQLite, store.Postgres}

// TestAPI is the API suite, run against SQLite and a real PostgreSQL: a
// scan through the queue gives the exact known findings; bad requests get
// the right status and a message; 200 concurrent status requests while
// jobs run all succeed.
func TestAPI(t *testing.T) {
	for _, dialect := range dialects {
		t.Run(dialect, func(t *testing.T) {
			st := openStore(t, dialect)
			ts := startServer(t, Config{
				Store: st, AdvisoryDB: mixedDB(t), AllowLocalTargets: true,
				AllowRegistries: []string{"registry.example.com"}, MaxBodyBytes: 1024, Workers: 2,
				JobDelay: 50 * time.Millisecond, // jobs are still running while the load test reads them
			})
			root := alpine316Dir(t)
			t.Run("scan", func(t *testing.T) { testScanJob(t, ts, root) })
			t.Run("not checked", func(t *testing.T) { testNotChecked(t, ts) })
			t.Run("bad requests", func(t *testing.T) { testBadRequests(t, ts) })
			t.Run("load", func(t *testing.T) { testLoad(t, ts, root) })
		})
	}
}

func testScanJob(t *testing.T, ts *testServer, root string) {
	id := ts.enqueue(t, "dir:"+root)
	j := ts.wait(t, "/v1/scans/"+id)
	if j.State != store.StateDone || j.Attempts != 1 {
		t.Fatalf("job = %s attempts %d err %q, want done after 1 attempt", j.State, j.Attempts, j.Error)
	}
	var r model.Report
	if err := json.Unmarshal(j.Report, &r); err != nil {
		t.Fatalf("job report: %v", err)
	}
	want := []string{"musl CVE-2025-26519", "musl-utils CVE-2025-26519"}
	if diff := cmp.Diff(want, findingIDs(r)); diff != "" {
		t.Errorf("scan findings (-want +got):\n%s", diff)
	}
	code, body := ts.call(t, "GET", "/v1/images", "")
	var list struct{ Images []store.ImageResult }
	if code != 200 || json.Unmarshal(body, &list) != nil || len(list.Images) != 1 {
		t.Fatalf("GET /v1/images = %d %s, want one image", code, body)
	}
	im := list.Images[0]
	if im.Digest != j.Digest || im.Image != "dir:"+root || im.JobID != id {
		t.Errorf("image = %+v, want digest %s image dir:%s job %s", im, j.Digest, root, id)
	}
	wantCounts := map[string]int{"critical": 0, "high": 0, "medium": 0, "low": 0, "unknown": 0}
	for _, f := range r.Findings {
		wantCounts[severityLabel(f.Severity)]++
	}
	if diff := cmp.Diff(wantCounts, im.Counts); diff != "" {
		t.Errorf("image counts (-want +got):\n%s", diff)
	}
	if want := (store.PackageCounts{Total: 14, Checked: 14}); im.Packages != want {
		t.Errorf("image packages = %+v, want %+v", im.Packages, want)
	}
	code, body = ts.call(t, "GET", "/v1/images/"+j.Digest, "")
	var one ImageResponse
	if code != 200 || json.Unmarshal(body, &one) != nil {
		t.Fatalf("GET /v1/images/%s = %d %s", j.Digest, code, body)
	}
	var r2 model.Report
	json.Unmarshal(one.Report, &r2)
	if diff := cmp.Diff(want, findingIDs(r2)); diff != "" {
		t.Errorf("GET /v1/images/{digest} findings (-want +got):\n%s", diff)
	}
}

func testBadRequests(t *testing.T, ts *testServer) {
	big := `{"target":"` + strings.Repeat("a", 2000) + `"}`
	cases := []struct {
		name, method, path, body, token string
		code                            int
		msg                             string // in the error message
	}{
		{"no token", "POST", "/v1/scans", `{"target":"docker:x"}`, "", 401, "missing bearer token"},
		{"wrong token", "POST", "/v1/scans", `{"target":"docker:x"}`, "nope", 401, "invalid bearer token"},
		{"wrong token on a read", "GET", "/v1/images", "", "nope", 401, "invalid bearer token"},
		{"no token on metrics", "GET", "/metrics", "", "", 401, "missing bearer token"},
		{"body over the limit", "POST", "/v1/scans", big, testToken, 413, "over the limit of 1024 bytes"},
		{"malformed JSON", "POST", "/v1/scans", `{"target":`, testToken, 400, "malformed JSON body"},
		{"unknown field", "POST", "/v1/scans", `{"target":"docker:x","tagret":1}`, testToken, 400, `unknown field "tagret"`},
		{"wrong type", "POST", "/v1/scans", `{"target":42}`, testToken, 400, "malformed JSON body"},
		{"no target", "POST", "/v1/scans", `{}`, testToken, 400, "target is required"},
		{"registry outside the allowlist", "POST", "/v1/scans", `{"target":"registry:10.0.0.1:5000/app:1"}`, testToken, 403, "not in the allowlist"},
		{"bare ref outside the allowlist", "POST", "/v1/scans", `{"target":"alpine:3.20"}`, testToken, 403, "registry index.docker.io is not in the allowlist"},
		{"not a reference", "POST", "/v1/scans", `{"target":"registry:UPPER/Case::x"}`, testToken, 400, "not an image reference"},
		{"unknown job", "GET", "/v1/scans/0123456789abcdef0123456789abcdef", "", testToken, 404, "not found"},
		{"malformed job id", "GET", "/v1/scans/..%2f", "", testToken, 404, "not found"},
		{"no audit yet", "GET", "/v1/audits/latest", "", testToken, 404, "no audit yet"},
		{"unknown image", "GET", "/v1/images/sha256:00", "", testToken, 404, "not found"},
		{"audit body malformed", "POST", "/v1/audits", `[`, testToken, 400, "malformed JSON body"},
		{"no such endpoint", "GET", "/v2/x", "", testToken, 404, "no such endpoint"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := ts.callToken(t, c.method, c.path, c.body, c.token)
			var e apiError
			json.Unmarshal(body, &e)
			if code != c.code || !strings.Contains(e.Error, c.msg) {
				t.Errorf("%s %s = %d %s, want %d with %q", c.method, c.path, code, body, c.code, c.msg)
			}
		})
	}
	// An allowed registry passes the check (and the job then fails: no
	// such registry); the registry is never contacted by the API call.
	if err := CheckTarget("registry.example.com/app:1", []string{"registry.example.com"}, false); err != nil {
		t.Errorf("CheckTarget(allowed registry) = %v", err)
	}
}

// TestCheckTarget: the allowlist and local-target rules alone.
func TestCheckTarget(t *testing.T) {
	cases := []struct {
		target     string
		allow      []string
		local      bool
		wantStatus int // 0: allowed
	}{
		{"dir:/", nil, false, 403},
		{"docker-archive:/etc/shadow", nil, false, 403},
		{"oci-dir:/x", nil, false, 403},
		{"oci:/x", nil, false, 403},
		{"oci-archive:/x", nil, false, 403},
		{"dir:/", nil, true, 0},
		{"docker:alpine", []string{"r.example"}, false, 0},
		{"registry:r.example/app:1", []string{"r.example"}, false, 0},
		{"registry:R.EXAMPLE/app:1", []string{"r.example"}, false, 0},
		{"registry:127.0.0.1:5000/app:1", []string{"127.0.0.1:5000"}, false, 0},
		{"registry:127.0.0.1:5001/app:1", []string{"127.0.0.1:5000"}, false, 403},
		{"registry:169.254.169.254/x", []string{"r.example"}, false, 403},
		{"alpine", []string{"docker.io"}, false, 0},
		{"alpine", []string{"r.example"}, false, 403},
		{"r.example/app", nil, false, 0},
		{"registry:", nil, false, 400},
		// Server-side request forgery: non-public registry hosts are
		// refused unless the allowlist names them.
		{"registry:127.0.0.1:5000/app:1", nil, false, 403},
		{"127.0.0.1:5000/app:1", nil, false, 403},
		{"registry:[::1]:5000/app", nil, false, 403},
		{"registry:localhost:5000/app", nil, false, 403},
		{"localhost:5000/app", nil, false, 403},
		{"registry:registry.localhost/app", nil, false, 403},
		{"registry:10.1.2.3/app", nil, false, 403},
		{"registry:172.16.0.1/app", nil, false, 403},
		{"registry:192.168.1.1:443/app", nil, false, 403},
		{"registry:169.254.169.254/latest", nil, false, 403},
		{"registry:[fe80::1]/app", nil, false, 403},
		{"registry:[fd00::1]/app", nil, false, 403},
		{"registry:100.64.0.1/app", nil, false, 403},
		{"registry:0.0.0.0/app", nil, false, 403},
		{"registry:localhost:5000/app", []string{"localhost:5000"}, false, 0},
		{"registry:10.1.2.3/app", []string{"10.1.2.3"}, false, 0},
		{"registry:8.8.8.8/app", nil, false, 0},
		{"registry:r.example/app", nil, false, 0},
		// Not references: refused before any lookup.
		{"UPPER/Case", nil, false, 400},
		{"a b", nil, false, 400},
	}
	for _, c := range cases {
		err := CheckTarget(c.target, c.allow, c.local)
		got := 0
		if he, ok := err.(*httpError); ok {
			got = he.code
		} else if err != nil {
			got = -1
		}
		if got != c.wantStatus {
			t.Errorf("CheckTarget(%q, %v, %v) = %v (status %d), want status %d", c.target, c.allow, c.local, err, got, c.wantStatus)
		}
	}
}

func testLoad(t *testing.T, ts *testServer, root string) {
	var ids []string
	for range 10 {
		ids = append(ids, ts.enqueue(t, "dir:"+root))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	for i := range 200 {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", ts.URL+"/v1/scans/"+ids[i%len(ids)], nil)
			req.Header.Set("Authorization", "Bearer "+testToken)
			resp, err := testClient.Do(req)
			if err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
				return
			}
			var j JobResponse
			derr := json.NewDecoder(resp.Body).Decode(&j)
			resp.Body.Close()
			if resp.StatusCode != 200 || derr != nil || j.ID != ids[i%len(ids)] {
				mu.Lock()
				errs = append(errs, resp.Status)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) != 0 {
		t.Errorf("200 concurrent GET /v1/scans/{id}: %d errors, want 0: %v", len(errs), errs[:min(5, len(errs))])
	}
	for _, id := range ids {
		if j := ts.wait(t, "/v1/scans/"+id); j.State != store.StateDone {
			t.Errorf("job %s = %s (%s), want done", id, j.State, j.Error)
		}
	}
}

// testNotChecked: an image whose release the database has no advisories
// for (Alpine 3.15) and whose rpm database is corrupt has no findings, and
// the API and /metrics say why that is not clean: 14 packages unchecked,
// one package file unreadable.
func testNotChecked(t *testing.T, ts *testServer) {
	root := alpine316Dir(t)
	os.WriteFile(filepath.Join(root, "etc", "os-release"), []byte("ID=alpine\nVERSION_ID=3.15.4\n"), 0o644)
	rpmdb, err := os.ReadFile(testutil.Data(t, "pkgdb/rpm/cbl-mariner-2.0.rpmdb.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "var", "lib", "rpm"), 0o755)
	os.WriteFile(filepath.Join(root, "var", "lib", "rpm", "rpmdb.sqlite"), rpmdb[:100], 0o644)
	j := ts.wait(t, "/v1/scans/"+ts.enqueue(t, "dir:"+root))
	if j.State != store.StateDone {
		t.Fatalf("job = %s %q, want done", j.State, j.Error)
	}
	code, body := ts.call(t, "GET", "/v1/images/"+j.Digest, "")
	var one ImageResponse
	if code != 200 || json.Unmarshal(body, &one) != nil {
		t.Fatalf("GET /v1/images/%s = %d %s", j.Digest, code, body)
	}
	if want := (store.PackageCounts{Total: 14, Checked: 0, Unchecked: 14, UnreadableFiles: 1}); one.Packages != want {
		t.Errorf("image packages = %+v, want %+v", one.Packages, want)
	}
	var r model.Report
	json.Unmarshal(one.Report, &r)
	if len(r.Findings) != 0 || len(r.NotChecked) != 2 || r.NotChecked[0].Path != "/var/lib/rpm/rpmdb.sqlite" || r.NotChecked[1].Ecosystem != "Alpine:v3.15" {
		t.Errorf("report: %d findings, not checked %+v; want none and the rpm database then Alpine:v3.15", len(r.Findings), r.NotChecked)
	}
	out, _ := gatherText(t, ts)
	labels := fmt.Sprintf(`{digest="%s",image="dir:%s"}`, j.Digest, root)
	for _, line := range []string{
		"\n" + mImagePackages + labels + " 14\n",
		"\n" + mImageUnchecked + labels + " 14\n",
		"\n" + mImageUnreadable + labels + " 1\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("/metrics lacks %q", strings.TrimSpace(line))
		}
	}
}
