package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	kgzip "github.com/klauspost/compress/gzip"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// memCache is an in-memory LayerCache.
type memCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (c *memCache) Get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[key]
	return b, ok
}

func (c *memCache) Put(key string, value []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	c.m[key] = bytes.Clone(value)
	return nil
}

// stringCodec stores the string results of visitString.
type stringCodec struct{}

func (stringCodec) EncodeResult(r any) ([]byte, error) { return []byte(r.(string)), nil }
func (stringCodec) DecodeResult(b []byte) (any, error) { return string(b), nil }

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// countingStore counts the bytes read from an OCI layout's blobs.
type countingStore struct {
	blobStore
	n atomic.Int64
}

func (c *countingStore) open(h v1.Hash) (io.ReadCloser, error) {
	rc, err := c.blobStore.open(h)
	if err != nil {
		return nil, err
	}
	return readCloser{Reader: &atomicCountReader{r: rc, n: &c.n}, close: rc.Close}, nil
}

type atomicCountReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *atomicCountReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// openCounted opens an archive target (docker-archive or oci-archive)
// through a counting reader: what it returns counts every byte read from
// the file.
func openCounted(t *testing.T, kind, p string, opts Options) (Source, *countingReaderAt) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	cr := &countingReaderAt{r: f}
	a, closer, err := readTarArchive(context.Background(), p, cr, st.Size(), opts)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	if closer != nil {
		t.Cleanup(func() { closer.Close() })
	}
	var src *source
	if kind == KindDockerArchive {
		src, err = dockerArchive(context.Background(), kind+":"+p, p, a, opts)
	} else {
		src, err = ociArchive(context.Background(), kind+":"+p, p, a, opts)
	}
	if err != nil {
		t.Fatalf("open %s:%s: %v", kind, p, err)
	}
	return src, cr
}

// openCountedDir opens an OCI layout directory through a counting store.
func openCountedDir(t *testing.T, dir, refName string) (Source, *countingStore) {
	t.Helper()
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{blobStore: layoutStore{p: lp}}
	src, err := openLayout(context.Background(), "oci-dir:"+dir, KindOCIDir, dir, refName, raw, cs, Options{})
	if err != nil {
		t.Fatalf("open oci-dir:%s: %v", dir, err)
	}
	return src, cs
}

// countingRegistry is an in-process registry on 127.0.0.1 that counts the
// bytes of the layer blobs it serves and can serve other bytes for one
// blob (a tampered registry).
type countingRegistry struct {
	host    string
	served  atomic.Int64
	tamper  map[string][]byte // digest -> what to serve instead
	tamperM sync.Mutex
}

