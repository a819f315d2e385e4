package image

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

const dpkgStatus = "/var/lib/dpkg/status"

// debianForm is the Debian test image as one kind of target.
type debianForm struct {
	name   string
	target string
}

// debianForms returns the Debian test image in every target form; the
// registry runs in-process on 127.0.0.1 for the test's lifetime.
func debianForms(t testing.TB) (testutil.DebianImages, []debianForm) {
	t.Helper()
	d := testutil.DebianImage(t)
	host := testutil.StartRegistry(t)
	forms := []debianForm{
		{"dir", "dir:" + d.Rootfs},
		{"docker-archive", "docker-archive:" + d.DockerArchive},
		{"oci-archive", "oci-archive:" + d.OCIArchive},
		{"oci-dir", "oci-dir:" + d.OCIDir},
		{"registry", "registry:" + testutil.PushToRegistry(t, host, d)},
	}
	if d.DockerRef != "" || os.Getenv("CI") == "true" {
		forms = append(forms, debianForm{"docker", "docker:" + testutil.DebianDockerRef(t)})
	}
	return d, forms
}

// rootfsPaths lists every path under the root filesystem as "/a/b".
func rootfsPaths(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root {
			out = append(out, "/"+filepath.ToSlash(strings.TrimPrefix(p, root+"/")))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func visitBytes(_ context.Context, _ File, r io.Reader) (any, error) { return io.ReadAll(r) }

// debianV1 is the Debian test image read from its OCI layout with
// go-containerregistry, and its manifest digest.
func debianV1(t testing.TB) (v1.Image, string) {
	t.Helper()
	lp, err := layout.FromPath(testutil.DebianImage(t).OCIDir)
	if err != nil {
		t.Fatal(err)
	}
	ii, _ := lp.ImageIndex()
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	img, err := ii.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img, im.Manifests[0].Digest.String()
}

// TestDebian walks the real Debian image in every target form: the final
// dpkg status equals the rootfs file byte for byte, the target is described
// right, and the merged paths are exactly the rootfs paths.
func TestDebian(t *testing.T) {
	d, forms := debianForms(t)
	wantStatus, err := os.ReadFile(filepath.Join(d.Rootfs, "var/lib/dpkg/status"))
	if err != nil {
		t.Fatal(err)
	}
	wantPaths := rootfsPaths(t, d.Rootfs)
	img, manifestDigest := debianV1(t)
	configDigest, _ := img.ConfigName()
	layerDigest := ""
	if ls, err := img.Layers(); err == nil && len(ls) == 1 {
		h, _ := ls[0].Digest()
		layerDigest = h.String()
	}

	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			src := mustOpen(t, f.target, Options{})
			tree := mustWalk(t, src, WalkOptions{
				Want:  func(p string, _ fs.FileMode, _ int64) bool { return p == dpkgStatus },
				Visit: visitBytes,
			})
			got, ok := tree.Result(dpkgStatus)
			if !ok || !bytes.Equal(got.([]byte), wantStatus) {
				t.Errorf("Result(%s): %d bytes, ok %v; want the rootfs file (%d bytes)", dpkgStatus, len(asBytes(got)), ok, len(wantStatus))
			}
			if v := tree.Visited(); !cmp.Equal(v, []string{dpkgStatus}) {
				t.Errorf("Visited() = %v, want [%s]", v, dpkgStatus)
			}
			if diff := cmp.Diff(wantPaths, tree.Paths()); diff != "" {
				t.Errorf("Paths() differ from the rootfs (-rootfs +walk):\n%s", diff)
			}
			if w := tree.Warnings(); len(w) != 0 {
				t.Errorf("Warnings() = %v, want none", w)
			}

			tg := src.Target()
			if tg.Input != f.target || tg.Kind != f.name {
				t.Errorf("Target() input %q kind %q, want %q %q", tg.Input, tg.Kind, f.target, f.name)
			}
			layers := tree.Layers()
			if f.name == "dir" {
				if tg.Name != d.Rootfs || src.Config() != nil || len(layers) != 1 || layers[0].DiffID != "" {
					t.Errorf("dir target %+v, config %v, layers %+v", tg, src.Config(), layers)
				}
				return
			}
			wantDigest := manifestDigest
			switch f.name {
			case "docker-archive", "docker":
				wantDigest = "" // docker save archives carry no manifest digest
			}
			if tg.Digest != wantDigest || tg.ImageID != configDigest.String() || tg.Platform != "linux/amd64" {
				t.Errorf("Target() digest %q image ID %q platform %q; want %q %q linux/amd64", tg.Digest, tg.ImageID, tg.Platform, wantDigest, configDigest)
			}
			if (f.name == "docker-archive" || f.name == "docker") && !slices.Contains(tg.RepoTags, testutil.DebianImageRef) {
				t.Errorf("Target().RepoTags = %v, want %s", tg.RepoTags, testutil.DebianImageRef)
			}
			wantLayerDigest := layerDigest
			if f.name == "docker" {
				wantLayerDigest = d.DiffID // docker save stores the layer uncompressed
			}
			if len(layers) != 1 || layers[0].DiffID != d.DiffID || layers[0].Digest != wantLayerDigest ||
				!strings.HasPrefix(layers[0].CreatedBy, "debootstrap --variant=minbase") {
				t.Errorf("Layers() = %+v; want one layer, diff ID %s, digest %s, created by debootstrap", layers, d.DiffID, wantLayerDigest)
			}
			n, err := tree.Lstat(dpkgStatus)
			if err != nil || n.Layer != layers[0] || n.Size != int64(len(wantStatus)) {
				t.Errorf("Lstat(%s) = %+v, %v", dpkgStatus, n, err)
			}
			cfg := src.Config()
			if cfg == nil || cfg.OS != "linux" || len(cfg.Env) != 1 || len(cfg.History) != 2 || cfg.Healthcheck {
				t.Errorf("Config() = %+v", cfg)
			}
		})
	}

	// Merged-usr Debian: /bin is a symlink, and paths through it resolve.
	tree := mustWalk(t, mustOpen(t, forms[1].target, Options{}), WalkOptions{})
	if got, err := tree.Resolve("/bin/sh"); err != nil || got != "/usr/bin/dash" {
		t.Errorf("Resolve(/bin/sh) = %q, %v; want /usr/bin/dash", got, err)
	}
}

