package cli

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	for _, c := range []struct {
		name   string
		status int
		url    string
		code   int
		stderr string
	}{
		{"ok", http.StatusOK, srv.URL + "/healthz", 0, ""},
		{"up but wants a token", http.StatusUnauthorized, srv.URL + "/healthz", 0, ""},
		{"unavailable", http.StatusServiceUnavailable, srv.URL + "/healthz", 1, "503"},
		{"not found", http.StatusOK, srv.URL + "/nope", 1, "404"},
		{"nothing listening", http.StatusOK, "http://127.0.0.1:1/healthz", 1, "unhealthy"},
		{"bad url", http.StatusOK, "::", 2, "--url"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status = c.status
			code, _, errOut := runCLI(t, "healthcheck", "--url", c.url)
			if code != c.code || !strings.Contains(errOut, c.stderr) {
				t.Errorf("healthcheck %s: exit %d, stderr %q; want exit %d mentioning %q", c.url, code, errOut, c.code, c.stderr)
			}
		})
	}
}

// TestHealthcheckTimeout: healthcheck's own --timeout (a probe's few
// seconds) shadows the global --timeout (30m) without a clash: a server
// that never answers makes it give up with the client's timeout.
func TestHealthcheckTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers
	}))
	defer srv.Close()
	for _, args := range [][]string{
		{"healthcheck", "--timeout", "1s", "--url", srv.URL + "/healthz"},
		{"--timeout", "1s", "healthcheck", "--url", srv.URL + "/healthz"},
	} {
		code, out, errOut := runCLI(t, args...)
		if code != 1 || out != "" || !strings.Contains(errOut, "unhealthy: ") || !strings.Contains(errOut, "Client.Timeout exceeded") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 1 and the client's timeout", args, code, out, errOut)
		}
	}
	code, out, _ := runCLI(t, "healthcheck", "--help")
	if code != 0 || strings.Count(out, "--timeout") != 1 || !strings.Contains(out, "give up after this long") {
		t.Errorf("healthcheck --help: exit %d, want one --timeout, its own:\n%s", code, out)
	}
}