func startCountingRegistry(t *testing.T) *countingRegistry {
	t.Helper()
	cr := &countingRegistry{tamper: map[string][]byte{}}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
			d := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
			cr.tamperM.Lock()
			body, ok := cr.tamper[d]
			cr.tamperM.Unlock()
			if ok {
				cr.served.Add(int64(len(body)))
				w.Header().Set("Content-Length", fmt.Sprint(len(body)))
				w.Header().Set("Docker-Content-Digest", d)
				w.Write(body)
				return
			}
			cw := &countingWriter{ResponseWriter: w, n: &cr.served}
			reg.ServeHTTP(cw, r)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cr.host = strings.TrimPrefix(srv.URL, "http://")
	return cr
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// layeredDebian is the Debian image plus two small layers, as an OCI
// layout, a docker-archive (Docker 25+ layout: the OCI layout plus
// manifest.json) and an oci-archive.
type layeredImage struct {
	ociDir, dockerArchive, ociArchive string
	img                               v1.Image
	size                              int64 // of the layers' blobs
}

func layeredDebian(t *testing.T) layeredImage {
	t.Helper()
	img, _ := debianV1(t)
	for i, entries := range [][]testutil.TarEntry{
		{testutil.TarFile("var/lib/dpkg/status.d/app", "Package: app\nVersion: 1\n\n")},
		{testutil.TarFile("etc/app.conf", "x=1\n"), testutil.TarWhiteout("etc/motd")},
	} {
		gz := testutil.GzipBytes(t, testutil.LayerTar(t, entries...))
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(gz)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: fmt.Sprintf("layer %d", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	return writeForms(t, img)
}

// writeForms writes img as an OCI layout, a Docker 25+ docker-archive and
// an oci-archive.
func writeForms(t *testing.T, img v1.Image) layeredImage {
	t.Helper()
	dir := t.TempDir()
	li := layeredImage{ociDir: filepath.Join(dir, "oci"), img: img}
	lp, err := layout.Write(li.ociDir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	li.ociArchive = tarDir(t, li.ociDir)
	// docker-archive as Docker 25+ writes it: the OCI layout plus a
	// manifest.json naming the blobs by path.
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, l := range m.Layers {
		paths = append(paths, blobPath(l.Digest))
		li.size += l.Size
	}
	mj, _ := json.Marshal([]map[string]any{{"Config": blobPath(m.Config.Digest), "RepoTags": []string{"lockdown-test/layered:latest"}, "Layers": paths}})
	da := filepath.Join(dir, "da")
	if err := os.CopyFS(da, os.DirFS(li.ociDir)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(da, "manifest.json"), mj, 0o644); err != nil {
		t.Fatal(err)
	}
	li.dockerArchive = tarDir(t, da)
	return li
}

// TestWarmReadsOnlyChangedLayers: with every layer in the cache, a walk
// reads the archive's tar headers, manifest and config only — at most 1% of
// the bytes — and never a layer blob; with one layer new, it reads that
// layer only. Counted through the target's own reader for every form.
func TestWarmReadsOnlyChangedLayers(t *testing.T) {
	li := layeredDebian(t)
	reg := startCountingRegistry(t)
	ref, err := name.NewTag(reg.host+"/lockdown-test/layered:latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, li.img); err != nil {
		t.Fatal(err)
	}
	layers, _ := li.img.Layers()
	topSize, _ := layers[len(layers)-1].Size()
	type walked struct {
		src  Source
		read func() int64
	}
	forms := []struct {
		name string
		open func(t *testing.T) walked
		// whole is what a cold walk reads at least: the layer blobs.
		whole int64
	}{
		{"docker-archive", func(t *testing.T) walked {
			src, c := openCounted(t, KindDockerArchive, li.dockerArchive, Options{})
			return walked{src, c.n.Load}
		}, li.size},
		{"oci-archive", func(t *testing.T) walked {
			src, c := openCounted(t, KindOCIArchive, li.ociArchive, Options{})
			return walked{src, c.n.Load}
		}, li.size},
		{"oci-dir", func(t *testing.T) walked {
			src, c := openCountedDir(t, li.ociDir, "")
			return walked{src, c.n.Load}
		}, li.size},
		{"registry", func(t *testing.T) walked {
			before := reg.served.Load()
			src, err := Open(context.Background(), "registry:"+ref.String(), Options{InsecureRegistry: []string{reg.host}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { src.Close() })
			return walked{src, func() int64 { return reg.served.Load() - before }}
		}, li.size},
	}
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			cache := &memCache{}
			opts := WalkOptions{Want: wantSmall, Visit: visitString, Cache: cache, Codec: stringCodec{}, CacheKey: "test"}
			walk := func(w walked) (*Tree, int64, int) {
				hits := 0
				o := opts
				o.CacheHits = &hits
				tree, err := Walk(context.Background(), w.src, o)
				if err != nil {
					t.Fatalf("Walk = %v", err)
				}
				return tree, w.read(), hits
			}
			cold, coldRead, _ := walk(f.open(t))
			if coldRead < f.whole {
				t.Fatalf("cold walk read %d bytes, less than the %d bytes of layer blobs: the counter misses reads", coldRead, f.whole)
			}
			warm, warmRead, hits := walk(f.open(t))
			if hits != 3 {
				t.Errorf("warm walk: %d layers from the cache, want 3", hits)
			}
			if limit := f.whole / 100; warmRead > limit {
				t.Errorf("warm walk read %d bytes, want at most 1%% of %d (%d)", warmRead, f.whole, limit)
			}
			if diff := sameAnswers(cold, warm); diff != "" {
				t.Errorf("warm tree differs from the cold one:\n%s", diff)
			}
			// Drop the top layer from the cache: only it is read again.
			top := layers[len(layers)-1]
			d, _ := top.DiffID()
			for k := range cache.m {
				if strings.Contains(k, d.String()) {
					delete(cache.m, k)
				}
			}
			_, read, hits := walk(f.open(t))
			if hits != 2 || read < topSize || read > topSize+f.whole/100 {
				t.Errorf("walk with the top layer uncached: %d hits, read %d bytes; want 2 hits and %d–%d bytes", hits, read, topSize, topSize+f.whole/100)
			}
			t.Logf("%s: cold read %d bytes, warm %d (%.3f%%), top layer only %d", f.name, coldRead, warmRead, 100*float64(warmRead)/float64(f.whole), read)
		})
	}
}

// tamperedImage is a one-layer image whose gzip layer blob, as stored, is
// not the blob its descriptor names: one byte of the gzip header (MTIME)
// differs, so the content (and its diff ID) is right but the digest is not.
func tamperedImage(t *testing.T) (img v1.Image, good, bad []byte) {
	t.Helper()
	good = testutil.GzipBytes(t, testutil.LayerTar(t, testutil.TarDir("etc"), testutil.TarFile("etc/os-release", "ID=tampered\n")))
	bad = bytes.Clone(good)
	bad[4] ^= 0x01
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(good)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Append(empty.Image, mutate.Addendum{Layer: l})
	if err != nil {
		t.Fatal(err)
	}
	return img, good, bad
}

// TestBlobDigestVerified: a layer blob whose bytes are not those its
// descriptor names is refused in every target form that has a descriptor
// (docker-archive of Docker 25+, oci-archive, oci-dir, registry), although
// it decompresses to the right diff ID; the error names the layer and both
// digests.
func TestBlobDigestVerified(t *testing.T) {
	img, good, bad := tamperedImage(t)
	goodSum, badSum := sha256.Sum256(good), sha256.Sum256(bad)
	digest := "sha256:" + hex.EncodeToString(goodSum[:])
	layers, _ := img.Layers()
	diffID, _ := layers[0].DiffID()

	// The files forms: write the good image, then swap the blob's bytes.
	li := writeForms(t, img)
	blob := filepath.Join(li.ociDir, "blobs", "sha256", digest[7:])
	if err := os.WriteFile(blob, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{li.ociArchive, li.dockerArchive} {
		swapInArchive(t, p, good, bad)
	}
	reg := startCountingRegistry(t)
	ref, err := name.NewTag(reg.host+"/lockdown-test/tampered:latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	reg.tamper[digest] = bad

	want := []string{"layer " + diffID.String(), "blob content has digest sha256:" + hex.EncodeToString(badSum[:]) + ", not " + digest}
	for _, target := range []string{
		"docker-archive:" + li.dockerArchive,
		"oci-archive:" + li.ociArchive,
		"oci-dir:" + li.ociDir,
		"registry:" + ref.String(),
	} {
		t.Run(strings.SplitN(target, ":", 2)[0], func(t *testing.T) {
			src, err := Open(context.Background(), target, Options{InsecureRegistry: []string{reg.host}})
			if err != nil {
				t.Fatalf("Open = %v", err)
			}
			defer src.Close()
			_, err = Walk(context.Background(), src, WalkOptions{Want: wantAll, Visit: visitString})
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("Walk = %v, want an ErrBadInput error", err)
			}
			for _, s := range want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Walk = %q, want it to contain %q", err, s)
				}
			}
		})
	}
}

// swapInArchive replaces the bytes old by new (same length) in the file p.
func swapInArchive(t *testing.T, p string, old, new []byte) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, old)
	if i < 0 || len(old) != len(new) {
		t.Fatalf("%s does not hold the blob", p)
	}
	copy(b[i:], new)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// deepLayer is a gzip layer of n directories nested one in another
