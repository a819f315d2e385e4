package server

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/lockdown-sec/lockdown/internal/server/store"
)

// TestShutdownReleasesJob: on shutdown, Run stops serving, waits the grace
// period for a running job, then cancels it and gives it back to the queue
// (state queued, no owner) instead of failing it; Run returns nil.
func TestShutdownReleasesJob(t *testing.T) {
	st := openStore(t, store.SQLite)
	s, err := New(Config{Store: st, AdvisoryDB: mixedDB(t), Token: testToken, AllowLocalTargets: true,
		JobDelay: time.Hour, Poll: 20 * time.Millisecond, Owner: "me"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, l, 300*time.Millisecond) }()
	ts := &testServer{Server: s, URL: "http://" + l.Addr().String()}
	id := ts.enqueue(t, "dir:"+alpine316Dir(t))
	waitUntil(t, "the job to run", func() bool {
		j, err := st.Job(context.Background(), id)
		return err == nil && j.State == store.StateRunning
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after shutdown = %v, want nil", err)
	}
	j, err := st.Job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != store.StateQueued || j.Owner != "" || j.Attempts != 1 {
		t.Errorf("job after shutdown = state %s owner %q attempts %d, want queued, no owner, 1", j.State, j.Owner, j.Attempts)
	}
	if _, err := net.DialTimeout("tcp", l.Addr().String(), time.Second); err == nil {
		t.Errorf("still listening after shutdown")
	}
}
