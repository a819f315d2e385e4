// Package vulndb is Lockdown's advisory store: one embedded bbolt file
// holding OSV records, indexed by (normalised ecosystem, package name), and
// its ingest from osv.dev exports, OSV zips and directories, and
// distribution formats (package distro). Update builds a new file and
// renames it over the old one, so readers never see a half-built DB.
//
// Layout (schema 1). A key "pkg" is uvarint(len(ecosystem)) ecosystem
// name, with the ecosystem normalised; "id" is uvarint(len(ID)) ID.
//
//	meta      "schema" -> decimal schema version; "status" -> Status JSON
//	records   ID -> flags, codec, the record's JSON without its affected
//	          entries (every other member verbatim)
//	affected  id pkg -> codec, the record's affected entries naming pkg,
//	          each as (position in the record, verbatim JSON); entries
//	          naming no package sit under the empty pkg
//	index     pkg -> the IDs of the records naming it, sorted
//
// Codec 0 is plain, 1 raw DEFLATE with a preset dictionary (flateDict). Lookup reads only the entries of the
// package asked for, so records naming hundreds of packages (a kernel CVE,
// an AlmaLinux advisory) cost little to look up.
package vulndb

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/lockdown-sec/lockdown/internal/ecosystem"
	"github.com/lockdown-sec/lockdown/internal/osv"
)

// SchemaVersion is the store layout this binary reads and writes.
const SchemaVersion = 1

// Errors callers branch on.
var (
	// ErrNoDB: there is no database at the path.
	ErrNoDB = errors.New("no vulnerability database")
	// ErrSchema: the database has a layout this binary does not read.
	ErrSchema = errors.New("unsupported database schema")
	// ErrCorrupt: the file is damaged (a flipped page, a broken meta
	// page, an interrupted copy); reading it would crash or mislead.
	ErrCorrupt = errors.New("the vulnerability database is corrupt: run lockdown db update")
)

var (
	bucketMeta     = []byte("meta")
	bucketRecords  = []byte("records")
	bucketAffected = []byte("affected")
	bucketIndex    = []byte("index")
	keySchema      = []byte("schema")
	keyStatus      = []byte("status")
)

// Record flags and codecs (first two bytes of a stored record).
const (
	flagWithdrawn = 1 << 0

	codecPlain = 0
	codecFlate = 1
)

// DefaultDBPath is os.UserCacheDir()/lockdown/db/lockdown.db.
func DefaultDBPath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("default db path: %w (use --db PATH)", err)
	}
	return filepath.Join(dir, "lockdown", "db", "lockdown.db"), nil
}

// OpenOptions configure Open. The zero value works.
type OpenOptions struct {
	// IncludeWithdrawn makes Lookup return withdrawn records too.
	IncludeWithdrawn bool
	// Timeout bounds the wait for the file lock (0: 5s).
	Timeout time.Duration
}

// The shape match.Source asks for.
var _ interface {
	Lookup(ctx context.Context, ecosystem, name string) ([]osv.Vulnerability, error)
} = (*Store)(nil)

// Store is an open, read-only advisory database. It is safe for
// concurrent use.
type Store struct {
	db     *bolt.DB
	path   string
	opts   OpenOptions
	status Status
	pool   sync.Pool // *decoder
}

