package harden_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/cli"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// TestBadInput: a clear error naming what is missing, exit 2, and
// nothing written (no -o file, no profiles).
func TestBadInput(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireDocker(t)
	rootfs := testutil.DebianRootfsWith(t, "curl", "busybox-static")
	exitsAtOnce := testutil.DockerImage(t, testutil.ImageSpec{Tag: "ld10/exits-at-once:test", Rootfs: rootfs, Cmd: []string{"sh", "-c", "echo cannot start >&2; exit 3"},
		Labels: map[string]string{"lockdown.test": "ld10"}})
	exitsZero := testutil.DockerImage(t, testutil.ImageSpec{Tag: "ld10/exits-zero:test", Rootfs: rootfs, Cmd: []string{"true"},
		Labels: map[string]string{"lockdown.test": "ld10"}})
	prefix := testutil.UniquePrefix(t, "ld10")
	cases := []struct {
		name string
		args []string // kind, target, flags
		test []string // after --, when not nil
		want string
	}{
		{"no such container", []string{"container", prefix + "missing"}, nil, "lockdown: container " + prefix + "missing: no such container\n"},
		{"no such image", []string{"image", "ld10/never-built:none"}, nil, "lockdown: image ld10/never-built:none: not in the engine (harden never pulls: docker pull or docker load it first)\n"},
		{"exits at once", []string{"image", exitsAtOnce}, nil, "lockdown: image " + exitsAtOnce + ": the workload exited at once: the workload exited with status 3 within 1s (output: cannot start)\n"},
		{"exits before the test", []string{"image", exitsZero}, []string{"true"}, "lockdown: image " + exitsZero + ": the workload exited at once: the workload exited (status 0) within 1s, before the test command could run (output: none)\n"},
		{"nothing after --", []string{"image", exitsZero}, []string{}, "lockdown: nothing after --: give the test command or leave out --\n"},
		{"bad format", []string{"image", exitsZero, "--format", "yaml"}, nil, `lockdown: unknown --format "yaml": harden image writes run, compose, kubernetes, json` + "\n"},
		{"bad label", []string{"image", exitsZero, "--label", "novalue"}, nil, `lockdown: --label "novalue": want KEY=VALUE` + "\n"},
		{"bad sysctl", []string{"image", exitsZero, "--sysctl", "x"}, nil, `lockdown: --sysctl "x": want KEY=VALUE` + "\n"},
		{"no profile dir", []string{"image", exitsZero, "--profile-dir", "/nonexistent/ld10"}, nil, "lockdown: --profile-dir /nonexistent/ld10: not a directory\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "plan.json")
			args := append([]string{"harden"}, c.args...)
			args = append(args, "-o", out, "--container-prefix", prefix, "--label", "lockdown.test=ld10")
			if indexOf(args, "--profile-dir") < 0 {
				args = append(args, "--profile-dir", dir)
			}
			if c.test != nil {
				args = append(append(args, "--"), c.test...)
			}
			var stdout, stderr bytes.Buffer
			code := cli.Run(context.Background(), args, &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit %d, want 2\n%s", code, stderr.String())
			}
			if got := stderr.String(); got != c.want {
				t.Errorf("stderr = %q\nwant     %q", got, c.want)
			}
			if es, _ := os.ReadDir(dir); len(es) != 0 {
				t.Errorf("%d files written, want none", len(es))
			}
		})
	}
	// No throwaway container is left behind.
	if out := testutil.Docker(t, "ps", "-a", "--filter", "name="+prefix, "--format", "{{.Names}}"); out != "" {
		t.Errorf("containers left: %s", out)
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// TestNoSeccompLog runs the command as an unprivileged user, who may not
// read the kernel's audit log: observation is impossible, and harden
// says so before it touches the engine.
func TestNoSeccompLog(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireCmd(t, "go")
	dir, err := os.MkdirTemp("", "ld10-noseccomp")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "lockdown")
	build := exec.Command("go", "build", "-o", bin, "./cmd/lockdown")
	build.Dir = testutil.RepoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "harden", "image", "ld10/anything:test", "--profile-dir", dir, "-o", filepath.Join(dir, "plan.json"))
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errorsAs(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("exit %v, want 2\n%s", err, stderr.String())
	}
	want := "lockdown: observation needs the kernel's seccomp log: seccomp logging is not available: join the kernel audit log's read group: operation not permitted (reading the audit log needs CAP_AUDIT_READ: run as root)\n"
	if stderr.String() != want {
		t.Errorf("stderr = %q\nwant     %q", stderr.String(), want)
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Errorf("%d entries in %s, want only the binary", len(es), dir)
	}
}

func errorsAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}
