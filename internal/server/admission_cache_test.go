package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/server/store"
)

var (
	digestN = "sha256:" + strings.Repeat("1", 64)
	digestR = "sha256:" + strings.Repeat("2", 64)
)

// reviewImage asks about a restricted pod running image (a dry run: no
// scan is queued for an unknown image).
func (a *admissionServer) reviewImage(t testing.TB, uid, image string) admissionv1.AdmissionResponse {
	t.Helper()
	return a.admit(t, a.pki.client(), review(uid, "CREATE", "Pod", "shop", "p", true, restrictedPod("p", image)))
}

// putResult stores a scan result as another replica sharing the store
// would: this server is not told.
func (a *admissionServer) putResult(t testing.TB, digest, image string, critical int) store.ImageResult {
	t.Helper()
	res := store.ImageResult{Digest: digest, Image: image, Target: "docker:" + image, ScannedAt: time.Now().Truncate(time.Millisecond),
		Counts: map[string]int{"critical": critical, "high": 0, "medium": 0, "low": 0, "unknown": 0}, Report: []byte(`{}`)}
	if err := a.st.PutImage(context.Background(), res); err != nil {
		t.Fatal(err)
	}
	return res
}

// verdictOf summarises a response: "allowed", "unknown" (allowed with the
// no-scan warning) or the denial message.
func verdictOf(resp admissionv1.AdmissionResponse) string {
	switch {
	case !resp.Allowed && resp.Result != nil:
		return resp.Result.Message
	case len(resp.Warnings) == 1 && strings.Contains(resp.Warnings[0], "no scan yet (dry run: no scan queued)"):
		return "unknown"
	case len(resp.Warnings) == 0:
		return "allowed"
	}
	return fmt.Sprintf("allowed with warnings %q", resp.Warnings)
}

// TestAdmissionEquivalentNames: an image scanned under one name is known
// under every name Docker treats as the same image, and by its digest
// under any name; another tag or repository is another image.
func TestAdmissionEquivalentNames(t *testing.T) {
	a := startAdmission(t, Admission{Level: "baseline", FailOn: "critical"}, false)
	nginx := a.putResult(t, digestN, "nginx", 1)            // as `docker images` shows it
	a.putResult(t, digestR, "docker.io/bitnami/redis:7", 0) // fully qualified
	denied := func(image string) string {
		return fmt.Sprintf("lockdown denied Pod shop/p: image %s (%s, scanned %s) has 1 critical vulnerabilities at or above critical",
			image, digestN, nginx.ScannedAt.UTC().Format(time.RFC3339))
	}
	for i, c := range []struct{ image, want string }{
		{"nginx", denied("nginx")},
		{"nginx:latest", denied("nginx:latest")},
		{"library/nginx", denied("library/nginx")},
		{"docker.io/nginx", denied("docker.io/nginx")},
		{"docker.io/library/nginx:latest", denied("docker.io/library/nginx:latest")},
		{"index.docker.io/library/nginx:latest", denied("index.docker.io/library/nginx:latest")},
		{"mirror.example.com/any/name@" + digestN, denied("mirror.example.com/any/name@" + digestN)},
		{"bitnami/redis:7", "allowed"},
		{"index.docker.io/bitnami/redis:7", "allowed"},
		{"bitnami/redis:8@" + digestR, "allowed"}, // the digest, not the tag
		{"nginx:1.25", "unknown"},
		{"redis:7", "unknown"}, // library/redis is not bitnami/redis
		{"ghcr.io/library/nginx", "unknown"},
	} {
		if got := verdictOf(a.reviewImage(t, fmt.Sprint("e", i), c.image)); got != c.want {
			t.Errorf("pod with image %s: %s\n want %s", c.image, got, c.want)
		}
	}
}

// TestImageRef: the canonical reference a scan job's result is stored
// under: the name given, else the image's first tag, else the target
// without its registry: or docker: prefix.
func TestImageRef(t *testing.T) {
	for _, c := range []struct {
		given  string
		tags   []string
		target string
		want   string
	}{
		{"nginx:1.25", nil, "docker:sha256:abc", "docker.io/library/nginx:1.25"},
		{"", []string{"redis:7", "redis:latest"}, "docker:redis:7", "docker.io/library/redis:7"},
		{"", nil, "registry:registry.example.com/shop/api", "registry.example.com/shop/api:latest"},
		{"", nil, "docker:alpine", "docker.io/library/alpine:latest"},
		{"", nil, "bitnami/redis", "docker.io/bitnami/redis:latest"},
		{"", nil, "localhost:5000/app:1", "localhost:5000/app:1"},
		{"", nil, "dir:/srv/rootfs", "dir:/srv/rootfs"},
		{"registry:x/y", nil, "dir:/srv/rootfs", "registry:x/y"}, // a given name is a name, not a target
	} {
		r := &model.Report{Target: &model.Target{RepoTags: c.tags}}
		if got := imageRef(c.given, r, c.target); got != c.want {
			t.Errorf("imageRef(%q, tags %q, %q) = %q, want %q", c.given, c.tags, c.target, got, c.want)
		}
	}
}

