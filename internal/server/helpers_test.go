package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/server/store"
	"github.com/lockdown-sec/lockdown/internal/testutil"
	"github.com/lockdown-sec/lockdown/internal/vulndb"
)

const testToken = "test-token-0123456789"

var (
	dbMu    sync.Mutex
	dbCache = map[string]string{}
)

// advisoryDBFile builds an advisory DB from files of ../shared/data, cached
// for the machine (testutil.CacheDir) under a name keyed on the sources and
// the data's SHA256SUMS; written to a temporary name and renamed into
// place, so concurrent test processes never see a partial file. Copy it
// when a test must replace it.
func advisoryDBFile(t testing.TB, rels ...string) string {
	t.Helper()
	key := strings.Join(rels, "\x00")
	dbMu.Lock()
	defer dbMu.Unlock()
	if p, ok := dbCache[key]; ok {
		return p
	}
	sums, err := os.ReadFile(filepath.Join(testutil.DataDir(t), "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(append(sums, key...))
	code := testutil.SourceHash(t, "internal/osv", "internal/ecosystem", "internal/vulndb", "internal/vulndb/distro")
	p := filepath.Join(testutil.CacheDir(t, "server-db"), hex.EncodeToString(h[:8])+"-"+code+".db")
	if _, err := os.Stat(p); err == nil {
		dbCache[key] = p
		return p
	}
	var srcs []vulndb.Source
	for _, r := range rels {
		d, err := vulndb.DetectSources(testutil.Data(t, r))
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, d...)
	}
	tmp := fmt.Sprintf("%s.%d.tmp", p, os.Getpid())
	if _, err := vulndb.Update(context.Background(), tmp, srcs, vulndb.UpdateOptions{}); err != nil {
		t.Fatalf("build advisory db from %v: %v", rels, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	os.Remove(tmp + ".lock") // vulndb.Update's lock file
	dbCache[key] = p
	return p
}

// mixedDB is the DB of osv/mixed-samples.zip (ALPINE-CVE-2025-26519).
func mixedDB(t testing.TB) string { return advisoryDBFile(t, "osv/mixed-samples.zip") }

// alpine316Dir is a dir: root filesystem with the real Alpine 3.16 apk
// database of ../shared/data and an Alpine 3.16.2 os-release: against
// mixedDB it has exactly two findings, CVE-2025-26519 in musl and
// musl-utils (fixed in 1.2.3-r4).
func alpine316Dir(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.MkdirAll(filepath.Join(root, "lib", "apk", "db"), 0o755)
	os.WriteFile(filepath.Join(root, "etc", "os-release"), []byte("NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.16.2\nPRETTY_NAME=\"Alpine Linux v3.16\"\n"), 0o644)
	b, err := os.ReadFile(testutil.Data(t, "pkgdb/apk/alpine-3.16-syft-multiple-2.installed"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "lib", "apk", "db", "installed"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// openStore opens a fresh store of the dialect.
func openStore(t testing.TB, dialect string) *store.Store {
	t.Helper()
	var u string
	switch dialect {
	case store.SQLite:
		u = "sqlite://" + filepath.Join(t.TempDir(), "server.db")
	case store.Postgres:
		u = testutil.PostgresURL(t)
	}
	st, err := store.Open(context.Background(), u, store.Options{})
	if err != nil {
		t.Fatalf("open store %s: %v", u, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

type testServer struct {
	*Server
	URL string
}

// startServer runs a Server on 127.0.0.1 until the test ends.
func startServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = testToken
	}
	if cfg.Poll == 0 {
		cfg.Poll = 50 * time.Millisecond
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, l, 10*time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		s.Close()
	})
	return &testServer{Server: s, URL: "http://" + l.Addr().String()}
}

var testClient = &http.Client{Timeout: 60 * time.Second}

// call sends a request with the test token (unless token is "-") and
// returns the status and body.
func (ts *testServer) call(t testing.TB, method, path, body string) (int, []byte) {
	t.Helper()
	return ts.callToken(t, method, path, body, testToken)
}

func (ts *testServer) callToken(t testing.TB, method, path, body, token string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequest(method, ts.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// enqueue posts a scan and returns the job ID.
func (ts *testServer) enqueue(t testing.TB, target string) string {
	t.Helper()
	b, _ := json.Marshal(ScanRequest{Target: target})
	code, body := ts.call(t, "POST", "/v1/scans", string(b))
	if code != http.StatusAccepted {
		t.Fatalf("POST /v1/scans %s = %d %s, want 202", target, code, body)
	}
	var j JobResponse
	if err := json.Unmarshal(body, &j); err != nil {
		t.Fatal(err)
	}
	return j.ID
}

// wait polls a job until it is done or failed.
func (ts *testServer) wait(t testing.TB, path string) JobResponse {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		code, body := ts.call(t, "GET", path, "")
		if code != http.StatusOK {
			t.Fatalf("GET %s = %d %s", path, code, body)
		}
		var j JobResponse
		if err := json.Unmarshal(body, &j); err != nil {
			t.Fatal(err)
		}
		if j.State == store.StateDone || j.State == store.StateFailed {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: still %s after 3m", path, j.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// findingIDs lists "package ruleID" of a report's findings.
func findingIDs(r model.Report) []string {
	var out []string
	for _, f := range r.Findings {
		name := ""
		if f.Package != nil {
			name = f.Package.Name
		}
		out = append(out, name+" "+f.RuleID)
	}
	return out
}
