package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// builtBinary is one build of cmd/lockdown, kept for the test process.
type builtBinary struct {
	sync.Mutex
	path string
}

var lockdownBin, scannerBin builtBinary

// LockdownBinary builds cmd/lockdown from this tree (CGO_ENABLED=0) once
// per test process, into a world-readable temporary directory (so that
// tests can run it as another user), removed when the test that built it
// ends (a later test builds it again).
func LockdownBinary(t testing.TB) string {
	t.Helper()
	return lockdownBin.build(t)
}

// ScannerBinary is LockdownBinary for the scanner build (-tags scanonly).
func ScannerBinary(t testing.TB) string {
	t.Helper()
	return scannerBin.build(t, "-tags", "scanonly")
}

func (b *builtBinary) build(t testing.TB, flags ...string) string {
	t.Helper()
	b.Lock()
	defer b.Unlock()
	if b.path != "" {
		if _, err := os.Stat(b.path); err == nil {
			return b.path
		}
	}
	RequireCmd(t, "go")
	dir, err := os.MkdirTemp("", "lockdown-bin-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "lockdown")
	args := append(append([]string{"build"}, flags...), "-o", path, "./cmd/lockdown")
	cmd := exec.Command("go", args...)
	cmd.Dir = RepoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("go %v: %v: %s", args, err, out)
	}
	b.path = path
	t.Cleanup(func() {
		b.Lock()
		defer b.Unlock()
		os.RemoveAll(dir)
		b.path = ""
	})
	return path
}
