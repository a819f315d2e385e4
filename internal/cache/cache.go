// Package cache is a size-bounded on-disk cache of small blobs keyed by
// strings (layer diff ID plus extractor versions), shared by concurrent
// processes: entries are written to a temporary file and renamed into place,
// reads touch the entry's modification time, and eviction removes the least
// recently used entries once the total passes the bound.
//
// The total is kept in a small usage file, updated under a file lock by
// every Put, so a Put does not list the directory: only when the total
// passes the bound is the directory walked, and eviction then goes down to
// 15/16 of the bound, so that walks come at most once per sixteenth of the
// bound written. The usage file is a hint: a missing or unreadable one is
// rebuilt by a walk, and an entry counted twice (two processes writing the
// same key) only makes the next walk, which recounts, come earlier.
package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultMaxBytes bounds the cache when Options.MaxBytes is zero.
const DefaultMaxBytes = 2 << 30

// Cache is a directory of entries. The zero value is not usable: use Open.
type Cache struct {
	dir string
	max int64
	// walks counts the directory walks of this Cache (for tests).
	walks int
}

// Files of the cache directory besides the shards: the usage file holds
// the total size of the entries in decimal; the lock file serialises its
// updates across processes.
const (
	usageFile = "lockdown-usage"
	lockFile  = "lockdown-usage.lock"
)

// Options configure Open.
type Options struct {
	MaxBytes int64 // 0 means DefaultMaxBytes
}

// DefaultDir is the user cache dir's lockdown/layers.
func DefaultDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("user cache dir: %w", err)
	}
	return filepath.Join(base, "lockdown", "layers"), nil
}

// Open opens (creating it if needed) the cache in dir.
func Open(dir string, opts Options) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("layer cache %s: %w", dir, err)
	}
	max := opts.MaxBytes
	if max <= 0 {
		max = DefaultMaxBytes
	}
	return &Cache{dir: dir, max: max}, nil
}

// Dir returns the cache directory.
func (c *Cache) Dir() string { return c.dir }

func (c *Cache) path(key string) string {
	sum := sha256.Sum256([]byte(key))
	h := hex.EncodeToString(sum[:])
	return filepath.Join(c.dir, h[:2], h+".entry")
}

// Get returns the entry for key. A missing or unreadable entry is a miss.
func (c *Cache) Get(key string) ([]byte, bool) {
	p := c.path(key)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, false
	}
	// The first line holds the key: a hash collision or a torn file is a miss.
	nl := strings.IndexByte(string(data[:min(len(data), len(key)+1)]), '\n')
	if nl != len(key) || string(data[:nl]) != key {
		return nil, false
	}
	now := time.Now()
	_ = os.Chtimes(p, now, now) // LRU: a read makes it recent
	return data[nl+1:], true
}

// Put stores value under key, atomically, then evicts old entries when the
// cache is over its bound.
func (c *Cache) Put(key string, value []byte) error {
	p := c.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("layer cache: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return fmt.Errorf("layer cache: %w", err)
	}
	tmp := f.Name()
	size := int64(len(key) + 1 + len(value))
	_, err = f.Write(append([]byte(key+"\n"), value...))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	var replaced int64
	if fi, serr := os.Stat(p); serr == nil {
		replaced = fi.Size()
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("layer cache: %w", err)
	}
	return c.account(size - replaced)
}

// account adds delta bytes to the usage file, under the lock, and evicts
// when the total passes the bound.
func (c *Cache) account(delta int64) error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	total, ok := c.readUsage()
	total += delta
	if !ok || total > c.max {
		// A walk recounts (the new entry included) and evicts when over.
		if total, err = c.evict(c.max - c.max/16); err != nil {
			return err
		}
	}
	return c.writeUsage(total)
}

// lock takes the cache's file lock; the returned func releases it.
func (c *Cache) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(c.dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("layer cache: lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil // closing releases the lock
}

// readUsage reads the usage file; false when it is missing or damaged.
func (c *Cache) readUsage() (int64, bool) {
	b, err := os.ReadFile(filepath.Join(c.dir, usageFile))
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// writeUsage records total (under the lock).
func (c *Cache) writeUsage(total int64) error {
	if err := os.WriteFile(filepath.Join(c.dir, usageFile), []byte(strconv.FormatInt(total, 10)+"\n"), 0o600); err != nil {
		return fmt.Errorf("layer cache: %w", err)
	}
	return nil
}

type entry struct {
	path string
	size int64
	mod  time.Time
}

// evict walks the cache and, when the total passes the bound, removes
// least recently used entries until it is at most target. It returns the
// total left. Entries vanishing underneath (another process evicting, or
// an older lockdown without the usage file) are fine.
func (c *Cache) evict(target int64) (int64, error) {
	c.walks++
	var all []entry
	var total int64
	err := filepath.WalkDir(c.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".entry") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		all = append(all, entry{p, info.Size(), info.ModTime()})
		total += info.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("layer cache: %w", err)
	}
	if total <= c.max {
		return total, nil
	}
	slices.SortFunc(all, func(a, b entry) int { return a.mod.Compare(b.mod) })
	for _, e := range all {
		if total <= target {
			break
		}
		if err := os.Remove(e.path); err == nil || errors.Is(err, fs.ErrNotExist) {
			total -= e.size
		}
	}
	return total, nil
}

// Stats reports the number of entries and their total size.
func (c *Cache) Stats() (entries int, bytes int64, err error) {
	err = filepath.WalkDir(c.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if !d.IsDir() && strings.HasSuffix(p, ".entry") {
			if info, err := d.Info(); err == nil {
				entries++
				bytes += info.Size()
			}
		}
		return nil
	})
	return entries, bytes, err
}

// Clean removes every entry (and any temporary file a crashed writer left)
// and the shard directories that become empty. Nothing else in the
// directory is touched: it may be one the user named with
// $LOCKDOWN_CACHE_DIR.
func (c *Cache) Clean() error {
	shards, err := os.ReadDir(c.dir)
	if err != nil {
		return fmt.Errorf("layer cache %s: %w", c.dir, err)
	}
	for _, sd := range shards {
		if !sd.IsDir() || !isShard(sd.Name()) {
			continue
		}
		dir := filepath.Join(c.dir, sd.Name())
		files, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("layer cache %s: %w", dir, err)
		}
		for _, f := range files {
			name := f.Name()
			if f.IsDir() || !(strings.HasSuffix(name, ".entry") || strings.HasPrefix(name, ".tmp-")) {
				continue
			}
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("layer cache: %w", err)
			}
		}
		_ = os.Remove(dir) // only when empty
	}
	if err := os.Remove(filepath.Join(c.dir, usageFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("layer cache: %w", err)
	}
	return nil
}

// isShard reports whether name is one of the cache's two-hex-digit
// directories.
func isShard(name string) bool {
	if len(name) != 2 {
		return false
	}
	for i := range 2 {
		if !strings.ContainsRune("0123456789abcdef", rune(name[i])) {
			return false
		}
	}
	return true
}
