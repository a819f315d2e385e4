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
