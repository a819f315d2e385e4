package server

import (
	"net/http"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/lockdown-sec/lockdown/internal/server/store"
)

// TestOpenAPI: the served document is the embedded one, parses, and lists
// exactly the server's routes with their methods.
func TestOpenAPI(t *testing.T) {
	ts := startServer(t, Config{Store: openStore(t, store.SQLite), AdvisoryDB: mixedDB(t)})
	code, body := ts.callToken(t, "GET", "/openapi.yaml", "", "")
	if code != http.StatusOK || string(body) != string(OpenAPI()) {
		t.Fatalf("GET /openapi.yaml = %d (%d bytes), want 200 and the embedded document", code, len(body))
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := yaml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	var got []string
	for p, ops := range doc.Paths {
		for m := range ops {
			got = append(got, m+" "+p)
		}
	}
	sort.Strings(got)
	want := []string{
		"get /healthz", "get /metrics", "get /openapi.yaml", "get /readyz",
		"get /v1/audits/latest", "get /v1/audits/{id}", "get /v1/harden/profiles/{digest}", "get /v1/harden/{id}",
		"get /v1/images", "get /v1/images/{digest}",
		"get /v1/scans/{id}", "post /v1/admission", "post /v1/audits", "post /v1/harden", "post /v1/scans",
	}
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("documented operations (-want +got):\n%s", diff)
	}
	// Every documented GET without parameters answers (with the token).
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/v1/images"} {
		if code, body := ts.call(t, "GET", p, ""); code != http.StatusOK {
			t.Errorf("GET %s = %d %s, want 200", p, code, body)
		}
	}
}
