package startgc

import (
	"math"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// settings reads the collector's percent and limit without changing them.
func settings() (int, int64) {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p, debug.SetMemoryLimit(-1)
}

func TestFirstCollectionRestoresDefaults(t *testing.T) {
	if !active {
		if p, _ := settings(); p == -1 {
			t.Fatal("GOGC or GOMEMLIMIT is set, yet the collector was turned off")
		}
		t.Skip("GOGC or GOMEMLIMIT is set: the collector is left alone (checked)")
	}
	if Restored() {
		t.Skip("a collection already ran before the test (GOGC or GOMEMLIMIT set, or a big test binary)")
	}
	if p, l := settings(); p != -1 || l != FirstCollection {
		t.Fatalf("before the first collection: GOGC=%d limit=%d, want off and %d", p, l, FirstCollection)
	}
	runtime.GC()
	deadline := time.Now().Add(10 * time.Second)
	for !Restored() {
		if time.Now().After(deadline) {
			t.Fatal("the first collection did not restore the defaults")
		}
		time.Sleep(time.Millisecond)
	}
	if p, l := settings(); p != 100 || l != math.MaxInt64 {
		t.Fatalf("after the first collection: GOGC=%d limit=%d, want 100 and no limit", p, l)
	}
}

// An explicit GOGC or GOMEMLIMIT leaves the collector alone: the test
// binary runs itself with each, and the check above must take its
// "left alone" branch.
func TestEnvironmentLeavesItAlone(t *testing.T) {
	for _, env := range []string{"GOGC=50", "GOMEMLIMIT=1GiB"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFirstCollectionRestoresDefaults$", "-test.v")
		cmd.Env = append(os.Environ(), env)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", env, err, out)
		}
		if !strings.Contains(string(out), "the collector is left alone (checked)") {
			t.Errorf("%s: the collector was not left alone:\n%s", env, out)
		}
	}
}
