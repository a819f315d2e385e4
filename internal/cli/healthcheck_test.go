//go:build !scanonly

package cli

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/testutil"
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

// TestHealthcheckTLS: an https --url is verified against --cacert (or the
// system's CAs), or not at all with --insecure; the flags' defaults come
// from the environment (the image's HEALTHCHECK); contradictory or
// unreadable trust settings are bad input (exit 2).
func TestHealthcheckTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	dir := t.TempDir()
	ca := testutil.WriteFile(t, dir, "ca.pem", (&testutil.Cert{DER: srv.Certificate().Raw}).CertPEM(), 0o600) // httptest's is self-signed
	other := testutil.WriteFile(t, dir, "other.pem", testutil.NewCA(t, "other CA").CertPEM(), 0o600)
	notPEM := testutil.WriteFile(t, dir, "not.pem", []byte("not a certificate\n"), 0o600)
	healthz := srv.URL + "/healthz"
	plain := strings.Replace(healthz, "https://", "http://", 1)

	for _, c := range []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stderr string
	}{
		{"verified against --cacert", nil, []string{"--url", healthz, "--cacert", ca}, 0, ""},
		{"--insecure", nil, []string{"--url", healthz, "--insecure"}, 0, ""},
		{"no CA: the system's do not know it", nil, []string{"--url", healthz}, 1, "certificate signed by unknown authority"},
		{"another CA", nil, []string{"--url", healthz, "--cacert", other}, 1, "certificate signed by unknown authority"},
		{"plain http to the TLS port", nil, []string{"--url", plain}, 1, "400 Bad Request"},
		{"from the environment", map[string]string{envHealthURL: healthz, envHealthCACert: ca}, nil, 0, ""},
		{"insecure from the environment", map[string]string{envHealthURL: healthz, envHealthInsecure: "true"}, nil, 0, ""},
		{"a flag overrides the environment", map[string]string{envHealthURL: healthz, envHealthCACert: ca}, []string{"--cacert", other}, 1, "unknown authority"},
		{"--cacert and --insecure", nil, []string{"--url", healthz, "--cacert", ca, "--insecure"}, 2, "--cacert and --insecure contradict"},
		{"--cacert with http", nil, []string{"--url", plain, "--cacert", ca}, 2, "are for an https:// --url"},
		{"--cacert missing", nil, []string{"--url", healthz, "--cacert", filepath.Join(dir, "nope.pem")}, 2, "--cacert: open " + filepath.Join(dir, "nope.pem")},
		{"--cacert not PEM", nil, []string{"--url", healthz, "--cacert", notPEM}, 2, "--cacert: " + notPEM + ": no PEM certificate in it"},
		{"not http", nil, []string{"--url", "ftp://127.0.0.1/healthz"}, 2, "want an http:// or https:// URL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range []string{envHealthURL, envHealthCACert, envHealthInsecure} {
				t.Setenv(k, c.env[k])
			}
			code, out, errOut := runCLI(t, append([]string{"healthcheck"}, c.args...)...)
			if code != c.code || !strings.Contains(errOut, c.stderr) {
				t.Errorf("healthcheck %q (env %v): exit %d, stderr %q; want exit %d mentioning %q", c.args, c.env, code, errOut, c.code, c.stderr)
			}
			if want := "healthy: " + healthz + " answered 200 OK\n"; c.code == 0 && out != want {
				t.Errorf("stdout %q, want %q", out, want)
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
