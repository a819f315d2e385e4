package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/audit"
	"github.com/lockdown-sec/lockdown/internal/cli"
	"github.com/lockdown-sec/lockdown/internal/harden/daemon"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

func auditDaemon(t *testing.T, d *testutil.Dockerd) map[string]model.Finding {
	t.Helper()
	eng, err := audit.NewEngine(d.Host())
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	rep, err := audit.Run(context.Background(), audit.Config{Engine: eng, Include: []string{"daemon"}, HostChecks: audit.HostOn})
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	out := map[string]model.Finding{}
	for _, f := range rep.Findings {
		out[f.RuleID] = f
	}
	return out
}

// TestApplyToSecondDaemon hardens a real second dockerd started with an
// unsafe daemon.json, applies the result, restarts the daemon with it and
// audits it again: every check the hardening addresses passes.
func TestApplyToSecondDaemon(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireDocker(t)
	testutil.RequireCmd(t, "unshare", "ip")
	d := testutil.NewDockerd(t, "--config-file", "DIR/daemon.json")
	dir := d.Dir
	cfgPath := filepath.Join(dir, "daemon.json")
	unsafe := map[string]any{
		"hosts": []string{"unix://" + d.Sock, "tcp://127.0.0.1:2375"},
		"debug": true, "log-level": "debug", "icc": true, "storage-driver": "overlay2",
	}
	b, _ := json.MarshalIndent(unsafe, "", "  ")
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	d.Start(t)

	before := auditDaemon(t, d)
	for _, id := range []string{"LD-DKR-110", "LD-DKR-111", "LD-DKR-113", "LD-DKR-115", "LD-DKR-116", "LD-DKR-117", "LD-DKR-118", "LD-DKR-124"} {
		if f := before[id]; f.Status != model.StatusFail {
			t.Errorf("before: %s = %s (%s), want FAIL", id, f.Status, f.Evidence)
		}
	}

	var stdout, stderr bytes.Buffer
	args := []string{"harden", "daemon", "--apply", "--config", cfgPath, "--docker-host", d.Host(), "--pidfile", filepath.Join(d.Dir, "pid"), "--format", "json"}
	if code := cli.Run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("lockdown %s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
	}
	var r daemon.Result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("result: %v\n%s", err, stdout.String())
	}
	t.Logf("checks addressed: %v; withheld: %v", r.Checks, r.Withheld)
	if bak, err := os.ReadFile(cfgPath + ".lockdown-backup"); err != nil || !bytes.Equal(bak, b) {
		t.Errorf("backup: %v, content equal to the old file: %v", err, bytes.Equal(bak, b))
	}
	written, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(written, &cfg); err != nil {
		t.Fatalf("written daemon.json: %v", err)
	}
	if cfg["storage-driver"] != "overlay2" || cfg["icc"] != false || cfg["no-new-privileges"] != true {
		t.Errorf("written daemon.json %s", written)
	}

	d.Stop(t)
	d.Start(t)
	after := auditDaemon(t, d)
	for _, id := range r.Checks {
		if f := after[id]; f.Status != model.StatusPass {
			t.Errorf("after: %s = %s (%s), want PASS", id, f.Status, f.Evidence)
		}
	}
	if len(r.Checks) < 8 {
		t.Errorf("%d checks addressed (%v), want at least 8", len(r.Checks), r.Checks)
	}

	// A configuration dockerd refuses is not written.
	bad := map[string]any{"hosts": []string{"unix://" + d.Sock}, "default-runtime": "no-such-runtime"}
	bb, _ := json.Marshal(bad)
	refused := filepath.Join(dir, "refused.json")
	if err := os.WriteFile(refused, bb, 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	args = []string{"harden", "daemon", "--apply", "--config", refused, "--docker-host", d.Host(), "--pidfile", filepath.Join(d.Dir, "pid")}
	if code := cli.Run(context.Background(), args, &stdout, &stderr); code != 2 {
		t.Errorf("refused config: exit %d, want 2\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "lockdown: "+refused+" not written: dockerd refuses the configuration: the throwaway dockerd exited") {
		t.Errorf("stderr = %q", stderr.String())
	}
	if got, _ := os.ReadFile(refused); !bytes.Equal(got, bb) {
		t.Errorf("refused config was changed: %s", got)
	}
	if _, err := os.Stat(refused + ".lockdown-backup"); err == nil {
		t.Errorf("a backup was written for a refused config")
	}
}