// ("d/d/d/…"), the shape that made memory grow with the square of the
// depth: 20,000 of them are ~400 MB of tar headers in ~1.2 MB of gzip. It
// returns the blob and its diff ID.
func deepLayer(t testing.TB, n int) (blob []byte, diffID string) {
	t.Helper()
	var gz bytes.Buffer
	zw, err := kgzip.NewWriterLevel(&gz, kgzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(zw, h))
	p := make([]byte, 0, 2*n+2)
	for range n {
		p = append(p, "d/"...)
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: string(p), Mode: 0o755, Format: tar.FormatPAX}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return gz.Bytes(), "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// cachedDeepLayer is deepLayer kept in the test cache (writing 400 MB of
// tar headers takes seconds).
func cachedDeepLayer(t testing.TB, n int) (blob []byte, diffID string) {
	t.Helper()
	p := filepath.Join(testutil.CacheDir(t, "images"), fmt.Sprintf("deep-%d.tar.gz", n))
	if b, err := os.ReadFile(p); err == nil {
		if id, err := os.ReadFile(p + ".diffid"); err == nil {
			return b, string(id)
		}
	}
	blob, diffID = deepLayer(t, n)
	for _, f := range []struct {
		path string
		data []byte
	}{{p + ".diffid", []byte(diffID)}, {p, blob}} {
		tmp := fmt.Sprintf("%s.%d.tmp", f.path, os.Getpid())
		if err := os.WriteFile(tmp, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, f.path); err != nil {
			t.Fatal(err)
		}
	}
	return blob, diffID
}

// wideDeepLayer has chains of nested directories, each within the path
// limits, with a file at the bottom of each: chains*depth directories.
func wideDeepLayer(t testing.TB, chains, depth int) []byte {
	t.Helper()
	var entries []testutil.TarEntry
	for c := range chains {
		p := fmt.Sprintf("c%d/", c)
		entries = append(entries, testutil.TarDir(p))
		for range depth {
			p += "d/"
			entries = append(entries, testutil.TarDir(p))
		}
		entries = append(entries, testutil.TarFile(p+"status", fmt.Sprintf("chain %d", c)))
	}
	return testutil.LayerTar(t, entries...)
}

// maxChildRSS bounds the peak RSS of a hostile input's child process (the
// deep tree took 2.8 GB before): 100 MiB, or 300 MiB under the race
// detector, which multiplies memory use.
func maxChildRSS() int64 {
	if raceDetector {
		return 300 << 20
	}
	return 100 << 20
}

// childWalk opens and walks target (in a RunChild child) and prints the
// outcome: "RESULT visited N" or "RESULT error ERR".
func childWalk(t *testing.T, target string, want WantFunc) {
	src := mustOpen(t, target, Options{})
	tree, err := Walk(context.Background(), src, WalkOptions{Want: want, Visit: visitString})
	if err != nil {
		fmt.Printf("RESULT error %v\n", err)
		return
	}
	fmt.Printf("RESULT visited %d\n", len(tree.Visited()))
}

// TestDeepTree (issue 11.3): a layer of 20,000 nested directories fails at
// once with an error naming the layer and the path limit; a layer of 20
// chains of 1,000 nested directories (20,000 directories, within the
// limits) is walked completely. Both in a child process whose peak RSS is
// bounded.
func TestDeepTree(t *testing.T) {
	if testutil.InChild(t) {
		childWalk(t, "docker-archive:"+os.Getenv("DEEP_ARCHIVE"), func(p string, _ fs.FileMode, _ int64) bool { return strings.HasSuffix(p, "/status") })
		return
	}
	dir := t.TempDir()
	blob, diffID := cachedDeepLayer(t, 20000)
	t.Logf("20,000 nested directories: %d bytes of gzip", len(blob))
	deep := testutil.WriteDockerArchive(t, dir, testutil.ArchiveLayer{Blob: blob, DiffID: diffID})
	wide := testutil.WriteDockerArchive(t, dir, testutil.ArchiveLayer{Blob: wideDeepLayer(t, 20, 1000)})
	for _, c := range []struct {
		name, archive, want string
	}{
		{"20000 nested", deep, `: path 1025 directories deep passes the limit of 1024: bad input`},
		{"20 chains of 1000", wide, "RESULT visited 20\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rss, out := testutil.RunChild(t, "DEEP_ARCHIVE="+c.archive)
			if !strings.Contains(out, c.want) {
				t.Errorf("child output:\n%s\nwant it to contain %q", out, c.want)
			}
			if strings.Contains(c.want, "limit") && !strings.Contains(out, "layer "+diffID+`: entry "d/d/d/d/`) {
				t.Errorf("child output:\n%s\nwant the error to name the layer", out)
			}
			t.Logf("%s: peak RSS %d MiB", c.name, rss>>20)
			if rss > maxChildRSS() {
				t.Errorf("peak RSS %d MiB, want under %d MiB", rss>>20, maxChildRSS()>>20)
			}
		})
	}
}

