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
	"sort"
	"strconv"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

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
			case KindOSV, KindAlpineSecdb, KindUbuntuTracker, KindDebianTracker:
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

// builder collects records in memory (compressed) until the file is written.
type builder struct {
	entries    map[string]*entry
	logger     *slog.Logger
	zw         *flate.Writer
	rejected   int
	rejections []Rejection
	dups       int
}

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

func newBuilder(logger *slog.Logger) *builder {
	zw, _ := flate.NewWriter(nil, flate.BestSpeed) // level is valid
	return &builder{entries: map[string]*entry{}, logger: logger, zw: zw}
}

func (b *builder) reject(where string, err error) {
	b.rejected++
	if len(b.rejections) < maxRejections {
		b.rejections = append(b.rejections, Rejection{Where: where, Reason: err.Error()})
	}
	b.logger.Warn("skipped a malformed advisory", "where", where, "err", err)
}

// addRaw adds one OSV JSON record, keeping every value verbatim. It
// reports whether the record was accepted.
func (b *builder) addRaw(where string, raw []byte) bool {
	v, err := ParseRecord(raw)
	if err != nil {
		b.reject(where, err)
		return false
	}
	skeleton, affected, err := splitRecord(raw)
	if err == nil && len(affected) != len(v.Affected) {
		err = fmt.Errorf("affected: %d entries, decoded %d", len(affected), len(v.Affected))
	}
	if err != nil {
		b.reject(where, err)
		return false
	}
	b.put(&v, skeleton, affected)
	return true
}

// addRecord adds a converted record.
func (b *builder) addRecord(where string, v osv.Vulnerability) bool {
	affected := make([]json.RawMessage, len(v.Affected))
	for i := range v.Affected {
		raw, err := json.Marshal(v.Affected[i])
		if err != nil {
			b.reject(where, fmt.Errorf("encode %s: %w", v.ID, err))
			return false
		}
		affected[i] = raw
	}
	skel := v
	skel.Affected = nil
	skeleton, err := json.Marshal(skel)
	if err != nil {
		b.reject(where, fmt.Errorf("encode %s: %w", v.ID, err))
		return false
	}
	b.put(&v, skeleton, affected)
	return true
}

// put stores v, given as its skeleton JSON and its affected entries' JSON
// (in v.Affected's order). Of two records with one ID the newer `modified`
// wins; on a tie, the one read last.
func (b *builder) put(v *osv.Vulnerability, skeleton []byte, affected []json.RawMessage) {
	if old, ok := b.entries[v.ID]; ok {
		b.dups++
		if old.modified.After(v.Modified) {
			return
		}
	}
	e := &entry{modified: v.Modified, withdrawn: v.Withdrawn != nil}
	var flags byte
	if e.withdrawn {
		flags |= flagWithdrawn
	}
	e.record = encodeValue(b.zw, flags, skeleton, len(skeleton) > 256)

	groups := map[pkgKey][]posEntry{}
	var order []pkgKey
	for i, raw := range affected {
		var k pkgKey
		if i < len(v.Affected) {
			if p := v.Affected[i].Package; p.Name != "" {
				if eco := NormalizeEcosystem(p.Ecosystem); eco != "" {
					k = pkgKey{eco, p.Name}
				}
			}
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
		e.affected = append(e.affected, affectedValue{pkg: k, val: packEntries(b.zw, groups[k])})
	}
	b.entries[v.ID] = e
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
		known := KnownEcosystem(name)
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

	db, err := bolt.Open(p, 0o644, &bolt.Options{Timeout: time.Second, NoFreelistSync: true})
	if err != nil {
		return Status{}, err
	}
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
