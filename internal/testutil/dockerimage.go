package testutil

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ImageSpec is a test image: a root filesystem directory as the base
// layer, the test's own files as a second layer, and the config.
type ImageSpec struct {
	Tag        string // "ld10/web:test"
	Rootfs     string // base layer directory (DebianRootfsWith)
	Files      []TarEntry
	Entrypoint []string
	Cmd        []string
	User       string
	Env        []string
	WorkingDir string
	Labels     map[string]string
}

// DockerImage builds spec and loads it into the local Docker engine
// under spec.Tag, unless the engine already has that tag with the same
// config. The base layer tar of a root filesystem is cached under
// CacheDir(t, "images") (keyed by the rootfs's build stamp).
func DockerImage(t testing.TB, spec ImageSpec) string {
	t.Helper()
	RequireDocker(t)
	base := baseLayer(t, spec.Rootfs)
	app, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(string(LayerTar(t, spec.Files...)))), nil
	})
	if err != nil {
		t.Fatalf("app layer: %v", err)
	}
	created := v1.Time{Time: time.Unix(0, 0).UTC()}
	img, err := mutate.Append(empty.Image,
		mutate.Addendum{Layer: base, History: v1.History{CreatedBy: "rootfs " + filepath.Base(spec.Rootfs), Created: created}},
		mutate.Addendum{Layer: app, History: v1.History{CreatedBy: "test files", Created: created}})
	if err != nil {
		t.Fatalf("image: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, spec.Env...)
	cf.Config.Entrypoint, cf.Config.Cmd = spec.Entrypoint, spec.Cmd
	cf.Config.User, cf.Config.WorkingDir, cf.Config.Labels = spec.User, spec.WorkingDir, spec.Labels
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatalf("config: %v", err)
	}
	id, err := img.ConfigName()
	if err != nil {
		t.Fatalf("config digest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	unlock := lockFile(t, filepath.Join(CacheDir(t, "docker"), "load.lock"))
	defer unlock()
	if out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", spec.Tag).Output(); err == nil && strings.TrimSpace(string(out)) == id.String() {
		return spec.Tag
	}
	tag, err := name.NewTag(spec.Tag)
	if err != nil {
		t.Fatalf("tag %s: %v", spec.Tag, err)
	}
	f, err := os.CreateTemp("", "ld-image-*.tar")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	f.Close()
	if err := tarball.WriteToFile(f.Name(), tag, img); err != nil {
		t.Fatalf("write %s: %v", spec.Tag, err)
	}
	if out, err := exec.CommandContext(ctx, "docker", "load", "-i", f.Name()).CombinedOutput(); err != nil {
		t.Fatalf("docker load %s: %v\n%s", spec.Tag, err, out)
	}
	return spec.Tag
}

// baseLayer is the cached layer tar of a root filesystem directory.
func baseLayer(t testing.TB, rootfs string) v1.Layer {
	t.Helper()
	stamp, err := os.ReadFile(rootfs + ".done")
	if err != nil {
		t.Fatalf("rootfs %s has no build stamp: %v", rootfs, err)
	}
	sum := sha256.Sum256(append([]byte(rootfs+"\n"), stamp...))
	p := filepath.Join(CacheDir(t, "images"), "layer-"+hex.EncodeToString(sum[:8])+".tar")
	unlock := lockFile(t, filepath.Join(CacheDir(t, "images"), "lock"))
	defer unlock()
	if _, err := os.Stat(p); err != nil {
		tmp, err := os.CreateTemp(filepath.Dir(p), ".layer-*.tmp")
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteDirTar(tmp, rootfs); err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			t.Fatalf("layer tar of %s: %v", rootfs, err)
		}
		if err := tmp.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp.Name(), p); err != nil {
			t.Fatal(err)
		}
	}
	l, err := tarball.LayerFromFile(p)
	if err != nil {
		t.Fatalf("layer %s: %v", p, err)
	}
	return l
}
