package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// sharedBaseLayout writes (once per machine) an OCI layout holding n images
// that share the real Debian base layer, each with one small layer of its
// own, named app-0 … app-(n-1).
func sharedBaseLayout(b *testing.B, n int) string {
	b.Helper()
	deb := testutil.DebianImage(b)
	dir := filepath.Join(testutil.CacheDir(b, "images"), fmt.Sprintf("shared-base-%d-%s", n, deb.DiffID[7:19]))
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer lock.Close()
	syscall.Flock(int(lock.Fd()), syscall.LOCK_EX)
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(filepath.Join(dir, "done")); err == nil {
		return dir
	}
	os.RemoveAll(dir)
	src, err := layout.FromPath(deb.OCIDir)
	if err != nil {
		b.Fatal(err)
	}
	idx, err := src.ImageIndex()
	if err != nil {
		b.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		b.Fatal(err)
	}
	base, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		b.Fatal(err)
	}
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		body := fmt.Sprintf("Package: app-%d\nStatus: install ok installed\nVersion: 1.0.%d\nArchitecture: all\n\n", i, i)
		tw.WriteHeader(&tar.Header{Name: "var/lib/dpkg/status.d/app", Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(0, 0)})
		tw.Write([]byte(body))
		tw.Close()
		data := buf.Bytes()
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			b.Fatal(err)
		}
		img, err := mutate.Append(base, mutate.Addendum{Layer: layer, History: v1.History{CreatedBy: fmt.Sprintf("COPY app-%d", i)}})
		if err != nil {
			b.Fatal(err)
		}
		if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": fmt.Sprintf("app-%d", i)})); err != nil {
			b.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "done"), nil, 0o644)
	return dir
}

// BenchmarkScanSharedBase scans 100 images that share the Debian base layer
// back to back, with the layer cache warm for the base: images/min.
func BenchmarkScanSharedBase(b *testing.B) {
	const n = 100
	dir := sharedBaseLayout(b, n)
	db := scanDB(b)
	b.Setenv("LOCKDOWN_CACHE_DIR", b.TempDir())
	scan := func(i int) {
		var out, errb bytes.Buffer
		if code := Run(context.Background(), []string{"scan", "--quiet", "--format", "json", "--db", db, "--max-db-age", "0", fmt.Sprintf("oci-dir:%s:app-%d", dir, i)}, &out, &errb); code != 0 {
			b.Fatalf("scan app-%d: exit %d: %s", i, code, errb.String())
		}
	}
	scan(0) // the base layer enters the cache
	b.ReportAllocs()
	start := time.Now()
	images := 0
	for b.Loop() {
		for i := range n {
			scan(i)
			images++
		}
	}
	b.ReportMetric(float64(images)/time.Since(start).Minutes(), "images/min")
}

// BenchmarkScanWarm is a warm scan (layer cache filled) of the real Debian
// image as a docker-archive.
func BenchmarkScanWarm(b *testing.B) {
	deb := testutil.DebianImage(b)
	db := scanDB(b)
	b.Setenv("LOCKDOWN_CACHE_DIR", b.TempDir())
	args := []string{"scan", "--quiet", "--format", "json", "--db", db, "--max-db-age", "0", "docker-archive:" + deb.DockerArchive}
	var out, errb bytes.Buffer
	if code := Run(context.Background(), args, &out, &errb); code != 0 {
		b.Fatalf("scan: exit %d: %s", code, errb.String())
	}
	b.ReportAllocs()
	for b.Loop() {
		out.Reset()
		Run(context.Background(), args, &out, &errb)
	}
}
