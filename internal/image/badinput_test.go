package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// openAndWalk opens and walks target; it returns the first error and
// whether it came from Open.
func openAndWalk(target string, opts Options) (fromOpen bool, err error) {
	src, err := Open(context.Background(), target, opts)
	if err != nil {
		return true, err
	}
	defer src.Close()
	_, err = Walk(context.Background(), src, WalkOptions{Want: wantAll, Visit: visitSum})
	return false, err
}

// TestBadInput: every hostile or broken target is one clear error wrapping
// ErrBadInput that names what was wrong, and nothing is written anywhere
// (the test's temp dir, $TMPDIR and the working directory stay as they were).
func TestBadInput(t *testing.T) {
	tests := []struct {
		name     string
		target   func(t *testing.T) string
		opts     Options
		fromOpen bool
		want     []string // substrings of the error
	}{
		{name: "truncated tar", target: hostile(testutil.HostileTruncatedTar), want: []string{`entry "etc/big"`, "corrupt or truncated layer", "layer sha256:"}},
		{name: "corrupt gzip", target: hostile(testutil.HostileCorruptGzip), want: []string{"corrupt or truncated layer", "layer sha256:"}},
		{name: "dotdot entry", target: hostile(testutil.HostileDotDot), want: []string{`entry "../../etc/passwd": name escapes the root`, "layer sha256:"}},
		{name: "absolute entry", target: hostile(testutil.HostileAbsolute), want: []string{`entry "/etc/passwd": absolute name`, "layer sha256:"}},
		{
			name: "gzip bomb", target: hostile(testutil.HostileGzipBomb), opts: Options{MaxLayerBytes: 64 << 20},
			want: []string{"layer sha256:0000000000000000000000000000000000000000000000000000000000000000", "passes the limit of 67108864 bytes"},
		},
		{name: "docker-archive missing blob", target: hostile(testutil.HostileMissingBlob), fromOpen: true, want: []string{"(001/layer.tar): blob missing from archive", "layer sha256:"}},
		{name: "oci missing blob", target: hostile(testutil.HostileMissingOCIBlob), fromOpen: true, want: []string{"manifest names layer sha256:", "blob missing"}},
		{name: "unknown media type", target: hostile(testutil.HostileUnknownMediaType), fromOpen: true, want: []string{`unknown media type "application/vnd.example.unknown"`, "layer sha256:"}},
		{
			name: "platform not in index", target: hostile(testutil.HostileMultiPlatformOnly), fromOpen: true,
			want: []string{"no image for platform linux/amd64", "present: linux/arm64/v8, linux/s390x"},
		},
		{
			name: "platform not in index, asked", target: hostile(testutil.HostileMultiPlatformOnly), opts: Options{Platform: "linux/ppc64le"}, fromOpen: true,
			want: []string{"no image for platform linux/ppc64le", "present: linux/arm64/v8, linux/s390x"},
		},
		{name: "missing docker-archive", target: missing("docker-archive:"), fromOpen: true, want: []string{"no such file or directory", "nothing-here.tar"}},
		{name: "missing oci-archive", target: missing("oci-archive:"), fromOpen: true, want: []string{"no such file or directory", "nothing-here.tar"}},
		{name: "missing oci-dir", target: missing("oci-dir:"), fromOpen: true, want: []string{"no such file or directory", "nothing-here.tar"}},
		{name: "missing dir", target: missing("dir:"), fromOpen: true, want: []string{"no such file or directory", "nothing-here.tar"}},
		{name: "empty target", target: func(*testing.T) string { return "docker-archive:" }, fromOpen: true, want: []string{`nothing after "docker-archive:"`}},
		{name: "not a tar", target: func(t *testing.T) string {
			return "docker-archive:" + writeFile(t, "junk.tar", "this is not a tar archive at all")
		}, fromOpen: true, want: []string{"junk.tar"}},
		{name: "dir is a file", target: func(t *testing.T) string { return "dir:" + writeFile(t, "file", "x") }, fromOpen: true, want: []string{"not a directory"}},
		{name: "oci-archive without index.json", target: func(t *testing.T) string { return "oci-archive:" + testutil.LayeredImage(t) }, fromOpen: true, want: []string{"no index.json"}},
		{name: "docker-archive of an OCI layout tar", target: ociArchiveOf(testutil.HostileMultiPlatformOnly), fromOpen: true, want: []string{"no manifest.json"}},
		{name: "bad registry reference", target: func(*testing.T) string { return "registry:UPPER/Case::x" }, fromOpen: true, want: []string{"UPPER/Case::x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.target(t)
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			cwd, err := os.Getwd()
			if err != nil {
				t.Fatal(err)
			}
			inputDir := filepath.Dir(strings.SplitN(target, ":", 2)[1])
			before := [][]string{testutil.DirSnapshot(t, tmp), testutil.DirSnapshot(t, cwd)}
			if _, err := os.Stat(inputDir); err == nil && strings.HasPrefix(inputDir, os.TempDir()) {
				before = append(before, testutil.DirSnapshot(t, inputDir))
			}

			fromOpen, err := openAndWalk(target, tc.opts)
			if err == nil {
				t.Fatalf("Open+Walk(%s) succeeded, want an error", target)
			}
			t.Logf("error: %v", err)
			if !errors.Is(err, ErrBadInput) {
				t.Errorf("Open+Walk(%s) = %v, want it to wrap ErrBadInput", target, err)
			}
			if fromOpen != tc.fromOpen {
				t.Errorf("Open+Walk(%s) failed in Open = %v, want %v (err %v)", target, fromOpen, tc.fromOpen, err)
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Open+Walk(%s) = %q, want it to contain %q", target, err, s)
				}
			}
			after := [][]string{testutil.DirSnapshot(t, tmp), testutil.DirSnapshot(t, cwd)}
			if len(before) == 3 {
				after = append(after, testutil.DirSnapshot(t, inputDir))
			}
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("files changed while reading %s (-before +after):\n%s", target, diff)
			}
		})
	}
}

