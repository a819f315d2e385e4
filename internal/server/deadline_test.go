package server

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lockdown-sec/lockdown/internal/server/store"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// TestServeJobDeadline: a real `lockdown serve` with one worker and
// --job-timeout 3s. A hostile job (an 8 MB image whose layer expands to
// 7.5 GB) is failed at its deadline and the job queued behind it
// completes; then, while another hostile job runs, SIGTERM still stops
// the server (exit 0) and the job goes back to the queue.
func TestServeJobDeadline(t *testing.T) {
	bin := lockdownBinary(t)
	slow := testutil.SlowImage(t)
	good := "dir:" + alpine316Dir(t)
	dbURL := "sqlite://" + filepath.Join(t.TempDir(), "jobs.db")
	r := startServe(t, bin, "deadline", dbURL, mixedDB(t),
		[]string{"--workers", "1", "--job-timeout", "3s", "--shutdown-grace", "1s"})

	hostile := r.ts.enqueue(t, slow)
	next := r.ts.enqueue(t, good)
	j := r.ts.wait(t, "/v1/scans/"+hostile)
	if j.State != store.StateFailed || !strings.HasPrefix(j.Error, "job stopped after --job-timeout 3s: ") {
		t.Errorf("hostile job = %s %q; want failed, %q", j.State, j.Error, "job stopped after --job-timeout 3s: …")
	}
	if j := r.ts.wait(t, "/v1/scans/"+next); j.State != store.StateDone {
		t.Errorf("job queued behind the hostile one = %s %q; want done", j.State, j.Error)
	}

	ctx := context.Background()
	st, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	again := r.ts.enqueue(t, slow)
	waitUntil(t, "the second hostile job to run", func() bool {
		j, err := st.Job(ctx, again)
		return err == nil && j.State == store.StateRunning
	})
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- r.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(2 * time.Minute): // a safety net, not a timing assertion
		r.cmd.Process.Kill()
		<-exited
		t.Fatalf("serve did not stop within 2 minutes of SIGTERM while a hostile job ran")
	}
	if j, err := st.Job(ctx, again); err != nil || j.State != store.StateQueued {
		t.Errorf("hostile job running at SIGTERM = %+v, %v; want it back in the queue", j.State, err)
	}
}
