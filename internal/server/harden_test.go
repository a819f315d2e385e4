package server

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/harden"
	"github.com/lockdown-sec/lockdown/internal/server/store"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// TestHardenAPI: POST /v1/harden for a real container queues a job whose
// report is the verified plan, kept under the image digest.
func TestHardenAPI(t *testing.T) {
	testutil.RequireRoot(t)
	image := testutil.DebianDockerRef(t)
	prefix := testutil.UniquePrefix(t, "ld10")
	name := prefix + "api"
	testutil.RunContainer(t, name, "--label", "lockdown.test=ld10", "--network", "none", image,
		"sh", "-c", "trap 'exit 0' TERM; while :; do date > /tmp/x.new && mv /tmp/x.new /tmp/x; sleep 0.2 & wait; done")
	ts := startServer(t, Config{Store: openStore(t, store.SQLite), AdvisoryDB: mixedDB(t), HardenPrefix: prefix})

	for body, want := range map[string]int{
		`{}`:                                     http.StatusBadRequest,
		`{"container": "../x"}`:                  http.StatusBadRequest,
		`{"container": "x", "observe": "1h"}`:    http.StatusBadRequest,
		`{"container": "x", "unknown": true}`:    http.StatusBadRequest,
		`{"container": "x", "observe": "never"}`: http.StatusBadRequest,
	} {
		if code, b := ts.call(t, "POST", "/v1/harden", body); code != want {
			t.Errorf("POST /v1/harden %s = %d %s, want %d", body, code, b, want)
		}
	}
	code, b := ts.call(t, "GET", "/v1/harden/profiles/sha256:0000000000000000000000000000000000000000000000000000000000000000", "")
	if code != http.StatusNotFound {
		t.Errorf("profiles of an unknown digest = %d %s, want 404", code, b)
	}

	req, _ := json.Marshal(HardenRequest{Container: name, Test: []string{"test", "-s", "/tmp/x"}, Observe: "2s"})
	code, b = ts.call(t, "POST", "/v1/harden", string(req))
	if code != http.StatusAccepted {
		t.Fatalf("POST /v1/harden = %d %s, want 202", code, b)
	}
	var j JobResponse
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	done := ts.wait(t, "/v1/harden/"+j.ID)
	if done.State != store.StateDone {
		t.Fatalf("job %s: %s", done.State, done.Error)
	}
	var plan harden.Plan
	if err := json.Unmarshal(done.Report, &plan); err != nil {
		t.Fatal(err)
	}
	if !plan.Verified || plan.Subject != "container "+name || plan.User != harden.NonRootUser || plan.Tmpfs[0].Path != "/tmp" {
		t.Errorf("plan: verified %v, subject %q, user %q, tmpfs %v", plan.Verified, plan.Subject, plan.User, plan.Tmpfs)
	}
	code, b = ts.call(t, "GET", "/v1/harden/profiles/"+plan.ImageID, "")
	if code != http.StatusOK {
		t.Fatalf("GET profiles = %d %s", code, b)
	}
	var got struct {
		Profiles []struct {
			Digest, Name, JobID string
			Plan                harden.Plan
		}
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Profiles) != 1 || got.Profiles[0].Name != plan.Name || got.Profiles[0].JobID != j.ID || got.Profiles[0].Plan.Seccomp == nil {
		t.Errorf("profiles = %+v", got.Profiles)
	}
}
