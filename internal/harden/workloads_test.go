package harden_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lockdown-sec/lockdown/internal/audit"
	"github.com/lockdown-sec/lockdown/internal/cli"
	"github.com/lockdown-sec/lockdown/internal/harden"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// The workloads of the proof: real images built from the Debian image
// (debootstrap minbase with curl and busybox-static), each with its own
// test command. Every image's entrypoint ends on SIGTERM.
const (
	page     = "lockdown-ok"
	trapWait = `trap 'exit 0' TERM; `
)

type workload struct {
	name string
	spec func(t *testing.T, rootfs string) testutil.ImageSpec
	test []string
	// wantUser and wantCaps are what harden must find.
	wantUser string
	wantCaps []string
	// wantTmpfs are the writable paths it must find.
	wantTmpfs []string
	// viaContainer hardens a running container (set up by setup) instead
	// of the image; setup returns its name and the network.
	setup func(t *testing.T, prefix, image string) (container, network string)
}

func www() []testutil.TarEntry {
	return []testutil.TarEntry{testutil.TarDir("srv/www"), testutil.TarFile("srv/www/index.html", page+"\n")}
}

func workloads() []workload {
	wget := func(port string) []string {
		return []string{"sh", "-c", "busybox wget -qO- http://127.0.0.1:" + port + "/index.html | grep -q " + page}
	}
	return []workload{
		{
			name: "static-http",
			spec: func(t *testing.T, rootfs string) testutil.ImageSpec {
				return testutil.ImageSpec{Rootfs: rootfs, Files: www(),
					Cmd: []string{"sh", "-c", trapWait + "busybox httpd -f -p 8080 -h /srv/www & wait"}}
			},
			test:     wget("8080"),
			wantUser: harden.NonRootUser, wantCaps: []string{},
		},
		{
			name: "writer",
			spec: func(t *testing.T, rootfs string) testutil.ImageSpec {
				return testutil.ImageSpec{Rootfs: rootfs, User: "1000:1000",
					Files: []testutil.TarEntry{
						{Name: "var/lib/app/", Type: '5', Mode: 0o755, Uid: 1000, Gid: 1000},
						{Name: "usr/local/bin/writer", Mode: 0o755, Body: "#!/bin/sh\n" + trapWait +
							"while :; do date > /tmp/stamp.new && mv /tmp/stamp.new /tmp/stamp; echo tick >> /var/lib/app/data; sleep 0.2 & wait; done\n"},
					},
					Cmd: []string{"/usr/local/bin/writer"}}
			},
			test:      []string{"sh", "-c", "test -s /tmp/stamp && test -s /var/lib/app/data"},
			wantUser:  "1000:1000",
			wantCaps:  []string{},
			wantTmpfs: []string{"/tmp", "/var/lib/app"},
		},
		{
			name: "curl-client",
			spec: func(t *testing.T, rootfs string) testutil.ImageSpec {
				return testutil.ImageSpec{Rootfs: rootfs, Files: append(www(),
					testutil.TarEntry{Name: "usr/local/bin/poll", Mode: 0o755, Body: "#!/bin/sh\n" + trapWait +
						"while :; do curl -fsS \"http://$SERVER:8080/index.html\" > /tmp/last || echo fail > /tmp/last; sleep 0.5 & wait; done\n"}),
					Cmd: []string{"/usr/local/bin/poll"}}
			},
			test:      []string{"sh", "-c", `curl -fsS "http://$SERVER:8080/index.html" | grep -q ` + page},
			wantUser:  harden.NonRootUser,
			wantCaps:  []string{},
			wantTmpfs: []string{"/tmp"},
			setup: func(t *testing.T, prefix, image string) (string, string) {
				netName := prefix + "net"
				testutil.Docker(t, "network", "create", "--internal", "--label", "lockdown.test=ld10", netName)
				t.Cleanup(func() { exec.Command("docker", "network", "rm", netName).Run() })
				srv := prefix + "srv"
				testutil.RunContainer(t, srv, "--label", "lockdown.test=ld10", "--network", netName, image,
					"sh", "-c", trapWait+"busybox httpd -f -p 8080 -h /srv/www & wait")
				ctr := prefix + "client"
				testutil.RunContainer(t, ctr, "--label", "lockdown.test=ld10", "--network", netName, "-e", "SERVER="+srv, image)
				return ctr, netName
			},
		},
		{
			name: "go-binary",
			spec: func(t *testing.T, rootfs string) testutil.ImageSpec {
				return testutil.ImageSpec{Rootfs: rootfs,
					Files:      []testutil.TarEntry{testutil.TarDir("app"), {Name: "app/server", Mode: 0o755, Body: goServer(t)}},
					Entrypoint: []string{"/app/server"}}
			},
			test:     wget("8081"),
			wantUser: harden.NonRootUser, wantCaps: []string{},
		},
		{
			name: "bind-80",
			spec: func(t *testing.T, rootfs string) testutil.ImageSpec {
				return testutil.ImageSpec{Rootfs: rootfs, Files: www(),
					Cmd: []string{"sh", "-c", trapWait + "busybox httpd -f -p 80 -h /srv/www & wait"}}
			},
			test:     wget("80"),
			wantUser: "0:0", wantCaps: []string{"NET_BIND_SERVICE"},
			// Docker 20.10 and later set net.ipv4.ip_unprivileged_port_start=0
			// in a container's network namespace, so any user may bind port
			// 80 there; Kubernetes does not. The container restores the
			// kernel's default (1024), which makes the capability needed.
			setup: func(t *testing.T, prefix, image string) (string, string) {
				ctr := prefix + "bind80"
				testutil.RunContainer(t, ctr, "--label", "lockdown.test=ld10", "--network", "none", "--sysctl", "net.ipv4.ip_unprivileged_port_start=1024", image)
				return ctr, "none"
			},
		},
	}
}

