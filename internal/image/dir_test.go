package image

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// TestDirTarget: a dir: target is walked through os.Root without following
// symlinks, whatever they point at; hard links are plain files; special
// files are entries that are never opened.
func TestDirTarget(t *testing.T) {
	root := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("outside"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"etc", "usr/bin", "var/lib/dpkg"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, body string, mode fs.FileMode) {
		if err := os.WriteFile(filepath.Join(root, p), []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/os-release", "ID=test\n", 0o644)
	write("usr/bin/tool", "\x7fELF", 0o755)
	write("var/lib/dpkg/status", "Package: x\n", 0o644)
	links := map[string]string{
		"etc/passwd":   outside,          // absolute, outside the root
		"escape":       "../../../../..", // relative, climbing out
		"bin":          "usr/bin",
		"var/lib/self": "self",
	}
	for p, to := range links {
		if err := os.Symlink(to, filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(root, "usr/bin/tool"), filepath.Join(root, "usr/bin/tool2")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}

	src := mustOpen(t, "dir:"+root, Options{})
	var visited []string
	tree := mustWalk(t, src, WalkOptions{
		Want: wantAll,
		Visit: func(ctx context.Context, f File, r io.Reader) (any, error) {
			visited = append(visited, f.Path)
			return visitString(ctx, f, r)
		},
	})
	wantPaths := []string{"/bin", "/escape", "/etc", "/etc/os-release", "/etc/passwd", "/fifo", "/usr", "/usr/bin",
		"/usr/bin/tool", "/usr/bin/tool2", "/var", "/var/lib", "/var/lib/dpkg", "/var/lib/dpkg/status", "/var/lib/self"}
	if diff := cmp.Diff(wantPaths, tree.Paths()); diff != "" {
		t.Errorf("Paths() mismatch (-want +got):\n%s", diff)
	}
	wantVisited := []string{"/etc/os-release", "/usr/bin/tool", "/usr/bin/tool2", "/var/lib/dpkg/status"}
	// mustWalk walks twice (full and pruned tree): once each per walk.
	if diff := cmp.Diff(append(wantVisited, wantVisited...), visited); diff != "" {
		t.Errorf("Visit calls mismatch (-want +got):\n%s", diff)
	}
	if got, _ := tree.Result("/bin/tool2"); got != "\x7fELF" {
		t.Errorf("Result(/bin/tool2) = %q, want the ELF magic", got)
	}
	for p, want := range map[string]string{"/etc/passwd": outside, "/escape": "/", "/bin/tool": "/usr/bin/tool"} {
		if got, err := tree.Resolve(p); err != nil || got != want {
			t.Errorf("Resolve(%s) = %q, %v; want %q (inside the root)", p, got, err, want)
		}
	}
	if _, err := tree.Resolve("/var/lib/self"); !errors.Is(err, ErrBadInput) {
		t.Errorf("Resolve(/var/lib/self) = %v, want ErrBadInput", err)
	}
	n, err := tree.Lstat("/fifo")
	if err != nil || n.Mode.Type() != fs.ModeNamedPipe {
		t.Errorf("Lstat(/fifo) = %+v, %v; want a named pipe", n, err)
	}
	n, err = tree.Lstat("/etc/passwd")
	if err != nil || n.Mode.Type() != fs.ModeSymlink || n.Linkname != outside {
		t.Errorf("Lstat(/etc/passwd) = %+v, %v; want the symlink to %s", n, err, outside)
	}
	tg := src.Target()
	if tg.Kind != KindDir || tg.Name != root || len(tree.Layers()) != 1 || len(tree.Warnings()) != 0 {
		t.Errorf("Target() = %+v, layers %v, warnings %v", tg, tree.Layers(), tree.Warnings())
	}
}

// TestDirTargetPseudoFS: dir:/ skips /proc, /sys, /dev and the engines' storage (checked on a
// copy of that layout, not on the live host).
func TestDirTargetPseudoFS(t *testing.T) {
	if d := newDirLayer("/", false); !cmp.Equal(d.skip, []string{"/proc", "/sys", "/dev", "/var/lib/docker", "/var/lib/containerd"}) {
		t.Errorf("newDirLayer(/).skip = %v, want /proc /sys /dev /var/lib/docker /var/lib/containerd", d.skip)
	}
	if d := newDirLayer("/srv/rootfs", false); d.skip != nil {
		t.Errorf("newDirLayer(/srv/rootfs).skip = %v, want none", d.skip)
	}
	root := t.TempDir()
	for _, p := range []string{"proc/1", "sys/kernel", "dev/pts", "etc", "devices"} {
		if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d := newDirLayer(root, false)
	d.skip = pseudoFS
	rec, err := walkDir(context.Background(), d, d.ref, WalkOptions{}, Options{}.limits())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for r := rec.entries.reader(true); r.next(); {
		got = append(got, string(r.path))
	}
	if want := []string{"/devices", "/etc"}; !cmp.Equal(got, want) {
		t.Errorf("walkDir(host layout) entries = %v, want %v", got, want)
	}
}

// TestDirTargetCaches: a walk of the whole host leaves out the caches that
// are not part of the system, each named in a warning, unless
// IncludeCaches (checked on a copy of that layout, not on the live host).
func TestDirTargetCaches(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"var/cache/apt/archives", "var/lib/dpkg", "root/.cache/go-build/00", "root/go/pkg/mod/golang.org",
		"root/go/bin", "home/ann/.cache/trivy", "home/ann/.npm/_cacache", "home/ann/src", "go/pkg/mod/x", "usr/lib/go/pkg/mod"} {
		if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, include := range []bool{false, true} {
		d := newDirLayer(root, include)
		if d.caches != nil {
			t.Fatalf("newDirLayer(%s).caches = %v, want none: only / is the host", root, d.caches)
		}
		if !include {
			d.caches = hostCaches
		}
		rec, err := walkDir(context.Background(), d, d.ref, WalkOptions{}, Options{}.limits())
		if err != nil {
			t.Fatal(err)
		}
		var dirs, skipped []string
		for r := rec.entries.reader(true); r.next(); {
			if r.kind == kindDir {
				dirs = append(dirs, string(r.path))
			}
		}
		for _, w := range rec.warnings {
			if w.Kind == model.WarnCacheSkipped {
				skipped = append(skipped, w.Path)
			}
		}
		kept := []string{"/go", "/go/pkg", "/home", "/home/ann", "/home/ann/src", "/root", "/root/go", "/root/go/bin", "/root/go/pkg",
			"/usr", "/usr/lib", "/usr/lib/go", "/usr/lib/go/pkg", "/usr/lib/go/pkg/mod", "/var", "/var/lib", "/var/lib/dpkg"}
		caches := []string{"/go/pkg/mod", "/home/ann/.cache", "/home/ann/.npm", "/root/.cache", "/root/go/pkg/mod", "/var/cache"}
		wantDirs, wantSkipped := kept, caches
		if include {
			wantDirs = append(slices.Clone(kept), "/go/pkg/mod", "/go/pkg/mod/x", "/home/ann/.cache", "/home/ann/.cache/trivy",
				"/home/ann/.npm", "/home/ann/.npm/_cacache", "/root/.cache", "/root/.cache/go-build", "/root/.cache/go-build/00",
				"/root/go/pkg/mod", "/root/go/pkg/mod/golang.org", "/var/cache", "/var/cache/apt", "/var/cache/apt/archives")
			wantSkipped = nil
		}
		slices.Sort(dirs)
		slices.Sort(wantDirs)
		if !cmp.Equal(dirs, wantDirs) {
			t.Errorf("include caches %v: deep directories walked = %v, want %v", include, dirs, wantDirs)
		}
		slices.Sort(skipped)
		if !cmp.Equal(skipped, wantSkipped) {
			t.Errorf("include caches %v: caches said skipped = %v, want %v", include, skipped, wantSkipped)
		}
	}
}
