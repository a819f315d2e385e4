package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/lockdown-sec/lockdown/internal/audit"
	"github.com/lockdown-sec/lockdown/internal/harden"
	"github.com/lockdown-sec/lockdown/internal/server/store"
)

// HardenRequest is the body of POST /v1/harden: a container of the
// server's Docker engine to harden (observed in throwaway copies; the
// container itself is not touched).
type HardenRequest struct {
	Container string `json:"container"`
	// Test runs inside the container once it has settled (exit 0 passes).
	Test []string `json:"test,omitempty"`
	// Observe is how long the workload is observed at least ("5s").
	Observe string `json:"observe,omitempty"`
}

var containerRef = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`) })

// maxObserve bounds what a request may ask for.
const maxObserve = 10 * time.Minute

func (r HardenRequest) check() (time.Duration, error) {
	if !containerRef().MatchString(r.Container) {
		return 0, errorf(http.StatusBadRequest, "container must be a container name or ID ([A-Za-z0-9][A-Za-z0-9_.-]*, at most 128 characters)")
	}
	if len(r.Test) > 64 {
		return 0, errorf(http.StatusBadRequest, "test has %d arguments, at most 64", len(r.Test))
	}
	var d time.Duration
	if r.Observe != "" {
		var err error
		if d, err = time.ParseDuration(r.Observe); err != nil || d <= 0 || d > maxObserve {
			return 0, errorf(http.StatusBadRequest, "observe %q: a duration from 1s to %s", r.Observe, maxObserve)
		}
	}
	return d, nil
}

func (s *Server) postHarden(w http.ResponseWriter, r *http.Request) error {
	var req HardenRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	if _, err := req.check(); err != nil {
		return err
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	j, err := s.st.Enqueue(r.Context(), store.KindHarden, string(b), req.Container)
	if err != nil {
		return err
	}
	s.kick()
	w.Header().Set("Location", "/v1/harden/"+j.ID)
	return writeJSON(w, http.StatusAccepted, JobResponse{Job: j})
}

// HardenProfileResponse is one stored hardened configuration.
type HardenProfileResponse struct {
	store.HardenProfile
	Plan json.RawMessage `json:"plan"`
}

func (s *Server) getHardenProfiles(w http.ResponseWriter, r *http.Request) error {
	digest := r.PathValue("digest")
	if !strings.HasPrefix(digest, "sha256:") || len(digest) != 71 {
		return errorf(http.StatusNotFound, "no hardened configuration for image %q (want sha256:<64 hex>)", digest)
	}
	ps, err := s.st.HardenProfiles(r.Context(), digest)
	if err != nil {
		return err
	}
	out := make([]HardenProfileResponse, len(ps))
	for i, p := range ps {
		out[i] = HardenProfileResponse{HardenProfile: p, Plan: p.Plan}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"profiles": out})
}

// hardenOutcome runs a harden job: the plan is the job's report and is
// kept under the container's image digest.
func (s *Server) hardenOutcome(ctx context.Context, j *store.Job) store.Outcome {
	var req HardenRequest
	if err := json.Unmarshal([]byte(j.Target), &req); err != nil {
		return store.Outcome{Err: fmt.Sprintf("harden job request: %v", err)}
	}
	observe, err := req.check()
	if err != nil {
		return store.Outcome{Err: err.Error()}
	}
	eng, err := audit.NewEngine(s.cfg.DockerHost)
	if err != nil {
		return store.Outcome{Err: err.Error()}
	}
	defer eng.Close()
	plan, err := harden.Container(ctx, harden.Config{Engine: eng, Test: req.Test, Observe: observe,
		ContainerPrefix: s.cfg.HardenPrefix, Labels: map[string]string{"lockdown.harden": "serve", "lockdown.job": j.ID}, Logger: s.log}, req.Container)
	if err != nil {
		return store.Outcome{Err: err.Error()}
	}
	b, err := json.Marshal(plan)
	if err != nil {
		return store.Outcome{Err: fmt.Sprintf("encode the plan: %v", err)}
	}
	out := store.Outcome{Report: b, Digest: plan.ImageID, Harden: &store.HardenProfile{Digest: plan.ImageID, Name: plan.Name, Plan: b}}
	if !plan.Verified {
		out.Err = "the generated configuration did not pass its verification run (see the report's trials)"
		out.Harden = nil
	}
	return out
}
