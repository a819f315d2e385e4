package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var lockdownBin struct {
	sync.Mutex
	path string
}

// LockdownBinary builds cmd/lockdown from this tree (CGO_ENABLED=0) once
// per test process, into a world-readable temporary directory (so that
// tests can run it as another user), removed when the test that built it
// ends (a later test builds it again).
func LockdownBinary(t testing.TB) string {
	t.Helper()
	lockdownBin.Lock()
	defer lockdownBin.Unlock()
	if lockdownBin.path != "" {
		if _, err := os.Stat(lockdownBin.path); err == nil {
			return lockdownBin.path
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
	cmd := exec.Command("go", "build", "-o", path, "./cmd/lockdown")
	cmd.Dir = RepoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("go build ./cmd/lockdown: %v: %s", err, out)
	}
	lockdownBin.path = path
	t.Cleanup(func() {
		lockdownBin.Lock()
		defer lockdownBin.Unlock()
		os.RemoveAll(dir)
		lockdownBin.path = ""
	})
	return path
}
