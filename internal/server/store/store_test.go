package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// backends opens a fresh store per dialect: SQLite in a temp dir and a real
// PostgreSQL (testutil.PostgresURL).
func backends(t *testing.T) map[string]func(t *testing.T) (*Store, string) {
	return map[string]func(t *testing.T) (*Store, string){
		SQLite: func(t *testing.T) (*Store, string) {
			u := "sqlite://" + filepath.Join(t.TempDir(), "s.db")
			return openT(t, u), u
		},
		Postgres: func(t *testing.T) (*Store, string) {
			u := testutil.PostgresURL(t)
			return openT(t, u), u
		},
	}
}

func openT(t *testing.T, u string) *Store {
	t.Helper()
	s, err := Open(context.Background(), u, Options{})
	if err != nil {
		t.Fatalf("Open(%s) = %v", u, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func forEach(t *testing.T, f func(t *testing.T, s *Store, u string)) {
	for _, name := range []string{SQLite, Postgres} {
		t.Run(name, func(t *testing.T) {
			s, u := backends(t)[name](t)
			f(t, s, u)
		})
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, u string) {
		ctx := context.Background()
		s2 := openT(t, u) // a second open (another replica) applies nothing
		for _, st := range []*Store{s, s2} {
			got, err := st.Migrations(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]int{1, 2, 3, 4, 5}, got); diff != "" {
				t.Errorf("Migrations() (-want +got):\n%s", diff)
			}
		}
	})
}

func TestJobLifecycle(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, _ string) {
		ctx := context.Background()
		j, err := s.Enqueue(ctx, KindScan, "dir:/x", "x")
		if err != nil {
			t.Fatal(err)
		}
		c, err := s.Claim(ctx, "a", time.Minute)
		if err != nil || c == nil || c.ID != j.ID || c.State != StateRunning || c.Attempts != 1 || c.Owner != "a" {
			t.Fatalf("Claim(a) = %+v, %v; want job %s running, attempt 1, owner a", c, err, j.ID)
		}
		if c2, err := s.Claim(ctx, "b", time.Minute); err != nil || c2 != nil {
			t.Fatalf("Claim(b) with the only job leased = %+v, %v; want nil", c2, err)
		}
		if err := s.Heartbeat(ctx, j.ID, "b", time.Minute); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("Heartbeat(other owner) = %v, want ErrLeaseLost", err)
		}
		if err := s.Heartbeat(ctx, j.ID, "a", time.Minute); err != nil {
			t.Errorf("Heartbeat(owner) = %v", err)
		}
		img := &ImageResult{Digest: "sha256:aa", Image: "x", Target: "dir:/x", JobID: j.ID, ScannedAt: time.Now(),
			Counts: map[string]int{"critical": 1, "high": 2}, Vulns: []VulnRef{{"CVE-1", "critical"}}, Report: []byte(`{"kind":"scan"}`)}
		if err := s.Finish(ctx, j.ID, "a", Outcome{Report: []byte(`{"kind":"scan"}`), Digest: "sha256:aa", Image: img}); err != nil {
			t.Fatalf("Finish = %v", err)
		}
		if err := s.Finish(ctx, j.ID, "a", Outcome{Report: []byte(`{}`)}); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("second Finish = %v, want ErrLeaseLost", err)
		}
		got, err := s.Job(ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != StateDone || got.Completions != 1 || got.Digest != "sha256:aa" || string(got.Report) != `{"kind":"scan"}` || got.FinishedBy != "a" {
			t.Errorf("Job() = %+v report %s; want done once by a with the report", got, got.Report)
		}
		ir, err := s.Image(ctx, "sha256:aa")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"critical": 1, "high": 2, "medium": 0, "low": 0, "unknown": 0}
		if diff := cmp.Diff(want, ir.Counts); diff != "" || len(ir.Vulns) != 1 || ir.Vulns[0].ID != "CVE-1" {
			t.Errorf("Image() counts (-want +got):\n%s vulns %v", diff, ir.Vulns)
		}
		if _, err := s.Job(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Job(nope) = %v, want ErrNotFound", err)
		}
		counts, err := s.JobCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]int{"queued": 0, "running": 0, "done": 1, "failed": 0}, counts); diff != "" {
			t.Errorf("JobCounts (-want +got):\n%s", diff)
		}
	})
}

