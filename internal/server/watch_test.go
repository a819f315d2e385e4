package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/server/store"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// hookSink is a webhook receiver on 127.0.0.1 that verifies signatures.
type hookSink struct {
	secret []byte
	mu     sync.Mutex
	notes  []Notification
	bad    []string
	fail   atomic.Int32 // answer 500 to this many requests first
	hits   atomic.Int32
}

func (h *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.hits.Add(1)
	body, _ := io.ReadAll(r.Body)
	if h.fail.Add(-1) >= 0 {
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !Verify(h.secret, body, r.Header.Get(SignatureHeader)) || r.Header.Get("Content-Type") != "application/json" {
		h.bad = append(h.bad, r.Header.Get(SignatureHeader))
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var n Notification
	if err := json.Unmarshal(body, &n); err != nil {
		h.bad = append(h.bad, err.Error())
		return
	}
	h.notes = append(h.notes, n)
}

func (h *hookSink) received() []Notification {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Notification(nil), h.notes...)
}

// TestNotifier: a delivery is signed (the receiver verifies the HMAC),
// retried after 5xx answers, counted once by its final result; a redirect
// is not followed (nothing reaches the other host); a wrong secret fails.
func TestNotifier(t *testing.T) {
	secret := []byte("s3cret")
	note := Notification{Event: EventNewFindings, Image: "app:1", Digest: "sha256:ab", Containers: []string{"web"},
		Findings: []model.Finding{{Kind: model.KindVulnerability, RuleID: "CVE-2025-26519", Severity: model.SeverityHigh}}}
	newN := func(t *testing.T, u string, secret []byte) (*Notifier, *prometheus.CounterVec) {
		n, err := NewNotifier(u, secret, NotifierOptions{Backoff: 10 * time.Millisecond, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		n.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"result"})
		return n, n.deliveries
	}
	t.Run("signed, retried", func(t *testing.T) {
		sink := &hookSink{secret: secret}
		sink.fail.Store(2)
		srv := httptest.NewServer(sink)
		defer srv.Close()
		n, c := newN(t, srv.URL+"/hook", secret)
		if err := n.Send(context.Background(), note); err != nil {
			t.Fatalf("Send = %v", err)
		}
		if got := sink.received(); len(got) != 1 || !cmp.Equal(got[0], note) || sink.hits.Load() != 3 {
			t.Errorf("received %+v after %d requests, want the note after 3", got, sink.hits.Load())
		}
		if s, e := promtest.ToFloat64(c.WithLabelValues("success")), promtest.ToFloat64(c.WithLabelValues("error")); s != 1 || e != 0 {
			t.Errorf("deliveries success=%v error=%v, want 1 0", s, e)
		}
	})
	t.Run("gives up after 3 attempts", func(t *testing.T) {
		sink := &hookSink{secret: secret}
		sink.fail.Store(10)
		srv := httptest.NewServer(sink)
		defer srv.Close()
		n, c := newN(t, srv.URL, secret)
		if err := n.Send(context.Background(), note); err == nil || sink.hits.Load() != 3 {
			t.Errorf("Send = %v after %d requests, want an error after 3", err, sink.hits.Load())
		}
		if e := promtest.ToFloat64(c.WithLabelValues("error")); e != 1 {
			t.Errorf("deliveries error = %v, want 1", e)
		}
	})
	t.Run("wrong secret is refused by the receiver", func(t *testing.T) {
		sink := &hookSink{secret: secret}
		srv := httptest.NewServer(sink)
		defer srv.Close()
		n, _ := newN(t, srv.URL, []byte("other"))
		if err := n.Send(context.Background(), note); err == nil || len(sink.received()) != 0 || len(sink.bad) != 1 {
			t.Errorf("Send with a wrong secret = %v, received %d, bad %d; want 401 error, 0, 1", err, len(sink.received()), len(sink.bad))
		}
	})
	t.Run("redirects are not followed", func(t *testing.T) {
		other := &hookSink{secret: secret}
		otherSrv := httptest.NewServer(other)
		defer otherSrv.Close()
		redir := httptest.NewServer(http.RedirectHandler(otherSrv.URL, http.StatusTemporaryRedirect))
		defer redir.Close()
		n, _ := newN(t, redir.URL, secret)
		if err := n.Send(context.Background(), note); err == nil || other.hits.Load() != 0 {
			t.Errorf("Send to a redirect = %v, other host hit %d times; want an error and 0", err, other.hits.Load())
		}
	})
	for _, u := range []string{"ftp://x/y", "http://", "::"} {
		if _, err := NewNotifier(u, secret, NotifierOptions{}); err == nil {
			t.Errorf("NewNotifier(%q) = nil error", u)
		}
	}
}

// TestWatch: watch mode against the real Docker engine. A running Alpine
// 3.20.3 container is scanned with an advisory DB that has no Alpine
// records (no findings, no webhook); then the DB file is replaced (as
// `lockdown db update` does) by one with ALPINE-CVE-2025-26519; the
// watcher notices the new build, rescans, and POSTs the two new findings,
// signed, naming the container; the container metric follows.
func TestWatch(t *testing.T) {
	testutil.RequireDocker(t)
	tag := testutil.AlpineImage(t, "lockdown-test/alpine:3.20.3")
	name := testutil.UniquePrefix(t, "lockdown-watch") + "c"
	testutil.RunContainer(t, name, "--network", "none", tag, "sleep", "600")
	imageID := testutil.Docker(t, "image", "inspect", "--format", "{{.Id}}", tag)

	dir := t.TempDir()
	dbPath := filepath.Join(dir, "advisories.db")
	copyFile(t, advisoryDBFile(t, "osv/crates.io.zip"), dbPath)

	secret := []byte("watch-secret")
	sink := &hookSink{secret: secret}
	hook := httptest.NewServer(sink)
	defer hook.Close()

	st := openStore(t, store.SQLite)
	ts := startServer(t, Config{Store: st, AdvisoryDB: dbPath, Watch: true, WatchInterval: time.Second,
		WebhookURL: hook.URL + "/notify", WebhookSecret: secret})

	// First pass: scanned, no findings, no notification.
	waitUntil(t, "first scan of the running image", func() bool {
		im, err := st.Image(context.Background(), imageID)
		return err == nil && im.Counts["unknown"]+im.Counts["low"]+im.Counts["medium"]+im.Counts["high"]+im.Counts["critical"] == 0
	})
	waitUntil(t, "container metric", func() bool {
		out, _ := gatherText(t, ts)
		return strings.Contains(out, `lockdown_container_vulnerabilities{container="`+name+`",image="`+tag+`",severity="unknown"} 0`)
	})
	if _, _, err := st.LatestAudit(context.Background()); err != nil {
		t.Errorf("watch mode stored no audit: %v", err)
	}

	// The DB is updated: a new file renamed into place.
	copyFile(t, mixedDB(t), dbPath+".new")
	if err := os.Rename(dbPath+".new", dbPath); err != nil {
		t.Fatal(err)
	}
	var got Notification
	waitUntil(t, "webhook for the new findings", func() bool {
		for _, n := range sink.received() {
			if n.Digest == imageID {
				got = n
				return true
			}
		}
		return false
	})
	if got.Event != EventNewFindings || got.Image != tag || !cmp.Equal(got.Containers, []string{name}) {
		t.Errorf("notification = event %q image %q containers %v, want %q %q [%s]", got.Event, got.Image, got.Containers, EventNewFindings, tag, name)
	}
	if diff := cmp.Diff([]string{"musl CVE-2025-26519", "musl-utils CVE-2025-26519"}, findingIDs(model.Report{Findings: got.Findings})); diff != "" {
		t.Errorf("notified findings (-want +got):\n%s", diff)
	}
	if len(sink.bad) != 0 {
		t.Errorf("receiver refused %d deliveries: %v", len(sink.bad), sink.bad)
	}
	waitUntil(t, "container metric after the rescan", func() bool {
		out, _ := gatherText(t, ts)
		var n float64
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, `lockdown_container_vulnerabilities{container="`+name+`"`) {
				v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
				if err != nil {
					t.Fatalf("metric line %q: %v", line, err)
				}
				n += v
			}
		}
		return n == 2
	})
	// Another pass with the same DB build sends nothing more for the image.
	time.Sleep(2500 * time.Millisecond)
	count := 0
	for _, n := range sink.received() {
		if n.Digest == imageID {
			count++
		}
	}
	if count != 1 {
		t.Errorf("notifications for the image = %d, want 1", count)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
