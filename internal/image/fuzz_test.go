package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// edgeCaseLayers returns the layer tars inside the scalibr edge-case
// docker saves, plus the plain unpack-escape.tar, as fuzz seeds.
func edgeCaseLayers(f *testing.F) [][]byte {
	dir := os.Getenv("LOCKDOWN_TESTDATA")
	if dir == "" {
		dir = filepath.Join(testutil.RepoRoot(f), "..", "shared", "data")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "images", "scalibr-edge-cases", "*.tar"))
	var out [][]byte
	for _, p := range files {
		a, fc, err := openTarArchive(context.Background(), p, Options{})
		if err != nil {
			continue
		}
		defer fc.Close()
		if !a.has("manifest.json") {
			if b, err := os.ReadFile(p); err == nil {
				out = append(out, b)
			}
			continue
		}
		for name := range a.members {
			if path.Base(name) == "layer.tar" {
				if b, err := a.readAll(name); err == nil {
					out = append(out, b)
				}
			}
		}
	}
	return out
}

// trimTar drops a tar's trailing zero blocks (the end marker and record
// padding): the reader takes a clean end of data as the end, and short
// seeds keep the fuzzer's minimisation quick.
func trimTar(b []byte) []byte {
	n := len(bytes.TrimRight(b, "\x00"))
	n = (n + 511) / 512 * 512
	return b[:min(n, len(b))]
}

// repackDockerSave rewrites a docker save archive with its layer tars and
// itself trimmed (trimTar), for short fuzz seeds. Diff IDs no longer match.
func repackDockerSave(tb testing.TB, b []byte) []byte {
	var out bytes.Buffer
	tr := tar.NewReader(bytes.NewReader(b))
	tw := tar.NewWriter(&out)
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		body, _ := io.ReadAll(tr)
		if path.Base(hdr.Name) == "layer.tar" {
			body = trimTar(body)
		}
		if hdr.Typeflag == tar.TypeDir || path.Base(hdr.Name) == "VERSION" || path.Base(hdr.Name) == "json" {
			continue
		}
		hdr.Size = int64(len(body))
		if err := tw.WriteHeader(hdr); err != nil {
			tb.Fatal(err)
		}
		tw.Write(body)
	}
	tw.Close()
	return trimTar(out.Bytes())
}

func readFile(tb testing.TB, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// bytesSource is a one-layer Source over bytes held in memory.
func bytesSource(b []byte) Source {
	return &source{
		target: model.Target{Input: "fuzz", Kind: "fuzz"},
		lim:    limits{maxLayer: 1 << 20, maxFile: 1 << 16},
		layers: []Layer{&layer{
			ref:   model.LayerRef{Index: 0, Digest: "sha256:fuzz"},
			local: true,
			size:  -1,
			blob: func(context.Context) (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(b)), nil
			},
		}},
	}
}

// FuzzWalkLayer feeds arbitrary bytes to the walker as one layer: it must
// never panic, its errors are ErrBadInput, and whatever it builds keeps
// every path and every resolved symlink inside the root.
func FuzzWalkLayer(f *testing.F) {
	for _, b := range edgeCaseLayers(f) {
		f.Add(trimTar(b))
	}
	f.Add(testutil.LayerTar(f,
		testutil.TarDir("etc"), testutil.TarFile("etc/a", "a"), testutil.TarHardlink("etc/b", "etc/a"),
		testutil.TarWhiteout("etc/c"), testutil.TarOpaque("usr"), testutil.TarSymlink("lib", "usr/lib"),
		testutil.TarSymlink("loop", "loop"), testutil.TarSymlink("up", "../../.."),
	))
	f.Add(testutil.GzipBytes(f, testutil.LayerTar(f, testutil.TarFile("var/lib/dpkg/status", "Package: x\n"))))
	// Issue 11.3: nested deeper than MaxPathDepth (the walk stops there).
	deep, _ := deepLayer(f, MaxPathDepth+2)
	f.Add(deep)
	// Hard links across a whiteout and to an unwanted file, kept by the
	// pruned tree.
	f.Add(testutil.LayerTar(f,
		testutil.TarFile("big", strings.Repeat("b", 100)), testutil.TarHardlink("small", "big"),
		testutil.TarFile("etc/x", "x"), testutil.TarWhiteout("etc/x"), testutil.TarHardlink("y", "etc/x")))
	f.Fuzz(func(t *testing.T, data []byte) {
		want := func(p string, _ fs.FileMode, size int64) bool { return size < 64 || strings.HasSuffix(p, "small") }
		tree, err := Walk(context.Background(), bytesSource(data), WalkOptions{
			Want:     want,
			Visit:    visitString,
			AllPaths: true,
		})
		if err != nil {
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("Walk error %v does not wrap ErrBadInput", err)
			}
			return
		}
		for _, p := range tree.Paths() {
			if !strings.HasPrefix(p, "/") || path.Clean(p) != p {
				t.Fatalf("path %q is not clean and absolute", p)
			}
			r, err := tree.Resolve(p)
			if err != nil {
				if !errors.Is(err, ErrBadInput) {
					t.Fatalf("Resolve(%q) = %v, want ErrBadInput", p, err)
				}
				continue
			}
			if !strings.HasPrefix(r, "/") || path.Clean(r) != r {
				t.Fatalf("Resolve(%q) = %q: not clean and inside the root", p, r)
			}
			tree.Lstat(p)
			tree.History(p)
		}
		for _, p := range tree.Visited() {
			if _, ok := tree.Result(p); !ok {
				t.Fatalf("Visited lists %s but Result has nothing", p)
			}
		}
		// The pruned tree answers as the full one.
		pruned, err := Walk(context.Background(), bytesSource(data), WalkOptions{Want: want, Visit: visitString})
		if err != nil {
			t.Fatalf("pruned walk failed where the full one did not: %v", err)
		}
		if diff := sameAnswers(tree, pruned); diff != "" {
			t.Fatalf("pruned tree answers otherwise:\n%s", diff)
		}
	})
}

