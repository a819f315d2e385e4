package vulndb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

func TestDetectSources(t *testing.T) {
	data := testutil.DataDir(t)
	d := func(p string) string { return filepath.Join(data, filepath.FromSlash(p)) }
	for _, c := range []struct {
		loc  string
		want []Source
	}{
		{d("distro"), []Source{
			{Kind: KindAlpineSecdb, Location: d("distro/alpine-secdb")},
			{Kind: KindUbuntuTracker, Location: d("distro/ubuntu-cve-tracker/ubuntu-cve-tracker-2020-06.tar.gz")},
			{Kind: KindDebianTracker, Location: d("distro/debian-security-tracker")},
		}},
		{d("distro/alpine-secdb"), []Source{{Kind: KindAlpineSecdb, Location: d("distro/alpine-secdb")}}},
		{d("distro/debian-security-tracker"), []Source{{Kind: KindDebianTracker, Location: d("distro/debian-security-tracker")}}},
		{d("distro/debian-security-tracker/DSA-list"), []Source{{Kind: KindDebianTracker, Location: d("distro/debian-security-tracker/DSA-list")}}},
		{d("distro/ubuntu-cve-tracker/ubuntu-cve-tracker-2020-06.tar.gz"), []Source{{Kind: KindUbuntuTracker, Location: d("distro/ubuntu-cve-tracker/ubuntu-cve-tracker-2020-06.tar.gz")}}},
		{d("osv"), []Source{{Kind: KindOSV, Location: d("osv")}}},
		{d("osv/go.zip"), []Source{{Kind: KindOSV, Location: d("osv/go.zip")}}},
		{"testdata/mixed/good.json", []Source{{Kind: KindOSV, Location: "testdata/mixed/good.json"}}},
		{"https://example.com/Go/all.zip", []Source{{Kind: KindOSV, Location: "https://example.com/Go/all.zip"}}},
	} {
		got, err := DetectSources(c.loc)
		if err != nil {
			t.Errorf("DetectSources(%s): %v", c.loc, err)
			continue
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("DetectSources(%s) (-want +got):\n%s", c.loc, diff)
		}
	}
	for _, c := range []struct{ loc, wantErr string }{
		{"", "empty source"},
		{filepath.Join(t.TempDir(), "missing"), "no such file"},
		{d("README.md"), "cannot tell its format"},
	} {
		_, err := DetectSources(c.loc)
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("DetectSources(%q) error = %v, want one containing %q", c.loc, err, c.wantErr)
		}
	}
}

// smallDB builds a database from mixed-samples.zip: the "previous" DB of
// the failure tests.
func smallDB(t *testing.T) (string, Status) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lockdown.db")
	st, err := Update(context.Background(), path, []Source{{Location: testutil.Data(t, "osv/mixed-samples.zip")}}, UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// 28 files; PYSEC-2020-148, PYSEC-2023-62 and PYSEC-2023-74 are in
	// both GIT/ and PyPI/.
	if st.Records != 25 || st.Duplicates != 3 {
		t.Fatalf("mixed-samples: %d records, %d duplicates; want 25, 3", st.Records, st.Duplicates)
	}
	return path, st
}

// requireIntact checks the database at path is still the one built as want.
func requireIntact(t *testing.T, path string, want Status) {
	t.Helper()
	s, err := Open(path, OpenOptions{})
	if err != nil {
		t.Fatalf("previous db no longer opens: %v", err)
	}
	defer s.Close()
	got, _ := s.Status()
	if !got.Built.Equal(want.Built) || got.Records != want.Records {
		t.Errorf("db changed: built %v with %d records, want %v with %d", got.Built, got.Records, want.Built, want.Records)
	}
	vs, err := s.Lookup(context.Background(), "Alpine:v3.16", "musl")
	if err != nil || len(vs) != 1 || vs[0].ID != "ALPINE-CVE-2025-26519" {
		t.Errorf("Lookup(Alpine:v3.16, musl) on the previous db = %d records, %v; want ALPINE-CVE-2025-26519", len(vs), err)
	}
	if left := tempFiles(t, path); len(left) != 0 {
		t.Errorf("update left files behind: %v", left)
	}
}

