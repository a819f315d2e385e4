package image

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// countingDockerProxy forwards a unix socket to the Docker engine's and
// counts the bytes the engine sends; DOCKER_HOST points at it for the test.
func countingDockerProxy(t *testing.T) *atomic.Int64 {
	t.Helper()
	engine := "/var/run/docker.sock"
	if h, ok := strings.CutPrefix(os.Getenv("DOCKER_HOST"), "unix://"); ok {
		engine = h
	} else if os.Getenv("DOCKER_HOST") != "" {
		t.Skipf("DOCKER_HOST %s is not a unix socket: the byte counter proxies only those", os.Getenv("DOCKER_HOST"))
	}
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e, err := net.Dial("unix", engine)
			if err != nil {
				c.Close()
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(e, c); e.(*net.UnixConn).CloseWrite() }()
			go func() {
				defer wg.Done()
				io.Copy(byteCounter{c, &n}, e) // counted before the client sees them
				c.Close()
				e.Close()
			}()
		}
	}()
	t.Setenv("DOCKER_HOST", "unix://"+sock)
	return &n
}

type byteCounter struct {
	w io.Writer
	n *atomic.Int64
}

func (c byteCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// layeredDockerImage is the Debian base plus a small layer, in the local
// Docker engine (loaded once; labelled lockdown.test=f16).
func layeredDockerImage(tb testing.TB) string {
	tb.Helper()
	return testutil.DockerImage(tb, testutil.ImageSpec{
		Tag:    "f16-warm/layered:test",
		Rootfs: testutil.DebianRootfs(tb),
		Files:  []testutil.TarEntry{testutil.TarFile("etc/app.conf", "x=1\n")},
		Labels: map[string]string{"lockdown.test": "f16"},
	})
}

// TestDockerWarmStreamsNothing: with the layer cache passed to Open, a
// second docker: walk of an image whose layers are all cached reads only
// the engine's inspect answer (no `docker save`), and gives the same tree
// and target; with its top layer dropped from the cache the image is saved
// again; a damaged image record is a miss.
func TestDockerWarmStreamsNothing(t *testing.T) {
	ref := layeredDockerImage(t)
	read := countingDockerProxy(t)
	cache := &memCache{}
	walk := func() (*Tree, Source, int64, int) {
		t.Helper()
		before := read.Load()
		src, err := Open(context.Background(), "docker:"+ref, Options{Cache: cache})
		if err != nil {
			t.Fatalf("Open = %v", err)
		}
		t.Cleanup(func() { src.Close() })
		hits := 0
		tree, err := Walk(context.Background(), src, WalkOptions{Want: wantSmall, Visit: visitString, Cache: cache, Codec: stringCodec{}, CacheKey: "test", CacheHits: &hits})
		if err != nil {
			t.Fatalf("Walk = %v", err)
		}
		return tree, src, read.Load() - before, hits
	}
	cold, coldSrc, coldRead, _ := walk()
	layers := coldSrc.Layers()
	if len(layers) != 2 {
		t.Fatalf("%s has %d layers, want 2", ref, len(layers))
	}
	const whole = 10 << 20 // the Debian base layer is far larger
	if coldRead < whole {
		t.Fatalf("cold walk read %d bytes from the engine, less than %d: the counter misses the save", coldRead, whole)
	}
	warm, warmSrc, warmRead, hits := walk()
	if hits != 2 {
		t.Errorf("warm walk: %d layers from the cache, want 2", hits)
	}
	if warmRead > 64<<10 {
		t.Errorf("warm walk read %d bytes from the engine, want at most 64 KiB (the inspect answer; no save)", warmRead)
	}
	if diff := sameAnswers(cold, warm); diff != "" {
		t.Errorf("warm tree differs from the cold one:\n%s", diff)
	}
	if c, w := coldSrc.Target(), warmSrc.Target(); c.ImageID != w.ImageID || c.Platform != w.Platform || c.Kind != KindDocker || w.Kind != KindDocker || strings.Join(c.RepoTags, ",") != strings.Join(w.RepoTags, ",") {
		t.Errorf("warm target %+v, cold %+v", w, c)
	}
	for i, l := range warmSrc.Layers() {
		if l.Ref() != layers[i].Ref() {
			t.Errorf("warm layer %d is %+v, cold %+v", i, l.Ref(), layers[i].Ref())
		}
	}
	if c, w := coldSrc.Config(), warmSrc.Config(); c.User != w.User || c.Labels["lockdown.test"] != "f16" || w.Labels["lockdown.test"] != "f16" || len(c.History) != len(w.History) {
		t.Errorf("warm config %+v, cold %+v", w, c)
	}

	// The top layer uncached: the image is saved again, one layer walked.
	top := layers[1].Ref().DiffID
	cache.mu.Lock()
	for k := range cache.m {
		if strings.Contains(k, top) {
			delete(cache.m, k)
		}
	}
	cache.mu.Unlock()
	partial, _, partialRead, hits := walk()
	if hits != 1 || partialRead < whole {
		t.Errorf("walk with the top layer uncached: %d hits, %d bytes from the engine; want 1 hit and the save (>= %d)", hits, partialRead, whole)
	}
	if diff := sameAnswers(cold, partial); diff != "" {
		t.Errorf("tree with the top layer uncached differs from the cold one:\n%s", diff)
	}

	// A damaged image record is a miss: the image is saved.
	id := coldSrc.Target().ImageID
	cache.Put(dockerRecordKey(id), []byte(`{"config":"e30=","digests":[]}`))
	damaged, _, damagedRead, _ := walk()
	if damagedRead < whole {
		t.Errorf("walk with a damaged image record read %d bytes, want the save (>= %d)", damagedRead, whole)
	}
	if diff := sameAnswers(cold, damaged); diff != "" {
		t.Errorf("tree with a damaged image record differs from the cold one:\n%s", diff)
	}
	t.Logf("cold %d bytes from the engine, warm %d, top layer uncached %d", coldRead, warmRead, partialRead)
}

// BenchmarkDockerOpenWarm: Open and Walk of a docker: image whose layers
// are all cached, with the image record (an inspect, no save) and without
// it (Options.Cache unset: the whole image is saved, as before).
func BenchmarkDockerOpenWarm(b *testing.B) {
	ref := layeredDockerImage(b)
	cache := &memCache{}
	opts := WalkOptions{Want: wantSmall, Visit: visitString, Cache: cache, Codec: stringCodec{}, CacheKey: "test"}
	walk := func(o Options) {
		src, err := Open(context.Background(), "docker:"+ref, o)
		if err != nil {
			b.Fatal(err)
		}
		defer src.Close()
		if _, err := Walk(context.Background(), src, opts); err != nil {
			b.Fatal(err)
		}
	}
	walk(Options{Cache: cache}) // fills the cache
	for name, o := range map[string]Options{"record": {Cache: cache}, "save": {}} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				walk(o)
			}
		})
	}
}
