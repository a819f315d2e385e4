package testutil

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Dockerd is a second dockerd a test starts: in its own network namespace
// (its bridge and iptables rules never touch the host's), with its own
// data root, exec root (and so its own containerd), pidfile and unix
// socket DIR/d.sock.
type Dockerd struct {
	Dir  string // its directory: data, exec, pid, d.sock, log
	Sock string // DIR/d.sock
	Args []string
	PID  int

	ns     string
	cmd    *exec.Cmd
	exited chan error
	logf   *os.File
}

// Host is the daemon's DOCKER_HOST.
func (d *Dockerd) Host() string { return "unix://" + d.Sock }

// StartDockerd starts dockerd with the data root, exec root and pidfile
// flags plus args ("DIR" in args is replaced by the daemon's directory).
// The daemon listens on DIR/d.sock: pass "-H unix://DIR/d.sock" in args,
// or hosts in a daemon.json given with --config-file. It is stopped and
// its directory removed when the test ends.
func StartDockerd(t testing.TB, args ...string) *Dockerd {
	t.Helper()
	d := NewDockerd(t, args...)
	d.Start(t)
	return d
}

// NewDockerd is StartDockerd without the start: the test can write files
// into d.Dir first.
func NewDockerd(t testing.TB, args ...string) *Dockerd {
	t.Helper()
	RequireRoot(t)
	RequireCmd(t, "dockerd", "ip", "nsenter")
	dir, err := os.MkdirTemp("", "ldd")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o711); err != nil { // traversable by a remapped root (userns-remap)
		t.Fatal(err)
	}
	d := &Dockerd{Dir: dir, Sock: filepath.Join(dir, "d.sock"), ns: filepath.Base(dir) + "-ns"}
	for _, a := range args {
		d.Args = append(d.Args, strings.ReplaceAll(a, "DIR", dir))
	}
	if out, err := exec.Command("ip", "netns", "add", d.ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	exec.Command("ip", "netns", "exec", d.ns, "ip", "link", "set", "lo", "up").Run()
	t.Cleanup(func() {
		d.Stop(t)
		exec.Command("ip", "netns", "del", d.ns).Run()
		if UnmountUnder(dir) {
			os.RemoveAll(dir)
		} else {
			t.Logf("left %s: mounts remain under it", dir)
		}
	})
	return d
}

// Start starts the daemon again (after Stop) with the same arguments and
// waits until it answers.
func (d *Dockerd) Start(t testing.TB) {
	t.Helper()
	full := []string{"--net=/var/run/netns/" + d.ns, "dockerd", "--data-root", d.Dir + "/data", "--exec-root", d.Dir + "/exec", "--pidfile", d.Dir + "/pid"}
	full = append(full, d.Args...)
	logf, err := os.OpenFile(filepath.Join(d.Dir, "log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	d.logf = logf
	d.cmd = exec.Command("nsenter", full...) // nsenter execs dockerd: same pid
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start dockerd: %v", err)
	}
	d.PID = d.cmd.Process.Pid
	d.exited = make(chan error, 1)
	go func(c *exec.Cmd, ch chan error) { ch <- c.Wait() }(d.cmd, d.exited)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", d.Sock)
	}}}
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-d.exited:
			d.exited <- err
			t.Fatalf("dockerd exited: %v\n%s", err, d.LogTail(3000))
		default:
		}
		if resp, err := client.Get("http://docker/info"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("dockerd did not answer on %s within 90s\n%s", d.Sock, d.LogTail(3000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Stop stops the daemon (SIGTERM, then SIGKILL after 30s).
func (d *Dockerd) Stop(t testing.TB) {
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
	}
	d.cmd = nil
	d.logf.Close()
}

// LogTail is the end of the daemon's log.
func (d *Dockerd) LogTail(n int) string {
	b, _ := os.ReadFile(filepath.Join(d.Dir, "log"))
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// UnmountUnder unmounts whatever dockerd left mounted under dir and
// reports whether nothing is mounted there any more.
func UnmountUnder(dir string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	var mps []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) > 4 && strings.HasPrefix(fl[4], dir+"/") {
			mps = append(mps, fl[4])
		}
	}
	f.Close()
	ok := true
	for i := len(mps) - 1; i >= 0; i-- {
		if err := syscall.Unmount(mps[i], syscall.MNT_DETACH); err != nil {
			ok = false
		}
	}
	return ok
}
