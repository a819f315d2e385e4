package enforce_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/netpol"
	"github.com/lockdown-sec/lockdown/internal/netpol/enforce"
	"github.com/lockdown-sec/lockdown/internal/netpol/enforce/lab"
	"github.com/lockdown-sec/lockdown/internal/netpol/load"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// loadFiles builds the world and the given policy sets.
func loadFiles(t testing.TB, paths ...string) *netpol.Config {
	t.Helper()
	res, err := load.Load(context.Background(), paths, nil, load.Options{})
	if err != nil {
		t.Fatalf("load %v: %v", paths, err)
	}
	cfg, err := netpol.Build(res.Objects, nil)
	if err != nil {
		t.Fatalf("build %v: %v", paths, err)
	}
	return cfg
}

func sets(t testing.TB) []string {
	t.Helper()
	s, err := filepath.Glob(filepath.Join("testdata", "sets", "*.yaml"))
	if err != nil || len(s) == 0 {
		t.Fatalf("testdata/sets: %v", err)
	}
	return s
}

// allSets is one config with every policy set of testdata at once (the
// sets' policies have distinct names).
func allSets(t testing.TB) *netpol.Config {
	return loadFiles(t, append([]string{filepath.Join("testdata", "world.yaml")}, sets(t)...)...)
}

