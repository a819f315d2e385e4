package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/audit"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/server/store"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// versionChecks are the audit checks that need the Go advisories.
var versionChecks = []string{"LD-DKR-101", "LD-DKR-102", "LD-DKR-103", "LD-DKR-104"}

func versionResults(r *model.Report) map[string]string {
	out := map[string]string{}
	for _, f := range r.Findings {
		for _, id := range versionChecks {
			if f.RuleID == id {
				out[id] = f.Status + " " + f.Evidence
			}
		}
	}
	return out
}

// TestAuditUsesAdvisoryDB: an audit through the API checks the real
// engine's, containerd's and runc's versions against the server's
// advisory DB (built from the real Go advisories), exactly as
// `lockdown audit docker --osv-zip go.zip` does, instead of skipping them
// for want of a database.
func TestAuditUsesAdvisoryDB(t *testing.T) {
	testutil.RequireDocker(t)
	dbPath := advisoryDBFile(t, "osv/go.zip")

	eng, err := audit.NewEngine("")
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	adv, err := audit.AdvisoriesFromOSVZip(testutil.Data(t, "osv/go.zip"), audit.ModDocker, audit.ModMoby, audit.ModRunc, audit.ModContainerd)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := audit.Run(context.Background(), audit.Config{Engine: eng, Advisories: adv, Include: versionChecks})
	if err != nil {
		t.Fatal(err)
	}
	want := versionResults(direct)
	if len(want) != len(versionChecks) {
		t.Fatalf("direct audit: version results %v, want one per check of %v", want, versionChecks)
	}
	for id, r := range want {
		if r[:4] == model.StatusSkip {
			t.Fatalf("direct audit with go.zip: %s = %s, want a verdict", id, r)
		}
	}

	ts := startServer(t, Config{Store: openStore(t, store.SQLite), AdvisoryDB: dbPath})
	code, body := ts.call(t, "POST", "/v1/audits", "")
	if code != http.StatusAccepted {
		t.Fatalf("POST /v1/audits = %d %s, want 202", code, body)
	}
	var j JobResponse
	if err := json.Unmarshal(body, &j); err != nil {
		t.Fatal(err)
	}
	if j = ts.wait(t, "/v1/audits/"+j.ID); j.State != store.StateDone {
		t.Fatalf("audit job %s: %s", j.State, j.Error)
	}
	code, body = ts.call(t, "GET", "/v1/audits/latest", "")
	var got model.Report
	if code != http.StatusOK || json.Unmarshal(body, &got) != nil {
		t.Fatalf("GET /v1/audits/latest = %d %.200s", code, body)
	}
	if diff := cmp.Diff(want, versionResults(&got)); diff != "" {
		t.Errorf("engine version checks through the API (-direct audit with go.zip +server):\n%s", diff)
	}
}

// failingEngine is a proxy on 127.0.0.1 to the real Docker engine's unix
// socket that answers GET /containers/json with a 500, as an engine that
// fails part-way through an audit does.
func failingEngine(t *testing.T) string {
	t.Helper()
	sock := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); strings.HasPrefix(h, "unix://") {
		sock = strings.TrimPrefix(h, "unix://")
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "http", "docker"
		},
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/containers/json") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"message":"injected failure"}`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return "tcp://" + strings.TrimPrefix(srv.URL, "http://")
}

// TestPartialAuditNotLatest: when the engine fails part-way (daemon checks
// ran, the container list failed), the audit job fails with the error and
// its partial report, and the partial audit does not become the latest one
// (its missing container results would read as fixed); watch mode does not
// store it either.
func TestPartialAuditNotLatest(t *testing.T) {
	testutil.RequireDocker(t)
	host := failingEngine(t)
	st := openStore(t, store.SQLite)
	ts := startServer(t, Config{Store: st, AdvisoryDB: mixedDB(t), DockerHost: host})

	code, body := ts.call(t, "POST", "/v1/audits", "")
	if code != http.StatusAccepted {
		t.Fatalf("POST /v1/audits = %d %s, want 202", code, body)
	}
	var j JobResponse
	if err := json.Unmarshal(body, &j); err != nil {
		t.Fatal(err)
	}
	j = ts.wait(t, "/v1/audits/"+j.ID)
	if j.State != store.StateFailed || !strings.Contains(j.Error, "audit incomplete") || !strings.Contains(j.Error, "injected failure") {
		t.Errorf("audit job with a failing engine = %s %q, want failed with \"audit incomplete: … injected failure\"", j.State, j.Error)
	}
	var partial model.Report
	if err := json.Unmarshal(j.Report, &partial); err != nil || len(partial.Findings) == 0 {
		t.Errorf("failed audit job report = %d findings (%v), want the partial results", len(partial.Findings), err)
	}
	if code, body := ts.call(t, "GET", "/v1/audits/latest", ""); code != http.StatusNotFound {
		t.Errorf("GET /v1/audits/latest after a partial audit = %d %.120s, want 404", code, body)
	}

	if err := ts.watchOnce(context.Background(), map[string]*watched{}); err == nil {
		t.Errorf("watchOnce with a failing container list = nil error, want one")
	}
	if _, _, err := st.LatestAudit(context.Background()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LatestAudit after a partial watch audit: err = %v, want ErrNotFound", err)
	}
}

// TestTinyLease: a lease under 3ns made the heartbeat ticker's interval
// zero, and time.NewTicker panicked in the job's goroutine, killing the
// server; the job now runs to completion.
func TestTinyLease(t *testing.T) {
	ts := startServer(t, Config{Store: openStore(t, store.SQLite), AdvisoryDB: mixedDB(t), AllowLocalTargets: true, Lease: 2 * time.Nanosecond})
	id := ts.enqueue(t, "dir:"+alpine316Dir(t))
	if j := ts.wait(t, "/v1/scans/"+id); j.State != store.StateDone {
		t.Errorf("scan with a 2ns lease = %s %q, want done", j.State, j.Error)
	}
}