func wantID(p string, _ fs.FileMode, _ int64) bool { return strings.HasSuffix(p, "/id") }

// TestGzipArchiveDecompressedOnce (issue 11.4): a gzip-compressed
// docker-archive of many layers is decompressed once: the compressed file
// is read about once (not once per layer), the result is complete, and a
// child process doing it stays under a bounded peak RSS.
func TestGzipArchiveDecompressedOnce(t *testing.T) {
	const layers = 200
	if testutil.InChild(t) {
		childWalk(t, "docker-archive:"+os.Getenv("GZ_ARCHIVE"), wantID)
		return
	}
	dir := t.TempDir()
	var ls []testutil.ArchiveLayer
	filler := strings.Repeat("0123456789abcdef", 16<<10) // 256 KiB a layer
	for i := range layers {
		ls = append(ls, testutil.ArchiveLayer{Blob: testutil.LayerTar(t,
			testutil.TarFile(fmt.Sprintf("l%03d/data", i), filler),
			testutil.TarFile(fmt.Sprintf("l%03d/id", i), fmt.Sprint(i)))})
	}
	plain := testutil.WriteDockerArchive(t, dir, ls...)
	gz := plain + ".gz"
	if err := os.WriteFile(gz, testutil.GzipBytes(t, readFile(t, plain)), 0o644); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(gz)

	tmp := t.TempDir()
	src, cr := openCounted(t, KindDockerArchive, gz, Options{TempDir: tmp})
	tree := mustWalk(t, src, WalkOptions{Want: wantID, Visit: visitString})
	if got := len(tree.Visited()); got != layers {
		t.Errorf("Visited() has %d files, want %d", got, layers)
	}
	if read := cr.n.Load(); read > st.Size()+64<<10 {
		t.Errorf("read %d bytes of a %d-byte compressed archive, want it read once", read, st.Size())
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}

	rss, out := testutil.RunChild(t, "GZ_ARCHIVE="+gz)
	if want := fmt.Sprintf("RESULT visited %d\n", layers); !strings.Contains(out, want) {
		t.Errorf("child output:\n%s\nwant %q", out, want)
	}
	t.Logf("peak RSS %d MiB", rss>>20)
	if rss > maxChildRSS() {
		t.Errorf("peak RSS %d MiB, want under %d MiB", rss>>20, maxChildRSS()>>20)
	}

	// A bomb: the plain tar passes MaxArchiveBytes.
	tmp = t.TempDir()
	_, err := Open(context.Background(), "docker-archive:"+gz, Options{MaxArchiveBytes: 1 << 20, TempDir: tmp})
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "decompressed archive passes the limit of 1048576 bytes") {
		t.Errorf("Open(MaxArchiveBytes 1 MiB) = %v, want the archive limit error", err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("spool files left in %s: %v", tmp, ents)
	}
}