// TestAdmissionVerdictCache: verdicts are cached (the store is not read
// again for a known reference); a result stored by another replica is seen
// once the store's version is checked; a scan this server finishes is seen
// at once, without that check.
func TestAdmissionVerdictCache(t *testing.T) {
	a := startAdmission(t, Admission{FailOn: "low"}, false)
	v := a.adm.verdicts
	lookups := func() (cache, st float64) {
		return readCounter(t, a, mAdmissionLookups, "source", "cache"), readCounter(t, a, mAdmissionLookups, "source", "store")
	}
	const late = "registry.example.com/shop/late:1"
	if got := verdictOf(a.reviewImage(t, "v1", late)); got != "unknown" {
		t.Fatalf("before any scan: %s, want unknown", got)
	}
	v.every.Store(int64(time.Hour)) // no version checks from now on
	for i := range 5 {
		if got := verdictOf(a.reviewImage(t, fmt.Sprint("v1-", i), cleanImage)); got != "allowed" {
			t.Fatalf("clean image: %s, want allowed", got)
		}
	}
	if c, s := lookups(); c != 4 || s != 2 {
		t.Errorf("lookups after 1 unknown and 5 clean reviews: cache %v, store %v; want 4, 2", c, s)
	}

	// Another replica stores a result: the cached verdict stands until the
	// version is checked, then the new result decides.
	res := a.putResult(t, digestN, late, 1)
	if got := verdictOf(a.reviewImage(t, "v2", late)); got != "unknown" {
		t.Errorf("cached, before the version check: %s, want unknown (the cached verdict)", got)
	}
	v.every.Store(0)
	want := fmt.Sprintf("lockdown denied Pod shop/p: image %s (%s, scanned %s) has 1 critical vulnerabilities at or above low",
		late, digestN, res.ScannedAt.UTC().Format(time.RFC3339))
	if got := verdictOf(a.reviewImage(t, "v3", late)); got != want {
		t.Errorf("after the version check: %s\n want %s", got, want)
	}

	// This server scans an image: its verdict changes with no version check.
	v.every.Store(int64(time.Hour))
	const local = "registry.example.com/shop/local:2"
	if got := verdictOf(a.reviewImage(t, "v4", local)); got != "unknown" {
		t.Fatalf("before its scan: %s, want unknown", got)
	}
	b, _ := json.Marshal(ScanRequest{Target: "dir:" + alpine316Dir(t), Image: local})
	code, body := a.do(t, a.pki.client(), "POST", "/v1/scans", "Bearer "+testToken, b)
	if code != http.StatusAccepted {
		t.Fatalf("POST /v1/scans = %d %s", code, body)
	}
	var j JobResponse
	json.Unmarshal(body, &j)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got, err := a.st.Job(context.Background(), j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State == store.StateDone || got.State == store.StateFailed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scan %s still %s after 2m", j.ID, got.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The flush follows the job's commit: poll (without it the verdict
	// would stay "unknown" for the hour).
	re := regexp.MustCompile(`^lockdown denied Pod shop/p: image ` + regexp.QuoteMeta(local) +
		` \(path:[0-9a-f]{32}, scanned [0-9TZ:-]+\) has ` + regexp.QuoteMeta(countsText(a.vulnerable.Counts)) + ` vulnerabilities at or above low$`)
	for {
		got := verdictOf(a.reviewImage(t, "v5", local))
		if re.MatchString(got) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after this server's scan: %s, want it to match %s", got, re)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// countsText is how a denial counts findings at or above low.
func countsText(counts map[string]int) string {
	var parts []string
	for _, sev := range store.Severities {
		if n := counts[sev]; n > 0 && sev != "unknown" {
			parts = append(parts, fmt.Sprintf("%d %s", n, sev))
		}
	}
	return strings.Join(parts, ", ")
}

// readCounter is the value of one labelled counter.
func readCounter(t testing.TB, a *admissionServer, name, label, value string) float64 {
	t.Helper()
	mfs, err := a.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{%s=%q}", name, label, value)
	return 0
}

// TestAdmissionQueuesOnePerImage: reviews of an unknown image under
// equivalent names queue one scan, of the name first seen.
func TestAdmissionQueuesOnePerImage(t *testing.T) {
	a := startAdmission(t, Admission{FailOn: "low"}, false)
	warning := func(uid, image string) string {
		t.Helper()
		resp := a.admit(t, a.pki.client(), review(uid, "CREATE", "Pod", "shop", "p", false, restrictedPod("p", image)))
		if !resp.Allowed || len(resp.Warnings) != 1 {
			t.Fatalf("review of %s = %+v, want allowed with one warning", image, resp)
		}
		return resp.Warnings[0]
	}
	first := warning("q1", "registry.example.com/shop/queued")
	if !regexp.MustCompile(`^image registry.example.com/shop/queued: no scan yet; scan [0-9a-f]{32} queued$`).MatchString(first) {
		t.Errorf("first review: warning %q, want a scan queued", first)
	}
	for i, image := range []string{"registry.example.com/shop/queued:latest", "Registry.Example.com/shop/queued"} {
		if got, want := warning(fmt.Sprint("q", i+2), image), "image "+image+": no scan yet; a scan is queued"; got != want {
			t.Errorf("review of %s: warning %q, want %q", image, got, want)
		}
	}
	if got := promtest.ToFloat64(a.adm.m.queued); got != 1 {
		t.Errorf("%s = %v, want 1", mAdmissionQueued, got)
	}
}
