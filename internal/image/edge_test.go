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
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// visitSum keeps the sha256 of a file (short files: the content itself).
func visitSum(_ context.Context, _ File, r io.Reader) (any, error) {
	b, err := io.ReadAll(r)
	if len(b) > 64 {
		s := sha256.Sum256(b)
		return "sha256:" + hex.EncodeToString(s[:]), err
	}
	return string(b), err
}

func wantAll(string, fs.FileMode, int64) bool { return true }

// TestScalibrEdgeCases walks every image of shared/data/images/scalibr-edge-cases
// and checks the exact outcome: paths, final contents with their layers,
// symlink resolution (never outside the root) and errors.
func TestScalibrEdgeCases(t *testing.T) {
	const sample = "sample text file\n"
	dangling := map[string]string{
		"/dir1/absolute-symlink.txt":                "/dir1/sample.txt",
		"/dir1/chain-symlink.txt":                   "/dir1/sample.txt",
		"/dir1/relative-dot-symlink.txt":            "/dir1/sample.txt",
		"/dir1/relative-symlink.txt":                "/dir1/sample.txt",
		"/dir2/dir3/absolute-chain-symlink.txt":     "/dir1/sample.txt",
		"/dir2/dir3/absolute-subfolder-symlink.txt": "/dir1/sample.txt",
		"/dir2/dir3/relative-subfolder-symlink.txt": "/dir1/sample.txt",
	}
	danglingPaths := []string{"/dir1", "/dir1/absolute-symlink.txt", "/dir1/chain-symlink.txt", "/dir1/relative-dot-symlink.txt",
		"/dir1/relative-symlink.txt", "/dir2", "/dir2/dir3", "/dir2/dir3/absolute-chain-symlink.txt",
		"/dir2/dir3/absolute-subfolder-symlink.txt", "/dir2/dir3/relative-subfolder-symlink.txt"}
	tests := []struct {
		file     string
		openErr  bool
		paths    []string
		history  map[string][]string // path -> "layer:content" oldest first
		resolve  map[string]string   // path -> resolved
		loops    []string            // paths whose Resolve fails (loop)
		modes    map[string]fs.FileMode
		repoTags []string
	}{
		{file: "layers-empty.tar", openErr: true},
		{
			file:    "layers-single-file.tar",
			paths:   []string{"/foo.txt"},
			history: map[string][]string{"/foo.txt": {"0:foo\n"}},
		},
		{
			file:    "layers-two-files.tar",
			paths:   []string{"/bar.txt", "/foo.txt"},
			history: map[string][]string{"/foo.txt": {"0:foo"}, "/bar.txt": {"1:bar"}},
		},
		{
			file:    "layers-multiple-files.tar",
			paths:   []string{"/dir1", "/dir1/bar.txt", "/dir1/baz.txt", "/foo.txt"},
			history: map[string][]string{"/foo.txt": {"0:foo\n"}, "/dir1/bar.txt": {"1:bar\n"}, "/dir1/baz.txt": {"1:baz\n"}},
		},
		{
			file:    "layers-overwrite-file.tar",
			paths:   []string{"/sample.txt"},
			history: map[string][]string{"/sample.txt": {"0:" + sample, "1:overwritten sample text file\n"}},
		},
		{
			file:  "layers-symlink-basic.tar",
			paths: []string{"/dir1", "/dir1/absolute-symlink.txt", "/dir1/chain-symlink.txt", "/dir1/relative-dot-symlink.txt", "/dir1/relative-symlink.txt", "/dir1/sample.txt"},
			history: map[string][]string{
				"/dir1/sample.txt":        {"0:sample text\n"},
				"/dir1/chain-symlink.txt": nil, // a symlink: not visited itself
			},
			resolve: map[string]string{
				"/dir1/absolute-symlink.txt":     "/dir1/sample.txt",
				"/dir1/chain-symlink.txt":        "/dir1/sample.txt",
				"/dir1/relative-dot-symlink.txt": "/dir1/sample.txt",
				"/dir1/relative-symlink.txt":     "/dir1/sample.txt",
			},
		},
		{
			file:  "layers-symlink-attack.tar",
			paths: []string{"/dir1", "/dir1/attack-symlink-absolute.txt", "/dir1/attack-symlink.txt"},
			resolve: map[string]string{
				"/dir1/attack-symlink-absolute.txt": "/secret.txt",
				"/dir1/attack-symlink.txt":          "/secret.txt",
			},
		},
		{
			file:  "layers-symlink-cycle.tar",
			paths: []string{"/dir1", "/dir1/absolute-symlink.txt", "/dir1/chain-symlink.txt", "/dir1/sample.txt"},
			loops: []string{"/dir1/absolute-symlink.txt", "/dir1/chain-symlink.txt", "/dir1/sample.txt"},
		},
		{file: "layers-symlink-dangling.tar", paths: danglingPaths, resolve: dangling},
		{file: "unpack-dangling-symlinks.tar", paths: danglingPaths, resolve: dangling},
		{
			file: "layers-symlink-depth-exceeded.tar",
			paths: []string{"/dir1", "/dir1/sample.txt", "/dir1/symlink1.txt", "/dir1/symlink2.txt", "/dir1/symlink3.txt",
				"/dir1/symlink4.txt", "/dir1/symlink5.txt", "/dir1/symlink6.txt", "/dir1/symlink7.txt"},
			history: map[string][]string{"/dir1/sample.txt": {"0:sample text\n"}},
			// 7 hops: within our limit of 40 (scalibr's own limit is lower).
			resolve: map[string]string{"/dir1/symlink7.txt": "/dir1/sample.txt", "/dir1/symlink1.txt": "/dir1/sample.txt"},
		},
		{
			file:  "unpack-basic.tar",
			paths: []string{"/larger-sample.txt", "/sample.txt"},
			history: map[string][]string{
				"/sample.txt":        {"0:" + sample},
				"/larger-sample.txt": {"1:sha256:fda12660f0fd3b3fb5c8ca55e1fc15d8717337c288ac27856d87285a86f4b99f"},
			},
		},
		{
			file:    "unpack-permissions.tar",
			paths:   []string{"/sample.txt"},
			history: map[string][]string{"/sample.txt": {"0:" + sample}},
			modes:   map[string]fs.FileMode{"/sample.txt": 0},
		},
		{
			file: "unpack-symlinks.tar",
			paths: []string{"/dir1", "/dir1/absolute-symlink.txt", "/dir1/attack-symlink-absolute.txt", "/dir1/attack-symlink.txt",
				"/dir1/chain-symlink.txt", "/dir1/relative-dot-symlink.txt", "/dir1/relative-symlink.txt", "/dir1/sample.txt",
				"/dir2", "/dir2/dir3", "/dir2/dir3/absolute-chain-symlink.txt", "/dir2/dir3/absolute-subfolder-symlink.txt",
				"/dir2/dir3/absolute-symlink-inside-root.txt", "/dir2/dir3/relative-subfolder-symlink.txt"},
			history: map[string][]string{"/dir1/sample.txt": {"0:sample text\n"}},
			resolve: map[string]string{
				"/dir1/attack-symlink-absolute.txt":           "/secret.txt",
				"/dir1/attack-symlink.txt":                    "/secret.txt",
				"/dir2/dir3/absolute-symlink-inside-root.txt": "/dir1/sample.txt",
				"/dir2/dir3/absolute-chain-symlink.txt":       "/dir1/sample.txt",
				"/dir2/dir3/relative-subfolder-symlink.txt":   "/dir1/sample.txt",
				"/dir1/chain-symlink.txt":                     "/dir1/sample.txt",
			},
			modes: map[string]fs.FileMode{"/dir1/sample.txt": 0o644, "/dir1/attack-symlink.txt": fs.ModeSymlink | 0o777},
		},
	}
	dir := testutil.Data(t, "images/scalibr-edge-cases")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{"unpack-escape.tar": true} // TestUnpackEscape
	for _, tc := range tests {
		covered[tc.file] = true
	}
	for _, e := range entries {
		if !covered[e.Name()] {
			t.Errorf("%s has no expected outcome in this test", e.Name())
		}
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			target := "docker-archive:" + path.Join(dir, tc.file)
			src, err := Open(context.Background(), target, Options{})
			if tc.openErr {
				if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.file) {
					t.Fatalf("Open(%s) = %v, want an ErrBadInput error naming the file", tc.file, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%s) = %v", tc.file, err)
			}
			defer src.Close()
			tree := mustWalk(t, src, WalkOptions{Want: wantAll, Visit: visitSum})
			if diff := cmp.Diff(tc.paths, tree.Paths()); diff != "" {
				t.Errorf("Paths() mismatch (-want +got):\n%s", diff)
			}
			for p, want := range tc.history {
				var got []string
				for _, v := range tree.History(p) {
					got = append(got, string(rune('0'+v.Layer.Index))+":"+v.Result.(string))
				}
				if !cmp.Equal(got, want) {
					t.Errorf("History(%s) = %q, want %q", p, got, want)
				}
			}
			for p, want := range tc.resolve {
				if got, err := tree.Resolve(p); err != nil || got != want {
					t.Errorf("Resolve(%s) = %q, %v; want %q", p, got, err, want)
				}
			}
			for _, p := range tc.loops {
				if got, err := tree.Resolve(p); !errors.Is(err, ErrBadInput) {
					t.Errorf("Resolve(%s) = %q, %v; want an ErrBadInput loop error", p, got, err)
				}
			}
			for p, want := range tc.modes {
				if n, err := tree.Lstat(p); err != nil || n.Mode != want {
					t.Errorf("Lstat(%s).Mode = %v, %v; want %v", p, n.Mode, err, want)
				}
			}
			checkContained(t, tree)
		})
	}
}