// TestLayerWarningsCapped: a layer records at most maxLayerWarnings
// warnings, then one line saying how many more there were.
func TestLayerWarningsCapped(t *testing.T) {
	var entries []testutil.TarEntry
	for i := range maxLayerWarnings + 5 {
		entries = append(entries, testutil.TarFile(fmt.Sprintf("f%04d", i), "x"))
	}
	src := mustOpen(t, "docker-archive:"+testutil.LayeredImage(t, entries), Options{})
	tree := mustWalk(t, src, WalkOptions{Want: wantAll, Visit: func(context.Context, File, io.Reader) (any, error) {
		return nil, errors.New("unreadable")
	}})
	w := tree.Warnings()
	if len(w) != maxLayerWarnings+1 {
		t.Fatalf("%d warnings, want %d", len(w), maxLayerWarnings+1)
	}
	diffID := src.Layers()[0].Ref().DiffID
	if last := w[len(w)-1]; last.Message != "and 5 more warnings in this layer, not shown" || last.Layer != diffID {
		t.Errorf("last warning = %+v, want the summary of 5 more in layer %s", last, diffID)
	}
}

// TestPrunedTreeHardLinks: a tree that keeps only wanted paths still keeps
// the targets of hard links (here an unwanted file of a lower layer), so a
// wanted link to it warns exactly as with every path kept.
func TestPrunedTreeHardLinks(t *testing.T) {
	p := testutil.LayeredImage(t,
		[]testutil.TarEntry{testutil.TarFile("opt/big", strings.Repeat("b", 100)), testutil.TarFile("opt/small", "s")},
		[]testutil.TarEntry{testutil.TarHardlink("etc/link", "opt/big"), testutil.TarHardlink("etc/link2", "opt/small")},
	)
	src := mustOpen(t, "docker-archive:"+p, Options{})
	want := func(p string, _ fs.FileMode, size int64) bool { return size < 64 || p == "/etc/link" }
	tree := mustWalk(t, src, WalkOptions{Want: want, Visit: visitString}) // compares with the pruned tree
	w := tree.Warnings()
	if len(w) != 1 || w[0].Path != "/etc/link" || w[0].Message != "hard link to /opt/big, whose content was not read" {
		t.Errorf("Warnings() = %+v, want the one about /etc/link", w)
	}
	if got := versions(tree.History("/etc/link2")); !slices.Equal(got, []string{"1:s"}) {
		t.Errorf("History(/etc/link2) = %v, want [1:s]", got)
	}
}