// Open opens the database at path read-only. A missing file is ErrNoDB; a
// file of another schema version is ErrSchema, with what to do; a damaged
// one is ErrCorrupt. A file not seen before (its size, times and inode
// differ from the stamp in path+".verified") is first checked page by page
// (bbolt's consistency check), and the stamp written when it passes; a
// crash inside bbolt on a corrupt page is turned into ErrCorrupt, here and
// in every read.
func Open(path string, opts OpenOptions) (*Store, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s: run `lockdown db update`", ErrNoDB, path)
	}
	if err != nil {
		return nil, fmt.Errorf("open db %s: %w", path, err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("open db %s: is a directory", path)
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	var db *bolt.DB
	if err := guard(func() (err error) {
		db, err = bolt.Open(path, 0o644, &bolt.Options{ReadOnly: true, Timeout: timeout})
		return err
	}); err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("open db %s: %w", path, err)
		}
		return nil, fmt.Errorf("open db %s: %w (%v)", path, ErrCorrupt, err)
	}
	s := &Store{db: db, path: path, opts: opts}
	if err := s.view(func(tx *bolt.Tx) error {
		// A truncated file (a partial copy, a full disk) still has valid
		// meta pages but names pages past its end: reading them through
		// the mmap would crash the process, so refuse it here.
		if tx.Size() > fi.Size() {
			return fmt.Errorf("db %s is truncated (%d bytes, its pages need %d): run `lockdown db update`: %w", path, fi.Size(), tx.Size(), ErrSchema)
		}
		meta := tx.Bucket(bucketMeta)
		if meta == nil || meta.Get(keySchema) == nil {
			return fmt.Errorf("db %s is not a lockdown vulnerability database (no schema): run `lockdown db update`: %w", path, ErrSchema)
		}
		v, err := strconv.Atoi(string(meta.Get(keySchema)))
		if err != nil {
			return fmt.Errorf("db %s: unreadable schema %q: %w", path, meta.Get(keySchema), ErrSchema)
		}
		switch {
		case v > SchemaVersion:
			return fmt.Errorf("db %s has schema %d, this lockdown reads up to %d: update lockdown: %w", path, v, SchemaVersion, ErrSchema)
		case v < SchemaVersion:
			return fmt.Errorf("db %s has schema %d, this lockdown reads %d: run `lockdown db update`: %w", path, v, SchemaVersion, ErrSchema)
		}
		if tx.Bucket(bucketRecords) == nil || tx.Bucket(bucketAffected) == nil || tx.Bucket(bucketIndex) == nil {
			return fmt.Errorf("db %s is incomplete (no records or index): run `lockdown db update`: %w", path, ErrSchema)
		}
		// Update writes the status last, in a transaction of its own: a
		// file without it is one whose last transaction was lost (a broken
		// meta page makes bbolt fall back to the one before).
		raw := meta.Get(keyStatus)
		if raw == nil {
			return fmt.Errorf("db %s: no build status (a damaged meta page or an interrupted write): %w", path, ErrCorrupt)
		}
		if err := json.Unmarshal(raw, &s.status); err != nil {
			return fmt.Errorf("db %s: read status: %w: %w", path, err, ErrCorrupt)
		}
		if s.status.Schema != SchemaVersion || s.status.Built.IsZero() {
			return fmt.Errorf("db %s: status says schema %d, built %s: %w", path, s.status.Schema, s.status.Built, ErrCorrupt)
		}
		if verifiedStamp(path) != stampOf(fi) {
			if err := verify(tx, s.status); err != nil {
				return fmt.Errorf("db %s: %w: %w", path, err, ErrCorrupt)
			}
			writeStamp(path, stampOf(fi))
		}
		return nil
	}); err != nil {
		db.Close()
		if errors.Is(err, ErrCorrupt) && !strings.Contains(err.Error(), path) {
			err = fmt.Errorf("db %s: %w", path, err)
		}
		return nil, err
	}
	s.status.Path = path
	s.status.Size = fi.Size()
	return s, nil
}

// view runs fn in a read transaction, turning a crash inside bbolt (an
// assertion on a corrupt page, a fault reading the map) into ErrCorrupt.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	return guard(func() error { return s.db.View(fn) })
}

// guard runs fn with panics and memory faults turned into ErrCorrupt.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w (%v)", ErrCorrupt, p)
		}
	}()
	return fn()
}

// verify runs bbolt's consistency check over every page and checks that
// the records bucket holds as many records as the status says.
func verify(tx *bolt.Tx, st Status) error {
	var first error
	for err := range tx.Check() { // drained: the checker stops at the end
		if first == nil {
			first = err
		}
	}
	if first != nil {
		return fmt.Errorf("consistency check: %v", first)
	}
	if n := tx.Bucket(bucketRecords).Stats().KeyN; n != st.Records {
		return fmt.Errorf("%d records stored, the status says %d", n, st.Records)
	}
	return nil
}

// stamp identifies one version of a file: a changed file (rewritten,
// replaced, copied over) has another.
type stamp struct {
	size, mtime, ctime int64
	ino                uint64
}

func stampOf(fi fs.FileInfo) stamp {
	st := stamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ctime = sys.Ctim.Nano()
		st.ino = sys.Ino
	}
	return st
}

func (s stamp) String() string {
	return fmt.Sprintf("%d %d %d %d\n", s.size, s.mtime, s.ctime, s.ino)
}

// verifiedSuffix names the file beside the database that holds the stamp
// of the version last verified.
const verifiedSuffix = ".verified"

func verifiedStamp(path string) stamp {
	b, err := os.ReadFile(path + verifiedSuffix)
	if err != nil {
		return stamp{}
	}
	var st stamp
	if _, err := fmt.Sscanf(string(b), "%d %d %d %d\n", &st.size, &st.mtime, &st.ctime, &st.ino); err != nil {
		return stamp{}
	}
	return st
}

// writeStamp records that the version st of path was verified, atomically;
// where it cannot be written (a read-only directory) the next Open
// verifies again.
func writeStamp(path string, st stamp) {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+verifiedSuffix+".tmp-*")
	if err != nil {
		return
	}
	_, err = f.WriteString(st.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path+verifiedSuffix)
	}
	if err != nil {
		os.Remove(f.Name())
	}
}