// checkContained: whatever a symlink says, Resolve lands inside the root.
func checkContained(t *testing.T, tree *Tree) {
	t.Helper()
	for _, p := range tree.Paths() {
		got, err := tree.Resolve(p)
		if err != nil {
			if !errors.Is(err, ErrBadInput) {
				t.Errorf("Resolve(%s) = %v, want ErrBadInput when it fails", p, err)
			}
			continue
		}
		if !strings.HasPrefix(got, "/") || path.Clean(got) != got || strings.Contains(got, "..") {
			t.Errorf("Resolve(%s) = %q: not a clean path inside the root", p, got)
		}
	}
}

// TestUnpackEscape: unpack-escape.tar is a plain tar with absolute names
// whose symlinks try to reach /tmp outside the root. As a layer it is
// refused (absolute entry names); with the leading "/" stripped it walks,
// and every link resolves inside the root.
func TestUnpackEscape(t *testing.T) {
	raw, err := os.ReadFile(testutil.Data(t, "images/scalibr-edge-cases/unpack-escape.tar"))
	if err != nil {
		t.Fatal(err)
	}
	p := testutil.WriteDockerArchive(t, t.TempDir(), testutil.ArchiveLayer{Blob: raw})
	src := mustOpen(t, "docker-archive:"+p, Options{})
	_, err = Walk(context.Background(), src, WalkOptions{})
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), `entry "/escape/poc.txt": absolute name`) ||
		!strings.Contains(err.Error(), src.Layers()[0].Ref().DiffID) {
		t.Fatalf("Walk(unpack-escape) = %v, want ErrBadInput naming the layer and entry /escape/poc.txt", err)
	}

	// Relative names.
	var buf bytes.Buffer
	tr := tar.NewReader(bytes.NewReader(raw))
	tw := tar.NewWriter(&buf)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		hdr.Name = strings.TrimPrefix(hdr.Name, "/")
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	p = testutil.WriteDockerArchive(t, t.TempDir(), testutil.ArchiveLayer{Blob: buf.Bytes()})
	tree := mustWalk(t, mustOpen(t, "docker-archive:"+p, Options{}), WalkOptions{Want: wantAll, Visit: visitSum})
	wantPaths := []string{"/escape", "/trampoline", "/usr", "/usr/share", "/usr/share/doc", "/usr/share/doc/a",
		"/usr/share/doc/a/copyright", "/usr/share/doc/b", "/usr/share/doc/b/copyright", "/usr/share/doc/c", "/usr/share/doc/c/copyright"}
	if diff := cmp.Diff(wantPaths, tree.Paths()); diff != "" {
		t.Errorf("Paths() mismatch (-want +got):\n%s", diff)
	}
	// /escape/poc.txt was written, then /escape replaced by a symlink:
	// the file is gone with its directory.
	if got := tree.Visited(); len(got) != 0 {
		t.Errorf("Visited() = %v, want none", got)
	}
	for p, want := range map[string]string{
		"/escape":                    "/tmp",
		"/trampoline":                "/",
		"/usr/share/doc/a/copyright": "/",
		"/usr/share/doc/b/copyright": "/tmp",
		"/usr/share/doc/c/copyright": "/tmp/poc.txt",
	} {
		if got, err := tree.Resolve(p); err != nil || got != want {
			t.Errorf("Resolve(%s) = %q, %v; want %q", p, got, err, want)
		}
	}
	checkContained(t, tree)
}

