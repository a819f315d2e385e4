package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// visitString keeps a file's content as a string.
func visitString(_ context.Context, _ File, r io.Reader) (any, error) {
	b, err := io.ReadAll(r)
	return string(b), err
}

func wantSmall(_ string, _ fs.FileMode, size int64) bool { return size < 64 }

func mustOpen(t testing.TB, target string, opts Options) Source {
	t.Helper()
	src, err := Open(context.Background(), target, opts)
	if err != nil {
		t.Fatalf("Open(%s) = %v", target, err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// mustWalk walks src keeping every path (AllPaths), and again keeping only
// what Visited, History, Result and Resolve need: those must answer alike.
// It returns the full tree.
func mustWalk(t testing.TB, src Source, opts WalkOptions) *Tree {
	t.Helper()
	opts.AllPaths = true
	tree, err := Walk(context.Background(), src, opts)
	if err != nil {
		t.Fatalf("Walk(%s) = %v", src.Target().Input, err)
	}
	opts.AllPaths = false
	pruned, err := Walk(context.Background(), src, opts)
	if err != nil {
		t.Fatalf("Walk(%s, pruned) = %v", src.Target().Input, err)
	}
	if diff := sameAnswers(tree, pruned); diff != "" {
		t.Errorf("Walk(%s): the pruned tree answers otherwise than the full one:\n%s", src.Target().Input, diff)
	}
	return tree
}

// sameAnswers compares what the catalog asks of a tree: Visited, History
// and Result of each visited path, Resolve of every path of the full tree,
// the warnings and the layers.
func sameAnswers(full, pruned *Tree) string {
	var out strings.Builder
	if d := cmp.Diff(full.Visited(), pruned.Visited()); d != "" {
		fmt.Fprintf(&out, "Visited (-full +pruned):\n%s", d)
	}
	if d := cmp.Diff(full.Warnings(), pruned.Warnings()); d != "" {
		fmt.Fprintf(&out, "Warnings (-full +pruned):\n%s", d)
	}
	if d := cmp.Diff(full.Layers(), pruned.Layers()); d != "" {
		fmt.Fprintf(&out, "Layers (-full +pruned):\n%s", d)
	}
	for _, p := range full.Visited() {
		if d := cmp.Diff(full.History(p), pruned.History(p)); d != "" {
			fmt.Fprintf(&out, "History(%s) (-full +pruned):\n%s", p, d)
		}
	}
	for _, p := range full.Paths() {
		fr, ferr := full.Resolve(p)
		pr, perr := pruned.Resolve(p)
		if fr != pr || (ferr == nil) != (perr == nil) {
			fmt.Fprintf(&out, "Resolve(%s) = %q, %v (full) vs %q, %v (pruned)\n", p, fr, ferr, pr, perr)
		}
	}
	return out.String()
}

// versions turns History into "layer:result" strings.
func versions(h []Version) []string {
	var out []string
	for _, v := range h {
		out = append(out, strings.Join([]string{string(rune('0' + v.Layer.Index)), v.Result.(string)}, ":"))
	}
	return out
}

// multiLayer is a three-layer image exercising every merge rule.
func multiLayer(t testing.TB) string {
	return testutil.LayeredImage(t,
		[]testutil.TarEntry{ // layer 0
			testutil.TarDir("etc"),
			testutil.TarFile("etc/a.conf", "a0"),
			testutil.TarFile("etc/keep", "k0"),
			testutil.TarDir("opt/app"),
			testutil.TarFile("opt/app/x", "x0"),
			testutil.TarFile("opt/app/sub/y", "y0"),
			{Name: "usr/bin/tool", Body: "t0", Mode: 0o755},
			testutil.TarFile("var/lib/dpkg/status", "s0"),
			testutil.TarFile("data", "d0"),
			testutil.TarFile("link-target", "L"),
			testutil.TarHardlink("hl", "link-target"),
			testutil.TarDir("srv/w"),
			testutil.TarFile("srv/w/f1", "f1"),
		},
		[]testutil.TarEntry{ // layer 1
			testutil.TarWhiteout("etc/a.conf"),
			testutil.TarDir("opt/app"),
			testutil.TarOpaque("opt/app"),
			testutil.TarFile("opt/app/new", "n1"),
			testutil.TarDir("data"),
			testutil.TarFile("data/inner", "i1"),
			testutil.TarFile("var/lib/dpkg/status", "s1"),
			testutil.TarWhiteout("srv/w"),
			testutil.TarSymlink("usr/bin/tool", "tool2"),
		},
		[]testutil.TarEntry{ // layer 2
			testutil.TarFile("etc/a.conf", "a2"),
			testutil.TarFile("etc/keep", strings.Repeat("big", 40)), // unwanted: breaks the chain
			testutil.TarFile("var/lib/dpkg/status", "s2"),
			testutil.TarHardlink("hl2", "link-target"), // link to a lower layer's file
		},
	)
}

func TestWalkMultiLayer(t *testing.T) {
	src := mustOpen(t, "docker-archive:"+multiLayer(t), Options{})
	tree := mustWalk(t, src, WalkOptions{Want: wantSmall, Visit: visitString})

	wantPaths := []string{
		"/data", "/data/inner", "/etc", "/etc/a.conf", "/etc/keep", "/hl", "/hl2", "/link-target",
		"/opt", "/opt/app", "/opt/app/new", "/srv", "/usr", "/usr/bin", "/usr/bin/tool",
		"/var", "/var/lib", "/var/lib/dpkg", "/var/lib/dpkg/status",
	}
	if diff := cmp.Diff(wantPaths, tree.Paths()); diff != "" {
		t.Errorf("Paths() mismatch (-want +got):\n%s", diff)
	}
	wantVisited := []string{"/data/inner", "/etc/a.conf", "/hl", "/hl2", "/link-target", "/opt/app/new", "/var/lib/dpkg/status"}
	if diff := cmp.Diff(wantVisited, tree.Visited()); diff != "" {
		t.Errorf("Visited() mismatch (-want +got):\n%s", diff)
	}
	if w := tree.Warnings(); len(w) != 0 {
		t.Errorf("Warnings() = %v, want none", w)
	}

	history := []struct {
		path string
		want []string
	}{
		{"/var/lib/dpkg/status", []string{"0:s0", "1:s1", "2:s2"}},
		{"/etc/a.conf", []string{"2:a2"}},                                 // deleted in 1, recreated in 2
		{"/etc/keep", nil},                                                // replaced by an unwanted file
		{"/hl", []string{"0:L"}},                                          // hard link, same layer
		{"/hl2", []string{"2:L"}},                                         // hard link to a lower layer
		{"/data/inner", []string{"1:i1"}},                                 // file replaced by a directory
		{"/opt/app/x", nil},                                               // hidden by the opaque dir
		{"/usr/bin/tool", nil},                                            // replaced by a symlink
		{"/link-target", []string{"0:L"}},                                 // untouched
		{"/opt/app/new", []string{"1:n1"}},                                // added under the opaque dir
		{"/srv/w/f1", nil},                                                // directory whited out
		{"/var/lib/../lib/dpkg/status", []string{"0:s0", "1:s1", "2:s2"}}, // path is resolved
	}
	for _, tc := range history {
		if got := versions(tree.History(tc.path)); !cmp.Equal(got, tc.want) {
			t.Errorf("History(%s) = %v, want %v", tc.path, got, tc.want)
		}
		res, ok := tree.Result(tc.path)
		if wantOK := tc.want != nil; ok != wantOK {
			t.Errorf("Result(%s) ok = %v, want %v", tc.path, ok, wantOK)
		} else if ok && res != tc.want[len(tc.want)-1][2:] {
			t.Errorf("Result(%s) = %v, want %v", tc.path, res, tc.want[len(tc.want)-1][2:])
		}
	}

	layers := tree.Layers()
	if len(layers) != 3 {
		t.Fatalf("Layers() = %d layers, want 3", len(layers))
	}
	for i, l := range layers {
		if l.Index != i || !strings.HasPrefix(l.DiffID, "sha256:") || l.Digest != l.DiffID || l.CreatedBy != "layer "+string(rune('0'+i)) {
			t.Errorf("Layers()[%d] = %+v, want index %d, a sha256 diff ID equal to the digest, created by %q", i, l, i, "layer "+string(rune('0'+i)))
		}
	}
	lstat := []struct {
		path     string
		mode     fs.FileMode
		layer    int
		size     int64
		linkname string
	}{
		{"/etc/a.conf", 0o644, 2, 2, ""},
		{"/etc/keep", 0o644, 2, 120, ""},
		{"/data", fs.ModeDir | 0o755, 1, 0, ""},
		{"/usr/bin/tool", fs.ModeSymlink | 0o644, 1, 0, "tool2"},
		{"/usr", fs.ModeDir | 0o755, 0, 0, ""}, // implicit parent
		{"/opt/app", fs.ModeDir | 0o755, 1, 0, ""},
		{"/hl", 0o644, 0, 1, ""},
		{"/srv", fs.ModeDir | 0o755, 0, 0, ""},
	}
	for _, tc := range lstat {
		n, err := tree.Lstat(tc.path)
		if err != nil {
			t.Errorf("Lstat(%s) = %v", tc.path, err)
			continue
		}
		if n.Path != tc.path || n.Mode != tc.mode || n.Layer != layers[tc.layer] || n.Size != tc.size || n.Linkname != tc.linkname {
			t.Errorf("Lstat(%s) = %+v, want mode %v layer %d size %d link %q", tc.path, n, tc.mode, tc.layer, tc.size, tc.linkname)
		}
	}
	for _, p := range []string{"/opt/app/x", "/opt/app/sub", "/srv/w", "/srv/w/f1", "/nope"} {
		if _, err := tree.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Lstat(%s) = %v, want fs.ErrNotExist", p, err)
		}
	}

	cfg := src.Config()
	if cfg == nil || cfg.User != "app" || cfg.Labels["test"] != "layered" || len(cfg.History) != 4 || !cfg.History[3].EmptyLayer {
		t.Errorf("Config() = %+v, want user app, label test=layered, 4 history entries, the last empty", cfg)
	}
	tg := src.Target()
	if tg.Kind != KindDockerArchive || tg.Platform != "linux/amd64" || !strings.HasPrefix(tg.ImageID, "sha256:") ||
		!cmp.Equal(tg.RepoTags, []string{"lockdown-test/layered:latest"}) {
		t.Errorf("Target() = %+v", tg)
	}
}

// TestWalkVisitWarnings: a Visit error and a file over MaxFileBytes are
// warnings naming the layer and path; the walk goes on.
func TestWalkVisitWarnings(t *testing.T) {
	p := testutil.LayeredImage(t, []testutil.TarEntry{
		testutil.TarFile("ok", "fine"),
		testutil.TarFile("bad", "boom"),
		testutil.TarFile("huge", strings.Repeat("h", 100)),
	})
	src := mustOpen(t, "docker-archive:"+p, Options{MaxFileBytes: 50})
	tree := mustWalk(t, src, WalkOptions{
		Want: func(string, fs.FileMode, int64) bool { return true },
		Visit: func(ctx context.Context, f File, r io.Reader) (any, error) {
			if f.Path == "/bad" {
				return nil, errors.New("parse bad: boom")
			}
			return visitString(ctx, f, r)
		},
	})
	diffID := src.Layers()[0].Ref().DiffID
	want := []model.Warning{
		{Kind: model.WarnUnreadable, Layer: diffID, Path: "/bad", Message: "parse bad: boom"},
		{Kind: model.WarnUnreadable, Layer: diffID, Path: "/huge", Message: "file of 100 bytes passes the limit of 50 bytes, not read"},
	}
	if diff := cmp.Diff(want, tree.Warnings()); diff != "" {
		t.Errorf("Warnings() mismatch (-want +got):\n%s", diff)
	}
	if got := tree.Visited(); !cmp.Equal(got, []string{"/ok"}) {
		t.Errorf("Visited() = %v, want [/ok]", got)
	}
}

// TestWalkVisitFileFields: Visit sees the right File for each call and the
// reader is dead once Visit returned.
func TestWalkVisitFileFields(t *testing.T) {
	p := testutil.LayeredImage(t,
		[]testutil.TarEntry{{Name: "bin/app", Body: "ELF", Mode: 0o4755}},
		[]testutil.TarEntry{testutil.TarFile("bin/app", "ELF2")},
	)
	src := mustOpen(t, "docker-archive:"+p, Options{})
	var kept []io.Reader
	got := map[int]File{}
	tree := mustWalk(t, src, WalkOptions{
		Concurrency: 1,
		Want:        func(p string, _ fs.FileMode, _ int64) bool { return p == "/bin/app" },
		Visit: func(_ context.Context, f File, r io.Reader) (any, error) {
			got[f.Layer.Index] = f
			kept = append(kept, r)
			return f.Size, nil
		},
	})
	refs := tree.Layers()
	want := map[int]File{
		0: {Path: "/bin/app", Mode: 0o755 | fs.ModeSetuid, Size: 3, Layer: refs[0]},
		1: {Path: "/bin/app", Mode: 0o644, Size: 4, Layer: refs[1]},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Visit files mismatch (-want +got):\n%s", diff)
	}
	for _, r := range kept {
		if _, err := r.Read(make([]byte, 1)); !errors.Is(err, errReadAfterVisit) {
			t.Errorf("Read after Visit returned = %v, want errReadAfterVisit", err)
		}
	}
}

func TestWalkCancelled(t *testing.T) {
	src := mustOpen(t, "docker-archive:"+multiLayer(t), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Walk(ctx, src, WalkOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Walk(cancelled ctx) = %v, want context.Canceled", err)
	}
	// Cancelled from inside a Visit: the walk stops with the ctx error.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	_, err := Walk(ctx, src, WalkOptions{
		Want: func(string, fs.FileMode, int64) bool { return true },
		Visit: func(context.Context, File, io.Reader) (any, error) {
			cancel()
			return nil, nil
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Walk(cancelled in Visit) = %v, want context.Canceled", err)
	}
}

func TestCleanEntryName(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "a/b", want: "/a/b"},
		{in: "./a/b/", want: "/a/b"},
		{in: "a//b/./c", want: "/a/b/c"},
		{in: "a/../b", want: "/b"},
		{in: ".", want: "/"},
		{in: "./", want: "/"},
		{in: "../x", bad: true},
		{in: "a/../../x", bad: true},
		{in: "/etc/passwd", bad: true},
		{in: "", bad: true},
		{in: "a\x00b", bad: true},
	}
	for _, tc := range tests {
		got, err := cleanEntryName(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("cleanEntryName(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestResolve(t *testing.T) {
	var loop []testutil.TarEntry
	for i := range 45 {
		loop = append(loop, testutil.TarSymlink("chain/l"+itoa(i), "l"+itoa(i+1)))
	}
	loop = append(loop, testutil.TarFile("chain/l45", "end"))
	p := testutil.LayeredImage(t, append([]testutil.TarEntry{
		testutil.TarDir("usr/lib/x"),
		testutil.TarFile("usr/lib/x/f", "f"),
		testutil.TarSymlink("lib", "usr/lib"),
		testutil.TarSymlink("abs", "/usr/lib/x"),
		testutil.TarSymlink("up", "../../../../usr"),
		testutil.TarSymlink("usr/lib/x/dotdot", "../../../../../../etc/shadow"),
		testutil.TarSymlink("self", "self"),
		testutil.TarSymlink("a", "b"),
		testutil.TarSymlink("b", "a"),
		testutil.TarSymlink("dangling", "/nowhere/file"),
		testutil.TarSymlink("empty", ""),
	}, loop...))
	tree := mustWalk(t, mustOpen(t, "docker-archive:"+p, Options{}), WalkOptions{})
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "/lib/x/f", want: "/usr/lib/x/f"},
		{in: "lib/x/f", want: "/usr/lib/x/f"},
		{in: "/abs/f", want: "/usr/lib/x/f"},
		{in: "/abs/../x/f", want: "/usr/lib/x/f"}, // .. applies after the link
		{in: "/up/lib/x", want: "/usr/lib/x"},
		{in: "/lib/x/dotdot", want: "/etc/shadow"}, // clamped to the root
		{in: "/../../etc", want: "/etc"},
		{in: "/dangling", want: "/nowhere/file"},
		{in: "/", want: "/"},
		{in: "/chain/l5", want: "/chain/l45"}, // 40 hops
		{in: "/chain/l4", bad: true},          // 41 hops
		{in: "/self", bad: true},
		{in: "/a/x", bad: true},
		{in: "/empty", bad: true},
	}
	for _, tc := range tests {
		got, err := tree.Resolve(tc.in)
		if tc.bad {
			if !errors.Is(err, ErrBadInput) {
				t.Errorf("Resolve(%s) = %q, %v; want an ErrBadInput error", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Resolve(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	// Lstat resolves intermediate links but not the last one.
	n, err := tree.Lstat("/lib")
	if err != nil || n.Mode&fs.ModeSymlink == 0 || n.Linkname != "usr/lib" {
		t.Errorf("Lstat(/lib) = %+v, %v; want the symlink", n, err)
	}
	n, err = tree.Lstat("/lib/x/f")
	if err != nil || n.Path != "/usr/lib/x/f" || !n.Mode.IsRegular() {
		t.Errorf("Lstat(/lib/x/f) = %+v, %v; want /usr/lib/x/f", n, err)
	}
	if _, err := tree.Lstat("/self/x"); !errors.Is(err, ErrBadInput) {
		t.Errorf("Lstat(/self/x) = %v, want ErrBadInput", err)
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// sparseBomb is a layer holding one old-GNU sparse file of 100 MiB that is
// all hole: no data in the stream at all.
func sparseBomb(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "sparse", Mode: 0o644, Typeflag: tar.TypeReg, Format: tar.FormatGNU}); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	b := buf.Bytes()
	b[156] = tar.TypeGNUSparse
	copy(b[483:495], "00620000000\x00") // realsize: 100 MiB
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b[:512] {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// TestWalkSparseBomb: what Visit reads of a sparse file counts against
// MaxLayerBytes, since holes cost nothing in the stream.
func TestWalkSparseBomb(t *testing.T) {
	p := testutil.WriteDockerArchive(t, t.TempDir(), testutil.ArchiveLayer{Blob: sparseBomb(t)})
	src := mustOpen(t, "docker-archive:"+p, Options{MaxLayerBytes: 1 << 20})
	_, err := Walk(context.Background(), src, WalkOptions{Want: wantAll, Visit: visitString})
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), `entry "sparse"`) || !strings.Contains(err.Error(), "passes the limit of 1048576 bytes") {
		t.Errorf("Walk(sparse bomb) = %v, want ErrBadInput: passes the limit of 1048576 bytes", err)
	}
	// Not wanted: the hole is skipped without being expanded.
	tree := mustWalk(t, src, WalkOptions{})
	if n, err := tree.Lstat("/sparse"); err != nil || n.Size != 100<<20 || !n.Mode.IsRegular() {
		t.Errorf("Lstat(/sparse) = %+v, %v; want a regular file of 100 MiB", n, err)
	}
}