// Close releases the database.
func (s *Store) Close() error { return s.db.Close() }

// Path is the file the store was opened from.
func (s *Store) Path() string { return s.path }

// Status describes the database: when it was built, from what, and what
// it holds.
func (s *Store) Status() (Status, error) {
	st := s.status
	st.Sources = append([]SourceStatus(nil), st.Sources...)
	st.Ecosystems = append([]EcosystemCount(nil), st.Ecosystems...)
	st.Rejections = append([]Rejection(nil), st.Rejections...)
	return st, nil
}

// HasEcosystem reports whether the database holds records for ecosystem
// (normalised first). A database without a recorded status answers true:
// it cannot tell.
func (s *Store) HasEcosystem(eco string) bool {
	if s.status.Built.IsZero() {
		return true
	}
	eco = ecosystem.Normalize(eco)
	for _, e := range s.status.Ecosystems {
		if e.Name == eco {
			return e.Records > 0
		}
	}
	return false
}

// Lookup returns the records that name (ecosystem, name) in an affected
// entry, sorted by ID, each with Affected narrowed to the entries naming
// that package (Get returns a whole record). The ecosystem is normalised
// first, and so is the name (ecosystem.Normalize, Ecosystem.PackageName:
// PEP 503 for PyPI); otherwise names match exactly. Withdrawn records
// are left out unless OpenOptions.IncludeWithdrawn.
func (s *Store) Lookup(ctx context.Context, eco, name string) ([]osv.Vulnerability, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k := keyOf(eco, name)
	pkg := indexKey(k.eco, k.name)
	d := s.decoder()
	defer s.pool.Put(d)
	var out []osv.Vulnerability
	err := s.view(func(tx *bolt.Tx) error {
		ids := tx.Bucket(bucketIndex).Get(pkg)
		if ids == nil {
			return nil
		}
		records, affected := tx.Bucket(bucketRecords), tx.Bucket(bucketAffected)
		var akey []byte
		for len(ids) > 0 {
			id, rest, err := nextID(ids)
			if err != nil {
				return err
			}
			ids = rest
			raw := records.Get(id)
			if raw == nil {
				return fmt.Errorf("index names %s, which is not stored", id)
			}
			if raw[0]&flagWithdrawn != 0 && !s.opts.IncludeWithdrawn {
				continue
			}
			var v osv.Vulnerability
			if err := d.decodeSkeleton(raw, &v); err != nil {
				return fmt.Errorf("record %s: %w", id, err)
			}
			akey = append(appendID(akey[:0], string(id)), pkg...)
			araw := affected.Get(akey)
			if araw == nil {
				return fmt.Errorf("record %s: no affected entries stored for the package", id)
			}
			_, v.Affected, err = d.decodeEntries(araw)
			if err != nil {
				return fmt.Errorf("record %s: %w", id, err)
			}
			out = append(out, v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lookup %s %s in %s: %w", eco, name, s.path, err)
	}
	return out, nil
}

// Get returns the whole record with this ID, withdrawn or not; ok is false
// when there is none.
func (s *Store) Get(ctx context.Context, id string) (v osv.Vulnerability, ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return osv.Vulnerability{}, false, err
	}
	d := s.decoder()
	defer s.pool.Put(d)
	err = s.view(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketRecords).Get([]byte(id))
		if raw == nil {
			return nil
		}
		ok = true
		prefix := appendID(nil, id)
		var vals [][]byte
		c := tx.Bucket(bucketAffected).Cursor()
		for k, val := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, val = c.Next() {
			vals = append(vals, val)
		}
		v, err = d.decodeWhole(raw, vals)
		return err
	})
	if err != nil {
		return osv.Vulnerability{}, false, fmt.Errorf("get %s from %s: %w", id, s.path, err)
	}
	return v, ok, nil
}

func (s *Store) decoder() *decoder {
	if d, ok := s.pool.Get().(*decoder); ok {
		return d
	}
	return newDecoder()
}

// indexKey is uvarint(len(ecosystem)) ecosystem name: unambiguous whatever
// bytes the names hold.
func indexKey(ecosystem, name string) []byte {
	k := make([]byte, 0, binary.MaxVarintLen64+len(ecosystem)+len(name))
	k = binary.AppendUvarint(k, uint64(len(ecosystem)))
	k = append(k, ecosystem...)
	return append(k, name...)
}

func appendID(b []byte, id string) []byte {
	b = binary.AppendUvarint(b, uint64(len(id)))
	return append(b, id...)
}

func nextID(b []byte) (id, rest []byte, err error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return nil, nil, errors.New("corrupt ID list")
	}
	return b[w : w+int(n)], b[w+int(n):], nil
}
