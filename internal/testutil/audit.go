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
// --name name args...) and removes it when the test ends. When this host
// cannot start it for a reason no install fixes (DockerHostLimit), the
// test is skipped with that reason, under CI too.
func RunContainer(t testing.TB, name string, args ...string) string {
	t.Helper()
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", "-v", name).Run() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", append([]string{"run", "-d", "--name", name}, args...)...).CombinedOutput()
	if err != nil {
		if why := DockerHostLimit(string(out)); why != "" {
			HostLimit(t, "docker run %s: %s", name, why)
		}
		t.Fatalf("docker run %s: %v: %s", name, err, out)
	}
	return strings.TrimSpace(string(out))
}

// HostLimit skips the test with the reason, also under CI=true: the
// machine lacks a capability that no install step can add (a capability
// bounding set, a kernel feature), unlike a missing component, which
// fails under CI (see missing).
func HostLimit(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Skipf("host limit: "+format, args...)
}

// DockerHostLimit says which limit of this host an error of docker run or
// docker create shows, or "" when it shows none (then it is a defect):
//
//   - "unable to apply caps": the capability bounding set lacks one that
//     --privileged (or a --cap-add) asks for;
//   - no default bridge (dockerd run with --bridge none, or docker0
//     missing);
//   - no iptables NAT for published ports or a user-defined bridge.
//
// .ci/run probes the same and prints what this machine lacks.
func DockerHostLimit(out string) string {
	switch {
	case strings.Contains(out, "unable to apply caps"):
		return "the capability bounding set lacks a capability the container asks for (unable to apply caps)"
	case strings.Contains(out, "network bridge not found"), strings.Contains(out, "could not find bridge"):
		return "the engine has no default bridge network"
	case strings.Contains(out, "iptables") && (strings.Contains(out, "failed") || strings.Contains(out, "unable")):
		return "the engine cannot program iptables for this network (no NAT on this host)"
	}
	return ""
}

// DockerBuild runs docker build with --force-rm, so that a failed build
// leaves no intermediate container behind (the classic builder keeps the
// container of a failed step otherwise), and returns its output.
func DockerBuild(ctx context.Context, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "docker", append([]string{"build", "--force-rm"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	return cmd.CombinedOutput()
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
