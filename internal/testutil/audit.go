package testutil

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// AlpineImage returns tag, importing the real Alpine 3.20.3 minirootfs
// from the shared data into the local Docker engine as tag (with
// `docker import --change` instructions such as "USER 1000:1000") unless
// the engine already has it. Never pulls. Concurrent test processes share
// one import (flock).
func AlpineImage(t testing.TB, tag string, changes ...string) string {
	t.Helper()
	RequireDocker(t)
	rootfs := Data(t, "rootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz")
	lock, err := os.OpenFile(filepath.Join(CacheDir(t, "docker"), "import.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("lock: %v", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("flock: %v", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if exec.Command("docker", "image", "inspect", "--format", "{{.Id}}", tag).Run() == nil {
		return tag
	}
	args := []string{"import"}
	for _, c := range changes {
		args = append(args, "--change", c)
	}
	args = append(args, rootfs, tag)
	Docker(t, args...)
	return tag
}

// Docker runs the docker CLI and returns its trimmed standard output,
// failing the test with the output on error.
func Docker(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// RunContainer starts a detached container named name (docker run -d
// --name name args...) and removes it when the test ends.
func RunContainer(t testing.TB, name string, args ...string) string {
	t.Helper()
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", "-v", name).Run() })
	return Docker(t, append([]string{"run", "-d", "--name", name}, args...)...)
}

// UniquePrefix returns a short random prefix for names of things a test
// creates in shared engines, so parallel runs do not clash.
func UniquePrefix(t testing.TB, base string) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	return base + "-" + hex.EncodeToString(b) + "-"
}