// TestDebianRefs: bare references go to the daemon first, then to the
// registry; an OCI layout's image can be named by its ref.name.
func TestDebianRefs(t *testing.T) {
	d := testutil.DebianImage(t)
	host := testutil.StartRegistry(t)
	pushed := testutil.PushToRegistry(t, host, d)
	tests := []struct{ target, kind string }{
		{pushed, KindRegistry}, // not in the daemon
		{"oci-dir:" + d.OCIDir + ":bookworm", KindOCIDir},
	}
	if d.DockerRef != "" {
		tests = append(tests, struct{ target, kind string }{d.DockerRef, KindDocker})
	}
	for _, tc := range tests {
		src := mustOpen(t, tc.target, Options{})
		if got := src.Target().Kind; got != tc.kind {
			t.Errorf("Open(%s).Target().Kind = %q, want %q", tc.target, got, tc.kind)
		}
	}
	// A host listed as insecure is reached over plain HTTP.
	src := mustOpen(t, "registry:"+pushed, Options{InsecureRegistry: []string{host}})
	if got := src.Target().Name; got != pushed {
		t.Errorf("Open(registry:%s, insecure).Target().Name = %q", pushed, got)
	}
	if _, err := Open(context.Background(), "oci-dir:"+d.OCIDir+":trixie", Options{}); err == nil || !strings.Contains(err.Error(), `no image named "trixie" in the index (names: bookworm)`) {
		t.Errorf("Open(oci-dir:…:trixie) = %v, want a no-such-name error", err)
	}
}

func asBytes(v any) []byte {
	b, _ := v.([]byte)
	return b
}

// wantRealistic asks for what the catalogers read: the dpkg database and
// every executable.
func wantRealistic(p string, mode fs.FileMode, _ int64) bool {
	return p == dpkgStatus || mode&0o111 != 0
}

// visitRealistic reads dpkg status whole and the head of an executable.
func visitRealistic(_ context.Context, f File, r io.Reader) (any, error) {
	if f.Path == dpkgStatus {
		return io.ReadAll(r)
	}
	var head [4096]byte
	n, err := io.ReadFull(r, head[:])
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil
	}
	return bytes.HasPrefix(head[:n], []byte("\x7fELF")), err
}

func BenchmarkWalk(b *testing.B) {
	_, forms := debianForms(b)
	for _, f := range forms {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				src, err := Open(context.Background(), f.target, Options{})
				if err != nil {
					b.Fatal(err)
				}
				tree, err := Walk(context.Background(), src, WalkOptions{Want: wantRealistic, Visit: visitRealistic})
				if err != nil {
					b.Fatal(err)
				}
				if _, ok := tree.Result(dpkgStatus); !ok {
					b.Fatal("no dpkg status")
				}
				src.Close()
			}
		})
	}
}

// TestBareRefNowhere: a bare reference found neither in the daemon nor in
// the registry fails naming both (the registry is a closed local port).
func TestBareRefNowhere(t *testing.T) {
	_, err := Open(context.Background(), "127.0.0.1:1/lockdown-test/nothing:1", Options{})
	if err == nil || !strings.Contains(err.Error(), "docker daemon:") || !strings.Contains(err.Error(), "registry:") {
		t.Errorf("Open(bare ref nowhere) = %v, want an error naming the daemon and the registry", err)
	}
}