func TestTruncatedZip(t *testing.T) {
	path, old := smallDB(t)
	raw, err := os.ReadFile(testutil.Data(t, "osv/crates.io.zip"))
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "crates.io.zip")
	if err := os.WriteFile(bad, raw[:len(raw)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Update(context.Background(), path, []Source{{Location: bad}}, UpdateOptions{})
	if err == nil || !strings.Contains(err.Error(), "open zip "+bad) {
		t.Fatalf("Update(truncated zip) error = %v, want one naming the zip %s", err, bad)
	}
	requireIntact(t, path, old)
}

func TestCorruptZipEntry(t *testing.T) {
	path, old := smallDB(t)
	raw, err := os.ReadFile(testutil.Data(t, "osv/crates.io.zip"))
	if err != nil {
		t.Fatal(err)
	}
	// Scribble over the compressed data of an entry in the middle; the
	// central directory at the end stays valid.
	bad := append([]byte(nil), raw...)
	for i := len(bad) / 3; i < len(bad)/3+4096; i++ {
		bad[i] ^= 0x5a
	}
	p := filepath.Join(t.TempDir(), "corrupt.zip")
	if err := os.WriteFile(p, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Update(context.Background(), path, []Source{{Location: p}}, UpdateOptions{})
	if err == nil || !strings.Contains(err.Error(), "read zip "+p+" entry ") {
		t.Fatalf("Update(corrupt zip) error = %v, want one naming the zip entry", err)
	}
	requireIntact(t, path, old)
}

func TestMissingSource(t *testing.T) {
	path, old := smallDB(t)
	missing := filepath.Join(t.TempDir(), "nope.zip")
	_, err := Update(context.Background(), path, []Source{{Kind: KindOSV, Location: missing}}, UpdateOptions{})
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("Update(missing source) error = %v, want one naming %s", err, missing)
	}
	requireIntact(t, path, old)
}

// metaDB writes a bbolt file with only a meta bucket holding schema.
func metaDB(t *testing.T, schema string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lockdown.db")
	db, err := bolt.Open(p, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucketMeta)
		if err != nil || schema == "" {
			return err
		}
		return b.Put(keySchema, []byte(schema))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	return p
}

func TestOpenErrors(t *testing.T) {
	garbage := filepath.Join(t.TempDir(), "garbage.db")
	os.WriteFile(garbage, []byte(strings.Repeat("not a database\n", 1000)), 0o644)
	missing := filepath.Join(t.TempDir(), "missing.db")
	newer, older, none := metaDB(t, "3"), metaDB(t, "0"), metaDB(t, "")
	// A real database cut short after its meta pages (a partial copy):
	// reading it must be an error, not a crash through the mmap.
	truncated := filepath.Join(t.TempDir(), "truncated.db")
	if _, err := Update(context.Background(), truncated, []Source{{Location: "testdata/mixed"}}, UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(truncated, 3*int64(os.Getpagesize())); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path string
		is         error
		want       string
	}{
		{"missing", missing, ErrNoDB, "no vulnerability database at " + missing + ": run `lockdown db update`"},
		{"newer", newer, ErrSchema, "db " + newer + " has schema 3, this lockdown reads up to 1: update lockdown"},
		{"older", older, ErrSchema, "db " + older + " has schema 0, this lockdown reads 1: run `lockdown db update`"},
		{"no schema", none, ErrSchema, "db " + none + " is not a lockdown vulnerability database"},
		{"garbage", garbage, nil, "open db " + garbage + ": "},
		{"truncated", truncated, ErrSchema, "db " + truncated + " is truncated"},
		{"directory", t.TempDir(), nil, "is a directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := Open(c.path, OpenOptions{})
			if err == nil {
				s.Close()
				t.Fatalf("Open(%s) succeeded", c.name)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("Open(%s) = %v, want errors.Is %v", c.name, err, c.is)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("Open(%s) = %q, want it to contain %q", c.name, err, c.want)
			}
		})
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open created %s", missing)
	}
}

func TestDefaultDBPath(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/cache-test")
	got, err := DefaultDBPath()
	if err != nil || got != "/cache-test/lockdown/db/lockdown.db" {
		t.Errorf("DefaultDBPath() = %q, %v; want /cache-test/lockdown/db/lockdown.db", got, err)
	}
}

