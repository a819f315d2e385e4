package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/image"
	"github.com/lockdown-sec/lockdown/internal/server/store"
)

// TestAuthScheme: the Authorization scheme is case-insensitive (RFC 9110
// §11.1); anything but Bearer with the right token is 401.
func TestAuthScheme(t *testing.T) {
	ts := startServer(t, Config{Store: openStore(t, store.SQLite), AdvisoryDB: mixedDB(t)})
	for _, c := range []struct {
		header string
		code   int
	}{
		{"Bearer " + testToken, 200},
		{"bearer " + testToken, 200},
		{"BEARER " + testToken, 200},
		{"bEaReR  " + testToken + " ", 200},
		{"Basic " + testToken, 401},
		{"Bearer" + testToken, 401},
		{"Bearer", 401},
		{"Bearer wrong-token-0123456789", 401},
		{"", 401},
	} {
		req, _ := http.NewRequest("GET", ts.URL+"/v1/images", nil)
		if c.header != "" {
			req.Header.Set("Authorization", c.header)
		}
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("Authorization %q = %d, want %d", c.header, resp.StatusCode, c.code)
		}
	}
}

// TestCheckToken: tokens shorter than 16 bytes are refused unless the
// operator insists; none at all (no auth) is the caller's decision.
func TestCheckToken(t *testing.T) {
	for _, c := range []struct {
		token    string
		insecure bool
		ok       bool
	}{
		{"0123456789abcdef", false, true},
		{"0123456789abcde", false, false},
		{"t0ken", false, false},
		{"t0ken", true, true},
		{"", false, true},
	} {
		err := CheckToken(c.token, c.insecure)
		if (err == nil) != c.ok {
			t.Errorf("CheckToken(%q, %v) = %v, want ok %v", c.token, c.insecure, err, c.ok)
		}
	}
	if _, err := New(Config{Store: openStore(t, store.SQLite), AdvisoryDB: mixedDB(t), Token: "short"}); err == nil || !strings.Contains(err.Error(), "--insecure-short-token") {
		t.Errorf("New(5-byte token) = %v, want a refusal naming --insecure-short-token", err)
	}
}

// TestLocalTargetsRefusedAlike: without --allow-local-targets every form
// of a target that reads the server's filesystem gets the same response,
// byte for byte (status, headers, body), whether the path exists or not,
// and nothing is queued. A FIFO among them would block any request that
// opened it.
func TestLocalTargetsRefusedAlike(t *testing.T) {
	st := openStore(t, store.SQLite)
	ts := startServer(t, Config{Store: st, AdvisoryDB: mixedDB(t)})
	forms := localForms(t)
	first := postAlike(t, ts, "/v1/scans", "target", forms)
	if first.code != http.StatusForbidden || !bytes.Contains(first.body, []byte(localRefusal)) {
		t.Fatalf("POST %q = %d %s, want 403 with the local refusal", forms[0], first.code, first.body)
	}
	jobs, err := st.Jobs(context.Background())
	if err != nil || len(jobs) != 0 {
		t.Errorf("jobs queued after refusals = %d (%v), want 0", len(jobs), err)
	}
	t.Logf("%d forms, one response: %d %s", len(forms), first.code, bytes.TrimSpace(first.body))
}

// TestHardenLocalTargetsRefusedAlike: POST /v1/harden takes a container
// name or ID and nothing else: every local-looking form is the same 400,
// byte for byte, whether the path exists or not, before any Docker or
// filesystem access; nothing is queued.
func TestHardenLocalTargetsRefusedAlike(t *testing.T) {
	st := openStore(t, store.SQLite)
	ts := startServer(t, Config{Store: st, AdvisoryDB: mixedDB(t), AllowLocalTargets: true})
	forms := localForms(t)
	first := postAlike(t, ts, "/v1/harden", "container", forms)
	if first.code != http.StatusBadRequest || !bytes.Contains(first.body, []byte("container must be a container name or ID")) {
		t.Fatalf("POST /v1/harden %q = %d %s, want 400 naming the container syntax", forms[0], first.code, first.body)
	}
	jobs, err := st.Jobs(context.Background())
	if err != nil || len(jobs) != 0 {
		t.Errorf("jobs queued after refusals = %d (%v), want 0", len(jobs), err)
	}
}

