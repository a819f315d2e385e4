package enforce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/docker/docker/api/types/events"

	"github.com/lockdown-sec/lockdown/internal/netpol"
	"github.com/lockdown-sec/lockdown/internal/netpol/dockerep"
	"github.com/lockdown-sec/lockdown/internal/netpol/load"
)

// Source is the world an Enforcer keeps enforced.
type Source interface {
	// Watch starts following changes. The channel delivers the time of
	// each change (first of all the initial state) until ctx ends; the
	// error channel delivers a failure of the stream.
	Watch(ctx context.Context) (<-chan time.Time, <-chan error)
	// Config builds the current world.
	Config(ctx context.Context) (*netpol.Config, error)
}

// Event is what the Enforcer did, for logs, metrics and tests.
type Event struct {
	Kind     string // UpdateApplied, UpdateUnchanged, UpdateSets, "drift-repaired" or "error"
	Drift    string // the drift that was repaired
	Counts   int    // rules in force
	Latency  time.Duration
	Err      error
	Endpoint int
}

// Enforcer keeps a Source's policies applied: it applies at start (a
// restart re-syncs), rewrites only set elements when endpoints change,
// and every Resync checks the table and re-applies it when someone
// edited or deleted it. It is also a Prometheus collector of what is in
// force (see Describe).
type Enforcer struct {
	Applier *Applier
	Source  Source
	// Resync is the drift check period (0 means one minute).
	Resync  time.Duration
	Logger  *slog.Logger
	Observe func(Event)

	m enforcerMetrics
}

// Run enforces until ctx ends. It returns an error only when the first
// apply fails or the Source's stream fails.
func (e *Enforcer) Run(ctx context.Context) error {
	log := e.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	observe := func(ev Event) {
		e.m.observe(ev)
		if e.Observe != nil {
			e.Observe(ev)
		}
	}
	resync := e.Resync
	if resync <= 0 {
		resync = time.Minute
	}
	changes, errs := e.Source.Watch(ctx)
	tick := time.NewTicker(resync)
	defer tick.Stop()
	var prev *Ruleset
	first := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errs:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watch: %w", err)
		case at := <-changes:
			// Gather a burst of changes into one update; its latency is
			// counted from the newest change.
			drain := time.After(10 * time.Millisecond)
		gather:
			for {
				select {
				case t := <-changes:
					if t.After(at) {
						at = t
					}
				case <-drain:
					break gather
				case <-ctx.Done():
					return nil
				}
			}
			next, err := e.compile(ctx)
			if err != nil {
				if first {
					return err
				}
				log.Warn("keeping the ruleset in force: the new one does not compile", "err", err)
				observe(Event{Kind: "error", Err: err})
				continue
			}
			kind := UpdateApplied
			if first {
				res, err := e.Applier.Apply(ctx, next)
				if err != nil {
					return err
				}
				if !res.Changed {
					kind = UpdateUnchanged
				}
				first = false
			} else {
				kind, err = e.Applier.Update(ctx, prev, next)
				if err != nil {
					log.Warn("update failed; the previous ruleset stays in force", "err", err)
					observe(Event{Kind: "error", Err: err})
					continue
				}
			}
			prev = next
			ev := Event{Kind: kind, Counts: next.Counts().Rules, Latency: time.Since(at), Endpoint: next.Endpoints}
			log.Info("ruleset in force", "how", kind, "endpoints", next.Endpoints, "rules", ev.Counts, "latency", ev.Latency)
			observe(ev)
		case <-tick.C:
			if prev == nil {
				continue
			}
			st, err := e.Applier.Status(ctx)
			if err != nil {
				log.Warn("status check failed", "err", err)
				continue
			}
			e.m.setDrift(st.Drift)
			if st.Drift == DriftNone {
				continue
			}
			log.Warn("the table changed outside Lockdown: applying it again", "drift", st.Drift)
			if _, err := e.Applier.Apply(ctx, prev); err != nil {
				log.Warn("re-apply failed", "err", err)
				observe(Event{Kind: "error", Err: err, Drift: st.Drift})
				continue
			}
			e.m.setDrift(DriftNone)
			observe(Event{Kind: "drift-repaired", Drift: st.Drift, Counts: prev.Counts().Rules, Endpoint: prev.Endpoints})
		}
	}
}

func (e *Enforcer) compile(ctx context.Context) (*Ruleset, error) {
	cfg, err := e.Source.Config(ctx)
	if err != nil {
		return nil, err
	}
	return e.Applier.Compile(cfg)
}

// DockerSource is policies and other inputs (loaded once) plus the
// running containers of a Docker engine, followed through its events.
type DockerSource struct {
	API     dockerep.EventsAPI
	Objects []*load.Object
	Logger  *slog.Logger
	// OnBuild receives the warnings of each build (may be nil).
	OnBuild func(*netpol.Config)
	tracker *dockerep.Tracker
}

// Watch subscribes to the engine's events, reads every container, and
// then reports each change to a container's endpoint.
func (s *DockerSource) Watch(ctx context.Context) (<-chan time.Time, <-chan error) {
	out := make(chan time.Time, 1)
	errc := make(chan error, 1)
	s.tracker = dockerep.NewTracker(s.API, s.Logger)
	msgs, errs := s.API.Events(ctx, events.ListOptions{Filters: dockerep.Relevant})
	go func() {
		if err := s.tracker.Sync(ctx); err != nil {
			errc <- err
			return
		}
		out <- time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case err := <-errs:
				if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
					errc <- fmt.Errorf("docker events: %w", err)
				}
				return
			case m := <-msgs:
				// Latency counts from the event's arrival: Docker sends a
				// container's network connect when its start is done,
				// stamped with the time it began.
				at := time.Now()
				changed, err := s.tracker.Handle(ctx, m)

				if err != nil {
					if s.Logger != nil {
						s.Logger.Warn("docker event", "err", err)
					}
					continue
				}
				if changed {
					select {
					case out <- at:
					default: // an update is already pending
					}
				}
			}
		}
	}()
	return out, errc
}

// Config builds the inputs with the current containers.
func (s *DockerSource) Config(ctx context.Context) (*netpol.Config, error) {
	var eps []*netpol.Endpoint
	if s.tracker != nil {
		eps = s.tracker.Endpoints()
	}
	cfg, err := netpol.Build(s.Objects, eps)
	if err != nil {
		return nil, err
	}
	if s.OnBuild != nil {
		s.OnBuild(cfg)
	}
	return cfg, nil
}

// FileSource is a world read once (policies and endpoints from files):
// it never changes.
type FileSource struct {
	Objects []*load.Object
}

// Watch reports the initial state only.
func (s *FileSource) Watch(ctx context.Context) (<-chan time.Time, <-chan error) {
	out := make(chan time.Time, 1)
	out <- time.Now()
	return out, make(chan error)
}

// Config builds the objects.
func (s *FileSource) Config(context.Context) (*netpol.Config, error) {
	return netpol.Build(s.Objects, nil)
}
