package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/docker/docker/api/types/container"
)

// findDaemonPID finds the process that serves the Engine API at endpoint,
// when it runs on this host. For a unix socket it asks the kernel who is
// on the other end (SO_PEERCRED); when that is not dockerd (systemd socket
// activation) or for a TCP endpoint it finds the listening socket's inode
// in /proc/net and the process holding it. It never guesses by process
// name alone, so two daemons on one host are told apart.
func findDaemonPID(ctx context.Context, endpoint string) (int, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return 0, fmt.Errorf("parse endpoint %s: %w", endpoint, err)
	}
	switch u.Scheme {
	case "unix":
		path := u.Path
		if pid, err := peerPID(ctx, path); err == nil && pid > 0 && isDockerd(pid) {
			return pid, nil
		}
		inodes, err := unixListenInodes(path)
		if err != nil {
			return 0, err
		}
		return pidHoldingSocket(inodes)
	case "tcp", "http", "https":
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil {
			return 0, fmt.Errorf("endpoint %s: %w", endpoint, err)
		}
		if !isLocalAddr(host) {
			return 0, fmt.Errorf("endpoint %s is not on this host", endpoint)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return 0, fmt.Errorf("endpoint %s: port: %w", endpoint, err)
		}
		inodes, err := tcpListenInodes(p)
		if err != nil {
			return 0, err
		}
		return pidHoldingSocket(inodes)
	}
	return 0, fmt.Errorf("endpoint %s: scheme %q is not supported for host checks", endpoint, u.Scheme)
}

// peerPID returns the pid of the process at the other end of a unix socket.
func peerPID(ctx context.Context, path string) (int, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	raw, err := conn.(*net.UnixConn).SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *syscall.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, fmt.Errorf("SO_PEERCRED on %s: %w", path, serr)
	}
	return int(cred.Pid), nil
}

func isDockerd(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return err == nil && strings.TrimSpace(string(b)) == "dockerd"
}

func isLocalAddr(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	if ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// unixListenInodes returns the inodes of listening unix sockets bound to path.
func unixListenInodes(path string) (map[string]bool, error) {
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return nil, fmt.Errorf("read /proc/net/unix: %w", err)
	}
	out := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		// Num RefCount Protocol Flags Type St Inode Path
		f := strings.Fields(sc.Text())
		if len(f) >= 8 && f[7] == path && f[3] == "00010000" { // __SO_ACCEPTCON: listening
			out[f[6]] = true
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no listening unix socket %s in /proc/net/unix (daemon in another network namespace?)", path)
	}
	return out, nil
}

// tcpListenInodes returns the inodes of TCP sockets listening on port.
func tcpListenInodes(port int) (map[string]bool, error) {
	out := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, l := range parseTCPListen(b) {
			if l.port == port {
				out[l.inode] = true
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no process listens on TCP port %d in this network namespace", port)
	}
	return out, nil
}

// tcpListen is one listening socket of /proc/net/tcp or tcp6.
type tcpListen struct {
	addr  string // "127.0.0.1:2377", "[::]:2377"
	port  int
	inode string
}

// parseTCPListen reads the listening sockets of a /proc/net/tcp or tcp6
// table.
func parseTCPListen(b []byte) []tcpListen {
	var out []tcpListen
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fl := strings.Fields(sc.Text())
		if len(fl) < 10 || fl[3] != "0A" { // TCP_LISTEN
			continue
		}
		hexIP, hexPort, ok := strings.Cut(fl[1], ":")
		if !ok {
			continue
		}
		p, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil {
			continue
		}
		raw, err := hex.DecodeString(hexIP)
		if err != nil || (len(raw) != 4 && len(raw) != 16) {
			continue
		}
		// The kernel prints each 32-bit word in host (little-endian) order.
		for i := 0; i+4 <= len(raw); i += 4 {
			raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
		}
		ip, _ := netip.AddrFromSlice(raw)
		out = append(out, tcpListen{addr: netip.AddrPortFrom(ip.Unmap(), uint16(p)).String(), port: int(p), inode: fl[9]})
	}
	return out
}

// pidHoldingSocket returns the dockerd process holding one of the socket
// inodes (systemd may hold them too).
func pidHoldingSocket(inodes map[string]bool) (int, error) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("read /proc: %w", err)
	}
	var holders []int
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fdDir := filepath.Join("/proc", p.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			l, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil {
				continue
			}
			if ino, ok := strings.CutPrefix(l, "socket:["); ok && inodes[strings.TrimSuffix(ino, "]")] {
				if isDockerd(pid) {
					return pid, nil
				}
				holders = append(holders, pid)
				break
			}
		}
	}
	if len(holders) > 0 {
		return 0, fmt.Errorf("the API socket is held by pid %v, none of which is dockerd", holders)
	}
	return 0, errors.New("no process on this host holds the API socket (daemon in another PID namespace?)")
}

// sameRoot reports whether pid sees the same root filesystem as we do.
func sameRoot(pid int) bool {
	var a, b syscall.Stat_t
	if syscall.Stat("/", &a) != nil || syscall.Stat(fmt.Sprintf("/proc/%d/root/", pid), &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// readCmdline returns a process's argv.
func readCmdline(pid int) ([]string, error) {
	path := fmt.Sprintf("/proc/%d/cmdline", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil, fmt.Errorf("read %s: empty", path)
	}
	return strings.Split(string(b), "\x00"), nil
}

// readEnviron returns a process's environment.
func readEnviron(pid int) (map[string]string, error) {
	path := fmt.Sprintf("/proc/%d/environ", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	env := map[string]string{}
	for _, kv := range strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env, nil
}

// containerProcesses lists, in one pass over /proc, the processes of the
// given containers (full IDs) as the engine's top does: by the container
// ID in the process's cgroup path (/docker/ID, docker-ID.scope,
// libpod-ID.scope), so --pid host containers get only their own. Nothing
// runs in the containers and no ps is started. Kernel threads (empty
// command lines) are left out.
func containerProcesses(ids []string) (map[string]*container.TopResponse, error) {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("read /proc: %w", err)
	}
	out := map[string]*container.TopResponse{}
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		cg, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cgroup"))
		if err != nil {
			continue // exited meanwhile
		}
		id := cgroupContainer(cg, want)
		if id == "" {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil || len(cmd) == 0 {
			continue
		}
		r := out[id]
		if r == nil {
			r = &container.TopResponse{Titles: []string{"PID", "COMMAND"}}
			out[id] = r
		}
		r.Processes = append(r.Processes, []string{p.Name(), strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))})
	}
	return out, nil
}

// cgroupContainer returns the wanted container ID that a /proc/PID/cgroup
// names, or "".
func cgroupContainer(cg []byte, want map[string]bool) string {
	for line := range strings.SplitSeq(string(cg), "\n") {
		_, path, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		_, path, _ = strings.Cut(path, ":")
		for part := range strings.SplitSeq(path, "/") {
			part = strings.TrimSuffix(part, ".scope")
			if i := strings.LastIndexAny(part, "-"); i >= 0 {
				part = part[i+1:]
			}
			if len(part) == 64 && want[part] {
				return part
			}
		}
	}
	return ""
}
