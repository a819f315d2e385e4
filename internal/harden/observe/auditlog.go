package observe

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
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
	Arch    uint32 // audit architecture (0xc000003e for x86_64)
	Syscall int    // number in that architecture (x32 calls carry bit 30)
	Code    uint32 // the seccomp action (0x7ffc0000 is SCMP_ACT_LOG, 0x50000 ERRNO)
}

// ActionLog is SCMP_ACT_LOG as the records carry it (linux/seccomp.h).
const ActionLog uint32 = 0x7ffc0000

// ParseRecord reads the text of a seccomp audit record:
//
//	audit(1796286833.385:2): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=11180
//	comm="runc:[2:INIT]" exe="/" sig=0 arch=c000003e syscall=257 compat=0 ip=0x40828e code=0x7ffc0000
//
// (one line; the kernel log prefixes it with "audit: type=1326 ", which is
// accepted too). pid, arch, syscall and code are required. It runs once
// per system call of an observed workload, so it does not allocate.
func ParseRecord(b []byte) (Record, error) {
	var r Record
	var have int
	for len(b) > 0 {
		for len(b) > 0 && (b[0] == ' ' || b[0] == '\n') {
			b = b[1:]
		}
		if len(b) == 0 {
			break
		}
		eq := bytes.IndexByte(b, '=')
		sp := bytes.IndexByte(b, ' ')
		if eq < 0 || (sp >= 0 && sp < eq) {
			if sp < 0 {
				break
			}
			b = b[sp:]
			continue
		}
		key := b[:eq]
		b = b[eq+1:]
		var val []byte
		if len(b) > 0 && b[0] == '"' {
			// comm and exe are quoted (they may hold spaces) or hex.
			end := bytes.IndexByte(b[1:], '"')
			if end < 0 {
				return Record{}, fmt.Errorf("seccomp record: unterminated quoted value of %s", key)
			}
			val, b = b[1:end+1], b[end+2:]
		} else {
			end := bytes.IndexByte(b, ' ')
			if end < 0 {
				end = len(b)
			}
			val, b = b[:end], b[end:]
		}
		var ok bool
		switch string(key) {
		case "pid":
			var v uint64
			v, ok = parseUint(val, 10, 31)
			r.PID, have = int(v), have|1
		case "arch":
			var v uint64
			v, ok = parseUint(val, 16, 32)
			r.Arch, have = uint32(v), have|2
		case "syscall":
			var v uint64
			v, ok = parseUint(val, 10, 31)
			r.Syscall, have = int(v), have|4
		case "code":
			var v uint64
			v, ok = parseUint(bytes.TrimPrefix(val, []byte("0x")), 16, 32)
			r.Code, have = uint32(v), have|8
		default:
			ok = true
		}
		if !ok {
			return Record{}, fmt.Errorf("seccomp record: field %s=%q is not a number", key, val)
		}
	}
	if have != 15 {
		return Record{}, errors.New("seccomp record: missing pid, arch, syscall or code")
	}
	if r.PID <= 0 {
		return Record{}, fmt.Errorf("seccomp record: pid %d out of range", r.PID)
	}
	return r, nil
}

// parseUint parses a number of at most bits bits without allocating.
func parseUint(b []byte, base uint64, bits uint) (uint64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		var d uint64
		switch {
		case '0' <= c && c <= '9':
			d = uint64(c - '0')
		case base == 16 && 'a' <= c && c <= 'f':
			d = uint64(c-'a') + 10
		case base == 16 && 'A' <= c && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
		v = v*base + d
	}
	return v, v < 1<<bits
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

// Available reports (wrapping ErrNoSeccompLog) why an observation cannot
// read the seccomp log here: the kernel's log action, the audit log's
// read group and the process events connector are each tried.
func Available() error {
	if err := CheckSeccompLog(ProcSeccomp); err != nil {
		return err
	}
	a, err := openAuditReader()
	if err != nil {
		return err
	}
	a.close(0)
	w, err := openProcWatcher()
	if err != nil {
		return err
	}
	w.close()
	return nil
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
	records map[Record]int // distinct records and how often each came
	exes    map[int]string // the executable of each PID in its latest record
	ran     []pidExe       // every (PID, executable) seen, in order
	bad     int            // records that did not parse
	lost    int            // receive buffer overruns (ENOBUFS)
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
	a := &auditReader{fd: fd, done: make(chan struct{}), stop: make(chan struct{}), records: map[Record]int{}, exes: map[int]string{}}
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
		n, err := unix.Read(a.fd, buf)
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
			a.records[r]++
			// An exec changes the executable of the same PID: compare
			// without allocating, keep each new one.
			if raw := rawExe(data); string(raw) != a.exes[r.PID] {
				a.exes[r.PID] = string(raw)
				a.ran = append(a.ran, pidExe{r.PID, decodeExe(raw)})
			}
		}
		a.mu.Unlock()
	}
}

// auditMessage splits one audit netlink datagram into its type and text.
// The kernel sends one record per datagram, not padded to the netlink
// alignment, so the generic parser (which wants the aligned length in
// the buffer) refuses most of them: the text is what follows the
// header, up to nlmsg_len.
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
// pidExe is a process and a program it ran.
type pidExe struct {
	pid int
	exe string
}

func (a *auditReader) close(settle time.Duration) (recs map[Record]int, ran []pidExe, bad, lost int) {
	time.Sleep(settle)
	close(a.stop)
	<-a.done
	unix.Close(a.fd)
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.records, a.ran, a.bad, a.lost
}

// RecordExe returns the exe field of a record: the path of the task's
// executable as the task sees it, or "".
func RecordExe(b []byte) string { return decodeExe(rawExe(b)) }

// rawExe is the exe field as written: quoted, or hex-encoded when the
// path holds spaces or quotes.
func rawExe(b []byte) []byte {
	i := bytes.Index(b, []byte(" exe="))
	if i < 0 {
		return nil
	}
	v := b[i+5:]
	if len(v) > 0 && v[0] == '"' {
		end := bytes.IndexByte(v[1:], '"')
		if end < 0 {
			return nil
		}
		return v[:end+2]
	}
	if end := bytes.IndexByte(v, ' '); end >= 0 {
		v = v[:end]
	}
	return v
}

func decodeExe(raw []byte) string {
	if len(raw) >= 2 && raw[0] == '"' {
		return string(raw[1 : len(raw)-1])
	}
	out, err := hex.DecodeString(string(raw))
	if err != nil {
		return ""
	}
	return string(out)
}
