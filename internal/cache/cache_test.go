package cache

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
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