// exportServer serves the shared OSV zips as osv.dev exports:
// /Go/all.zip -> go.zip and so on. fail, if set, can answer first.
func exportServer(t *testing.T, fail func(w http.ResponseWriter, r *http.Request) bool) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	files := map[string]string{
		"/Go/all.zip":              testutil.Data(t, "osv/go.zip"),
		"/crates.io/all.zip":       testutil.Data(t, "osv/crates.io.zip"),
		"/Mixed%20Samples/all.zip": testutil.Data(t, "osv/mixed-samples.zip"),
	}
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if fail != nil && fail(w, r) {
			return
		}
		p, ok := files[r.URL.EscapedPath()]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, p)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestUpdateFromMirror(t *testing.T) {
	srv, hits := exportServer(t, nil)
	path := filepath.Join(t.TempDir(), "lockdown.db")
	st, err := Update(context.Background(), path, nil, UpdateOptions{BaseURL: srv.URL, Ecosystems: []string{"Go", "crates.io", "Mixed Samples"}})
	if err != nil {
		t.Fatal(err)
	}
	// Same result as reading the files directly.
	local := filepath.Join(t.TempDir(), "local.db")
	want, err := Update(context.Background(), local, []Source{
		{Location: testutil.Data(t, "osv/go.zip")}, {Location: testutil.Data(t, "osv/crates.io.zip")},
		{Location: testutil.Data(t, "osv/mixed-samples.zip")}}, UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.Ecosystems, st.Ecosystems); diff != "" {
		t.Errorf("ecosystems from the mirror differ from the files (-files +mirror):\n%s", diff)
	}
	if st.Records != want.Records || hits.Load() != 3 {
		t.Errorf("records %d, requests %d; want %d, 3", st.Records, hits.Load(), want.Records)
	}
	wantURLs := []string{srv.URL + "/Go/all.zip", srv.URL + "/crates.io/all.zip", srv.URL + "/Mixed%20Samples/all.zip"}
	for i, s := range st.Sources {
		if s.Location != wantURLs[i] || s.Kind != KindOSV || s.FetchedAt.IsZero() {
			t.Errorf("Sources[%d] = %+v, want %s", i, s, wantURLs[i])
		}
	}
	if left := tempFiles(t, path); len(left) != 0 {
		t.Errorf("downloads left behind: %v", left)
	}
}

func TestDownloadRetries(t *testing.T) {
	fast := UpdateOptions{RetryWait: 10 * time.Millisecond}
	t.Run("flaky 503 then ok", func(t *testing.T) {
		var n atomic.Int32
		srv, hits := exportServer(t, func(w http.ResponseWriter, r *http.Request) bool {
			if n.Add(1) <= 2 {
				http.Error(w, "try later", http.StatusServiceUnavailable)
				return true
			}
			return false
		})
		opts := fast
		opts.BaseURL, opts.Ecosystems = srv.URL, []string{"crates.io"}
		st, err := Update(context.Background(), filepath.Join(t.TempDir(), "lockdown.db"), nil, opts)
		if err != nil {
			t.Fatal(err)
		}
		if st.Records != 1206 || hits.Load() != 3 {
			t.Errorf("records %d after %d requests, want 1206 after 3", st.Records, hits.Load())
		}
	})
	t.Run("dropped connection and short body then ok", func(t *testing.T) {
		var n atomic.Int32
		srv, hits := exportServer(t, func(w http.ResponseWriter, r *http.Request) bool {
			switch n.Add(1) {
			case 1: // connection closed before any answer
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.Close()
				}
				return true
			case 2: // promises more than it sends
				w.Header().Set("Content-Length", "100000")
				w.WriteHeader(http.StatusOK)
				w.Write([]byte("PK\x03\x04 and then nothing"))
				return true
			}
			return false
		})
		opts := fast
		opts.BaseURL, opts.Ecosystems = srv.URL, []string{"crates.io"}
		st, err := Update(context.Background(), filepath.Join(t.TempDir(), "lockdown.db"), nil, opts)
		if err != nil {
			t.Fatal(err)
		}
		if st.Records != 1206 || hits.Load() != 3 {
			t.Errorf("records %d after %d requests, want 1206 after 3", st.Records, hits.Load())
		}
	})
	t.Run("always 503", func(t *testing.T) {
		path, old := smallDB(t)
		srv, hits := exportServer(t, func(w http.ResponseWriter, r *http.Request) bool {
			http.Error(w, "down", http.StatusBadGateway)
			return true
		})
		opts := fast
		opts.BaseURL, opts.Ecosystems = srv.URL, []string{"Go"}
		_, err := Update(context.Background(), path, nil, opts)
		want := fmt.Sprintf("fetch %s/Go/all.zip: giving up after 3 tries, last: status 502 Bad Gateway", srv.URL)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Update error = %v, want one containing %q", err, want)
		}
		if hits.Load() != 3 {
			t.Errorf("%d requests, want 3", hits.Load())
		}
		requireIntact(t, path, old)
	})
	t.Run("404 is not retried", func(t *testing.T) {
		path, old := smallDB(t)
		srv, hits := exportServer(t, nil)
		opts := fast
		opts.BaseURL, opts.Ecosystems = srv.URL, []string{"NoSuchEcosystem"}
		_, err := Update(context.Background(), path, nil, opts)
		want := fmt.Sprintf("fetch %s/NoSuchEcosystem/all.zip: status 404 Not Found", srv.URL)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Update error = %v, want one containing %q", err, want)
		}
		if hits.Load() != 1 {
			t.Errorf("%d requests, want 1", hits.Load())
		}
		requireIntact(t, path, old)
	})
}