func applier(t testing.TB, ns *lab.NS, mode enforce.BridgeMode) *enforce.Applier {
	t.Helper()
	a, err := enforce.NewApplier(enforce.Options{NetNS: ns.Path, StateDir: t.TempDir(), Bridge: mode})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// TestTextEqualsNetlink proves the --dry-run text and the netlink batch
// are the same ruleset: nft loads the text (after `nft -c -f` checks it)
// in one namespace, Apply sends the batch in another, and `nft list
// ruleset` prints the same in both — every chain, rule, set and element.
func TestTextEqualsNetlink(t *testing.T) {
	testutil.RequireCmd(t, "nft")
	l := lab.New(t, lab.Options{BrNetfilter: true})
	other := lab.New(t, lab.Options{BrNetfilter: true})
	cfg := allSets(t)
	for _, bridge := range []bool{false, true} {
		rs, err := enforce.Compile(cfg, enforce.CompileOptions{Bridge: bridge})
		if err != nil {
			t.Fatal(err)
		}
		text := filepath.Join(t.TempDir(), "ruleset.nft")
		if err := os.WriteFile(text, []byte(rs.Text()), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := other.Host.Exec("nft", "-c", "-f", text); err != nil {
			t.Fatalf("nft -c -f (bridge %v): %v\n%s", bridge, err, out)
		}
		if out, err := other.Host.Exec("nft", "-f", text); err != nil {
			t.Fatalf("nft -f (bridge %v): %v\n%s", bridge, err, out)
		}
		mode := enforce.BridgeNetfilter
		if bridge {
			mode = enforce.BridgeFamily
		}
		if _, err := applier(t, l.Host, mode).Apply(context.Background(), rs); err != nil {
			t.Fatal(err)
		}
		fromText, err := other.Host.Exec("nft", "list", "ruleset")
		if err != nil {
			t.Fatal(err)
		}
		fromNetlink, err := l.Host.Exec("nft", "list", "ruleset")
		if err != nil {
			t.Fatal(err)
		}
		if os.Getenv("LD9_DUMP") != "" {
			os.WriteFile("/tmp/ld9-text.txt", []byte(fromText), 0o644)
			os.WriteFile("/tmp/ld9-netlink.txt", []byte(fromNetlink), 0o644)
		}
		if fromText != fromNetlink {
			t.Errorf("bridge %v: nft list ruleset differs between the text and the netlink batch:\n--- text\n%s\n--- netlink\n%s", bridge, fromText, fromNetlink)
		}
		c := rs.Counts()
		if got := strings.Count(fromNetlink, "\tchain "); got != c.Chains {
			t.Errorf("bridge %v: %d chains listed, compiled %d", bridge, got, c.Chains)
		}
		if got := strings.Count(fromNetlink, "\tset ") + strings.Count(fromNetlink, "\tmap "); got != c.Sets {
			t.Errorf("bridge %v: %d sets listed, compiled %d", bridge, got, c.Sets)
		}
		t.Logf("bridge %v: %s", bridge, c)
	}
}

// TestApplyIdempotentAndDrift applies the same ruleset twice (the second
// time nothing changes: same handles, counters kept), then edits and
// deletes the table behind Lockdown's back: status reports each drift,
// and Apply restores the table.
func TestApplyIdempotentAndDrift(t *testing.T) {
	testutil.RequireCmd(t, "nft")
	l := lab.New(t, lab.Options{BrNetfilter: true})
	ctx := context.Background()
	a := applier(t, l.Host, enforce.BridgeAuto)
	rs, err := a.Compile(allSets(t))
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Apply(ctx, rs)
	if err != nil || !res.Changed {
		t.Fatalf("first Apply = %+v, %v; want changed", res, err)
	}
	before, _ := l.Host.Exec("nft", "-a", "list", "ruleset")
	res, err = a.Apply(ctx, rs)
	if err != nil || res.Changed {
		t.Fatalf("second Apply = %+v, %v; want unchanged", res, err)
	}
	after, _ := l.Host.Exec("nft", "-a", "list", "ruleset")
	if before != after {
		t.Errorf("a second apply of the same ruleset changed the table (handles):\n%s\n---\n%s", before, after)
	}
	st, err := a.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Applied || st.Drift != enforce.DriftNone || st.State == nil || st.State.Digest != rs.Digest {
		t.Fatalf("status after apply = applied %v drift %q state %+v", st.Applied, st.Drift, st.State)
	}
	if st.Counts.Rules != rs.Counts().Rules || st.Counts.Chains != rs.Counts().Chains {
		t.Errorf("status counts %s, compiled %s", st.Counts, rs.Counts())
	}
	// Someone adds a rule to our table.
	if out, err := l.Host.Exec("nft", "add", "rule", "inet", "lockdown", "lockdown", "counter"); err != nil {
		t.Fatalf("nft add rule: %v %s", err, out)
	}
	if st, _ := a.Status(ctx); st.Drift != enforce.DriftEdited {
		t.Errorf("status after an edit: drift %q, want %q", st.Drift, enforce.DriftEdited)
	}
	// Someone adds an element to one of our sets.
	if _, err := a.Apply(ctx, rs); err != nil {
		t.Fatal(err)
	}
	if st, _ := a.Status(ctx); st.Drift != enforce.DriftNone {
		t.Fatalf("status after re-apply: drift %q", st.Drift)
	}
	if out, err := l.Host.Exec("nft", "add", "element", "inet", "lockdown", setNamed(t, rs, "sel/", "-4"), "{ 192.0.2.1 }"); err != nil {
		t.Fatalf("nft add element: %v %s", err, out)
	}
	if st, _ := a.Status(ctx); st.Drift != enforce.DriftEdited {
		t.Errorf("status after a set edit: drift %q, want %q", st.Drift, enforce.DriftEdited)
	}
	// Someone deletes the table.
	if out, err := l.Host.Exec("nft", "delete", "table", "inet", "lockdown"); err != nil {
		t.Fatalf("nft delete table: %v %s", err, out)
	}
	if st, _ := a.Status(ctx); st.Drift != enforce.DriftDeleted || st.Applied {
		t.Errorf("status after delete: applied %v drift %q, want %q", st.Applied, st.Drift, enforce.DriftDeleted)
	}
	if res, err := a.Apply(ctx, rs); err != nil || !res.Changed {
		t.Fatalf("Apply after delete = %+v, %v", res, err)
	}
	if st, _ := a.Status(ctx); st.Drift != enforce.DriftNone {
		t.Errorf("status after restoring: drift %q", st.Drift)
	}
}

// TestRemoveOnlyOurs removes Lockdown's tables and nothing else: another
// table in the namespace, even one named alike in another family, stays.
func TestRemoveOnlyOurs(t *testing.T) {
	testutil.RequireCmd(t, "nft")
	l := lab.New(t, lab.Options{BrNetfilter: false})
	ctx := context.Background()
	for _, cmd := range [][]string{
		{"nft", "add", "table", "ip", "lockdown"},
		{"nft", "add", "table", "inet", "other"},
		{"nft", "add", "chain", "inet", "other", "c", "{ type filter hook forward priority 0; policy accept; }"},
	} {
		if out, err := l.Host.Exec(cmd...); err != nil {
			t.Fatalf("%v: %v %s", cmd, err, out)
		}
	}
	a := applier(t, l.Host, enforce.BridgeAuto)
	if !a.BridgeTable() {
		t.Fatalf("br_netfilter is off in the lab: want a bridge table")
	}
	rs, err := a.Compile(allSets(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Apply(ctx, rs); err != nil {
		t.Fatal(err)
	}
	removed, err := a.Remove(ctx)
	if err != nil || !removed {
		t.Fatalf("Remove = %v, %v", removed, err)
	}
	out, _ := l.Host.Exec("nft", "list", "tables")
	if got, want := strings.TrimSpace(out), "table ip lockdown\ntable inet other"; got != want {
		t.Errorf("tables after remove:\n%s\nwant\n%s", got, want)
	}
	if removed, err := a.Remove(ctx); err != nil || removed {
		t.Errorf("second Remove = %v, %v; want false, nil", removed, err)
	}
	if st, err := a.Status(ctx); err != nil || st.Applied || st.Drift != enforce.DriftNotFound {
		t.Errorf("status after remove = %+v, %v", st, err)
	}
}

// TestCompileErrors: an endpoint without an address and an address shared
// by two endpoints cannot be enforced.
func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"no address", "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x}\n",
			"test.yaml:1: endpoint x/a has no IP address: Lockdown enforces by address"},
		{"shared address", "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x}\nstatus: {podIP: 10.0.0.1}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: x}\nstatus: {podIP: 10.0.0.1}\n",
			"test.yaml:6: address 10.0.0.1 belongs to both x/a and x/b"},
		{"host endpoint by interface only", "apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: h}\nspec: {interfaceName: eth0}\n",
			"test.yaml:1: endpoint h has no IP address: Lockdown enforces by address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := enforce.Compile(buildYAML(t, tc.yaml), enforce.CompileOptions{})
			if err == nil || err.Error() != tc.want {
				t.Errorf("Compile error = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := enforce.Compile(buildYAML(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n"), enforce.CompileOptions{Table: "bad name"}); err == nil {
		t.Errorf("Compile with table %q succeeded", "bad name")
	}
}

func buildYAML(t testing.TB, text string) *netpol.Config {
	t.Helper()
	objs, _, err := load.Parse("test.yaml", []byte(text), load.Options{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	cfg, err := netpol.Build(objs, nil)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return cfg
}

// TestDryRunIsDeterministic: the same inputs compile to the same text.
func TestDryRunIsDeterministic(t *testing.T) {
	var first []byte
	for range 3 {
		rs, err := enforce.Compile(allSets(t), enforce.CompileOptions{Bridge: true})
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = []byte(rs.Text())
			continue
		}
		if !bytes.Equal(first, []byte(rs.Text())) {
			t.Fatal("two compiles of the same inputs differ")
		}
	}
}

// TestUpdateSetsOnly: a new endpoint like an existing one changes only set
// elements — rules keep their handles and counters — and the record
// matches the kernel afterwards (no drift); a deleted table makes the
// update apply it whole.
func TestUpdateSetsOnly(t *testing.T) {
	testutil.RequireCmd(t, "nft")
	l := lab.New(t, lab.Options{BrNetfilter: true})
	ctx := context.Background()
	a := applier(t, l.Host, enforce.BridgeAuto)
	world := filepath.Join("testdata", "world.yaml")
	set := filepath.Join("testdata", "sets", "01-k8s-ingress.yaml")
	extra := filepath.Join(t.TempDir(), "extra.yaml")
	if err := os.WriteFile(extra, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: api2, namespace: shop, labels: {app: api}}\nspec:\n  containers:\n  - name: c\n    ports:\n    - {name: http, containerPort: 80}\n    - {name: grpc, containerPort: 9090}\n    - {name: dns, containerPort: 53, protocol: UDP}\nstatus: {podIP: 10.99.1.21}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	prev, err := a.Compile(loadFiles(t, world, set))
	if err != nil {
		t.Fatal(err)
	}
	next, err := a.Compile(loadFiles(t, world, set, extra))
	if err != nil {
		t.Fatal(err)
	}
	if prev.StructDigest != next.StructDigest || prev.Digest == next.Digest {
		t.Fatalf("a replica of shop/api should change set elements only")
	}
	if _, err := a.Apply(ctx, prev); err != nil {
		t.Fatal(err)
	}
	chains := func() string {
		out, err := l.Host.Exec("nft", "-a", "list", "chains", "inet")
		if err != nil {
			t.Fatal(err)
		}
		rules, _ := l.Host.Exec("nft", "-a", "list", "chain", "inet", "lockdown", "in-policy/shop/knp.default.web-to-api")
		return out + rules
	}
	before := chains()
	kind, err := a.Update(ctx, prev, next)
	if err != nil || kind != enforce.UpdateSets {
		t.Fatalf("Update = %q, %v; want %q", kind, err, enforce.UpdateSets)
	}
	if after := chains(); after != before {
		t.Errorf("a sets-only update changed chains or rule handles:\n%s\n---\n%s", before, after)
	}
	if out, _ := l.Host.Exec("nft", "list", "map", "inet", "lockdown", setNamed(t, next, "ep-in4.", "")); !strings.Contains(out, "10.99.1.21 : jump in/") {
		t.Errorf("ep-in4 lacks the new endpoint:\n%s", out)
	}
	st, err := a.Status(ctx)
	if err != nil || st.Drift != enforce.DriftNone || st.State.Digest != next.Digest {
		t.Fatalf("status after the update: drift %q, err %v", st.Drift, err)
	}
	if kind, err := a.Update(ctx, next, next); err != nil || kind != enforce.UpdateUnchanged {
		t.Errorf("Update to the same ruleset = %q, %v; want %q", kind, err, enforce.UpdateUnchanged)
	}
	if out, err := l.Host.Exec("nft", "delete", "table", "inet", "lockdown"); err != nil {
		t.Fatalf("nft delete table: %v %s", err, out)
	}
	if kind, err := a.Update(ctx, next, prev); err != nil || kind != enforce.UpdateApplied {
		t.Errorf("Update after the table was deleted = %q, %v; want %q", kind, err, enforce.UpdateApplied)
	}
	if st, err := a.Status(ctx); err != nil || st.Drift != enforce.DriftNone {
		t.Errorf("status after re-applying: %+v, %v", st, err)
	}
}

// setNamed is the name of the first set of rs's inet table whose name has
// the prefix and suffix.
func setNamed(t *testing.T, rs *enforce.Ruleset, prefix, suffix string) string {
	t.Helper()
	for _, s := range rs.Tables[0].Sets {
		if strings.HasPrefix(s.Name, prefix) && strings.HasSuffix(s.Name, suffix) {
			return s.Name
		}
	}
	t.Fatalf("no set %s…%s in the ruleset", prefix, suffix)
	return ""
}