func hostile(kind testutil.Hostile) func(t *testing.T) string {
	return func(t *testing.T) string { return testutil.HostileImage(t, kind) }
}

func missing(kind string) func(t *testing.T) string {
	return func(t *testing.T) string { return kind + filepath.Join(t.TempDir(), "nothing-here.tar") }
}

func writeFile(t *testing.T, name, body string) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// ociArchiveOf returns the OCI layout of a hostile image tarred up.
func ociArchiveOf(kind testutil.Hostile) func(t *testing.T) string {
	return func(t *testing.T) string {
		dir := strings.TrimPrefix(testutil.HostileImage(t, kind), "oci-dir:")
		return "docker-archive:" + tarDir(t, dir)
	}
}

func tarDir(t testing.TB, dir string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "layout.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := testutil.WriteDirTar(f, dir); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPlatformSelection: a multi-platform index gives the image of the
// asked platform, as oci-dir and as oci-archive.
func TestPlatformSelection(t *testing.T) {
	dir := strings.TrimPrefix(testutil.HostileImage(t, testutil.HostileMultiPlatformOnly), "oci-dir:")
	archive := tarDir(t, dir)
	tests := []struct {
		target, platform, want string
		paths                  []string
	}{
		{"oci-dir:" + dir, "linux/arm64", "linux/arm64/v8", []string{"/etc", "/etc/big", "/etc/os-release"}},
		{"oci-dir:" + dir, "linux/arm64/v8", "linux/arm64/v8", []string{"/etc", "/etc/big", "/etc/os-release"}},
		{"oci-dir:" + dir, "linux/s390x", "linux/s390x", []string{"/s390x"}},
		{"oci-archive:" + archive, "linux/s390x", "linux/s390x", []string{"/s390x"}},
	}
	for _, tc := range tests {
		src := mustOpen(t, tc.target, Options{Platform: tc.platform})
		tree := mustWalk(t, src, WalkOptions{})
		if got := src.Target().Platform; got != tc.want {
			t.Errorf("Open(%s, %s).Target().Platform = %q, want %q", tc.target, tc.platform, got, tc.want)
		}
		if got := tree.Paths(); !cmp.Equal(got, tc.paths) {
			t.Errorf("Open(%s, %s) paths = %v, want %v", tc.target, tc.platform, got, tc.paths)
		}
	}
}

// TestOpenBarePath: a bare target that is a path is refused at once with
// the prefix that reads it, not sent to the daemon and a registry (which
// answered "/" with a JSON decoding error).
func TestOpenBarePath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "app.tar")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ target, want string }{
		{"/", "open /: not an image reference (/ is a directory: use dir:/ for a root filesystem or oci-dir:/ for an OCI image layout)"},
		{dir, "open " + dir + ": not an image reference (" + dir + " is a directory: use dir:" + dir},
		{file, "open " + file + ": not an image reference (" + file + " is a file: use docker-archive:" + file + " or oci-archive:" + file + ")"},
		{"./no/such/path", "open ./no/such/path: not an image reference: "},
		{"Bad Ref!", "open Bad Ref!: not an image reference: "},
	} {
		t.Run(tc.target, func(t *testing.T) {
			src, err := Open(context.Background(), tc.target, Options{})
			if err == nil {
				src.Close()
				t.Fatalf("Open(%q) succeeded", tc.target)
			}
			if !errors.Is(err, ErrBadInput) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Open(%q) = %q, want ErrBadInput starting %q", tc.target, err, tc.want)
			}
		})
	}
}

// TestSinglePlatformChecked: a platform asked for explicitly must be the
// single image's own; with none asked for, any is taken.
func TestSinglePlatformChecked(t *testing.T) {
	target := "docker-archive:" + testutil.Data(t, "images/alpine-3.11-docker-save.tar.gz")
	ctx := context.Background()
	for _, c := range []struct {
		platform string
		wantErr  bool
	}{{"", false}, {"linux/amd64", false}, {"linux/arm64", true}, {"windows/amd64", true}} {
		src, err := Open(ctx, target, Options{Platform: c.platform})
		if src != nil {
			src.Close()
		}
		if c.wantErr {
			if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "the image is for linux/amd64, not "+c.platform) {
				t.Errorf("Open(platform %q) error = %v, want a bad-input error naming both platforms", c.platform, err)
			}
		} else if err != nil {
			t.Errorf("Open(platform %q) = %v, want no error", c.platform, err)
		}
	}
}
