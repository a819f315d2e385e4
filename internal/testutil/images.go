package testutil

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// DebianImageRef is the name the Debian test image carries (docker-archive
// RepoTags, the local dockerd, the OCI layout's ref.name and the registry).
const DebianImageRef = "lockdown-test/debian:bookworm"

// DebianImages is the real Debian minbase root filesystem (DebianRootfs) in
// every target form. Paths are plain paths: prefix them with the target
// kind ("docker-archive:" + d.DockerArchive).
type DebianImages struct {
	Rootfs        string // the root filesystem directory (dir:)
	LayerTar      string // the one layer, an uncompressed tar of Rootfs
	DiffID        string // sha256 of LayerTar
	DockerArchive string // `docker save` format, written by go-containerregistry (tarball.Write)
	OCIArchive    string // tar of OCIDir
	OCIDir        string // OCI image layout (layout.Write); ref.name "bookworm"
	// DockerRef is DebianImageRef loaded into the local dockerd, or "" when
	// no Docker engine answers (use DebianDockerRef to require one).
	DockerRef string
}

// DebianImage builds (once per rootfs, cached under CacheDir(t, "images"))
// the Debian test image from DebianRootfs without a daemon: a layer tar
// written with archive/tar from the directory (uid/gid, modes, symlinks,
// hard links and device nodes kept), then go-containerregistry's mutate,
// tarball.Write and layout.Write. When a Docker engine answers, the image
// is also `docker load`ed as DebianImageRef.
func DebianImage(t testing.TB) DebianImages {
	t.Helper()
	rootfs := DebianRootfs(t)
	stamp, err := os.ReadFile(rootfs + ".done")
	if err != nil {
		t.Fatalf("debian rootfs stamp: %v", err)
	}
	sum := sha256.Sum256(stamp)
	dir := filepath.Join(CacheDir(t, "images"), "debian-"+hex.EncodeToString(sum[:6]))
	d := DebianImages{
		Rootfs:        rootfs,
		LayerTar:      filepath.Join(dir, "layer.tar"),
		DockerArchive: filepath.Join(dir, "docker-archive.tar"),
		OCIArchive:    filepath.Join(dir, "oci-archive.tar"),
		OCIDir:        filepath.Join(dir, "oci"),
	}
	unlock := lockFile(t, filepath.Join(CacheDir(t, "images"), "lock"))
	defer unlock()
	done := filepath.Join(dir, "done")
	if b, err := os.ReadFile(done); err == nil {
		d.DiffID = strings.TrimSpace(string(b))
	} else {
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("image cache: %v", err)
		}
		d.DiffID = buildDebianImage(t, d)
		if err := os.WriteFile(done, []byte(d.DiffID+"\n"), 0o644); err != nil {
			t.Fatalf("image cache: %v", err)
		}
	}
	if dockerAnswers() {
		d.DockerRef = loadDocker(t, d)
	}
	return d
}

// DebianDockerRef returns the Debian test image's name in the local
// dockerd, loading it first; it skips (fails under CI) without Docker.
func DebianDockerRef(t testing.TB) string {
	t.Helper()
	RequireDocker(t)
	d := DebianImage(t)
	if d.DockerRef == "" {
		t.Fatalf("docker answers but the debian image was not loaded")
	}
	return d.DockerRef
}

func buildDebianImage(t testing.TB, d DebianImages) string {
	t.Helper()
	f, err := os.Create(d.LayerTar)
	if err != nil {
		t.Fatalf("layer tar: %v", err)
	}
	h := sha256.New()
	if err := WriteDirTar(io.MultiWriter(f, h), d.Rootfs); err != nil {
		f.Close()
		t.Fatalf("layer tar of %s: %v", d.Rootfs, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("layer tar: %v", err)
	}
	diffID := "sha256:" + hex.EncodeToString(h.Sum(nil))

	layer, err := tarball.LayerFromFile(d.LayerTar, tarball.WithCompressedCaching)
	if err != nil {
		t.Fatalf("layer from %s: %v", d.LayerTar, err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			CreatedBy: "debootstrap --variant=minbase " + DebianSuite + " " + DebianMirror,
			Created:   v1.Time{Time: time.Unix(0, 0).UTC()},
		},
	})
	if err != nil {
		t.Fatalf("image: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cf.Config.Cmd = []string{"bash"}
	cf.Config.Labels = map[string]string{"org.opencontainers.image.title": "lockdown test debian " + DebianSuite}
	cf.History = append(cf.History, v1.History{CreatedBy: `CMD ["bash"]`, EmptyLayer: true, Created: v1.Time{Time: time.Unix(0, 0).UTC()}})
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatalf("config: %v", err)
	}
	tag, err := name.NewTag(DebianImageRef)
	if err != nil {
		t.Fatalf("tag: %v", err)
	}
	if err := tarball.WriteToFile(d.DockerArchive, tag, img); err != nil {
		t.Fatalf("docker archive: %v", err)
	}
	lp, err := layout.Write(d.OCIDir, empty.Index)
	if err != nil {
		t.Fatalf("oci layout: %v", err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": DebianSuite,
	})); err != nil {
		t.Fatalf("oci layout: %v", err)
	}
	af, err := os.Create(d.OCIArchive)
	if err != nil {
		t.Fatalf("oci archive: %v", err)
	}
	if err := WriteDirTar(af, d.OCIDir); err != nil {
		af.Close()
		t.Fatalf("oci archive: %v", err)
	}
	if err := af.Close(); err != nil {
		t.Fatalf("oci archive: %v", err)
	}
	return diffID
}

