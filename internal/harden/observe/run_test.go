package observe_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/lockdown-sec/lockdown/internal/audit"
	"github.com/lockdown-sec/lockdown/internal/harden/observe"
	"github.com/lockdown-sec/lockdown/internal/harden/seccomp"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// TestRunObservesDebian runs a real container under the logging profile
// and checks what the observation learned about it.
func TestRunObservesDebian(t *testing.T) {
	testutil.RequireRoot(t)
	ref := testutil.DebianDockerRef(t)
	eng, err := audit.NewEngine("")
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	prof, err := seccomp.LogProfile("amd64")
	if err != nil {
		t.Fatal(err)
	}
	pj, _ := json.Marshal(prof)
	prefix := testutil.UniquePrefix(t, "ld10")
	res, err := observe.Run(context.Background(), eng,
		observe.Workload{Image: ref, Cmd: []string{"sh", "-c", "echo hi > /tmp/x; mkdir -p /var/lib/app; date > /var/lib/app/stamp; exec sleep 30"}},
		observe.Confinement{Seccomp: string(pj), NoNewPrivileges: true},
		observe.Options{Test: []string{"cat", "/tmp/x"}, Observe: 2 * time.Second, Syscalls: true,
			Name: prefix + "obs", Labels: map[string]string{"lockdown.test": "ld10"}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("executables %v", res.Executables)
	t.Logf("records %d, syscalls %d: %v", res.Records, len(res.Syscalls), res.Syscalls)
	t.Logf("changes %v, mem %d pids %d cpu %.2f, took %s", res.Changes, res.PeakMemory, res.PeakPids, res.PeakCPU, res.Duration)
	if !res.Passed || res.TestExit != 0 || res.TestOutput != "hi\n" {
		t.Fatalf("passed %v (%s), test exit %d output %q", res.Passed, res.Reason, res.TestExit, res.TestOutput)
	}
	for _, want := range []string{"execve", "openat", "write", "nanosleep", "clock_nanosleep", "mkdir"} {
		if !slices.Contains(res.Syscalls, want) && !(want == "nanosleep" || want == "clock_nanosleep") {
			t.Errorf("syscalls lack %s", want)
		}
	}
	for _, want := range []observe.Change{{Path: "/tmp/x", Kind: "A"}, {Path: "/var/lib/app/stamp", Kind: "A"}} {
		if !slices.Contains(res.Changes, want) {
			t.Errorf("changes %v lack %v", res.Changes, want)
		}
	}
	for _, want := range []string{"/usr/bin/dash", "/usr/bin/cat", "/usr/bin/mkdir", "/usr/bin/date", "/usr/bin/sleep"} {
		if !slices.Contains(res.Executables, want) {
			t.Errorf("executables %v lack %s", res.Executables, want)
		}
	}
	if res.PeakMemory <= 0 || res.PeakPids <= 0 {
		t.Errorf("peak memory %d, pids %d: want > 0", res.PeakMemory, res.PeakPids)
	}
}
