package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/lockdown-sec/lockdown/internal/audit"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/server/store"
)

// containerState is one running container as the last watch pass saw it.
type containerState struct {
	Name   string
	Image  string
	Counts map[string]int
}

// watched remembers, per image ID, the stored key and the advisory DB
// build it was last scanned with.
type watched struct {
	key     string
	dbBuilt time.Time
	counts  map[string]int
}

// watch polls the Docker engine every WatchInterval until ctx ends.
func (s *Server) watch(ctx context.Context) {
	every := s.cfg.WatchInterval
	if every <= 0 {
		every = 5 * time.Minute
	}
	seen := map[string]*watched{}
	for {
		if err := s.watchOnce(ctx, seen); err != nil && ctx.Err() == nil {
			s.log.Warn("watch pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// watchOnce audits the engine, then scans the image of every running
// container unless it was scanned with the current advisory DB build, and
// notifies the webhook of findings that were not in the image's previous
// scan.
func (s *Server) watchOnce(ctx context.Context, seen map[string]*watched) error {
	eng, err := audit.NewEngine(s.cfg.DockerHost)
	if err != nil {
		return err
	}
	defer eng.Close()
	r, err := s.runAudit(ctx, eng)
	if err != nil {
		// A partial audit is not stored as the latest one: its missing
		// results would read as fixed.
		s.log.Warn("watch: audit", "err", err)
	} else if r != nil {
		b, merr := json.Marshal(r)
		if merr == nil {
			merr = s.st.PutAudit(ctx, b)
		}
		if merr != nil {
			s.log.Warn("watch: store audit", "err", merr)
		}
	}

	list, err := eng.ContainerList(ctx, container.ListOptions{})
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	info, err := s.adb.info()
	if err != nil {
		return err
	}
	type img struct {
		name       string
		containers []string
	}
	byID := map[string]*img{}
	var ids []string
	for _, c := range list {
		name := strings.TrimPrefix(firstOr(c.Names, c.ID[:12]), "/")
		im := byID[c.ImageID]
		if im == nil {
			im = &img{name: c.Image}
			byID[c.ImageID] = im
			ids = append(ids, c.ImageID)
		}
		im.containers = append(im.containers, name)
	}
	sort.Strings(ids)
	var states []containerState
	var errs []error
	for _, id := range ids {
		im := byID[id]
		w := seen[id]
		if w == nil || !w.dbBuilt.Equal(info.Built) {
			nw, err := s.watchScan(ctx, id, im.name, im.containers, info.Built)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			seen[id], w = nw, nw
		}
		for _, c := range im.containers {
			states = append(states, containerState{Name: c, Image: imageName(im.name, &model.Report{}, id), Counts: w.counts})
		}
	}
	sort.Slice(states, func(i, j int) bool { return states[i].Name < states[j].Name })
	s.mu.Lock()
	s.containers = states
	s.mu.Unlock()
	return errors.Join(errs...)
}

// watchScan scans one running image, stores the result, and sends the
// webhook when findings appeared since the image's previous stored scan.
func (s *Server) watchScan(ctx context.Context, imageID, name string, containers []string, built time.Time) (*watched, error) {
	target := "docker:" + imageID
	r, info, err := s.scanReport(ctx, target)
	if err != nil {
		return nil, fmt.Errorf("watch: scan %s (%s): %w", name, imageID, err)
	}
	res, err := imageResult(r, name, target, "", info.Built)
	if err != nil {
		return nil, err
	}
	prev, perr := s.st.Image(ctx, res.Digest)
	if perr != nil && !errors.Is(perr, store.ErrNotFound) {
		return nil, perr
	}
	if err := s.st.PutImage(ctx, res); err != nil {
		return nil, err
	}
	s.imagesChanged()
	if perr == nil && s.hook != nil {
		var old model.Report
		if err := json.Unmarshal(prev.Report, &old); err != nil {
			s.log.Warn("watch: previous report unreadable; not diffing", "digest", res.Digest, "err", err)
		} else if added := newFindings(old.Findings, r.Findings); len(added) > 0 {
			note := Notification{Event: EventNewFindings, Image: res.Image, Digest: res.Digest, Containers: containers, Findings: added}
			if err := s.hook.Send(ctx, note); err != nil {
				s.log.Warn("watch: webhook", "digest", res.Digest, "err", err)
			}
		}
	}
	return &watched{key: res.Digest, dbBuilt: built, counts: res.Counts}, nil
}

// findingKey identifies a vulnerability finding across scans.
func findingKey(f model.Finding) string {
	pkg := ""
	if f.Package != nil {
		pkg = f.Package.Name + "@" + f.Package.Version + "@" + f.Package.Location
	}
	return f.RuleID + "|" + pkg
}

// newFindings are the findings of cur that prev does not have.
func newFindings(prev, cur []model.Finding) []model.Finding {
	had := map[string]bool{}
	for _, f := range prev {
		had[findingKey(f)] = true
	}
	var out []model.Finding
	for _, f := range cur {
		if !had[findingKey(f)] {
			out = append(out, f)
		}
	}
	return out
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}