// TestLeaseExpiry: a job whose owner stops heartbeating is claimed by
// another owner; the first owner's late Finish is refused; after
// MaxAttempts expiries the job fails.
func TestLeaseExpiry(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, _ string) {
		ctx := context.Background()
		s.maxAttempts = 2
		j, _ := s.Enqueue(ctx, KindScan, "dir:/x", "")
		if c, _ := s.Claim(ctx, "dead", 50*time.Millisecond); c == nil {
			t.Fatal("first claim: none")
		}
		time.Sleep(120 * time.Millisecond)
		c, err := s.Claim(ctx, "alive", 50*time.Millisecond)
		if err != nil || c == nil || c.ID != j.ID || c.Attempts != 2 {
			t.Fatalf("Claim after expiry = %+v, %v; want job %s attempt 2", c, err, j.ID)
		}
		if err := s.Release(ctx, j.ID, "dead"); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("Release(dead owner) = %v, want ErrLeaseLost", err)
		}
		if err := s.Finish(ctx, j.ID, "dead", Outcome{Report: []byte(`{}`)}); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("Finish(dead owner) = %v, want ErrLeaseLost", err)
		}
		time.Sleep(120 * time.Millisecond)
		if c, err := s.Claim(ctx, "third", time.Minute); err != nil || c != nil {
			t.Errorf("Claim after MaxAttempts expiries = %+v, %v; want nil", c, err)
		}
		got, _ := s.Job(ctx, j.ID)
		if got.State != StateFailed {
			t.Errorf("job state = %s, want failed", got.State)
		}
	})
}

// TestConcurrentClaims: 8 claimers on 2 connections' worth of stores take
// 60 jobs; every job is claimed exactly once.
func TestConcurrentClaims(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, u string) {
		ctx := context.Background()
		stores := []*Store{s, s}
		if s.Dialect() == Postgres {
			stores[1] = openT(t, u) // a second "replica"
		}
		const n = 60
		var want []string
		for range n {
			j, err := s.Enqueue(ctx, KindScan, "dir:/x", "")
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, j.ID)
		}
		var mu sync.Mutex
		var got []string
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				st := stores[i%2]
				owner := "w" + string(rune('a'+i))
				for {
					c, err := st.Claim(ctx, owner, time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					if c == nil {
						return
					}
					if err := st.Finish(ctx, c.ID, owner, Outcome{Report: []byte(`{}`)}); err != nil {
						t.Error(err)
					}
					mu.Lock()
					got = append(got, c.ID)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		sort.Strings(want)
		sort.Strings(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("claimed jobs (-want +got):\n%s", diff)
		}
		jobs, _ := s.Jobs(ctx)
		for _, j := range jobs {
			if j.State != StateDone || j.Attempts != 1 || j.Completions != 1 {
				t.Errorf("job %s: state %s attempts %d completions %d, want done 1 1", j.ID, j.State, j.Attempts, j.Completions)
			}
		}
	})
}

// TestRelease: a released job is queued again and claimable at once.
func TestRelease(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, _ string) {
		ctx := context.Background()
		j, _ := s.Enqueue(ctx, KindScan, "dir:/x", "")
		if c, _ := s.Claim(ctx, "a", time.Hour); c == nil {
			t.Fatal("claim: none")
		}
		if err := s.Release(ctx, j.ID, "a"); err != nil {
			t.Fatalf("Release = %v", err)
		}
		c, err := s.Claim(ctx, "b", time.Hour)
		if err != nil || c == nil || c.ID != j.ID || c.Owner != "b" || c.Attempts != 2 {
			t.Fatalf("Claim after Release = %+v, %v; want job %s owned by b, attempt 2", c, err, j.ID)
		}
	})
}