// TestAlpineDockerSave: the real alpine 3.10 / 3.11 `docker save` archives
// (gzip-compressed) open, walk and give the apk database of their release.
func TestAlpineDockerSave(t *testing.T) {
	tests := []struct {
		file, release, imageID, diffID string
		paths                          int
	}{
		{"alpine-3.10-docker-save.tar.gz", "3.10.4\n", "sha256:af341ccd2df8b0e2d67cf8dd32e087bfda4e5756ebd1c76bbf3efa0dc246590e", "sha256:531743b7098cb2aaf615641007a129173f63ed86ca32fe7b5a246a1c47286028", 482},
		{"alpine-3.11-docker-save.tar.gz", "3.11.5\n", "sha256:a187dde48cd289ac374ad8539930628314bc581a481cdb41409c9289419ddb72", "sha256:beee9f30bc1f711043e78d4a2be0668955d4b761d587d6f60c2c8dc081efb203", 488},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			src := mustOpen(t, "docker-archive:"+testutil.Data(t, "images/"+tc.file), Options{})
			want := func(p string, _ fs.FileMode, _ int64) bool {
				return p == "/etc/alpine-release" || p == "/lib/apk/db/installed"
			}
			tree := mustWalk(t, src, WalkOptions{Want: want, Visit: visitString})
			if got, _ := tree.Result("/etc/alpine-release"); got != tc.release {
				t.Errorf("Result(/etc/alpine-release) = %q, want %q", got, tc.release)
			}
			db, ok := tree.Result("/lib/apk/db/installed")
			if !ok || !strings.Contains(db.(string), "\nP:musl\n") {
				t.Errorf("Result(/lib/apk/db/installed) = %v, want the apk database listing musl", ok)
			}
			tg := src.Target()
			if tg.Platform != "linux/amd64" || len(tg.RepoTags) != 1 || len(tree.Layers()) != 1 {
				t.Errorf("Target() = %+v, layers %d; want linux/amd64, one tag, one layer", tg, len(tree.Layers()))
			}
			if tg.ImageID != tc.imageID || tree.Layers()[0].DiffID != tc.diffID || len(tree.Paths()) != tc.paths {
				t.Errorf("ImageID %s, diff ID %s, %d paths; want %s, %s, %d", tg.ImageID, tree.Layers()[0].DiffID, len(tree.Paths()), tc.imageID, tc.diffID, tc.paths)
			}
			checkContained(t, tree)
		})
	}
}
