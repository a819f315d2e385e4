package server

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzCheckTarget: any target string is allowed, refused (403) or
// malformed (400); local kinds are never allowed without allowLocal.
func FuzzCheckTarget(f *testing.F) {
	for _, s := range []string{"dir:/", "docker:alpine", "registry:127.0.0.1:5000/a:1", "alpine", "oci:/x:tag", "registry:", "a@sha256:00", "::", "registry:r.example/x@sha256:" + strings.Repeat("a", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		err := CheckTarget(target, []string{"r.example", "127.0.0.1:5000"}, false)
		if err == nil {
			kind, _, found := strings.Cut(target, ":")
			if found && localKinds[kind] {
				t.Fatalf("CheckTarget(%q) allowed a local target", target)
			}
			return
		}
		var he *httpError
		if !errors.As(err, &he) || (he.code != 400 && he.code != 403) {
			t.Fatalf("CheckTarget(%q) = %v, want nil or a 400/403 error", target, err)
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