// TestRecordRoundTrip: a layer record read back from the cache is the
// record written, warnings' kinds included; a damaged one is refused.
func TestRecordRoundTrip(t *testing.T) {
	rec := &layerRecord{ref: model.LayerRef{DiffID: "sha256:x"}}
	rec.add(&entry{path: "/etc", kind: kindDir, mode: fs.ModeDir | 0o755})
	rec.add(&entry{path: "/etc/os-release", kind: kindRegular, mode: 0o644, size: 7, wanted: true, visited: true, result: "ID=x"})
	rec.add(&entry{path: "/lib", kind: kindSymlink, mode: fs.ModeSymlink | 0o777, linkname: "usr/lib"})
	rec.add(&entry{path: "/bin/sh2", kind: kindHardlink, mode: 0o755, linkname: "/bin/sh"})
	rec.opaques.addPath("/opt")
	rec.whiteouts.addPath("/var/tmp")
	rec.warn(model.Warning{Kind: model.WarnCacheSkipped, Layer: "sha256:x", Path: "/var/cache", Message: "m"})
	rec.done()
	data, err := encodeRecord(rec, stringCodec{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeRecord(data, rec.ref, stringCodec{})
	if err != nil {
		t.Fatalf("decodeRecord = %v", err)
	}
	if diff := cmp.Diff(rec, got, cmp.AllowUnexported(layerRecord{}, pathList{}), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	for _, n := range []int{len(data) - 1, len(cacheMagic) + 3, 10} {
		if _, err := decodeRecord(data[:n], rec.ref, stringCodec{}); err == nil {
			t.Errorf("decodeRecord(first %d of %d bytes) succeeded, want an error", n, len(data))
		}
	}
}
