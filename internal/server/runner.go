package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/server/store"
)

// runWorkers runs cfg.Workers claim loops until ctx is cancelled; jobs run
// under jobCtx, which outlives ctx by the shutdown grace period.
func (s *Server) runWorkers(ctx, jobCtx context.Context) {
	n := s.cfg.Workers
	if n <= 0 {
		n = 1
	}
	poll := s.cfg.Poll
	if poll <= 0 {
		poll = time.Second
	}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			t := time.NewTimer(0)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-s.wake:
				case <-t.C:
				}
				for ctx.Err() == nil {
					ran, err := s.runOne(jobCtx)
					if err != nil {
						s.log.Warn("job runner", "err", err)
					}
					if !ran || err != nil {
						break
					}
				}
				t.Reset(poll)
			}
		})
	}
	wg.Wait()
}

// kick wakes one idle worker.
func (s *Server) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// runOne claims and runs one job; false when there was none.
func (s *Server) runOne(ctx context.Context) (bool, error) {
	j, err := s.st.Claim(ctx, s.owner, s.lease())
	if err != nil || j == nil {
		return false, err
	}
	log := s.log.With("job", j.ID, "kind", j.Kind, "attempt", j.Attempts)
	log.Debug("claimed job", "target", j.Target)
	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		t := time.NewTicker(max(s.lease()/3, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-jctx.Done():
				return
			case <-t.C:
				if err := s.st.Heartbeat(jctx, j.ID, s.owner, s.lease()); err != nil {
					if errors.Is(err, store.ErrLeaseLost) {
						cancel(err)
						return
					}
					log.Warn("heartbeat", "err", err)
				}
			}
		}
	}()
	ectx, stop := context.WithTimeoutCause(jctx, s.jobTimeout(), &jobTimeoutError{s.jobTimeout()})
	out := s.execute(ectx, j)
	var te *jobTimeoutError
	if out.Err != "" && errors.As(context.Cause(ectx), &te) {
		out.Err = te.Error() + ": " + out.Err
		log.Warn("job stopped at its deadline", "timeout", te.d, "target", j.Target)
	}
	stop()
	cancel(nil)
	<-hbDone
	if ctx.Err() != nil && jctx.Err() != nil && out.Err != "" {
		// Shutting down: give the job back to the queue for another
		// replica rather than recording a cancellation as a failure.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer rcancel()
		if err := s.st.Release(rctx, j.ID, s.owner); err != nil {
			log.Warn("release interrupted job; it is retried when its lease expires", "err", err)
		} else {
			log.Info("job interrupted by shutdown and released")
		}
		return true, nil
	}
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer fcancel()
	if err := s.st.Finish(fctx, j.ID, s.owner, out); err != nil {
		if errors.Is(err, store.ErrLeaseLost) {
			log.Warn("job result discarded: the lease was taken over", "err", err)
			return true, nil
		}
		return true, err
	}
	if out.Image != nil && out.Err == "" {
		s.imagesChanged()
	}
	log.Info("job finished", "failed", out.Err != "", "err", out.Err)
	return true, nil
}

// jobTimeoutError is the cause of a job stopped by Config.JobTimeout.
type jobTimeoutError struct{ d time.Duration }

func (e *jobTimeoutError) Error() string {
	return fmt.Sprintf("job stopped after --job-timeout %s", e.d)
}

