package image

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
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
	if d := newDirLayer("/"); !cmp.Equal(d.skip, []string{"/proc", "/sys", "/dev", "/var/lib/docker", "/var/lib/containerd"}) {
		t.Errorf("newDirLayer(/).skip = %v, want /proc /sys /dev /var/lib/docker /var/lib/containerd", d.skip)
	}
	if d := newDirLayer("/srv/rootfs"); d.skip != nil {
		t.Errorf("newDirLayer(/srv/rootfs).skip = %v, want none", d.skip)
	}
	root := t.TempDir()
	for _, p := range []string{"proc/1", "sys/kernel", "dev/pts", "etc", "devices"} {
		if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d := newDirLayer(root)
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
