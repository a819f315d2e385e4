package testutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// childEnv marks a test binary run by RunChild.
const childEnv = "LOCKDOWN_TEST_CHILD"

// peakRSSKB is this process's peak resident set (VmHWM of
// /proc/self/status) in KiB. getrusage cannot tell it: Go starts children
// with vfork, so a child's ru_maxrss includes the parent's memory at the
// time of exec.
func peakRSSKB() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("read peak RSS: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("read peak RSS: VmHWM %q: %w", v, err)
			}
			return kb, nil
		}
	}
	return 0, errors.New("read peak RSS: no VmHWM in /proc/self/status")
}

// InChild reports whether this test binary runs as RunChild's child: the
// test then does the measured work and returns. In the child it arranges
// for the process's peak RSS (VmHWM) to be reported to RunChild when the
// test ends.
func InChild(t testing.TB) bool {
	if os.Getenv(childEnv) != "1" {
		return false
	}
	t.Cleanup(func() {
		kb, err := peakRSSKB()
		if err != nil {
			t.Error(err)
			return
		}
		fmt.Printf("%s%d\n", hwmMarker, kb)
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

// Command is what a command run by RunCommand did.
type Command struct {
	Code           int // exit code; -1 when killed by a signal
	Stdout, Stderr []byte
	// MaxRSS is the process's peak resident set in bytes, as it reported
	// it (WritePeakRSS); 0 when it did not.
	MaxRSS  int64
	Elapsed time.Duration
}

// PeakRSSEnv names the file a process run by RunCommand writes its peak
// resident set to before it exits (WritePeakRSS).
const PeakRSSEnv = "LOCKDOWN_TEST_PEAK_RSS_FILE"

// WritePeakRSS writes this process's peak resident set (VmHWM) in bytes to
// the file named by $LOCKDOWN_TEST_PEAK_RSS_FILE, if set: call it at the
// end of a process run by RunCommand (a test binary's TestMain that runs
// a command line instead of the tests).
func WritePeakRSS() {
	path := os.Getenv(PeakRSSEnv)
	if path == "" {
		return
	}
	if kb, err := peakRSSKB(); err == nil {
		os.WriteFile(path, []byte(strconv.FormatInt(kb*1024, 10)), 0o644)
	}
}

// RunCommand runs cmd to its end, capturing its output (unless cmd.Stdout
// or cmd.Stderr are set), and returns its exit code and, when it reports
// it (WritePeakRSS), its peak memory. Only a failure to start it fails the
// test. Unlike RunChild, the command may be any program and may fail.
func RunCommand(t testing.TB, cmd *exec.Cmd) Command {
	t.Helper()
	var out, errb bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &errb
	}
	peak := filepath.Join(t.TempDir(), "peak-rss")
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, PeakRSSEnv+"="+peak)
	start := time.Now()
	err := cmd.Run()
	c := Command{Stdout: out.Bytes(), Stderr: errb.Bytes(), Elapsed: time.Since(start)}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run %s: %v", cmd.Path, err)
	}
	c.Code = cmd.ProcessState.ExitCode()
	if b, err := os.ReadFile(peak); err == nil {
		c.MaxRSS, _ = strconv.ParseInt(string(b), 10, 64)
	}
	return c
}
