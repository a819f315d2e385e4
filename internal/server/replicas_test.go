package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/server/store"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// lockdownBinary builds cmd/lockdown (once per test process).
func lockdownBinary(t *testing.T) string { return testutil.LockdownBinary(t) }

// replica is one `lockdown serve` process.
type replica struct {
	owner string
	cmd   *exec.Cmd
	ts    *testServer
	log   string
}

func startReplica(t *testing.T, bin, owner, dbURL, advisories string, env ...string) *replica {
	t.Helper()
	return startServe(t, bin, owner, dbURL, advisories, nil, env...)
}

// startServe is startReplica with more flags (later ones override the
// defaults).
func startServe(t *testing.T, bin, owner, dbURL, advisories string, flags []string, env ...string) *replica {
	t.Helper()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600)
	port := testutil.FreePort(t)
	r := &replica{owner: owner, log: filepath.Join(dir, "log")}
	logf, err := os.Create(r.log)
	if err != nil {
		t.Fatal(err)
	}
	r.cmd = exec.Command(bin, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--db", advisories, "--db-url", dbURL,
		"--token-file", tokenFile, "--allow-local-targets", "--lease", "3s", "--poll", "100ms", "--workers", "2",
		"--owner", owner, "--shutdown-grace", "10s")
	r.cmd.Args = append(r.cmd.Args, flags...)
	r.cmd.Env = append(append(os.Environ(), "LOCKDOWN_CACHE_DIR="+filepath.Join(dir, "cache")), env...)
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			r.cmd.Process.Kill()
			r.cmd.Wait()
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(r.log)
			t.Logf("%s log:\n%s", owner, b)
		}
	})
	r.ts = &testServer{URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	waitUntil(t, owner+" listening", func() bool {
		req, _ := http.NewRequest("GET", r.ts.URL+"/healthz", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := testClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return r
}

// TestReplicas: two `lockdown serve` processes share one real PostgreSQL.
// 50 jobs queued through both all finish, each claimed once and completed
// once. Then a job held by a process that is killed (-9) mid-job is
// finished by the other once the 3s lease expires; the graceful stop
// (SIGTERM) of the survivors exits 0.
func TestReplicas(t *testing.T) {
	dbURL := testutil.PostgresURL(t)
	bin := lockdownBinary(t)
	adv := mixedDB(t)
	root := alpine316Dir(t)
	ctx := context.Background()

	a := startReplica(t, bin, "replica-a", dbURL, adv)
	b := startReplica(t, bin, "replica-b", dbURL, adv)
	var ids []string
	for i := range 50 {
		r := a
		if i%2 == 1 {
			r = b
		}
		ids = append(ids, r.ts.enqueue(t, "dir:"+root))
	}
	for i, id := range ids {
		r := []*replica{a, b}[i%2]
		if j := r.ts.wait(t, "/v1/scans/"+id); j.State != store.StateDone {
			t.Errorf("job %s: %s %s", id, j.State, j.Error)
		}
	}
	st, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	jobs, err := st.Jobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]int{}
	var got []string
	for _, j := range jobs {
		got = append(got, j.ID)
		by[j.FinishedBy]++
		if j.State != store.StateDone || j.Attempts != 1 || j.Completions != 1 {
			t.Errorf("job %s: state %s attempts %d completions %d, want done 1 1", j.ID, j.State, j.Attempts, j.Completions)
		}
	}
	if strings.Join(sortedCopy(got), ",") != strings.Join(sortedCopy(ids), ",") {
		t.Errorf("jobs in the store = %d, want the 50 queued", len(got))
	}
	t.Logf("jobs finished by replica: %v", by)

	// Both replicas stop gracefully.
	for _, r := range []*replica{a, b} {
		r.cmd.Process.Signal(syscall.SIGTERM)
		if err := r.cmd.Wait(); err != nil {
			t.Errorf("%s after SIGTERM: %v", r.owner, err)
		}
	}

	// A slow replica takes the next job; it is killed mid-job.
	slow := startReplica(t, bin, "replica-slow", dbURL, adv, "LOCKDOWN_TEST_JOB_DELAY=1h")
	id := slow.ts.enqueue(t, "dir:"+root)
	waitUntil(t, "the slow replica to hold the job", func() bool {
		j, err := st.Job(ctx, id)
		return err == nil && j.State == store.StateRunning && j.Owner == "replica-slow"
	})
	survivor := startReplica(t, bin, "replica-survivor", dbURL, adv)
	if err := slow.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	slow.cmd.Wait()
	j := survivor.ts.wait(t, "/v1/scans/"+id)
	full, err := st.Job(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != store.StateDone || full.Attempts != 2 || full.Completions != 1 || full.FinishedBy != "replica-survivor" {
		t.Errorf("killed job: state %s attempts %d completions %d finished by %q; want done, 2, 1, replica-survivor",
			j.State, full.Attempts, full.Completions, full.FinishedBy)
	}
	survivor.cmd.Process.Signal(syscall.SIGTERM)
	if err := survivor.cmd.Wait(); err != nil {
		t.Errorf("survivor after SIGTERM: %v", err)
	}
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}