func TestOpenBadURL(t *testing.T) {
	for _, u := range []string{"mysql://x", "sqlite:", "postgres://u:secret@127.0.0.1:1/db?connect_timeout=1"} {
		t.Run(u, func(t *testing.T) {
			_, err := Open(context.Background(), u, Options{})
			if err == nil {
				t.Fatalf("Open(%q) = nil error", u)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("Open(%q) error leaks the password: %v", u, err)
			}
		})
	}
}

// TestAuditRetention: only the latest audit is ever read, so the store
// keeps the newest keepAudits of them instead of one more row per watch
// interval forever.
func TestAuditRetention(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, _ string) {
		ctx := context.Background()
		n := keepAudits + 5
		for i := range n {
			if err := s.PutAudit(ctx, []byte(fmt.Sprintf(`{"n":%d}`, i))); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond) // created_at has millisecond resolution
		}
		var rows int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM audits`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != keepAudits {
			t.Errorf("audits after %d PutAudit = %d rows, want %d", n, rows, keepAudits)
		}
		got, _, err := s.LatestAudit(ctx)
		if want := fmt.Sprintf(`{"n":%d}`, n-1); err != nil || string(got) != want {
			t.Errorf("LatestAudit() = %s, %v; want %s", got, err, want)
		}
	})
}

// TestLatestImages: an image reference scanned at two digests (its tag
// moved) lists only the digest of its latest scan; other references are
// unaffected; a later rescan of the old digest makes it the latest again.
func TestLatestImages(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, _ string) {
		ctx := context.Background()
		t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
		put := func(digest, image string, at time.Time, critical int) {
			t.Helper()
			if err := s.PutImage(ctx, ImageResult{Digest: digest, Image: image, Target: "registry:" + image, ScannedAt: at,
				Counts: map[string]int{"critical": critical}, Report: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}
		latest := func() []string {
			t.Helper()
			imgs, err := s.LatestImages(ctx)
			if err != nil {
				t.Fatalf("LatestImages() = %v", err)
			}
			var out []string
			for _, im := range imgs {
				out = append(out, fmt.Sprintf("%s@%s critical=%d", im.Image, im.Digest, im.Counts["critical"]))
			}
			return out
		}
		put("sha256:old", "nginx:1.25", t0, 3)
		put("sha256:new", "nginx:1.25", t0.Add(time.Minute), 1)
		put("sha256:alp", "alpine:3.20", t0, 2)
		put("sha256:tie-a", "busybox:1", t0, 0) // same scan time: the greater digest wins
		put("sha256:tie-b", "busybox:1", t0, 0)
		want := []string{"alpine:3.20@sha256:alp critical=2", "busybox:1@sha256:tie-b critical=0", "nginx:1.25@sha256:new critical=1"}
		if diff := cmp.Diff(want, latest()); diff != "" {
			t.Errorf("LatestImages() (-want +got):\n%s", diff)
		}
		// Every digest stays readable through the API's listing.
		if all, err := s.Images(ctx); err != nil || len(all) != 5 {
			t.Errorf("Images() = %d results, %v; want 5", len(all), err)
		}
		put("sha256:old", "nginx:1.25", t0.Add(2*time.Minute), 4) // the tag moved back
		want[2] = "nginx:1.25@sha256:old critical=4"
		if diff := cmp.Diff(want, latest()); diff != "" {
			t.Errorf("LatestImages() after rescanning the old digest (-want +got):\n%s", diff)
		}
	})
}

// TestPrune: PruneImages deletes exactly the results scanned before the
// cutoff; PruneJobs deletes exactly the done and failed jobs finished
// before it, never queued or running ones however old. Running either
// again deletes nothing.
func TestPrune(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, _ string) {
		ctx := context.Background()
		now := time.Now()
		cutoff := now.Add(-24 * time.Hour)
		for _, im := range []struct {
			digest string
			at     time.Time
		}{
			{"sha256:ancient", now.Add(-90 * 24 * time.Hour)},
			{"sha256:stale", cutoff.Add(-time.Second)},
			{"sha256:edge", cutoff}, // scanned at the cutoff: kept
			{"sha256:fresh", now.Add(-time.Hour)},
		} {
			if err := s.PutImage(ctx, ImageResult{Digest: im.digest, Image: "app:" + im.digest[7:], Target: "x", ScannedAt: im.at,
				Counts: map[string]int{}, Report: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}

		// Jobs: name → state, and how long ago it finished (or was created).
		old := now.Add(-30 * 24 * time.Hour)
		ids := map[string]string{}
		mk := func(name, state string, finished time.Time) {
			t.Helper()
			j, err := s.Enqueue(ctx, KindScan, "dir:/"+name, "")
			if err != nil {
				t.Fatal(err)
			}
			switch state {
			case StateRunning, StateDone, StateFailed:
				c, err := s.Claim(ctx, "w", time.Hour)
				if err != nil || c == nil || c.ID != j.ID {
					t.Fatalf("Claim = %+v, %v; want job %s", c, err, j.ID)
				}
			}
			switch state {
			case StateDone:
				err = s.Finish(ctx, j.ID, "w", Outcome{Report: []byte(`{}`)})
			case StateFailed:
				err = s.Finish(ctx, j.ID, "w", Outcome{Err: "boom"})
			}
			if err != nil {
				t.Fatal(err)
			}
			// Backdate the job as if it had been made and finished long ago.
			fin := int64(0)
			if state == StateDone || state == StateFailed {
				fin = ms(finished)
			}
			if _, err := s.db.ExecContext(ctx, s.q(`UPDATE jobs SET created_at = ?, finished_at = ? WHERE id = ?`), ms(old), fin, j.ID); err != nil {
				t.Fatal(err)
			}
			ids[j.ID] = name
		}
		mk("running-old", StateRunning, time.Time{})
		mk("done-old", StateDone, old)
		mk("failed-old", StateFailed, cutoff.Add(-time.Millisecond))
		mk("done-recent", StateDone, now.Add(-time.Hour))
		mk("failed-recent", StateFailed, cutoff.Add(time.Second))
		mk("queued-old", StateQueued, time.Time{}) // last: the claims above would take it

		for round, want := range []struct{ images, jobs int64 }{{2, 2}, {0, 0}} {
			ni, err := s.PruneImages(ctx, cutoff)
			if err != nil || ni != want.images {
				t.Errorf("round %d: PruneImages(now-24h) = %d, %v; want %d", round, ni, err, want.images)
			}
			nj, err := s.PruneJobs(ctx, cutoff)
			if err != nil || nj != want.jobs {
				t.Errorf("round %d: PruneJobs(now-24h) = %d, %v; want %d", round, nj, err, want.jobs)
			}
		}
		imgs, err := s.Images(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var gotImgs []string
		for _, im := range imgs {
			gotImgs = append(gotImgs, im.Digest)
		}
		if diff := cmp.Diff([]string{"sha256:edge", "sha256:fresh"}, gotImgs); diff != "" {
			t.Errorf("images kept (-want +got):\n%s", diff)
		}
		if _, err := s.Image(ctx, "sha256:stale"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Image(pruned digest) = %v, want ErrNotFound", err)
		}
		jobs, err := s.Jobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var gotJobs []string
		for _, j := range jobs {
			gotJobs = append(gotJobs, ids[j.ID]+" "+j.State)
		}
		sort.Strings(gotJobs)
		want := []string{"done-recent done", "failed-recent failed", "queued-old queued", "running-old running"}
		if diff := cmp.Diff(want, gotJobs); diff != "" {
			t.Errorf("jobs kept (-want +got):\n%s", diff)
		}
		var reports int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM jobs WHERE report IS NOT NULL`).Scan(&reports); err != nil || reports != 1 {
			t.Errorf("job reports kept = %d, %v; want 1 (done-recent's)", reports, err)
		}
		// A zero cutoff (no retention) deletes nothing.
		if ni, err := s.PruneImages(ctx, time.Time{}); err != nil || ni != 0 {
			t.Errorf("PruneImages(zero time) = %d, %v; want 0", ni, err)
		}
		if nj, err := s.PruneJobs(ctx, time.Time{}); err != nil || nj != 0 {
			t.Errorf("PruneJobs(zero time) = %d, %v; want 0", nj, err)
		}
	})
}
