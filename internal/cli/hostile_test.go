package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// repeatReader yields pattern until n bytes were read.
func repeatReader(pattern string, n int64) io.Reader {
	return io.LimitReader(&cycle{s: pattern}, n)
}

type cycle struct {
	s   string
	off int
}

func (c *cycle) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.s[c.off]
		c.off = (c.off + 1) % len(c.s)
	}
	return len(p), nil
}

// oneFileImage writes a docker-archive whose one gzip layer holds the file
// name with size bytes from r (streamed: a 100 MB file costs the test no
// memory) and returns the target.
func oneFileImage(t testing.TB, name string, size int64, r io.Reader) string {
	t.Helper()
	var blob bytes.Buffer
	zw, err := gzip.NewWriterLevel(&blob, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(zw, h))
	dir := filepath.Dir(name)
	var parents []string
	for d := dir; d != "."; d = filepath.Dir(d) {
		parents = append([]string{d + "/"}, parents...)
	}
	for _, d := range parents {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size, ModTime: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(tw, r); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	diffID := "sha256:" + hex.EncodeToString(h.Sum(nil))
	return "docker-archive:" + testutil.WriteDockerArchive(t, t.TempDir(), testutil.ArchiveLayer{Blob: blob.Bytes(), DiffID: diffID})
}

// hostileSQLite returns an rpmdb.sqlite whose Packages is a recursive view
// that never ends.
func hostileSQLite(t testing.TB) []byte {
	t.Helper()
	file := filepath.Join(t.TempDir(), "rpmdb.sqlite")
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: file}).String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE VIEW Packages AS WITH RECURSIVE c(n, b) AS (SELECT 1, randomblob(1000) UNION SELECT n+1, randomblob(1000) FROM c) SELECT n AS hnum, b AS blob FROM c"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// npmLock is a package-lock.json of about size bytes of distinct entries.
func npmLock(size int) string {
	var b strings.Builder
	b.WriteString(`{"lockfileVersion":3,"packages":{`)
	for i := 0; b.Len() < size-100; i++ {
		fmt.Fprintf(&b, `"node_modules/p%d":{"version":"1.0.%d"},`, i, i)
	}
	b.WriteString(`"":{}}}`)
	return b.String()
}

