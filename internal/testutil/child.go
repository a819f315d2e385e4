package testutil

import (
	"bytes"
	"errors"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Child is what a child process run by RunChild did.
type Child struct {
	Code           int // exit code; -1 when killed by a signal
	Stdout, Stderr []byte
	// MaxRSS is the peak resident set of the process in bytes
	// (getrusage's ru_maxrss).
	MaxRSS  int64
	Elapsed time.Duration
}

// RunChild runs cmd to its end, capturing its output (unless cmd.Stdout or
// cmd.Stderr are set), and returns its exit code and peak memory. Only a
// failure to start it fails the test.
func RunChild(t testing.TB, cmd *exec.Cmd) Child {
	t.Helper()
	var out, errb bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &errb
	}
	start := time.Now()
	err := cmd.Run()
	c := Child{Stdout: out.Bytes(), Stderr: errb.Bytes(), Elapsed: time.Since(start)}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run %s: %v", cmd.Path, err)
	}
	c.Code = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		c.MaxRSS = ru.Maxrss * 1024 // kilobytes on Linux
	}
	return c
}
