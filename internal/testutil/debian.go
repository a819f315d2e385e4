package testutil

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// DebianSuite and DebianMirror are what the real Debian test image is built from.
const (
	DebianSuite  = "bookworm"
	DebianMirror = "http://deb.debian.org/debian"
)

// DebianRootfs returns a Debian minbase root filesystem built with
// debootstrap, cached for the machine's later runs. Needs root and
// debootstrap. Concurrent test processes share one build (flock).
func DebianRootfs(t testing.TB) string {
	t.Helper()
	return DebianRootfsWith(t)
}

// DebianRootfsWith is DebianRootfs with extra Debian packages installed
// by debootstrap (--include), cached apart for each package list.
func DebianRootfsWith(t testing.TB, pkgs ...string) string {
	t.Helper()
	RequireRoot(t)
	RequireCmd(t, "debootstrap")
	cache := CacheDir(t, "debian")
	root := filepath.Join(cache, DebianSuite+"-minbase")
	if len(pkgs) > 0 {
		root += "+" + strings.Join(pkgs, "+")
	}
	done := root + ".done"

	lock, err := os.OpenFile(filepath.Join(cache, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("lock: %v", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("flock: %v", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	if _, err := os.Stat(done); err == nil {
		return root
	}
	os.RemoveAll(root)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	args := []string{"--variant=minbase"}
	if len(pkgs) > 0 {
		args = append(args, "--include="+strings.Join(pkgs, ","))
	}
	cmd := exec.CommandContext(ctx, "debootstrap", append(args, DebianSuite, root, DebianMirror)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tail := out
		if len(tail) > 4000 {
			tail = tail[len(tail)-4000:]
		}
		missing(t, "debootstrap %s from %s failed (needs Debian's package mirror): %v\n%s", DebianSuite, DebianMirror, err, tail)
	}
	// Drop the apt lists and caches: they are large and nothing reads them.
	for _, p := range []string{"var/cache/apt/archives", "var/lib/apt/lists"} {
		entries, _ := os.ReadDir(filepath.Join(root, p))
		for _, e := range entries {
			if e.Type().IsRegular() {
				os.Remove(filepath.Join(root, p, e.Name()))
			}
		}
	}
	if err := os.WriteFile(done, []byte(fmt.Sprintln(time.Now().UTC())), 0o644); err != nil {
		t.Fatalf("mark debian rootfs done: %v", err)
	}
	return root
}
