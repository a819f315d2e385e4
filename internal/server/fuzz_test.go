package server

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/image"
)

// FuzzCheckTarget: any target string is allowed, refused (403) or
// malformed (400); a target that reads a path (by the image package's own
// kinds, or a path form) is never allowed without allowLocal, and always
// gets the one refusal; an allowed registry is public or allowlisted.
func FuzzCheckTarget(f *testing.F) {
	for _, s := range []string{"dir:/", "docker:alpine", "registry:127.0.0.1:5000/a:1", "alpine", "oci:/x:tag", "registry:", "a@sha256:00", "::",
		"registry:r.example/x@sha256:" + strings.Repeat("a", 64), "FILE:///etc", "~root", "a/../b", `C:\x`, "registry:[::1]:5000/x", "registry:10.0.0.1/x", "localhost/x"} {
		f.Add(s)
	}
	allow := []string{"r.example", "127.0.0.1:5000"}
	f.Fuzz(func(t *testing.T, target string) {
		err := CheckTarget(target, allow, false)
		if err == nil {
			kind, _, found := strings.Cut(target, ":")
			switch {
			case found && (kind == image.KindDir || kind == image.KindDockerArchive || kind == image.KindOCIArchive || kind == image.KindOCIDir || kind == "oci"):
				t.Fatalf("CheckTarget(%q) allowed a local target", target)
			case strings.HasPrefix(target, "/") || strings.HasPrefix(target, "."):
				t.Fatalf("CheckTarget(%q) allowed a path", target)
			}
			return
		}
		var he *httpError
		if !errors.As(err, &he) || (he.code != 400 && he.code != 403) {
			t.Fatalf("CheckTarget(%q) = %v, want nil or a 400/403 error", target, err)
		}
		if LocalLooking(target) && he.msg != localRefusal {
			t.Fatalf("CheckTarget(%q) = %q, want the one local refusal", target, he.msg)
		}
	})
}

// FuzzDecodeScanRequest: any body decodes or gives a 400/413 error with a
// message; never a panic.
func FuzzDecodeScanRequest(f *testing.F) {
	for _, s := range []string{`{"target":"docker:x"}`, `{"target":`, `{}`, `[]`, `{"target":"a","image":"b"}`, `{"target":"a"} {"x":1}`, `{"tagret":1}`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/v1/scans", bytes.NewReader(body))
		r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 256)
		var req ScanRequest
		err := decode(r, &req, false)
		if err == nil {
			return
		}
		var he *httpError
		if !errors.As(err, &he) || (he.code != 400 && he.code != 413) || he.msg == "" {
			t.Fatalf("decode(%q) = %v, want a 400/413 error with a message", body, err)
		}
	})
}
