package cache

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestGetPut(t *testing.T) {
	c, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get("sha256:a|dpkg=1"); ok {
		t.Fatal("Get on empty cache hit")
	}
	if err := c.Put("sha256:a|dpkg=1", []byte("value\nwith newline")); err != nil {
		t.Fatal(err)
	}
	got, ok := c.Get("sha256:a|dpkg=1")
	if !ok || string(got) != "value\nwith newline" {
		t.Fatalf("Get = %q, %v; want the stored value", got, ok)
	}
	if _, ok := c.Get("sha256:a|dpkg=2"); ok {
		t.Error("Get with another extractor version hit")
	}
}

func TestTornEntryIsAMiss(t *testing.T) {
	c, _ := Open(t.TempDir(), Options{})
	key := "sha256:b"
	if err := c.Put(key, []byte("x")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(c.path(key), []byte("sha2"), 0o600) // torn
	if _, ok := c.Get(key); ok {
		t.Error("Get of a torn entry hit")
	}
}

func TestEvictionLRU(t *testing.T) {
	c, _ := Open(t.TempDir(), Options{MaxBytes: 3000})
	val := bytes.Repeat([]byte("v"), 900)
	old := time.Now().Add(-time.Hour)
	for i := range 3 {
		key := fmt.Sprint("k", i)
		if err := c.Put(key, val); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(c.path(key), old.Add(time.Duration(i)*time.Minute), old.Add(time.Duration(i)*time.Minute))
	}
	c.Get("k0") // k0 becomes the most recent; k1 is now the oldest
	if err := c.Put("k3", val); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]bool{"k0": true, "k1": false, "k2": true, "k3": true} {
		if _, ok := c.Get(key); ok != want {
			t.Errorf("after eviction Get(%s) present = %v, want %v", key, ok, want)
		}
	}
	n, size, _ := c.Stats()
	if n != 3 || size > 3000 {
		t.Errorf("Stats = %d entries, %d bytes; want 3 entries under 3000 bytes", n, size)
	}
}

