package observe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNoSeccompLog means the kernel's seccomp log cannot be read here: the
// kernel lacks the log action, does not log it, or this process may not
// read the audit log. Observation needs it.
var ErrNoSeccompLog = errors.New("seccomp logging is not available")

// Record is one kernel seccomp log record (audit type 1326, AUDIT_SECCOMP).
type Record struct {
	PID     int    // thread group ID in the host's PID namespace
	Comm    string // the task's command name
	Arch    uint32 // audit architecture (0xc000003e for x86_64)
	Syscall int    // number in that architecture (x32 calls carry bit 30)
	Code    uint32 // the seccomp action (0x7ffc0000 is SCMP_ACT_LOG, 0x50000 ERRNO)
}

// Seccomp actions as the records carry them (linux/seccomp.h).
const (
	ActionLog   uint32 = 0x7ffc0000
	actionMask  uint32 = 0xffff0000
	actionErrno uint32 = 0x00050000
)

// Denied reports whether the record is of a call the filter refused
// (an errno action logged because the profile asked for it).
func (r Record) Denied() bool { return r.Code&actionMask == actionErrno }

// ParseRecord reads the text of a seccomp audit record:
//
//	audit(1796286833.385:2): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=11180
//	comm="runc:[2:INIT]" exe="/" sig=0 arch=c000003e syscall=257 compat=0 ip=0x40828e code=0x7ffc0000
//
// (one line; the kernel log prefixes it with "audit: type=1326 ", which is
// accepted too). pid, arch, syscall and code are required.
func ParseRecord(b []byte) (Record, error) {
	var r Record
	var have int
	s := string(b)
	for len(s) > 0 {
		s = strings.TrimLeft(s, " \n")
		if s == "" {
			break
		}
		// A field is key=value; comm and exe values may be quoted (and
		// contain spaces) or hex-encoded.
		eq := strings.IndexByte(s, '=')
		sp := strings.IndexByte(s, ' ')
		if eq < 0 || (sp >= 0 && sp < eq) {
			if sp < 0 {
				break
			}
			s = s[sp:]
			continue
		}
		key := s[:eq]
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return Record{}, fmt.Errorf("seccomp record: unterminated quoted value of %s", key)
			}
			val, s = s[1:end+1], s[end+2:]
		} else {
			end := strings.IndexByte(s, ' ')
			if end < 0 {
				end = len(s)
			}
			val, s = s[:end], s[end:]
		}
		var err error
		switch key {
		case "pid":
			r.PID, err = strconv.Atoi(val)
			have |= 1
		case "arch":
			var a uint64
			a, err = strconv.ParseUint(val, 16, 32)
			r.Arch = uint32(a)
			have |= 2
		case "syscall":
			r.Syscall, err = strconv.Atoi(val)
			have |= 4
		case "code":
			var c uint64
			c, err = strconv.ParseUint(strings.TrimPrefix(val, "0x"), 16, 32)
			r.Code = uint32(c)
			have |= 8
		case "comm":
			r.Comm = val
		}
		if err != nil {
			return Record{}, fmt.Errorf("seccomp record: field %s=%q: %w", key, val, err)
		}
	}
	if have != 15 {
		return Record{}, fmt.Errorf("seccomp record: missing pid, arch, syscall or code in %q", truncate(string(b), 200))
	}
	if r.PID <= 0 || r.Syscall < 0 {
		return Record{}, fmt.Errorf("seccomp record: pid %d, syscall %d out of range", r.PID, r.Syscall)
	}
	return r, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// ProcSeccomp is where the kernel lists its seccomp actions.
const ProcSeccomp = "/proc/sys/kernel/seccomp"

