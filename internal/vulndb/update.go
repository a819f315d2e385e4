package vulndb

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/lockdown-sec/lockdown/internal/ecosystem"
	"github.com/lockdown-sec/lockdown/internal/osv"
)

// maxRejections is how many rejections Status keeps (it counts them all).
const maxRejections = 10

// UpdateOptions configure Update. The zero value works.
type UpdateOptions struct {
	// BaseURL is where osv.dev exports are fetched from for sources given
	// by Ecosystem ("" = DefaultBaseURL): a mirror.
	BaseURL string
	// Ecosystems are the osv.dev exports fetched when no source is given
	// (nil = DefaultEcosystems()).
	Ecosystems []string
	// HTTPClient downloads URLs (nil: a client with connect, TLS and
	// response-header timeouts; a download that stalls for a minute fails).
	HTTPClient *http.Client
	// RetryWait is the wait before the second download try, doubled before
	// the third (0: 1s). Downloads are tried 3 times on connection errors,
	// timeouts and 5xx answers.
	RetryWait time.Duration
	// Logger receives warnings (rejected records, retries); nil discards.
	Logger *slog.Logger
	// Progress, if set, is called as sources are downloaded and read.
	Progress func(Progress)
}

// Progress reports how far an update is.
type Progress struct {
	Source  string // the source's location or URL
	Phase   string // "download", "read" or "write"
	Bytes   int64  // downloaded so far
	Total   int64  // download size, -1 when unknown
	Records int    // records read so far from this source
}