// TestCancelMidDownload: the context is cancelled while the body is
// arriving.
func TestCancelMidDownload(t *testing.T) {
	path, old := smallDB(t)
	raw, err := os.ReadFile(testutil.Data(t, "osv/go.zip"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(raw)))
		w.Write(raw[:len(raw)/2])
		w.(http.Flusher).Flush()
		cancel() // the client gives up now
		<-r.Context().Done()
	}))
	defer srv.Close()
	_, err = Update(ctx, path, nil, UpdateOptions{BaseURL: srv.URL, Ecosystems: []string{"Go"}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Update error = %v, want context.Canceled", err)
	}
	requireIntact(t, path, old)
}

// TestCancelMidIngest: the context is cancelled after a few hundred records
// were read.
func TestCancelMidIngest(t *testing.T) {
	path, old := smallDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seen int
	opts := UpdateOptions{Progress: func(p Progress) {
		if p.Phase == "read" && p.Records >= 500 {
			seen = p.Records
			cancel()
		}
	}}
	_, err := Update(ctx, path, []Source{{Location: testutil.Data(t, "osv/go.zip")}}, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Update error = %v, want context.Canceled", err)
	}
	if seen == 0 {
		t.Fatal("cancelled before any record was read")
	}
	requireIntact(t, path, old)
}

// TestConcurrentUpdates: two updates of one path at once both succeed, one
// after the other, and the result is a good database.
func TestConcurrentUpdates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lockdown.db")
	srcs := []Source{{Location: testutil.Data(t, "osv/crates.io.zip")}}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Update(context.Background(), path, srcs, UpdateOptions{})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("update %d: %v", i, err)
		}
	}
	s, err := Open(path, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st, _ := s.Status(); st.Records != 1206 {
		t.Errorf("records = %d, want 1206", st.Records)
	}
}