var goServerBin string

// goServer builds testdata/goserver (static, no cgo) once.
func goServer(t *testing.T) string {
	t.Helper()
	if goServerBin != "" {
		return goServerBin
	}
	out := filepath.Join(t.TempDir(), "server")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./testdata/goserver")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build goserver: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	goServerBin = string(b)
	return goServerBin
}

// TestWorkloads hardens each workload with the CLI, runs the generated
// configuration, and proves it: the workload's test passes, the audit of
// the container has no FAIL harden claims to fix, system calls outside
// the profile fail with EPERM, and writes outside the tmpfs fail.
func TestWorkloads(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireDocker(t)
	testutil.RequireCmd(t, "apparmor_parser", "go")
	rootfs := testutil.DebianRootfsWith(t, "curl", "busybox-static")
	eng, err := audit.NewEngine("")
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	for _, w := range workloads() {
		t.Run(w.name, func(t *testing.T) {
			prefix := testutil.UniquePrefix(t, "ld10")
			spec := w.spec(t, rootfs)
			spec.Tag = "ld10/" + w.name + ":test"
			spec.Labels = map[string]string{"lockdown.test": "ld10"}
			image := testutil.DockerImage(t, spec)
			dir := t.TempDir()
			args := []string{"harden"}
			network := "none"
			var env []string
			if w.setup != nil {
				ctr, netName := w.setup(t, prefix, image)
				network = netName
				args = append(args, "container", ctr)
				if w.name == "curl-client" {
					env = []string{"-e", "SERVER=" + prefix + "srv"}
				}
			} else {
				args = append(args, "image", image)
			}
			args = append(args, "--format", "json", "-o", filepath.Join(dir, "plan.json"), "--profile-dir", dir, "--name", w.name,
				"--observe", "2s", "--stop-timeout", "2s", "--container-prefix", prefix, "--label", "lockdown.test=ld10", "--")
			args = append(args, w.test...)
			var stdout, stderr bytes.Buffer
			start := time.Now()
			if code := cli.Run(context.Background(), args, &stdout, &stderr); code != 0 {
				t.Fatalf("lockdown %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
			}
			t.Logf("harden took %s", time.Since(start).Round(time.Millisecond))
			var p harden.Plan
			b, err := os.ReadFile(filepath.Join(dir, "plan.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
			for _, tr := range p.Trials {
				t.Logf("run %q passed=%v %s (%s)", tr.What, tr.Passed, tr.Reason, tr.Duration)
			}
			t.Logf("user %s (%s), caps %v, tmpfs %v, memory %dm cpus %.2f pids %d, seccomp %+v, %d records",
				p.User, p.UserNote, p.CapAdd, p.Tmpfs, p.Memory>>20, float64(p.NanoCPUs)/1e9, p.PidsLimit, p.SeccompSize, p.Observed.Records)
			if !p.Verified {
				t.Errorf("plan not verified")
			}
			if p.User != w.wantUser || !slices.Equal(p.CapAdd, w.wantCaps) {
				t.Errorf("user %q caps %v, want %q %v", p.User, p.CapAdd, w.wantUser, w.wantCaps)
			}
			var tmpfs []string
			for _, tm := range p.Tmpfs {
				tmpfs = append(tmpfs, tm.Path)
			}
			if !slices.Equal(tmpfs, w.wantTmpfs) {
				t.Errorf("tmpfs %v, want %v", tmpfs, w.wantTmpfs)
			}
			if p.SeccompSize.Syscalls == 0 || p.SeccompSize.Syscalls >= p.SeccompSize.DockerDefault || p.SeccompSize.Bytes >= p.SeccompSize.DockerBytes {
				t.Errorf("seccomp size %+v: want an allow-list smaller than Docker's default", p.SeccompSize)
			}
			if p.AppArmor.Parsed != "ok" {
				t.Errorf("apparmor_parser: %s", p.AppArmor.Parsed)
			}
			for _, f := range []string{w.name + ".seccomp.json", w.name + ".apparmor"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("profile file: %v", err)
				}
			}

			// Run the generated configuration.
			name := prefix + "hardened"
			flags := harden.RunFlags(&p, harden.FilesIn(&p, dir))
			runArgs := append([]string{"--label", "lockdown.test=ld10"}, flags...)
			runArgs = append(runArgs, env...)
			runArgs = append(runArgs, harden.RunCommand(&p)...)
			if network != "none" && !slices.Contains(flags, network) {
				t.Errorf("run flags %v lack --network %s", flags, network)
			}
			testutil.RunContainer(t, name, runArgs...)
			time.Sleep(time.Second)
			if out, err := exec.Command("docker", append([]string{"exec", name}, w.test...)...).CombinedOutput(); err != nil {
				t.Errorf("test command in the hardened container: %v\n%s\nlogs: %s", err, out, dockerLogs(name))
			}

			// The audit of that container: no FAIL that harden claims to fix.
			rep, err := audit.Run(context.Background(), audit.Config{Engine: eng, Containers: []string{name}, Include: []string{"container"}, HostChecks: audit.HostOff})
			if err != nil {
				t.Fatalf("audit: %v", err)
			}
			claimed := map[string]bool{}
			for _, f := range p.Fixes {
				claimed[f.Check] = true
			}
			for _, f := range rep.Findings {
				if f.Subject == name && f.Status == model.StatusFail && claimed[f.RuleID] {
					t.Errorf("audit %s FAIL (%s) although harden claims to fix it", f.RuleID, f.Evidence)
				}
			}

			// System calls outside the profile: EPERM.
			probe := func(script string) (string, error) {
				out, err := exec.Command("docker", "exec", name, "sh", "-c", script).CombinedOutput()
				return strings.TrimSpace(string(out)), err
			}
			if out, err := probe("exec unshare -U true"); err == nil || !strings.Contains(out, "unshare failed: Operation not permitted") {
				t.Errorf("unshare in the hardened container: %v %q, want unshare failed: Operation not permitted", err, out)
			}
			for call, nr := range map[string]string{"ptrace": "101", "mount": "165"} {
				out, _ := probe(`exec perl -e '$r = syscall(` + nr + `, 0, 0, 0, 0, 0); print "$r $!\n"'`)
				if out != "-1 Operation not permitted" {
					t.Errorf("%s in the hardened container = %q, want -1 Operation not permitted", call, out)
				}
			}
			// Writes outside the tmpfs: read-only file system.
			for _, p := range []string{"/etc/ld10-probe", "/usr/local/ld10-probe", "/ld10-probe"} {
				if out, err := probe("echo x > " + p); err == nil || !strings.Contains(out, "Read-only file system") {
					t.Errorf("write %s: %v %q, want Read-only file system", p, err, out)
				}
			}
		})
	}
}

func dockerLogs(name string) string {
	out, _ := exec.Command("docker", "logs", "--tail", "20", name).CombinedOutput()
	return string(out)
}
