package server

import (
	"bytes"
	"context"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lockdown-sec/lockdown/internal/server/store"
)

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the OpenAPI document of the API.
func OpenAPI() []byte { return bytes.Clone(openAPI) }

// DefaultMaxBodyBytes bounds request bodies when Config.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 64 << 10

// apiError is the body of every error response.
type apiError struct {
	Error string `json:"error"`
}

type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) error {
	return &httpError{code: code, msg: fmt.Sprintf(format, args...)}
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, public bool, h func(http.ResponseWriter, *http.Request) error) {
		var hh http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := h(w, r); err != nil {
				s.writeError(w, r, err)
			}
		})
		if !public {
			hh = s.auth(hh)
		}
		mux.Handle(pattern, hh)
	}
	handle("POST /v1/scans", false, s.postScan)
	handle("GET /v1/scans/{id}", false, s.getJob(store.KindScan))
	handle("POST /v1/audits", false, s.postAudit)
	handle("GET /v1/audits/latest", false, s.getLatestAudit)
	handle("GET /v1/audits/{id}", false, s.getJob(store.KindAudit))
	handle("POST /v1/harden", false, s.postHarden)
	handle("GET /v1/harden/{id}", false, s.getJob(store.KindHarden))
	handle("GET /v1/harden/profiles/{digest}", false, s.getHardenProfiles)
	handle("GET /v1/images", false, s.getImages)
	handle("GET /v1/images/{digest}", false, s.getImage)
	if s.adm != nil {
		// The API server carries no bearer token: the webhook is public,
		// or limited to verified client certificates.
		mux.HandleFunc("POST /v1/admission", s.serveAdmission)
	}
	handle("GET /healthz", s.cfg.PublicHealth, func(w http.ResponseWriter, _ *http.Request) error {
		return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	handle("GET /readyz", s.cfg.PublicHealth, s.ready)
	handle("GET /openapi.yaml", true, func(w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("Content-Type", "application/yaml")
		_, err := w.Write(openAPI)
		return err
	})
	metrics := promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		ErrorHandling:     promhttp.ContinueOnError,
		ErrorLog:          slogPrintln{s},
		EnableOpenMetrics: false,
	})
	if s.cfg.PublicMetrics {
		mux.Handle("GET /metrics", metrics)
	} else {
		mux.Handle("GET /metrics", s.auth(metrics))
	}
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errorf(http.StatusNotFound, "no such endpoint: %s %s (see /openapi.yaml)", r.Method, r.URL.Path))
	}))
	return s.limitBody(mux)
}

type slogPrintln struct{ s *Server }

func (l slogPrintln) Println(v ...any) { l.s.log.Warn("metrics", "err", fmt.Sprint(v...)) }

// auth requires "Authorization: Bearer <token>" when a token is set; the
// token is compared in constant time.
func (s *Server) auth(next http.Handler) http.Handler {
	if s.cfg.Token == "" {
		return next
	}
	want := []byte(s.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		// RFC 9110 §11.1: the scheme is case-insensitive ("bearer" works).
		scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
		ok = ok && strings.EqualFold(scheme, "Bearer")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lockdown"`)
			msg := "missing bearer token"
			if h != "" {
				msg = "invalid bearer token"
			}
			s.writeError(w, r, errorf(http.StatusUnauthorized, "%s", msg))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody refuses bodies over the limit: at once when Content-Length
// says so, else when reading passes it (413 either way).
func (s *Server) limitBody(next http.Handler) http.Handler {
	limit := s.cfg.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.adm != nil && r.URL.Path == "/v1/admission" {
			next.ServeHTTP(w, r) // AdmissionReviews have their own, larger limit
			return
		}
		if r.ContentLength > limit {
			s.writeError(w, r, errorf(http.StatusRequestEntityTooLarge, "request body of %d bytes is over the limit of %d bytes", r.ContentLength, limit))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	code := http.StatusInternalServerError
	msg := "internal error"
	switch {
	case errors.As(err, &he):
		code, msg = he.code, he.msg
	case errors.Is(err, store.ErrNotFound):
		code, msg = http.StatusNotFound, err.Error()
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, code, apiError{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, err = w.Write(append(b, '\n'))
	return err
}

// decode reads one JSON object into v: 413 over the limit, 400 with the
// reason when malformed or with unknown fields.
func decode(r *http.Request, v any, allowEmpty bool) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "request body is over the limit of %d bytes", mbe.Limit)
		}
		return errorf(http.StatusBadRequest, "read request body: %v", err)
	}
	if allowEmpty && len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, "malformed JSON body: %v", err)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "malformed JSON body: more than one value")
	}
	return nil
}