// FuzzOpenDockerArchive feeds arbitrary bytes to the docker-archive reader
// (in memory: the path Open takes after opening the file) and walks what
// opens: no panic, only ErrBadInput errors.
func FuzzOpenDockerArchive(f *testing.F) {
	dir := os.Getenv("LOCKDOWN_TESTDATA")
	if dir == "" {
		dir = filepath.Join(testutil.RepoRoot(f), "..", "shared", "data")
	}
	for _, name := range []string{"layers-single-file.tar", "layers-symlink-basic.tar", "layers-two-files.tar"} {
		if b, err := os.ReadFile(filepath.Join(dir, "images", "scalibr-edge-cases", name)); err == nil {
			f.Add(repackDockerSave(f, b))
		}
	}
	tmp := f.TempDir()
	f.Add(trimTar(readFile(f, testutil.WriteDockerArchive(f, tmp,
		testutil.ArchiveLayer{Blob: trimTar(testutil.LayerTar(f, testutil.TarFile("etc/os-release", "ID=x\n"), testutil.TarSymlink("lib", "usr/lib")))},
		testutil.ArchiveLayer{Blob: trimTar(testutil.LayerTar(f, testutil.TarWhiteout("lib"), testutil.TarOpaque("etc")))},
	))))
	// Issue 11.4: a gzip-compressed archive of several layers.
	gzArchive := readFile(f, testutil.WriteDockerArchive(f, tmp,
		testutil.ArchiveLayer{Blob: trimTar(testutil.LayerTar(f, testutil.TarFile("a", "1")))},
		testutil.ArchiveLayer{Blob: trimTar(testutil.LayerTar(f, testutil.TarFile("b", "2")))},
		testutil.ArchiveLayer{Blob: trimTar(testutil.LayerTar(f, testutil.TarFile("c", "3")))},
	))
	f.Add(testutil.GzipBytes(f, gzArchive))
	// Issue 11.7: a Docker 25+ archive whose layer blob is not the one its
	// path names (one gzip header byte changed).
	f.Add(tamperedDockerArchive(f))
	opts := Options{MaxLayerBytes: 1 << 20, MaxFileBytes: 1 << 16, MaxArchiveBytes: 4 << 20, TempDir: tmp}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		a, closer, err := readTarArchive(ctx, "fuzz.tar", bytes.NewReader(data), int64(len(data)), opts)
		if closer != nil {
			defer closer.Close()
		}
		if err == nil {
			var src *source
			if src, err = dockerArchive(ctx, "fuzz", "fuzz.tar", a, opts); err == nil {
				_, err = Walk(ctx, src, WalkOptions{Want: wantAll, Visit: visitSum})
			}
		}
		if err != nil && !errors.Is(err, ErrBadInput) {
			t.Fatalf("Open+Walk error %v does not wrap ErrBadInput", err)
		}
	})
}

// tamperedDockerArchive is a small Docker 25+ docker-archive (layers named
// blobs/sha256/<digest>) whose layer blob differs from its name in one gzip
// header byte: the content and diff ID are right, the digest is not.
func tamperedDockerArchive(tb testing.TB) []byte {
	tar0 := testutil.LayerTar(tb, testutil.TarFile("etc/os-release", "ID=x\n"))
	gz := testutil.GzipBytes(tb, tar0)
	sum, diff := sha256.Sum256(gz), sha256.Sum256(tar0)
	blob := "blobs/sha256/" + hex.EncodeToString(sum[:])
	bad := bytes.Clone(gz)
	bad[4] ^= 1
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:` + hex.EncodeToString(diff[:]) + `"]}}`)
	cs := sha256.Sum256(cfg)
	cfgPath := "blobs/sha256/" + hex.EncodeToString(cs[:])
	manifest := []byte(`[{"Config":"` + cfgPath + `","RepoTags":["x:y"],"Layers":["` + blob + `"]}]`)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range []struct {
		name string
		body []byte
	}{{cfgPath, cfg}, {blob, bad}, {"manifest.json", manifest}} {
		tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.body))})
		tw.Write(m.body)
	}
	tw.Close()
	return trimTar(buf.Bytes())
}
