package server

import (
	"context"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lockdown-sec/lockdown/internal/netpol/enforce"
	"github.com/lockdown-sec/lockdown/internal/netpol/enforce/lab"
	"github.com/lockdown-sec/lockdown/internal/netpol/load"
	"github.com/lockdown-sec/lockdown/internal/server/store"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// metricValue reads one series' value from /metrics (-1 when absent).
func metricValue(t *testing.T, ts *testServer, series string) float64 {
	t.Helper()
	out, code := gatherText(t, ts)
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("%s: %v", series, err)
	}
	return v
}

// TestEnforceMetrics runs the server with an enforcer (as serve --enforce
// does) over a lab of network namespaces: real packets move the per-rule
// counters on /metrics, and when someone deletes the table the enforcer
// applies it again within its resync period and counts the repair.
func TestEnforceMetrics(t *testing.T) {
	testutil.RequireCmd(t, "nft")
	w := lab.NewWorld(t, lab.Options{BrNetfilter: true})
	testdata := filepath.Join("..", "netpol", "enforce", "testdata")
	res, err := load.Load(context.Background(), []string{filepath.Join(testdata, "world.yaml"), filepath.Join(testdata, "sets", "01-k8s-ingress.yaml")}, nil, load.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := enforce.NewApplier(enforce.Options{NetNS: w.Host.Path, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	e := &enforce.Enforcer{Applier: a, Source: &enforce.FileSource{Objects: res.Objects}, Resync: 300 * time.Millisecond}
	ts := startServer(t, Config{Store: openStore(t, store.SQLite), AdvisoryDB: mixedDB(t), Enforcer: e, PublicMetrics: true})
	waitUntil := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 20s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitUntil("ruleset applied", func() bool {
		st, err := a.Status(context.Background())
		return err == nil && st.Applied && st.Drift == enforce.DriftNone
	})
	allowed := `lockdown_policy_packets_total{action="Allow",policy="shop/knp.default.web-to-api",rule="ingress/0"}`
	denied := `lockdown_policy_packets_total{action="Deny",policy="tier:default",rule="ingress/end-of-tier"}`
	for range 3 {
		if ok, err := w.NS["shop/web"].Try(lab.Probe{Proto: "tcp", Dst: netip.MustParseAddr("10.99.1.11"), Port: 80}); err != nil || !ok {
			t.Fatalf("shop/web -> shop/api:80 = %v, %v; the policy allows it", ok, err)
		}
	}
	if ok, _ := w.NS["shop/web"].Try(lab.Probe{Proto: "tcp", Dst: netip.MustParseAddr("10.99.1.12"), Port: 5432}); ok {
		t.Fatal("shop/web -> shop/db:5432 got through; the policy denies it")
	}
	// Counters are read at most every few seconds.
	waitUntil("the counters on /metrics", func() bool {
		return metricValue(t, ts, allowed) == 3 && metricValue(t, ts, denied) >= 1
	})
	if got := metricValue(t, ts, "lockdown_policy_drift"); got != 0 {
		t.Errorf("lockdown_policy_drift = %v, want 0", got)
	}
	if got := metricValue(t, ts, "lockdown_policy_endpoints"); got != 7 {
		t.Errorf("lockdown_policy_endpoints = %v, want 7", got)
	}
	problems, err := promtest.GatherAndLint(ts.Registry())
	if err != nil || len(problems) != 0 {
		t.Errorf("promlint: %v %+v", err, problems)
	}
	// Someone deletes the table: the enforcer restores it and counts it.
	if out, err := w.Host.Exec("nft", "delete", "table", "inet", "lockdown"); err != nil {
		t.Fatalf("nft delete table: %v %s", err, out)
	}
	waitUntil("the drift repaired", func() bool {
		return metricValue(t, ts, "lockdown_policy_drift_repairs_total") == 1
	})
	if st, err := a.Status(context.Background()); err != nil || !st.Applied || st.Drift != enforce.DriftNone {
		t.Errorf("after the repair: %+v, %v", st, err)
	}
	if ok, _ := w.NS["shop/web"].Try(lab.Probe{Proto: "tcp", Dst: netip.MustParseAddr("10.99.1.12"), Port: 5432}); ok {
		t.Error("shop/web -> shop/db:5432 got through after the repair")
	}
}