// WriteDirTar writes the tree under root as a tar stream the way a layer
// holds it: names relative to root without "./", directories with a
// trailing "/", owner, mode and times kept, symlinks as links, files with
// several names as hard links to the first, device nodes and fifos as such.
// Symlinks are never followed.
func WriteDirTar(w io.Writer, root string) error {
	tw := tar.NewWriter(w)
	type inodeKey struct{ dev, ino uint64 }
	seen := map[inodeKey]string{}
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		var link string
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		hdr.Name = rel
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		hdr.Format = tar.FormatPAX
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode().IsRegular() && st.Nlink > 1 {
			k := inodeKey{uint64(st.Dev), st.Ino}
			if first, ok := seen[k]; ok {
				hdr.Typeflag = tar.TypeLink
				hdr.Linkname = first
				hdr.Size = 0
			} else {
				seen[k] = rel
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

func dockerAnswers() bool {
	if _, err := exec.LookPath("docker"); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").Run() == nil
}

// loadDocker `docker load`s the Debian image unless the engine already has
// it under DebianImageRef with the same config digest.
func loadDocker(t testing.TB, d DebianImages) string {
	t.Helper()
	img, err := tarball.ImageFromPath(d.DockerArchive, nil)
	if err != nil {
		t.Fatalf("read %s: %v", d.DockerArchive, err)
	}
	id, err := img.ConfigName()
	if err != nil {
		t.Fatalf("config digest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", DebianImageRef).Output()
	if err == nil && strings.TrimSpace(string(out)) == id.String() {
		return DebianImageRef
	}
	if out, err := exec.CommandContext(ctx, "docker", "load", "-i", d.DockerArchive).CombinedOutput(); err != nil {
		t.Fatalf("docker load -i %s: %v\n%s", d.DockerArchive, err, out)
	}
	return DebianImageRef
}

func lockFile(t testing.TB, p string) (unlock func()) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("flock %s: %v", p, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}

// StartRegistry runs go-containerregistry's in-memory registry on
// 127.0.0.1 (a random port) for the test's lifetime and returns its
// "host:port".
func StartRegistry(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// PushToRegistry pushes the Debian OCI layout to the registry at host and
// returns "HOST/lockdown-test/debian:bookworm".
func PushToRegistry(t testing.TB, host string, d DebianImages) string {
	t.Helper()
	return PushOCIDir(t, host, d.OCIDir, DebianImageRef)
}

// PushOCIDir pushes what an OCI layout's index.json holds (one image or an
// index) to host as repoTag ("repo:tag"), and returns "HOST/repo:tag".
func PushOCIDir(t testing.TB, host, ociDir, repoTag string) string {
	t.Helper()
	ref, err := name.NewTag(host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatalf("tag: %v", err)
	}
	ii, err := layout.ImageIndexFromPath(ociDir)
	if err != nil {
		t.Fatalf("read %s: %v", ociDir, err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatalf("read %s: %v", ociDir, err)
	}
	if len(im.Manifests) == 1 && im.Manifests[0].MediaType.IsImage() {
		img, err := ii.Image(im.Manifests[0].Digest)
		if err != nil {
			t.Fatalf("read %s: %v", ociDir, err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
	} else if err := remote.WriteIndex(ref, ii); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return ref.String()
}

// TarEntry is one entry of a layer tar written by LayerTar. Type 0 means a
// regular file (TypeDir when Name ends in "/"); Mode 0 means 0644 (0755 for
// directories).
type TarEntry struct {
	Name     string
	Type     byte
	Body     string
	Linkname string
	Mode     int64
	Uid, Gid int
	// Size overrides len(Body) in the header (for lying headers).
	Size int64
}

// Entry helpers for LayerTar.
func TarFile(name, body string) TarEntry { return TarEntry{Name: name, Body: body} }
func TarDir(name string) TarEntry {
	return TarEntry{Name: strings.TrimSuffix(name, "/") + "/", Type: tar.TypeDir}
}
func TarSymlink(name, to string) TarEntry {
	return TarEntry{Name: name, Type: tar.TypeSymlink, Linkname: to}
}
func TarHardlink(name, to string) TarEntry {
	return TarEntry{Name: name, Type: tar.TypeLink, Linkname: to}
}

// TarWhiteout deletes p (and everything under it) from the layers below.
func TarWhiteout(p string) TarEntry {
	dir, base := path.Split(p)
	return TarFile(dir+".wh."+base, "")
}

// TarOpaque hides what the layers below put under dir.
func TarOpaque(dir string) TarEntry {
	return TarFile(strings.TrimSuffix(dir, "/")+"/.wh..wh..opq", "")
}

// LayerTar returns an uncompressed tar of the entries, in order.
func LayerTar(t testing.TB, entries ...TarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{
			Name:     e.Name,
			Typeflag: e.Type,
			Linkname: e.Linkname,
			Mode:     e.Mode,
			Uid:      e.Uid,
			Gid:      e.Gid,
			ModTime:  time.Unix(1700000000, 0),
			Format:   tar.FormatPAX,
		}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
			if strings.HasSuffix(e.Name, "/") {
				hdr.Typeflag = tar.TypeDir
			}
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
			if hdr.Typeflag == tar.TypeDir {
				hdr.Mode = 0o755
			}
		}
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.Body))
		}
		if e.Size != 0 {
			hdr.Size = e.Size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("layer tar %q: %v", e.Name, err)
		}
		if hdr.Typeflag == tar.TypeReg && e.Body != "" {
			if _, err := io.WriteString(tw, e.Body); err != nil {
				t.Fatalf("layer tar %q: %v", e.Name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("layer tar: %v", err)
	}
	return buf.Bytes()
}

// ArchiveLayer is one layer blob of a docker-archive written by
// WriteDockerArchive.
type ArchiveLayer struct {
	Blob      []byte // stored as is: a plain tar, a gzip tar, or junk
	DiffID    string // "" means sha256 of Blob (right for a plain tar)
	CreatedBy string
	// Missing leaves the blob out of the archive while manifest.json still
	// names it.
	Missing bool
}

// WriteDockerArchive writes a `docker save` archive (manifest.json, config,
// one <n>/layer.tar per layer) to a new file in dir and returns its path.
func WriteDockerArchive(t testing.TB, dir string, layers ...ArchiveLayer) string {
	t.Helper()
	return WriteDockerArchiveTagged(t, dir, []string{"lockdown-test/layered:latest"}, layers...)
}

// WriteDockerArchiveTagged is WriteDockerArchive with the manifest's
// RepoTags given (hostile tags, no tags).
func WriteDockerArchiveTagged(t testing.TB, dir string, repoTags []string, layers ...ArchiveLayer) string {
	t.Helper()
	var diffIDs []string
	var history []map[string]any
	for _, l := range layers {
		id := l.DiffID
		if id == "" {
			s := sha256.Sum256(l.Blob)
			id = "sha256:" + hex.EncodeToString(s[:])
		}
		diffIDs = append(diffIDs, id)
		history = append(history, map[string]any{"created_by": l.CreatedBy})
	}
	history = append(history, map[string]any{"created_by": "/bin/sh -c #(nop) USER app", "empty_layer": true})
	cfg, err := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"config":       map[string]any{"User": "app", "Env": []string{"PATH=/usr/bin:/bin"}, "Labels": map[string]string{"test": "layered"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": diffIDs},
		"history":      history,
	})
	if err != nil {
		t.Fatal(err)
	}
	cs := sha256.Sum256(cfg)
	cfgName := hex.EncodeToString(cs[:]) + ".json"
	var layerPaths []string
	for i := range layers {
		layerPaths = append(layerPaths, fmt.Sprintf("%03d/layer.tar", i))
	}
	manifest, err := json.Marshal([]map[string]any{{
		"Config": cfgName, "RepoTags": repoTags, "Layers": layerPaths,
	}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(dir, "docker-archive-*.tar")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	add := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	add(cfgName, cfg)
	for i, l := range layers {
		if !l.Missing {
			add(layerPaths[i], l.Blob)
		}
	}
	add("manifest.json", manifest)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// LayeredImage writes a docker-archive whose layers are LayerTar(entries)
// for each argument, base first, into t.TempDir(), and returns its path.
func LayeredImage(t testing.TB, layers ...[]TarEntry) string {
	t.Helper()
	var ls []ArchiveLayer
	for i, es := range layers {
		ls = append(ls, ArchiveLayer{Blob: LayerTar(t, es...), CreatedBy: fmt.Sprintf("layer %d", i)})
	}
	return WriteDockerArchive(t, t.TempDir(), ls...)
}

// GzipBytes gzips b.
func GzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Hostile names an image built to attack the reader.
type Hostile string

// Hostile images made by HostileImage.
const (
	HostileTruncatedTar      Hostile = "truncated-tar"       // layer tar cut in the middle of a file
	HostileCorruptGzip       Hostile = "corrupt-gzip"        // gzip layer with flipped bytes
	HostileDotDot            Hostile = "dotdot-entry"        // entry "../../etc/passwd"
	HostileAbsolute          Hostile = "absolute-entry"      // entry "/etc/passwd"
	HostileGzipBomb          Hostile = "gzip-bomb"           // 1 GiB of zeros in ~1 MiB of gzip
	HostileMissingBlob       Hostile = "missing-blob"        // manifest.json names a layer not in the archive
	HostileMissingOCIBlob    Hostile = "missing-oci-blob"    // OCI manifest names a layer blob not in blobs/
	HostileUnknownMediaType  Hostile = "unknown-media-type"  // OCI layer of media type application/vnd.example.unknown
	HostileMultiPlatformOnly Hostile = "multi-platform-only" // OCI index with linux/arm64/v8 and linux/s390x only
)

// HostileKinds lists every Hostile.
var HostileKinds = []Hostile{HostileTruncatedTar, HostileCorruptGzip, HostileDotDot, HostileAbsolute,
	HostileGzipBomb, HostileMissingBlob, HostileMissingOCIBlob, HostileUnknownMediaType, HostileMultiPlatformOnly}

// HostileImage writes one hostile image into t.TempDir() and returns its
// target string ("docker-archive:…" or "oci-dir:…"). A gzip bomb needs a
// small MaxLayerBytes to be refused quickly.
func HostileImage(t testing.TB, kind Hostile) string {
	t.Helper()
	dir := t.TempDir()
	good := LayerTar(t, TarDir("etc"), TarFile("etc/os-release", "ID=test\n"), TarFile("etc/big", strings.Repeat("x", 4096)))
	switch kind {
	case HostileTruncatedTar:
		// Cut inside etc/big's content; diff ID of the full tar.
		s := sha256.Sum256(good)
		cut := bytes.Index(good, []byte("xxxx")) + 100
		return "docker-archive:" + WriteDockerArchive(t, dir, ArchiveLayer{Blob: good[:cut], DiffID: "sha256:" + hex.EncodeToString(s[:])})
	case HostileCorruptGzip:
		gz := GzipBytes(t, good)
		for i := 20; i < len(gz)-8; i += 7 {
			gz[i] ^= 0x5a
		}
		s := sha256.Sum256(good)
		return "docker-archive:" + WriteDockerArchive(t, dir, ArchiveLayer{Blob: gz, DiffID: "sha256:" + hex.EncodeToString(s[:])})
	case HostileDotDot:
		return "docker-archive:" + WriteDockerArchive(t, dir, ArchiveLayer{Blob: LayerTar(t, TarFile("etc/ok", "ok"), TarFile("../../etc/passwd", "root::0:0::/:/bin/sh\n"))})
	case HostileAbsolute:
		return "docker-archive:" + WriteDockerArchive(t, dir, ArchiveLayer{Blob: LayerTar(t, TarFile("etc/ok", "ok"), TarFile("/etc/passwd", "root::0:0::/:/bin/sh\n"))})
	case HostileGzipBomb:
		return "docker-archive:" + WriteDockerArchive(t, dir, ArchiveLayer{Blob: gzipBomb(t, 1<<30), DiffID: "sha256:" + strings.Repeat("0", 64)})
	case HostileMissingBlob:
		return "docker-archive:" + WriteDockerArchive(t, dir, ArchiveLayer{Blob: good}, ArchiveLayer{Blob: LayerTar(t, TarFile("x", "y")), Missing: true})
	case HostileMissingOCIBlob, HostileUnknownMediaType:
		mt := "application/vnd.oci.image.layer.v1.tar"
		if kind == HostileUnknownMediaType {
			mt = "application/vnd.example.unknown"
		}
		o := newOCIWriter(t, filepath.Join(dir, "oci"))
		d := o.image(good, mt, "linux", "amd64", "", kind == HostileMissingOCIBlob)
		o.finish(d)
		return "oci-dir:" + o.dir
	case HostileMultiPlatformOnly:
		o := newOCIWriter(t, filepath.Join(dir, "oci"))
		a := o.image(good, "application/vnd.oci.image.layer.v1.tar", "linux", "arm64", "v8", false)
		b := o.image(LayerTar(t, TarFile("s390x", "")), "application/vnd.oci.image.layer.v1.tar", "linux", "s390x", "", false)
		o.finish(o.index(a, b))
		return "oci-dir:" + o.dir
	}
	t.Fatalf("unknown hostile kind %q", kind)
	return ""
}

// gzipBomb returns a gzip stream of a tar header declaring one file of n
// bytes followed by n zero bytes, built from repeated gzip members so it
// costs little to make.
func gzipBomb(t testing.TB, n int64) []byte {
	t.Helper()
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{Name: "zeros", Mode: 0o644, Size: n, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		t.Fatal(err)
	}
	tw.Flush()
	const chunk = 16 << 20
	member := GzipBytes(t, make([]byte, chunk))
	out := GzipBytes(t, hdr.Bytes())
	for left := n; left > 0; left -= chunk {
		out = append(out, member...)
	}
	return out
}

// ociWriter writes small OCI layouts by hand, for the images
// go-containerregistry refuses to make (unknown media types, missing blobs).
type ociWriter struct {
	t   testing.TB
	dir string
}

func newOCIWriter(t testing.TB, dir string) *ociWriter {
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return &ociWriter{t: t, dir: dir}
}

type ociDesc struct {
	MediaType string            `json:"mediaType"`
	Digest    string            `json:"digest"`
	Size      int64             `json:"size"`
	Platform  map[string]string `json:"platform,omitempty"`
}

func (o *ociWriter) blob(b []byte, mt string, skip bool) ociDesc {
	s := sha256.Sum256(b)
	h := hex.EncodeToString(s[:])
	if !skip {
		if err := os.WriteFile(filepath.Join(o.dir, "blobs", "sha256", h), b, 0o644); err != nil {
			o.t.Fatal(err)
		}
	}
	return ociDesc{MediaType: mt, Digest: "sha256:" + h, Size: int64(len(b))}
}

func (o *ociWriter) json(v any, mt string) ociDesc {
	b, err := json.Marshal(v)
	if err != nil {
		o.t.Fatal(err)
	}
	return o.blob(b, mt, false)
}

// image writes one single-layer image and returns its manifest descriptor.
func (o *ociWriter) image(layerTar []byte, mt, os_, arch, variant string, skipLayer bool) ociDesc {
	s := sha256.Sum256(layerTar)
	l := o.blob(layerTar, mt, skipLayer)
	cfg := o.json(map[string]any{
		"architecture": arch, "os": os_, "variant": variant,
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(s[:])}},
	}, "application/vnd.oci.image.config.v1+json")
	m := o.json(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": cfg, "layers": []ociDesc{l},
	}, "application/vnd.oci.image.manifest.v1+json")
	m.Platform = map[string]string{"os": os_, "architecture": arch}
	if variant != "" {
		m.Platform["variant"] = variant
	}
	return m
}

func (o *ociWriter) index(ms ...ociDesc) ociDesc {
	return o.json(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": ms},
		"application/vnd.oci.image.index.v1+json")
}

// finish writes index.json pointing at d.
func (o *ociWriter) finish(d ociDesc) {
	b, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []ociDesc{d}})
	if err != nil {
		o.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(o.dir, "index.json"), b, 0o644); err != nil {
		o.t.Fatal(err)
	}
}

// DirSnapshot lists every path under dir with its size and mode, to check
// that a test wrote nothing where it should not have.
func DirSnapshot(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := de.Info()
		if err != nil {
			return err
		}
		size := fi.Size()
		if fi.IsDir() {
			size = 0
		}
		out = append(out, fmt.Sprintf("%s %v %d", p, fi.Mode(), size))
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", dir, err)
	}
	slices.Sort(out)
	return out
}
