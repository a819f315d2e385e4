package testutil

import (
	"bufio"
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

// Child is what a child process run by RunChild did.
type Child struct {
	Code           int // exit code; -1 when killed by a signal
	Stdout, Stderr []byte
	// MaxRSS is the child's peak resident set in bytes, as it reported it
	// (WritePeakRSS); 0 when it did not.
	MaxRSS  int64
	Elapsed time.Duration
}

// PeakRSSEnv names the file a child writes its peak resident set to
// before it exits (WritePeakRSS). getrusage cannot tell it: Go starts
// children with vfork, so a child's ru_maxrss includes the parent's
// memory at the time of exec.
const PeakRSSEnv = "LOCKDOWN_TEST_PEAK_RSS_FILE"

// WritePeakRSS writes this process's peak resident set (VmHWM of
// /proc/self/status) to the file named by $LOCKDOWN_TEST_PEAK_RSS_FILE,
// if set: call it at the end of a child process run by RunChild.
func WritePeakRSS() {
	path := os.Getenv(PeakRSSEnv)
	if path == "" {
		return
	}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				os.WriteFile(path, []byte(fmt.Sprint(kb*1024)), 0o644)
			}
			return
		}
	}
}

// RunChild runs cmd to its end, capturing its output (unless cmd.Stdout or
// cmd.Stderr are set), and returns its exit code and, when the child
// reports it (WritePeakRSS), its peak memory. Only a failure to start it
// fails the test.
func RunChild(t testing.TB, cmd *exec.Cmd) Child {
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
	c := Child{Stdout: out.Bytes(), Stderr: errb.Bytes(), Elapsed: time.Since(start)}
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