// execute runs a claimed job and returns its outcome.
func (s *Server) execute(ctx context.Context, j *store.Job) store.Outcome {
	if d := s.cfg.JobDelay; d > 0 {
		select {
		case <-ctx.Done():
			return store.Outcome{Err: ctx.Err().Error()}
		case <-time.After(d):
		}
	}
	switch j.Kind {
	case store.KindScan:
		r, info, err := s.scanReport(ctx, j.Target)
		if err != nil {
			return store.Outcome{Err: err.Error()}
		}
		res, err := imageResult(r, j.Image, j.Target, j.ID, info.Built)
		if err != nil {
			return store.Outcome{Err: err.Error()}
		}
		return store.Outcome{Report: res.Report, Digest: res.Digest, Image: &res}
	case store.KindAudit:
		r, err := s.auditReport(ctx)
		if r == nil {
			if err == nil {
				err = errors.New("audit produced no report")
			}
			return store.Outcome{Err: err.Error()}
		}
		b, merr := json.Marshal(r)
		if merr != nil {
			return store.Outcome{Err: fmt.Sprintf("encode audit report: %v", merr)}
		}
		if err != nil {
			// A partial audit (the engine failed part-way, or the job was
			// cancelled) fails the job with its results attached, and
			// never becomes the latest audit: its missing container and
			// image results would read as fixed.
			return store.Outcome{Err: fmt.Sprintf("audit incomplete: %v", err), Report: b}
		}
		return store.Outcome{Report: b, Audit: true}
	case store.KindHarden:
		return s.hardenOutcome(ctx, j)
	}
	return store.Outcome{Err: fmt.Sprintf("unknown job kind %q", j.Kind)}
}

// ImageKey is the key a scanned target is stored under: its manifest
// digest, else its image (config) ID, else for targets without either
// (dir:) "path:" and a hash of the kind and path.
func ImageKey(t model.Target) string {
	switch {
	case t.Digest != "":
		return t.Digest
	case t.ImageID != "":
		return t.ImageID
	}
	sum := sha256.Sum256([]byte(t.Kind + ":" + t.Name))
	return "path:" + hex.EncodeToString(sum[:16])
}

// maxImageLabel bounds the image label (metric contract).
const maxImageLabel = 128

// nameOf is the name a scan is shown under: the name given, else the
// image's first tag, else the target.
func nameOf(given string, r *model.Report, target string) string {
	switch {
	case given != "":
		return given
	case r.Target != nil && len(r.Target.RepoTags) > 0:
		return r.Target.RepoTags[0]
	}
	return target
}

// imageName is the image label: nameOf truncated to 128 characters.
func imageName(given string, r *model.Report, target string) string {
	name := nameOf(given, r, target)
	if len(name) > maxImageLabel {
		name = name[:maxImageLabel]
	}
	return name
}

// imageRef is the canonical reference a result is found under by the
// admission webhook: of nameOf, untruncated, and of a registry: or docker:
// target without its prefix.
func imageRef(given string, r *model.Report, target string) string {
	name := nameOf(given, r, target)
	if kind, ref, ok := strings.Cut(name, ":"); ok && name == target && (kind == "registry" || kind == "docker") {
		name = ref
	}
	return store.CanonicalRef(name)
}

// severityLabel maps a severity to the metric contract's labels.
func severityLabel(s model.Severity) string {
	switch s {
	case model.SeverityCritical, model.SeverityHigh, model.SeverityMedium, model.SeverityLow:
		return strings.ToLower(s.String())
	}
	return "unknown"
}

// imageResult summarises a scan report for the store.
func imageResult(r *model.Report, image, target, jobID string, dbBuilt time.Time) (store.ImageResult, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return store.ImageResult{}, fmt.Errorf("encode scan report: %w", err)
	}
	res := store.ImageResult{
		Image: imageName(image, r, target), Ref: imageRef(image, r, target), Target: target, JobID: jobID,
		ScannedAt: r.CreatedAt, DBBuilt: dbBuilt, Report: b, Counts: map[string]int{},
	}
	if r.Target != nil {
		res.Digest = ImageKey(*r.Target)
	}
	unchecked, files := r.Unchecked()
	res.Packages = store.PackageCounts{Total: len(r.Packages), Checked: max(len(r.Packages)-unchecked, 0), Unchecked: unchecked, UnreadableFiles: files}
	for _, sev := range store.Severities {
		res.Counts[sev] = 0
	}
	seen := map[string]bool{}
	for _, f := range r.Findings {
		sev := severityLabel(f.Severity)
		res.Counts[sev]++
		if !seen[f.RuleID] {
			seen[f.RuleID] = true
			res.Vulns = append(res.Vulns, store.VulnRef{ID: f.RuleID, Severity: sev})
		}
	}
	sort.Slice(res.Vulns, func(i, j int) bool { return res.Vulns[i].ID < res.Vulns[j].ID })
	return res, nil
}
