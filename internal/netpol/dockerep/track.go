package dockerep

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/lockdown-sec/lockdown/internal/netpol"
)

// EventsAPI is API plus the event stream.
type EventsAPI interface {
	API
	Events(ctx context.Context, options events.ListOptions) (<-chan events.Message, <-chan error)
}

var _ EventsAPI = (*client.Client)(nil)

// Tracker keeps the running containers as endpoints: Sync lists them all,
// then Handle re-reads only the container an event is about (started,
// stopped, connected to or disconnected from a network, renamed).
type Tracker struct {
	api API
	log *slog.Logger
	mu  sync.Mutex
	eps map[string]*netpol.Endpoint // by container ID
}

// NewTracker returns a tracker over api (logger may be nil).
func NewTracker(api API, logger *slog.Logger) *Tracker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Tracker{api: api, log: logger, eps: map[string]*netpol.Endpoint{}}
}

// Sync reads every running container.
func (t *Tracker) Sync(ctx context.Context) error {
	list, err := Endpoints(ctx, t.api, t.log)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.eps = map[string]*netpol.Endpoint{}
	for _, e := range list {
		t.eps[idOf(e)] = e
	}
	return nil
}

func idOf(e *netpol.Endpoint) string { return strings.TrimPrefix(e.Source.File, "docker:") }

// Endpoints returns the tracked endpoints, sorted by name.
func (t *Tracker) Endpoints() []*netpol.Endpoint {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := slices.Collect(maps.Values(t.eps))
	slices.SortFunc(out, func(a, b *netpol.Endpoint) int { return strings.Compare(a.ID(), b.ID()) })
	return out
}

// Relevant are the events that change a container's endpoint.
var Relevant = filters.NewArgs(
	filters.Arg("type", string(events.ContainerEventType)),
	filters.Arg("type", string(events.NetworkEventType)),
	filters.Arg("event", string(events.ActionStart)),
	filters.Arg("event", string(events.ActionDie)),
	filters.Arg("event", string(events.ActionDestroy)),
	filters.Arg("event", string(events.ActionRename)),
	filters.Arg("event", string(events.ActionUpdate)),
	filters.Arg("event", string(events.ActionConnect)),
	filters.Arg("event", string(events.ActionDisconnect)),
)

// Handle applies one event and reports whether the endpoints changed.
func (t *Tracker) Handle(ctx context.Context, m events.Message) (bool, error) {
	id := m.Actor.ID
	if m.Type == events.NetworkEventType {
		id = m.Actor.Attributes["container"]
	}
	if id == "" {
		return false, nil
	}
	if m.Action == events.ActionDie || m.Action == events.ActionDestroy {
		return t.drop(shortID(id)), nil
	}
	info, err := t.api.ContainerInspect(ctx, id)
	if err != nil {
		if client.IsErrNotFound(err) {
			return t.drop(shortID(id)), nil
		}
		return false, fmt.Errorf("inspect container %s: %w", shortID(id), err)
	}
	if info.ContainerJSONBase == nil || info.State == nil || !info.State.Running {
		return t.drop(shortID(info.ID)), nil
	}
	e, err := fromInspect(info)
	if err != nil {
		t.log.Warn("skipping container", "container", shortID(id), "err", err)
		return t.drop(shortID(info.ID)), nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.eps[shortID(info.ID)] = e
	return true, nil
}

func (t *Tracker) drop(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.eps[id]
	delete(t.eps, id)
	return ok
}