func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _ := Open(dir, Options{MaxBytes: 50_000})
			for i := range 50 {
				key := fmt.Sprint("k", i%10)
				if err := c.Put(key, []byte(key+"-value")); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				if got, ok := c.Get(key); ok && string(got) != key+"-value" {
					t.Errorf("Get(%s) = %q", key, got)
				}
			}
		}()
	}
	wg.Wait()
	leftovers, _ := filepath.Glob(filepath.Join(dir, "*", ".tmp-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestClean(t *testing.T) {
	c, _ := Open(t.TempDir(), Options{})
	c.Put("a", []byte("1"))
	if err := c.Clean(); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := c.Stats(); n != 0 {
		t.Errorf("after Clean: %d entries", n)
	}
}

// TestCleanKeepsOtherFiles: $LOCKDOWN_CACHE_DIR may name a directory that
// holds other files; Clean removes only cache entries.
func TestCleanKeepsOtherFiles(t *testing.T) {
	dir := t.TempDir()
	c, _ := Open(dir, Options{})
	if err := c.Put("a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.path("a")+"-notes.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	keep := []string{"notes.txt", "project/main.go", "ab/readme"}
	for _, k := range keep {
		p := filepath.Join(dir, k)
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte("mine"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(filepath.Dir(c.path("a")), ".tmp-123"), nil, 0o600)
	if err := c.Clean(); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := c.Stats(); n != 0 {
		t.Errorf("after Clean: %d entries, want 0", n)
	}
	for _, k := range append(keep, filepath.Join(filepath.Base(filepath.Dir(c.path("a"))), filepath.Base(c.path("a"))+"-notes.txt")) {
		if _, err := os.Stat(filepath.Join(dir, k)); err != nil {
			t.Errorf("Clean removed %s, which is not a cache entry: %v", k, err)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(c.path("a")), ".tmp-123")); err == nil {
		t.Error("Clean left a temporary file")
	}
}

// usage reads the usage file.
func usage(t *testing.T, dir string) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, usageFile))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPutWalksOnlyPastTheBound: a Put keeps the total in the usage file
// and walks the directory only when it has none or the total passes the
// bound; eviction then goes down to 15/16 of the bound, so the walks
// are as few as this model of the arithmetic says, and the total on disk
// stays under the bound and equal to the usage file.
func TestPutWalksOnlyPastTheBound(t *testing.T) {
	dir := t.TempDir()
	const max = 100_000
	c, err := Open(dir, Options{MaxBytes: max})
	if err != nil {
		t.Fatal(err)
	}
	val := bytes.Repeat([]byte("v"), 1000)
	const size = 1006 // "k0000\n" + 1000 bytes
	wantWalks, total := 0, int64(0)
	for i := range 1000 {
		if err := c.Put(fmt.Sprintf("k%04d", i), val); err != nil {
			t.Fatal(err)
		}
		total += size
		if i == 0 || total > max {
			wantWalks++
			for total > max-max/16 {
				total -= size // the oldest entry goes
			}
		}
		if i == 50 && c.walks != 1 {
			t.Fatalf("after 51 Puts under the bound: %d walks, want 1 (the first Put counts the cache)", c.walks)
		}
	}
	if c.walks != wantWalks {
		t.Errorf("1000 Puts: %d walks, want %d", c.walks, wantWalks)
	}
	n, bytes, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if bytes != total || int64(n)*size != total || usage(t, dir) != total {
		t.Errorf("on disk %d entries, %d bytes; usage file %d; want %d bytes", n, bytes, usage(t, dir), total)
	}
}

// TestUsageRebuilt: a missing or damaged usage file is recounted by the
// next Put; Clean drops it.
func TestUsageRebuilt(t *testing.T) {
	dir := t.TempDir()
	c, _ := Open(dir, Options{})
	for i := range 3 {
		c.Put(fmt.Sprint("k", i), []byte("value"))
	}
	for name, damage := range map[string]func(){
		"missing": func() { os.Remove(filepath.Join(dir, usageFile)) },
		"garbage": func() { os.WriteFile(filepath.Join(dir, usageFile), []byte("x1\n"), 0o600) },
	} {
		damage()
		walks := c.walks
		if err := c.Put("k0", []byte("other")); err != nil { // same size: replaced
			t.Fatal(err)
		}
		_, bytes, _ := c.Stats()
		if got := usage(t, dir); got != bytes || c.walks != walks+1 {
			t.Errorf("%s usage file: after Put it says %d (walks +%d), want %d (one walk)", name, got, c.walks-walks, bytes)
		}
	}
	if err := c.Clean(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, usageFile)); err == nil {
		t.Error("Clean left the usage file")
	}
}

// TestConcurrentProcessesStayBounded: writers with their own Cache on one
// directory (each lock is its own open file, as in separate processes)
// keep the total under the bound; the usage file never says less than
// what is on disk.
func TestConcurrentProcessesStayBounded(t *testing.T) {
	dir := t.TempDir()
	const max = 40_000
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _ := Open(dir, Options{MaxBytes: max})
			for i := range 60 {
				if err := c.Put(fmt.Sprintf("w%d-k%d", w, i), bytes.Repeat([]byte("v"), 500)); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	c, _ := Open(dir, Options{MaxBytes: max})
	n, bytes, _ := c.Stats()
	if bytes > max || n == 0 {
		t.Errorf("after 360 Puts by 6 writers: %d entries, %d bytes; want some, at most %d", n, bytes, max)
	}
	if u := usage(t, dir); u < bytes {
		t.Errorf("usage file says %d bytes, less than the %d on disk", u, bytes)
	}
}

// BenchmarkPutFullCache: a Put into a cache of 5,000 entries at its bound
// (each one evicts, as a cache in steady use does).
func BenchmarkPutFullCache(b *testing.B) {
	dir := b.TempDir()
	val := bytes.Repeat([]byte("v"), 1000)
	c, _ := Open(dir, Options{MaxBytes: 5000 * 1010})
	for i := range 5000 {
		c.Put(fmt.Sprintf("fill-%05d", i), val)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := c.Put(fmt.Sprintf("new-%07d", i), val); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkGet(b *testing.B) {
	c, _ := Open(b.TempDir(), Options{})
	c.Put("sha256:layer|dpkg=1", bytes.Repeat([]byte("x"), 64<<10))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Get("sha256:layer|dpkg=1"); !ok {
			b.Fatal("miss")
		}
	}
}