// localForms lists the forms of a target that reads the server's
// filesystem: paths that exist (a directory, a file, a FIFO that would
// block whoever opened it) and do not, under every local kind and case.
func localForms(t *testing.T) []string {
	t.Helper()
	exists := t.TempDir()
	file := filepath.Join(exists, "image.tar")
	os.WriteFile(file, []byte("not an image"), 0o644)
	fifo := filepath.Join(exists, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(exists, "missing")
	var forms []string
	for _, p := range []string{exists, file, fifo, missing, "/", "/etc/shadow", "/proc/self/environ"} {
		forms = append(forms, p, "dir:"+p, "docker-archive:"+p, "oci-archive:"+p, "oci-dir:"+p, "oci:"+p, "oci-dir:"+p+":latest",
			"file://"+p, "FILE://"+p, "DIR:"+p, "Docker-Archive:"+p)
	}
	return append(forms, ".", "..", "./helpers_test.go", "./missing.go", "../server", "../missing", "testdata/../helpers_test.go",
		"~", "~/.ssh/id_rsa", "~root/.bashrc", `C:\Windows\win.ini`, "C:/Windows", `images\app.tar`, " /etc/passwd", "file:helpers_test.go")
}

type response struct {
	code   int
	header http.Header
	body   []byte
}

// postAlike POSTs {field: form} to path for every form and checks that
// all responses are the same bytes (status, headers but Date, body); it
// returns the first.
func postAlike(t *testing.T, ts *testServer, path, field string, forms []string) response {
	t.Helper()
	post := func(form string) response {
		b := fmt.Sprintf(`{%q:%q}`, field, form)
		req, _ := http.NewRequest("POST", ts.URL+path, strings.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatalf("POST %s %q: %v", path, form, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		h := resp.Header.Clone()
		h.Del("Date")
		return response{resp.StatusCode, h, body}
	}
	first := post(forms[0])
	for _, f := range forms[1:] {
		got := post(f)
		if got.code != first.code || !bytes.Equal(got.body, first.body) || fmt.Sprint(got.header) != fmt.Sprint(first.header) {
			t.Errorf("POST %s %q = %d %v %s\nwant the same as for %q: %d %v %s", path, f, got.code, got.header, got.body, forms[0], first.code, first.header, first.body)
		}
	}
	return first
}

// TestRemoteOnlyOpen: the service's scans open images with RemoteOnly, so
// even a target that got past the API (watch mode, an old queued job)
// neither reads a path nor says whether one exists.
func TestRemoteOnlyOpen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	for _, target := range []string{"dir:" + dir, "docker-archive:" + dir, "oci-archive:" + dir, "oci-dir:" + dir, "oci:" + dir} {
		_, err := image.Open(ctx, target, image.Options{RemoteOnly: true})
		if !errors.Is(err, image.ErrLocalTarget) {
			t.Errorf("Open(%q, RemoteOnly) = %v, want ErrLocalTarget", target, err)
		}
	}
	// A bare path: "not an image reference", with no word on what is there.
	_, errDir := image.Open(ctx, dir, image.Options{RemoteOnly: true})
	_, errMissing := image.Open(ctx, dir+"x", image.Options{RemoteOnly: true})
	want := func(p string) string { return "open " + p + ": not an image reference: bad input" }
	if errDir == nil || errDir.Error() != want(dir) || errMissing == nil || errMissing.Error() != want(dir+"x") {
		t.Errorf("Open(existing dir) = %v, Open(missing) = %v; want %q and %q", errDir, errMissing, want(dir), want(dir+"x"))
	}
}

// TestRegistryTransport: registry connections to non-public addresses are
// refused at connect time, after name resolution (localhost resolves to
// 127.0.0.1), unless the host is allowed; nothing reaches the listener.
func TestRegistryTransport(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		accepted.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(l.Addr().String())
	for _, host := range []string{"127.0.0.1", "localhost"} {
		c := &http.Client{Transport: registryTransport(nil)}
		_, err := c.Get("http://" + net.JoinHostPort(host, port) + "/v2/")
		if err == nil || !strings.Contains(err.Error(), "refused: a loopback address") {
			t.Errorf("GET via %s = %v, want the loopback refusal", host, err)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the listener got %d requests through the guarded transport, want 0", n)
	}
	c := &http.Client{Transport: registryTransport([]string{"localhost:" + port})}
	resp, err := c.Get("http://localhost:" + port + "/v2/")
	if err != nil {
		t.Fatalf("GET an allowed registry: %v", err)
	}
	resp.Body.Close()
	if accepted.Load() != 1 {
		t.Errorf("the allowed registry got %d requests, want 1", accepted.Load())
	}
}
