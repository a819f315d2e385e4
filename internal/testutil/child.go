package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// childEnv marks a test binary run by RunChild.
const childEnv = "LOCKDOWN_TEST_CHILD"

// InChild reports whether this test binary runs as RunChild's child: the
// test then does the measured work and returns. In the child it arranges
// for the process's peak RSS (VmHWM) to be reported to RunChild when the
// test ends.
func InChild(t testing.TB) bool {
	if os.Getenv(childEnv) != "1" {
		return false
	}
	t.Cleanup(func() {
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			t.Errorf("read peak RSS: %v", err)
			return
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				fmt.Printf("%s%s\n", hwmMarker, strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			}
		}
	})
	return true
}

// hwmMarker starts the line a child prints with its peak RSS in KiB.
const hwmMarker = "LOCKDOWN_CHILD_VMHWM_KB="

// RunChild runs the current top-level test again in a child process (the
// same test binary, -test.run naming only that test; called from a subtest,
// the child runs the top-level test) with env added, and returns the
// child's peak resident set size in bytes (VmHWM: the wait4 figure would
// include the parent's, whose memory the child shares until exec) and its
// output. The child sees
// InChild() == true and does its measured work. A child that fails fails
// the test, with its output.
func RunChild(t testing.TB, env ...string) (maxRSS int64, output string) {
	t.Helper()
	name, _, _ := strings.Cut(t.Name(), "/")
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1", "-test.v")
	cmd.Env = append(append(os.Environ(), childEnv+"=1"), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %s: %v\n%s", name, err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("child %s did not run the test:\n%s", name, out)
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, hwmMarker); ok {
			kb, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("child %s: peak RSS %q: %v", name, v, err)
			}
			return kb << 10, string(out)
		}
	}
	t.Fatalf("child %s reported no peak RSS:\n%s", name, out)
	return 0, ""
}
