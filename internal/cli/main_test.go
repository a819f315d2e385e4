package cli

import (
	"context"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// childEnv makes the test binary run the lockdown command line in its
// arguments instead of the tests: a child process whose memory, output
// and exit code a test measures (lockdownChild).
const childEnv = "LOCKDOWN_CLI_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		testutil.WritePeakRSS()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// lockdownChild is `lockdown args...` in a child process (this test
// binary, as cmd/lockdown would run it), with env added.
func lockdownChild(t testing.TB, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), childEnv+"=1"), env...)
	return cmd
}