func dirSize(t testing.TB, dir string) int64 {
	t.Helper()
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// TestSBOMHostilePackageDBs: an image of a few kilobytes whose package
// database is 10 or 100 MB of malformed records, an rpmdb.sqlite whose
// Packages is a recursive view, or a lock file of 200,000 packages (twice
// the cap), is read in a child process with bounded peak memory,
// bounded warnings, output and layer cache, and exit 0 with the file named
// in a warning.
func TestSBOMHostilePackageDBs(t *testing.T) {
	const (
		maxRSS    = 300 << 20
		maxStderr = 64 << 10
		maxOutput = 1 << 20
		maxCache  = 1 << 20
	)
	sqlite := hostileSQLite(t)
	lock := npmLock(8 << 20) // 200,000 entries
	tests := []struct {
		name     string
		path     string
		size     int64
		content  io.Reader
		warnings int    // warnings about path
		wantIn   string // in exactly one of them
		// unreadable is the message of the one warning of kind
		// unreadable (the file's packages are not checked).
		unreadable string
	}{
		// Records but not one readable: the database is corrupt (one
		// unreadable warning) and its warnings are bounded all the same.
		{"dpkg 10 MB", "var/lib/dpkg/status", 10 << 20, repeatReader("x\n\n", 10<<20), extract.MaxWarnings + 1, "more warnings not shown",
			`dpkg: parse dpkg status /var/lib/dpkg/status: not one package paragraph could be read (dpkg: paragraph at line 1 skipped: line 1: not a field: "x")`},
		{"dpkg 100 MB", "var/lib/dpkg/status", 100 << 20, repeatReader("Package\n\n", 100<<20), extract.MaxWarnings + 1, "more warnings not shown",
			`dpkg: parse dpkg status /var/lib/dpkg/status: not one package paragraph could be read (dpkg: paragraph at line 1 skipped: line 1: not a field: "Package")`},
		{"apk 100 MB", "lib/apk/db/installed", 100 << 20, repeatReader("x\n\n", 100<<20), extract.MaxWarnings + 1, "more warnings not shown",
			`apk: parse apk db /lib/apk/db/installed: not one package record could be read (apk: line 1: not a field: "x")`},
		{"rpm recursive view", "var/lib/rpm/rpmdb.sqlite", int64(len(sqlite)), bytes.NewReader(sqlite), 1, "sqlite: Packages is a view, not a table",
			"rpm: read rpm db /var/lib/rpm/rpmdb.sqlite: sqlite: Packages is a view, not a table: not an rpm database"},
		{"npm lock file of 200,000 packages", "app/package-lock.json", int64(len(lock)), strings.NewReader(lock), 1, "npm: /app/package-lock.json: more than 100000 packages",
			"npm: /app/package-lock.json: more than 100000 packages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := oneFileImage(t, tt.path, tt.size, tt.content)
			if fi, err := os.Stat(strings.TrimPrefix(target, "docker-archive:")); err != nil || fi.Size() > 2<<20 {
				t.Fatalf("image is %d bytes (%v), want a small one", fi.Size(), err)
			}
			dir := t.TempDir()
			out := filepath.Join(dir, "sbom.json")
			cache := filepath.Join(dir, "cache")
			c := testutil.RunCommand(t, lockdownChild(t, []string{"LOCKDOWN_CACHE_DIR=" + cache}, "sbom", "--format", "json", "-o", out, target))
			t.Logf("%s: exit %d, %.1fs, peak RSS %d MB, stderr %d bytes", tt.name, c.Code, c.Elapsed.Seconds(), c.MaxRSS>>20, len(c.Stderr))
			if c.Code != ExitOK {
				t.Fatalf("sbom exit %d, want 0: %s", c.Code, c.Stderr)
			}
			if c.MaxRSS == 0 || c.MaxRSS > maxRSS {
				t.Errorf("peak RSS %d MB, want under %d MB", c.MaxRSS>>20, maxRSS>>20)
			}
			if len(c.Stderr) > maxStderr {
				t.Errorf("stderr is %d bytes, want at most %d", len(c.Stderr), maxStderr)
			}
			fi, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() > maxOutput {
				t.Errorf("sbom.json is %d bytes, want at most %d", fi.Size(), maxOutput)
			}
			if n := dirSize(t, cache); n > maxCache {
				t.Errorf("layer cache holds %d bytes, want at most %d", n, maxCache)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			var s model.SBOM
			if err := json.Unmarshal(b, &s); err != nil {
				t.Fatal(err)
			}
			about, saying := 0, 0
			var unreadable []string
			for _, w := range s.Warnings {
				if w.Path == "/"+tt.path {
					about++
					if strings.Contains(w.Message, tt.wantIn) {
						saying++
					}
					if w.Kind == model.WarnUnreadable {
						unreadable = append(unreadable, w.Message)
					}
				}
			}
			if len(unreadable) != 1 || unreadable[0] != tt.unreadable {
				t.Errorf("unreadable warnings %q, want [%q]", unreadable, tt.unreadable)
			}
			if about != tt.warnings || saying != 1 {
				t.Errorf("%d warnings about /%s, %d of them saying %q; want %d and 1", about, tt.path, saying, tt.wantIn, tt.warnings)
			}
			if len(s.Packages) != 0 {
				t.Errorf("sbom lists %d packages, want 0", len(s.Packages))
			}
		})
	}
}

// TestTimeout: --timeout stops a command on an input that would take
// minutes (an 8 MB image expanding to 7.5 GB), in a child process, with
// exit 2 and the limit named; bad values are refused.
func TestTimeout(t *testing.T) {
	target := testutil.SlowImage(t)
	cmd := lockdownChild(t, nil, "sbom", "--no-cache", "--timeout", "2s", target)
	// Not a timing assertion: a safety net so that a regression fails
	// instead of hanging the test run.
	timer := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	c := testutil.RunCommand(t, cmd)
	timer.Stop()
	t.Logf("sbom --timeout 2s on a %d MB layer: exit %d after %.1fs, peak RSS %d MB", testutil.SlowImageBytes>>20, c.Code, c.Elapsed.Seconds(), c.MaxRSS>>20)
	if c.Code != ExitBadInput || !strings.HasPrefix(string(c.Stderr), "lockdown: stopped after --timeout 2s: ") {
		t.Errorf("sbom --timeout 2s = exit %d, stderr %q; want 2 and %q", c.Code, c.Stderr, "lockdown: stopped after --timeout 2s: …")
	}
	for _, bad := range []string{"-1s", "soon"} {
		code, _, errOut := runCLI(t, "version", "--timeout", bad)
		if code != ExitBadInput || !strings.Contains(errOut, "--timeout") {
			t.Errorf("version --timeout %s = exit %d, %q; want 2 naming --timeout", bad, code, errOut)
		}
	}
	if code, out, errOut := runCLI(t, "version", "--timeout", "0"); code != ExitOK || out == "" {
		t.Errorf("version --timeout 0 = exit %d, %q, %q; want 0", code, out, errOut)
	}
	if scannerBuild {
		return
	}
	// A watch runs until interrupted: --timeout does not stop it (here
	// 1ns would have expired before the flags were checked).
	code, _, errOut := runCLI(t, "netpol", "apply", "--watch", "--from-docker", "--dry-run", "--timeout", "1ns", t.TempDir())
	want := "lockdown: warning: --timeout does not apply to netpol apply --watch (it runs until interrupted)\n" +
		"lockdown: --watch and --dry-run do not go together\n"
	if code != ExitBadInput || errOut != want {
		t.Errorf("netpol apply --watch --timeout 1ns = exit %d, stderr %q; want 2, %q", code, errOut, want)
	}
}
