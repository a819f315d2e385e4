package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/server/store"
)

// scanNamed posts a scan of target named image and waits for it to be
// done; it returns the stored digest key.
func (ts *testServer) scanNamed(t *testing.T, target, image string) string {
	t.Helper()
	b, _ := json.Marshal(ScanRequest{Target: target, Image: image})
	code, body := ts.call(t, "POST", "/v1/scans", string(b))
	if code != http.StatusAccepted {
		t.Fatalf("POST /v1/scans %s = %d %s, want 202", b, code, body)
	}
	var j JobResponse
	if err := json.Unmarshal(body, &j); err != nil {
		t.Fatal(err)
	}
	done := ts.wait(t, "/v1/scans/"+j.ID)
	if done.State != store.StateDone || done.Digest == "" {
		t.Fatalf("scan %s: state %s digest %q error %s; want done", b, done.State, done.Digest, done.Error)
	}
	return done.Digest
}

// TestImageVulnsLatestDigest: an image reference scanned at two digests
// (its tag moved) exports lockdown_image_vulnerabilities for the newer
// digest only, and counts once in the top-N; the API still lists every
// digest. On SQLite and PostgreSQL.
func TestImageVulnsLatestDigest(t *testing.T) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			st := openStore(t, d)
			ts := startServer(t, Config{Store: st, AdvisoryDB: mixedDB(t), AllowLocalTargets: true, MetricsTopVulns: 5})
			old := ts.scanNamed(t, "dir:"+alpine316Dir(t), "app:latest")
			cur := ts.scanNamed(t, "dir:"+alpine316Dir(t), "app:latest")
			other := ts.scanNamed(t, "dir:"+alpine316Dir(t), "other:1")
			if old == cur || cur == other {
				t.Fatalf("digests %s, %s, %s: want three distinct", old, cur, other)
			}

			mfs, err := ts.Registry().Gather()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{} // image → digest/severity=value
			var top []string
			for _, mf := range mfs {
				for _, m := range mf.GetMetric() {
					l := map[string]string{}
					for _, lp := range m.GetLabel() {
						l[lp.GetName()] = lp.GetValue()
					}
					switch mf.GetName() {
					case mImageVulns:
						got[l["image"]] = append(got[l["image"]], fmt.Sprintf("%s/%s=%g", l["digest"], l["severity"], m.GetGauge().GetValue()))
					case mTopVulnImages:
						top = append(top, fmt.Sprintf("%s=%g", l["id"], m.GetGauge().GetValue()))
					}
				}
			}
			series := func(digest string) []string {
				// alpine316Dir against mixedDB: CVE-2025-26519 in musl and musl-utils.
				var out []string
				for _, sev := range store.Severities {
					n := 0
					if sev == "high" {
						n = 2
					}
					out = append(out, fmt.Sprintf("%s/%s=%d", digest, sev, n))
				}
				sort.Strings(out)
				return out
			}
			for _, v := range got {
				sort.Strings(v)
			}
			want := map[string][]string{"app:latest": series(cur), "other:1": series(other)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s by image (-want +got):\n%s", mImageVulns, diff)
			}
			if diff := cmp.Diff([]string{"CVE-2025-26519=2"}, top); diff != "" {
				t.Errorf("%s (-want +got):\n%s", mTopVulnImages, diff)
			}
			if n := len(imageDigests(t, ts)); n != 3 {
				t.Errorf("GET /v1/images = %d digests, want 3 (the API keeps every digest)", n)
			}
		})
	}
}

// imageDigests lists the digests GET /v1/images returns.
func imageDigests(t *testing.T, ts *testServer) []string {
	t.Helper()
	code, body := ts.call(t, "GET", "/v1/images", "")
	var out struct {
		Images []store.ImageResult `json:"images"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &out) != nil {
		t.Fatalf("GET /v1/images = %d %s", code, body)
	}
	var ds []string
	for _, im := range out.Images {
		ds = append(ds, im.Digest)
	}
	sort.Strings(ds)
	return ds
}

// TestRetention: the server prunes at start and then periodically: image
// results not scanned within RetainImages go (from the API and the
// metrics), recent ones and a just-finished job stay. On SQLite and
// PostgreSQL.
func TestRetention(t *testing.T) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			st := openStore(t, d)
			now := time.Now()
			put := func(digest string, at time.Time) {
				t.Helper()
				if err := st.PutImage(ctx, store.ImageResult{Digest: digest, Image: "img-" + digest, Target: "x", ScannedAt: at,
					Counts: map[string]int{"critical": 1}, Report: []byte(`{}`)}); err != nil {
					t.Fatal(err)
				}
			}
			put("sha256:stale", now.Add(-48*time.Hour))
			put("sha256:fresh", now.Add(-time.Hour))
			// An hour-long interval: only the prune at start can remove it.
			ts := startServer(t, Config{Store: st, AdvisoryDB: mixedDB(t), AllowLocalTargets: true,
				RetainImages: 24 * time.Hour, RetainJobs: 24 * time.Hour})
			waitDigests(t, ts, []string{"sha256:fresh"})
			if _, err := st.Image(ctx, "sha256:stale"); err == nil {
				t.Errorf("Image(sha256:stale) after the prune at start: still stored")
			}

			// Periodic: a second server (replica) pruning every 50ms
			// removes a stale result stored later, and keeps a job that
			// just finished and the image it scanned.
			ts2 := startServer(t, Config{Store: st, AdvisoryDB: mixedDB(t), AllowLocalTargets: true,
				RetainImages: 24 * time.Hour, RetainJobs: 24 * time.Hour, PruneInterval: 50 * time.Millisecond})
			digest := ts2.scanNamed(t, "dir:"+alpine316Dir(t), "app:1")
			put("sha256:stale2", now.Add(-25*time.Hour))
			want := []string{digest, "sha256:fresh"}
			sort.Strings(want)
			waitDigests(t, ts2, want)
			counts, err := st.JobCounts(ctx)
			if err != nil || counts[store.StateDone] != 1 {
				t.Errorf("JobCounts() = %v, %v; want the finished job kept", counts, err)
			}
			out, _ := gatherText(t, ts2)
			for _, gone := range []string{"sha256:stale", "sha256:stale2"} {
				if strings.Contains(out, `digest="`+gone+`"`) {
					t.Errorf("/metrics still exports pruned %s", gone)
				}
			}
		})
	}
}

// waitDigests polls GET /v1/images until it lists exactly want.
func waitDigests(t *testing.T, ts *testServer, want []string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := imageDigests(t, ts)
		if cmp.Equal(want, got) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /v1/images digests = %v after 30s, want %v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
