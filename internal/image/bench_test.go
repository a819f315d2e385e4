package image

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// BenchmarkWalkWarm is the warm path: every layer of the Debian image in
// the cache, so a walk reads the archive's headers, manifest and config and
// merges the cached record.
func BenchmarkWalkWarm(b *testing.B) {
	d := testutil.DebianImage(b)
	target := "docker-archive:" + d.DockerArchive
	cache := &memCache{}
	visit := func(ctx context.Context, f File, r io.Reader) (any, error) {
		res, err := visitRealistic(ctx, f, r)
		return fmt.Sprint(res), err
	}
	opts := WalkOptions{Want: wantRealistic, Visit: visit, Cache: cache, Codec: stringCodec{}, CacheKey: "bench"}
	walk := func() {
		src, err := Open(context.Background(), target, Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer src.Close()
		if _, err := Walk(context.Background(), src, opts); err != nil {
			b.Fatal(err)
		}
	}
	walk() // fills the cache
	b.ReportAllocs()
	for b.Loop() {
		walk()
	}
}

// BenchmarkLayerStream reads the Debian image's gzip layer blob through the
// pipeline (digest check, decompression) and the diff ID check: MB/s of
// uncompressed layer.
func BenchmarkLayerStream(b *testing.B) {
	d := testutil.DebianImage(b)
	blobs, _ := filepath.Glob(filepath.Join(d.OCIDir, "blobs", "sha256", "*"))
	var blob string
	var size int64
	for _, p := range blobs {
		if st, err := os.Stat(p); err == nil && st.Size() > size {
			blob, size = p, st.Size()
		}
	}
	ref := model.LayerRef{DiffID: d.DiffID, Digest: "sha256:" + filepath.Base(blob)}
	st, _ := os.Stat(d.LayerTar)
	b.SetBytes(st.Size())
	b.ReportAllocs()
	for b.Loop() {
		f, err := os.Open(blob)
		if err != nil {
			b.Fatal(err)
		}
		l := &layer{ref: ref, size: size, blob: func(context.Context) (io.ReadCloser, error) { return f, nil }}
		if _, err := walkTar(context.Background(), l, ref, WalkOptions{}, Options{}.limits()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApply merges a record of 200,000 files in 200 directories into
// a tree that keeps only wanted paths (one file in 1,000 is wanted).
func BenchmarkApply(b *testing.B) {
	rec := &layerRecord{ref: model.LayerRef{DiffID: "sha256:bench"}}
	for i := range 200_000 {
		if i%1000 == 0 {
			rec.add(&entry{path: fmt.Sprintf("/srv/data/d%04d", i/1000), kind: kindDir, mode: fs.ModeDir | 0o755})
		}
		e := entry{path: fmt.Sprintf("/srv/data/d%04d/f%07d.txt", i/1000, i), kind: kindRegular, mode: 0o644, size: 100}
		if i%1000 == 7 {
			e.wanted, e.visited, e.result = true, true, "x"
		}
		rec.add(&e)
	}
	rec.done()
	b.ReportAllocs()
	for b.Loop() {
		t := newTree([]model.LayerRef{rec.ref})
		if err := t.apply(0, rec, &merge{}); err != nil {
			b.Fatal(err)
		}
		if n := len(t.visited()); n != 200 {
			b.Fatalf("%d visited, want 200", n)
		}
	}
}
