// Package testutil finds shared test data and real components for tests, and
// skips (or, under CI, fails) with a message naming exactly what is missing.
package testutil

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// missing skips the test, or fails it when CI=true: in CI every real
// component must be present, so a missing one is a defect, not a skip.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI: "+format, args...)
	}
	t.Skipf(format, args...)
}

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// DataDir returns ../shared/data (or $LOCKDOWN_TESTDATA).
func DataDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("LOCKDOWN_TESTDATA")
	if dir == "" {
		dir = filepath.Join(RepoRoot(t), "..", "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		missing(t, "shared test data not found at %s (set LOCKDOWN_TESTDATA): %v", dir, err)
	}
	return dir
}

// Data returns the path of a file under the shared data directory.
func Data(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(DataDir(t), filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		missing(t, "shared test data file missing: %v", err)
	}
	return p
}

// RequireRoot skips unless the test runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "needs root (running as uid %d)", os.Geteuid())
	}
}

// RequireCmd skips unless every named command is on PATH, and returns the
// path of the first.
func RequireCmd(t testing.TB, names ...string) string {
	t.Helper()
	var first string
	for i, n := range names {
		p, err := exec.LookPath(n)
		if err != nil {
			missing(t, "needs %s on PATH (apt-get install it; .ci/run does)", n)
		}
		if i == 0 {
			first = p
		}
	}
	return first
}

// RequireDocker skips unless a Docker engine answers `docker info`.
func RequireDocker(t testing.TB) {
	t.Helper()
	RequireCmd(t, "docker")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		missing(t, "needs a running Docker engine (dockerd; .ci/run starts it): docker info: %v: %s", err, out)
	}
}

// CacheDir returns a per-machine cache directory for things tests build
// (root filesystems, images), so later runs are quick.
func CacheDir(t testing.TB, name string) string {
	t.Helper()
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "lockdown-test", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("cache dir: %v", err)
	}
	return dir
}

// CPUTime is the CPU time (user and system, all threads) this process has
// used: benchmarks on a shared machine report it next to the wall time,
// which also counts the time other processes had the cores.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