// Update builds a new database at path from sources (none: the osv.dev
// exports of opts.Ecosystems) and swaps it in atomically: the new file is
// written next to path under a temporary name, synced, and renamed over
// path. Until that rename the previous database stays as it was, whatever
// happens (error, cancelled ctx, killed process). Concurrent updates of the
// same path wait for each other (flock on path.lock).
//
// One malformed record is a warning (see Status.Rejections); a source that
// cannot be read at all (missing, truncated zip, failed download) fails
// the update and leaves the old database in place.
func Update(ctx context.Context, path string, sources []Source, opts UpdateOptions) (Status, error) {
	start := time.Now()
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if path == "" {
		return Status{}, errors.New("update: empty db path")
	}
	if len(sources) == 0 {
		ecos := opts.Ecosystems
		if len(ecos) == 0 {
			ecos = DefaultEcosystems()
		}
		for _, e := range ecos {
			sources = append(sources, OSVExport(e))
		}
	}
	resolved, err := resolveSources(sources)
	if err != nil {
		return Status{}, err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Status{}, fmt.Errorf("update %s: %w", path, err)
	}
	unlock, err := lockPath(ctx, path+".lock", logger)
	if err != nil {
		return Status{}, err
	}
	defer unlock()
	removeStale(dir, base, logger)

	tmp, err := os.CreateTemp(dir, base+".tmp-*")
	if err != nil {
		return Status{}, fmt.Errorf("update %s: %w", path, err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	if err := os.Chmod(tmpName, 0o644); err != nil {
		os.Remove(tmpName)
		return Status{}, fmt.Errorf("update %s: %w", path, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmpName)
		}
	}()

	b := newBuilder(logger)
	var srcStatus []SourceStatus
	for _, src := range resolved {
		st, err := b.ingest(ctx, src, dir, base, opts, logger)
		if err != nil {
			return Status{}, fmt.Errorf("update %s: %w", path, err)
		}
		srcStatus = append(srcStatus, st)
	}
	if opts.Progress != nil {
		opts.Progress(Progress{Source: path, Phase: "write", Records: len(b.entries)})
	}
	status, err := b.write(ctx, tmpName)
	if err != nil {
		return Status{}, fmt.Errorf("update %s: write %s: %w", path, tmpName, err)
	}
	status.Sources = srcStatus
	status.Elapsed = Duration(time.Since(start))
	if err := writeStatus(tmpName, status); err != nil {
		return Status{}, fmt.Errorf("update %s: write %s: %w", path, tmpName, err)
	}
	if err := syncFile(tmpName); err != nil {
		return Status{}, fmt.Errorf("update %s: %w", path, err)
	}
	if err := ctx.Err(); err != nil {
		return Status{}, err
	}
	if err := os.Rename(tmpName, path); err != nil {
		return Status{}, fmt.Errorf("update %s: %w", path, err)
	}
	renamed = true
	syncDir(dir)
	if fi, err := os.Stat(path); err == nil {
		status.Size = fi.Size()
	}
	status.Path = path
	for _, u := range status.Unknown {
		for _, e := range status.Ecosystems {
			if e.Name == u {
				logger.Warn("ecosystem without a known version scheme", "ecosystem", u, "records", e.Records)
			}
		}
	}
	return status, nil
}

// resolveSources fills in missing kinds and checks every source names a
// place.
func resolveSources(in []Source) ([]Source, error) {
	var out []Source
	for _, s := range in {
		switch {
		case s.Location == "" && s.Ecosystem == "":
			return nil, errors.New("source with neither location nor ecosystem")
		case s.Location == "":
			if s.Kind != "" && s.Kind != KindOSV {
				return nil, fmt.Errorf("source %s: only OSV exports can be named by ecosystem", s)
			}
			s.Kind = KindOSV
			out = append(out, s)
		case s.Kind == "":
			d, err := DetectSources(s.Location)
			if err != nil {
				return nil, err
			}
			out = append(out, d...)
		default:
			switch s.Kind {
			case KindOSV, KindAlpineSecdb, KindWolfiSecdb, KindChainguardSecdb, KindUbuntuTracker, KindDebianTracker:
			default:
				return nil, fmt.Errorf("source %s: unknown kind %q", s.Location, s.Kind)
			}
			if !isURL(s.Location) {
				if _, err := os.Stat(s.Location); err != nil {
					return nil, fmt.Errorf("source %s: %w", s.Location, err)
				}
			} else if s.Kind == KindAlpineSecdb {
				return nil, fmt.Errorf("source %s: an alpine secdb source must be a local directory", s.Location)
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// lockPath takes an exclusive flock on p, waiting (while ctx allows) for
// another update to finish.
func lockPath(ctx context.Context, p string, logger *slog.Logger) (func(), error) {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	warned := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", p, err)
		}
		if !warned {
			logger.Warn("another update of this database is running; waiting for it", "lock", p)
			warned = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for another update to finish (lock %s): %w", p, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// removeStale deletes temporary files left by an update that crashed; the
// caller holds the lock, so no running update owns them.
func removeStale(dir, base string, logger *slog.Logger) {
	for _, pat := range []string{base + ".tmp-*", base + ".download-*"} {
		matches, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, m := range matches {
			if err := os.Remove(m); err == nil {
				logger.Info("removed a file left by an interrupted update", "file", m)
			}
		}
	}
}

func syncFile(p string) error {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", p, err)
	}
	return f.Close()
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// builder collects records in memory (compressed) until the file is
// written. Records are queued and prepared (decoded, split, compressed) in
// batches on every CPU, then committed in the order they were read, so
// the result does not depend on the parallelism.
type builder struct {
	entries    map[string]*entry
	logger     *slog.Logger
	zws        []*flate.Writer // one per worker
	pending    []job
	rejected   int
	rejections []Rejection
	dups       int
}

// batchSize is how many records are prepared in parallel at a time.
const batchSize = 512

type entry struct {
	record    []byte // records value: flags, codec, skeleton JSON
	affected  []affectedValue
	keys      []pkgKey // indexed packages
	modified  time.Time
	withdrawn bool
}

// affectedValue is one affected-bucket value of a record: its entries
// naming pkg (the zero pkgKey: entries naming no package).
type affectedValue struct {
	pkg pkgKey
	val []byte
}

type pkgKey struct{ eco, name string }

// keyOf is the index key of package name in ecosystem eco, both in their
// normal form (ecosystem.Normalize, Ecosystem.PackageName); the zero key
// when either is empty.
func keyOf(eco, name string) pkgKey {
	eco = ecosystem.Normalize(eco)
	if eco == "" || name == "" {
		return pkgKey{}
	}
	e, _ := ecosystem.Lookup(eco)
	return pkgKey{eco, e.PackageName(name)}
}

// job is one queued record: OSV JSON (raw) or a converted record (conv).
type job struct {
	where string
	raw   []byte
	conv  *osv.Vulnerability
	count func()

	id  string
	e   *entry
	err error
}

func newBuilder(logger *slog.Logger) *builder {
	n := max(1, runtime.GOMAXPROCS(0))
	b := &builder{entries: map[string]*entry{}, logger: logger}
	for range n {
		b.zws = append(b.zws, newFlateWriter())
	}
	return b
}

func (b *builder) reject(where string, err error) {
	b.rejected++
	if len(b.rejections) < maxRejections {
		b.rejections = append(b.rejections, Rejection{Where: where, Reason: err.Error()})
	}
	b.logger.Debug("skipped a malformed advisory (counted in the update summary)", "where", where, "err", err)
}

// queueRaw queues one OSV JSON record; count is called if it is accepted.
func (b *builder) queueRaw(where string, raw []byte, count func()) {
	b.queue(job{where: where, raw: raw, count: count})
}

// queueRecord queues a converted record.
func (b *builder) queueRecord(where string, v osv.Vulnerability, count func()) {
	b.queue(job{where: where, conv: &v, count: count})
}

func (b *builder) queue(j job) {
	b.pending = append(b.pending, j)
	if len(b.pending) >= batchSize {
		b.flush()
	}
}

// flush prepares the queued records in parallel and commits them in order.
func (b *builder) flush() {
	jobs := b.pending
	b.pending = nil
	if len(jobs) == 0 {
		return
	}
	workers := min(len(b.zws), len(jobs))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(jobs); i += workers {
				j := &jobs[i]
				if j.conv != nil {
					j.id, j.e, j.err = prepareRecord(b.zws[w], j.conv)
				} else {
					j.id, j.e, j.err = prepareRaw(b.zws[w], j.raw)
				}
			}
		}()
	}
	wg.Wait()
	for _, j := range jobs {
		if j.err != nil {
			b.reject(j.where, j.err)
			continue
		}
		b.commit(j.id, j.e)
		if j.count != nil {
			j.count()
		}
	}
}

// addRaw adds one OSV JSON record at once (queued ones first). It reports
// whether the record was accepted.
func (b *builder) addRaw(where string, raw []byte) bool {
	accepted := false
	b.queue(job{where: where, raw: raw, count: func() { accepted = true }})
	b.flush()
	return accepted
}

// prepareRaw decodes and checks an OSV JSON record and encodes it for the
// store, keeping every value verbatim.
func prepareRaw(zw *flate.Writer, raw []byte) (string, *entry, error) {
	v, err := ParseRecord(raw)
	if err != nil {
		return "", nil, err
	}
	skeleton, affected, err := splitRecord(raw)
	if err == nil && len(affected) != len(v.Affected) {
		err = fmt.Errorf("affected: %d entries, decoded %d", len(affected), len(v.Affected))
	}
	if err != nil {
		return "", nil, err
	}
	return v.ID, encodeEntry(zw, &v, skeleton, affected), nil
}

// prepareRecord encodes a converted record for the store.
func prepareRecord(zw *flate.Writer, v *osv.Vulnerability) (string, *entry, error) {
	if v.ID == "" {
		return "", nil, errors.New("record has no id")
	}
	affected := make([]json.RawMessage, len(v.Affected))
	for i := range v.Affected {
		raw, err := json.Marshal(v.Affected[i])
		if err != nil {
			return "", nil, fmt.Errorf("encode %s: %w", v.ID, err)
		}
		affected[i] = raw
	}
	skel := *v
	skel.Affected = nil
	skeleton, err := json.Marshal(skel)
	if err != nil {
		return "", nil, fmt.Errorf("encode %s: %w", v.ID, err)
	}
	return v.ID, encodeEntry(zw, v, skeleton, affected), nil
}

// encodeEntry builds the stored form of v, given as its skeleton JSON and
// its affected entries' JSON (in v.Affected's order).
func encodeEntry(zw *flate.Writer, v *osv.Vulnerability, skeleton []byte, affected []json.RawMessage) *entry {
	e := &entry{modified: v.Modified, withdrawn: v.Withdrawn != nil}
	var flags byte
	if e.withdrawn {
		flags |= flagWithdrawn
	}
	e.record = encodeValue(zw, flags, skeleton)

	groups := map[pkgKey][]posEntry{}
	var order []pkgKey
	for i, raw := range affected {
		var k pkgKey
		if i < len(v.Affected) {
			p := v.Affected[i].Package
			k = keyOf(p.Ecosystem, p.Name)
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
			if k != (pkgKey{}) {
				e.keys = append(e.keys, k)
			}
		}
		groups[k] = append(groups[k], posEntry{pos: i, raw: raw})
	}
	for _, k := range order {
		e.affected = append(e.affected, affectedValue{pkg: k, val: packEntries(zw, groups[k])})
	}
	return e
}

// commit stores a prepared record. Of two records with one ID the newer
// `modified` wins; on a tie, the one read last.
func (b *builder) commit(id string, e *entry) {
	if old, ok := b.entries[id]; ok {
		b.dups++
		if old.modified.After(e.modified) {
			return
		}
	}
	b.entries[id] = e
}

// write puts every record and the index into a new bbolt file at p and
// returns the status (without sources).
func (b *builder) write(ctx context.Context, p string) (Status, error) {
	ids := make([]string, 0, len(b.entries))
	for id := range b.entries {
		ids = append(ids, id)
	}
	sort.Strings(ids)

	st := Status{Schema: SchemaVersion, Built: time.Now().UTC(), Records: len(ids), Duplicates: b.dups,
		Rejected: b.rejected, Rejections: b.rejections}
	index := map[pkgKey][]string{}
	type ecoAcc struct {
		records, withdrawn int
		pkgs               map[string]struct{}
	}
	ecos := map[string]*ecoAcc{}
	type kv struct{ k, v []byte }
	var affected []kv
	for _, id := range ids {
		e := b.entries[id]
		if e.withdrawn {
			st.Withdrawn++
		}
		if len(e.keys) == 0 {
			st.Unindexed++
		}
		for _, a := range e.affected {
			affected = append(affected, kv{append(appendID(nil, id), indexKey(a.pkg.eco, a.pkg.name)...), a.val})
		}
		seen := map[string]bool{}
		for _, k := range e.keys {
			index[k] = append(index[k], id)
			acc := ecos[k.eco]
			if acc == nil {
				acc = &ecoAcc{pkgs: map[string]struct{}{}}
				ecos[k.eco] = acc
			}
			acc.pkgs[k.name] = struct{}{}
			if !seen[k.eco] {
				seen[k.eco] = true
				acc.records++
				if e.withdrawn {
					acc.withdrawn++
				}
			}
		}
	}
	for name, acc := range ecos {
		e, _ := ecosystem.Lookup(name)
		known := e.Supported()
		st.Ecosystems = append(st.Ecosystems, EcosystemCount{Name: name, Records: acc.records,
			Withdrawn: acc.withdrawn, Packages: len(acc.pkgs), Known: known})
		if !known {
			st.Unknown = append(st.Unknown, name)
		}
	}
	sort.Slice(st.Ecosystems, func(i, j int) bool { return st.Ecosystems[i].Name < st.Ecosystems[j].Name })
	sort.Strings(st.Unknown)

	pairs := make([]kv, 0, len(index))
	for k, list := range index {
		var v []byte
		for _, id := range list {
			v = appendID(v, id)
		}
		pairs = append(pairs, kv{indexKey(k.eco, k.name), v})
	}
	sort.Slice(pairs, func(i, j int) bool { return bytes.Compare(pairs[i].k, pairs[j].k) < 0 })
	sort.Slice(affected, func(i, j int) bool { return bytes.Compare(affected[i].k, affected[j].k) < 0 })

	// Map the whole file up front: growing the map is a copy of the pages.
	size := 1 << 20
	for _, id := range ids {
		size += len(id) + len(b.entries[id].record)
	}
	for _, list := range [][]kv{affected, pairs} {
		for _, p := range list {
			size += len(p.k) + len(p.v)
		}
	}
	db, err := bolt.Open(p, 0o644, &bolt.Options{Timeout: time.Second, NoFreelistSync: true, InitialMmapSize: size + size/4})
	if err != nil {
		return Status{}, err
	}
	db.AllocSize = 1 << 20 // grow the file in small steps: it is written once
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if err := meta.Put(keySchema, []byte(strconv.Itoa(SchemaVersion))); err != nil {
			return err
		}
		rb, err := tx.CreateBucket(bucketRecords)
		if err != nil {
			return err
		}
		rb.FillPercent = 1
		for i, id := range ids {
			if i%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if err := rb.Put([]byte(id), b.entries[id].record); err != nil {
				return fmt.Errorf("record %s: %w", id, err)
			}
		}
		for _, bucket := range []struct {
			name  []byte
			pairs []kv
		}{{bucketAffected, affected}, {bucketIndex, pairs}} {
			bk, err := tx.CreateBucket(bucket.name)
			if err != nil {
				return err
			}
			bk.FillPercent = 1
			for i, p := range bucket.pairs {
				if i%4096 == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
				}
				if err := bk.Put(p.k, p.v); err != nil {
					return err
				}
			}
		}
		return ctx.Err()
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Status{}, err
	}
	return st, nil
}

// writeStatus stores the status in the meta bucket of the new file.
func writeStatus(p string, st Status) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	db, err := bolt.Open(p, 0o644, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyStatus, raw)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}
