package server

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lockdown-sec/lockdown/internal/server/store"
)

// verdictRecheck is how often the webhook asks the store whether image
// results changed (ImagesVersion): how long a scan that another replica
// stored can go unseen. Results this process stores are seen at once.
const verdictRecheck = time.Second

// maxVerdicts bounds the cache: when full it starts again empty.
const maxVerdicts = 10000

// imageVerdicts caches, for each image reference the webhook was asked
// about as the pod spells it, its latest scan result or that it has none,
// so that deciding on a known image reads no store. The cache empties when
// this process stores or prunes a result (flush) and when the store's
// ImagesVersion moves (another replica stored one), which one request
// checks at most every verdictRecheck. If the store cannot be read, the
// cached verdicts keep answering.
type imageVerdicts struct {
	st    *store.Store
	log   *slog.Logger
	m     *admissionMetrics
	every atomic.Int64 // verdictRecheck in ns (tests change it)

	mu      sync.RWMutex
	entries map[string]verdictEntry
	gen     uint64 // counts flushes: a lookup begun before one is not cached

	version  atomic.Int64 // the store's ImagesVersion the entries agree with
	checked  atomic.Int64 // when it was last read (Unix ns)
	checking atomic.Bool
}

type verdictEntry struct {
	res   store.ImageResult
	found bool
}

func newImageVerdicts(st *store.Store, log *slog.Logger, m *admissionMetrics) *imageVerdicts {
	v := &imageVerdicts{st: st, log: log, m: m, entries: map[string]verdictEntry{}}
	v.every.Store(int64(verdictRecheck))
	v.version.Store(-1) // unknown: the first check flushes nothing but sets it
	return v
}

// lookup is store.LatestImageFor(ref) through the cache; found is false
// for an image with no scan.
func (v *imageVerdicts) lookup(ctx context.Context, ref string) (res store.ImageResult, found bool, err error) {
	v.recheck(ctx)
	v.mu.RLock()
	e, ok := v.entries[ref]
	gen := v.gen
	v.mu.RUnlock()
	if ok {
		v.m.cacheLookups.Inc()
		return e.res, e.found, nil
	}
	v.m.storeLookups.Inc()
	res, err = v.st.LatestImageFor(ctx, ref)
	switch {
	case err == nil:
		found = true
	case !errors.Is(err, store.ErrNotFound):
		return store.ImageResult{}, false, err
	}
	res.Report, res.Vulns = nil, nil // not needed for a verdict
	v.mu.Lock()
	if v.gen == gen {
		if len(v.entries) >= maxVerdicts {
			clear(v.entries)
		}
		v.entries[ref] = verdictEntry{res: res, found: found}
	}
	v.mu.Unlock()
	return res, found, nil
}

// flush forgets every verdict.
func (v *imageVerdicts) flush() {
	v.mu.Lock()
	clear(v.entries)
	v.gen++
	v.mu.Unlock()
}

// recheck reads the store's ImagesVersion when v.every has passed
// since the last read (one caller at a time; the others go on with the
// cache) and flushes when it moved.
func (v *imageVerdicts) recheck(ctx context.Context) {
	now := time.Now().UnixNano()
	if now-v.checked.Load() < v.every.Load() || !v.checking.CompareAndSwap(false, true) {
		return
	}
	defer v.checking.Store(false)
	cur, err := v.st.ImagesVersion(ctx)
	if err != nil {
		v.log.Warn("admission: cannot tell whether image results changed; answering from the cache", "err", err)
		return
	}
	v.checked.Store(now)
	if old := v.version.Swap(cur); old != cur && old >= 0 {
		v.flush()
	}
}