// CheckSeccompLog reports (wrapping ErrNoSeccompLog) why the kernel's
// seccomp log cannot serve an observation: the log action missing from
// actions_avail or from actions_logged under dir (ProcSeccomp).
func CheckSeccompLog(dir string) error {
	for _, f := range []string{"actions_avail", "actions_logged"} {
		b, err := os.ReadFile(dir + "/" + f)
		if err != nil {
			return fmt.Errorf("%w: read %s/%s: %v", ErrNoSeccompLog, dir, f, err)
		}
		if !containsWord(string(b), "log") {
			return fmt.Errorf("%w: the kernel's %s/%s (%q) has no \"log\" action", ErrNoSeccompLog, dir, f, strings.TrimSpace(string(b)))
		}
	}
	return nil
}

func containsWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// auditReader listens on the kernel audit log's read-only multicast group
// (AUDIT_NLGRP_READLOG): every record reaches it without replacing auditd
// and without the kernel log's rate limit, which drops all but the first
// ten seccomp records. Needs CAP_AUDIT_READ.
type auditReader struct {
	fd   int
	done chan struct{}
	stop chan struct{}

	mu      sync.Mutex
	records []Record
	bad     int // records that did not parse
	lost    int // receive buffer overruns (ENOBUFS)
}

// rcvBuf is the audit socket's receive buffer: a burst of records (a
// process starting makes hundreds) must fit while the reader catches up.
const rcvBuf = 32 << 20

func openAuditReader() (*auditReader, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return nil, fmt.Errorf("%w: open the kernel audit socket: %v", ErrNoSeccompLog, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (unix.AUDIT_NLGRP_READLOG - 1)}); err != nil {
		unix.Close(fd)
		hint := ""
		if errors.Is(err, unix.EPERM) {
			hint = " (reading the audit log needs CAP_AUDIT_READ: run as root)"
		}
		return nil, fmt.Errorf("%w: join the kernel audit log's read group: %v%s", ErrNoSeccompLog, err, hint)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
	}
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("audit socket timeout: %w", err)
	}
	a := &auditReader{fd: fd, done: make(chan struct{}), stop: make(chan struct{})}
	go a.loop()
	return a, nil
}

func (a *auditReader) loop() {
	defer close(a.done)
	buf := make([]byte, 1<<16)
	for {
		select {
		case <-a.stop:
			return
		default:
		}
		n, _, err := unix.Recvfrom(a.fd, buf, 0)
		switch {
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOBUFS):
			a.mu.Lock()
			a.lost++
			a.mu.Unlock()
			continue
		case err != nil:
			return
		}
		typ, data, ok := auditMessage(buf[:n])
		if !ok {
			a.mu.Lock()
			a.bad++
			a.mu.Unlock()
			continue
		}
		if typ != unix.AUDIT_SECCOMP {
			continue
		}
		r, err := ParseRecord(data)
		a.mu.Lock()
		if err != nil {
			a.bad++
		} else {
			a.records = append(a.records, r)
		}
		a.mu.Unlock()
	}
}

// auditMessage splits one audit netlink datagram into its type and text.
// The kernel sends one record per datagram and does not always count the
// header or the padding in nlmsg_len the way other netlink families do,
// so the generic parser refuses many of them: the text is whatever
// follows the header, up to nlmsg_len when that is shorter.
func auditMessage(b []byte) (uint16, []byte, bool) {
	if len(b) < unix.NLMSG_HDRLEN {
		return 0, nil, false
	}
	l := int(binary.NativeEndian.Uint32(b[0:]))
	typ := binary.NativeEndian.Uint16(b[4:])
	data := b[unix.NLMSG_HDRLEN:]
	if l >= unix.NLMSG_HDRLEN && l-unix.NLMSG_HDRLEN < len(data) {
		data = data[:l-unix.NLMSG_HDRLEN]
	}
	return typ, bytes.TrimRight(data, "\x00\n"), true
}

// close waits until the kernel has had time to deliver what is queued,
// then stops the reader and returns everything it read.
func (a *auditReader) close(settle time.Duration) (recs []Record, bad, lost int) {
	time.Sleep(settle)
	close(a.stop)
	<-a.done
	unix.Close(a.fd)
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.records, a.bad, a.lost
}
