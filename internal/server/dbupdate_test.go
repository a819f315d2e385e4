package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockdown-sec/lockdown/internal/server/store"
	"github.com/lockdown-sec/lockdown/internal/testutil"
	"github.com/lockdown-sec/lockdown/internal/vulndb"
)

// TestScheduledDBUpdate: with DBUpdate and an interval, the server rebuilds
// the advisory database on schedule, a failed update keeps the current
// one, and scans after a successful update use the new file.
func TestScheduledDBUpdate(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "advisories.db")
	b, err := os.ReadFile(mixedDB(t))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(dbPath, b, 0o644)
	before, err := vulndb.Open(dbPath, vulndb.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st0, _ := before.Status()
	before.Close()

	var calls atomic.Int32
	update := func(ctx context.Context) error {
		if calls.Add(1) == 1 {
			return errors.New("mirror unreachable") // the first run fails: the old DB stays
		}
		srcs, err := vulndb.DetectSources(testutil.Data(t, "osv/crates.io.zip"))
		if err != nil {
			return err
		}
		_, err = vulndb.Update(ctx, dbPath, srcs, vulndb.UpdateOptions{})
		return err
	}
	ts := startServer(t, Config{
		Store: openStore(t, store.SQLite), AdvisoryDB: dbPath,
		DBUpdate: update, DBUpdateInterval: 100 * time.Millisecond,
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		info, err := ts.adb.info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Records != st0.Records {
			if calls.Load() < 2 {
				t.Fatalf("database changed after %d update calls; the first one failed", calls.Load())
			}
			if info.Records != 1206 {
				t.Errorf("records after the update = %d, want the 1206 of crates.io.zip", info.Records)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("database never updated (%d calls)", calls.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReadyzHidesDetails: /readyz answers 503 when the advisory database
// is unusable, without the file path or the error in the body (with
// --public-health anyone may ask).
func TestReadyzHidesDetails(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "advisories.db")
	b, err := os.ReadFile(mixedDB(t))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(dbPath, b, 0o644)
	ts := startServer(t, Config{Store: openStore(t, store.SQLite), AdvisoryDB: dbPath, PublicHealth: true})
	if code, body := ts.callToken(t, "GET", "/readyz", "", "-"); code != 200 {
		t.Fatalf("/readyz = %d %s, want 200", code, body)
	}
	// Replace the database with garbage (a new file, as an update would).
	tmp := dbPath + ".new"
	os.WriteFile(tmp, []byte("not a database"), 0o644)
	if err := os.Rename(tmp, dbPath); err != nil {
		t.Fatal(err)
	}
	code, body := ts.callToken(t, "GET", "/readyz", "", "-")
	if code != 503 {
		t.Fatalf("/readyz with a broken database = %d %s, want 503", code, body)
	}
	if strings.Contains(string(body), dbPath) || strings.Contains(string(body), filepath.Dir(dbPath)) {
		t.Errorf("/readyz body shows the database path: %s", body)
	}
}