// ScanRequest is the body of POST /v1/scans.
type ScanRequest struct {
	Target string `json:"target"`
	// Image names the image in results and metrics (default: its first
	// tag, else the target).
	Image string `json:"image,omitempty"`
}

// JobResponse is a job as the API shows it.
type JobResponse struct {
	store.Job
	Report json.RawMessage `json:"report,omitempty"`
}

func (s *Server) postScan(w http.ResponseWriter, r *http.Request) error {
	var req ScanRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	req.Target = strings.TrimSpace(req.Target)
	if req.Target == "" {
		return errorf(http.StatusBadRequest, "target is required (docker:REF, registry:REF, REF, or with --allow-local-targets dir:PATH, docker-archive:PATH, oci-archive:PATH, oci-dir:PATH)")
	}
	if len(req.Target) > 4096 || len(req.Image) > 1024 {
		return errorf(http.StatusBadRequest, "target or image name too long")
	}
	if err := CheckTarget(req.Target, s.cfg.AllowRegistries, s.cfg.AllowLocalTargets); err != nil {
		return err
	}
	j, err := s.st.Enqueue(r.Context(), store.KindScan, req.Target, req.Image)
	if err != nil {
		return err
	}
	s.kick()
	w.Header().Set("Location", "/v1/scans/"+j.ID)
	return writeJSON(w, http.StatusAccepted, JobResponse{Job: j})
}

func (s *Server) postAudit(w http.ResponseWriter, r *http.Request) error {
	var req struct{}
	if err := decode(r, &req, true); err != nil {
		return err
	}
	j, err := s.st.Enqueue(r.Context(), store.KindAudit, "", "")
	if err != nil {
		return err
	}
	s.kick()
	w.Header().Set("Location", "/v1/audits/"+j.ID)
	return writeJSON(w, http.StatusAccepted, JobResponse{Job: j})
}

func (s *Server) getJob(kind string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			return errorf(http.StatusNotFound, "%s job %q not found", kind, id)
		}
		j, err := s.st.Job(r.Context(), id)
		if err != nil {
			return err
		}
		if j.Kind != kind {
			return errorf(http.StatusNotFound, "%s job %q not found", kind, id)
		}
		return writeJSON(w, http.StatusOK, JobResponse{Job: j, Report: j.Report})
	}
}

// ImageResponse is an image's latest result.
type ImageResponse struct {
	store.ImageResult
	Report json.RawMessage `json:"report,omitempty"`
}

func (s *Server) getImages(w http.ResponseWriter, r *http.Request) error {
	imgs, err := s.st.Images(r.Context())
	if err != nil {
		return err
	}
	if imgs == nil {
		imgs = []store.ImageResult{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"images": imgs})
}

func (s *Server) getImage(w http.ResponseWriter, r *http.Request) error {
	im, err := s.st.Image(r.Context(), r.PathValue("digest"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ImageResponse{ImageResult: im, Report: im.Report})
}

func (s *Server) getLatestAudit(w http.ResponseWriter, r *http.Request) error {
	b, _, err := s.st.LatestAudit(r.Context())
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errorf(http.StatusNotFound, "no audit yet: POST /v1/audits")
		}
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(b)
	return err
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	// The details (store addresses, file paths) go to the log only: with
	// --public-health anyone may ask.
	if err := s.st.Ping(ctx); err != nil {
		s.log.Warn("not ready: store not reachable", "err", err)
		return errorf(http.StatusServiceUnavailable, "store not reachable")
	}
	if _, err := s.adb.info(); err != nil {
		s.log.Warn("not ready: advisory database", "err", err)
		return errorf(http.StatusServiceUnavailable, "advisory database not usable")
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