// TestUpdateWaitsForLock: an update waits while another holds the lock,
// and says so when its context ends first.
func TestUpdateWaitsForLock(t *testing.T) {
	path, old := smallDB(t)
	unlock, err := lockPath(context.Background(), path+".lock", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = Update(ctx, path, []Source{{Location: testutil.Data(t, "osv/crates.io.zip")}}, UpdateOptions{})
	want := "wait for another update to finish (lock " + path + ".lock)"
	if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Update while locked = %v, want %q", err, want)
	}
	requireIntact(t, path, old)
	// Released: the next update goes through.
	done := make(chan error, 1)
	go func() {
		_, err := Update(context.Background(), path, []Source{{Location: testutil.Data(t, "osv/crates.io.zip")}}, UpdateOptions{})
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestUpdateKilled kills a process in the middle of an update (re-running
// this test binary as the updater): the previous database still opens and
// answers, and the next update cleans up and succeeds.
func TestUpdateKilled(t *testing.T) {
	data := testutil.DataDir(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, phase := range []string{"reading", "writing"} {
		t.Run(phase, func(t *testing.T) {
			path, old := smallDB(t)
			cmd := exec.Command(exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"=1", helperDBEnv+"="+path, helperDataEnv+"="+data)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			// The temporary file appears when the update starts, and grows
			// when it starts writing.
			deadline := time.Now().Add(5 * time.Minute)
			for {
				tmps, _ := filepath.Glob(path + ".tmp-*")
				if len(tmps) == 1 {
					fi, err := os.Stat(tmps[0])
					if err == nil && (phase == "reading" || fi.Size() > 0) {
						break
					}
				}
				select {
				case err := <-exited:
					t.Fatalf("updater ended (%v) before it could be killed while %s: %s", err, phase, stderr.String())
				default:
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("updater never got to %s", phase)
				}
				time.Sleep(time.Millisecond)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			err := <-exited
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
				t.Fatalf("updater was not killed: %v, %s", err, stderr.String())
			}
			if tmps, _ := filepath.Glob(path + ".tmp-*"); len(tmps) != 1 {
				t.Fatalf("temporary files after the kill = %v, want the one left behind", tmps)
			}
			// The previous db still answers (ignoring the leftover file).
			s, err := Open(path, OpenOptions{})
			if err != nil {
				t.Fatalf("previous db after the kill: %v", err)
			}
			got, _ := s.Status()
			vs, lerr := s.Lookup(context.Background(), "Alpine:v3.16", "musl")
			s.Close()
			if !got.Built.Equal(old.Built) || lerr != nil || len(vs) != 1 {
				t.Errorf("previous db after the kill: built %v (want %v), lookup %d records, %v", got.Built, old.Built, len(vs), lerr)
			}
			// The next update removes the leftover and succeeds.
			if _, err := Update(context.Background(), path, []Source{{Location: testutil.Data(t, "osv/mixed-samples.zip")}}, UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			if left := tempFiles(t, path); len(left) != 0 {
				t.Errorf("leftovers after the next update: %v", left)
			}
		})
	}
}

func TestProgressSeesEveryPhase(t *testing.T) {
	srv, _ := exportServer(t, nil)
	phases := map[string]bool{}
	var last Progress
	opts := UpdateOptions{BaseURL: srv.URL, Ecosystems: []string{"Go"}, Progress: func(p Progress) {
		phases[p.Phase] = true
		last = p
	}}
	if _, err := Update(context.Background(), filepath.Join(t.TempDir(), "lockdown.db"), nil, opts); err != nil {
		t.Fatal(err)
	}
	for _, ph := range []string{"download", "read", "write"} {
		if !phases[ph] {
			t.Errorf("no %q progress", ph)
		}
	}
	if last.Phase != "write" || last.Records != 4291 {
		t.Errorf("last progress = %+v, want write of 4291 records", last)
	}
}

// TestDistroFromURL: distribution data can be downloaded too, and keeps
// its provenance.
func TestDistroFromURL(t *testing.T) {
	srv := httptest.NewServer(http.FileServer(http.Dir(testutil.Data(t, "distro/debian-security-tracker"))))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "lockdown.db")
	st, err := Update(context.Background(), path, []Source{{Kind: KindDebianTracker, Location: srv.URL + "/DTSA-list"}}, UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	local, err := Update(context.Background(), filepath.Join(t.TempDir(), "local.db"),
		[]Source{{Location: testutil.Data(t, "distro/debian-security-tracker/DTSA-list")}}, UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Records == 0 || st.Records != local.Records || !cmp.Equal(st.Ecosystems, local.Ecosystems) {
		t.Errorf("from URL: %d records %+v; from the file: %d %+v", st.Records, st.Ecosystems, local.Records, local.Ecosystems)
	}
	s, err := Open(path, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, ok, err := s.Get(context.Background(), "DTSA-1-1")
	if err != nil || !ok || string(v.DatabaseSpecific) != `{"file":"DTSA-list","source":"debian-security-tracker"}` {
		t.Errorf("Get(DTSA-1-1) = %s, %v, %v", v.DatabaseSpecific, ok, err)
	}
}
