package observe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The kernel's process events connector (linux/cn_proc.h): every fork,
// in order, so that the processes of one container can be told from all
// others in the seccomp log, which names processes only by PID.
const (
	cnIdxProc          = 1
	cnValProc          = 1
	procCnMcastListen  = 1
	procCnMcastIgnore  = 2
	procEventFork      = 0x00000001
	cnMsgLen           = 20 // struct cn_msg without data
	procEventHeaderLen = 16 // what, cpu, timestamp_ns
)

// forkEvent is one fork: the new thread group and the thread group that
// made it.
type forkEvent struct {
	parent, child int
}

// procWatcher records every fork on the host while it runs.
type procWatcher struct {
	fd   int
	done chan struct{}
	stop chan struct{}

	mu    sync.Mutex
	forks []forkEvent
	lost  int
}

func openProcWatcher() (*procWatcher, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("%w: open the process events connector: %v", ErrNoSeccompLog, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("%w: join the process events connector: %v", ErrNoSeccompLog, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
	}
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("process events socket timeout: %w", err)
	}
	if err := sendProcOp(fd, procCnMcastListen); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("%w: subscribe to process events: %v", ErrNoSeccompLog, err)
	}
	w := &procWatcher{fd: fd, done: make(chan struct{}), stop: make(chan struct{})}
	go w.loop()
	return w, nil
}

func sendProcOp(fd int, op uint32) error {
	msg := make([]byte, unix.NLMSG_HDRLEN+cnMsgLen+4)
	le := binary.NativeEndian
	le.PutUint32(msg[0:], uint32(len(msg)))
	le.PutUint16(msg[4:], unix.NLMSG_DONE)
	le.PutUint32(msg[12:], uint32(unix.Getpid()))
	c := msg[unix.NLMSG_HDRLEN:]
	le.PutUint32(c[0:], cnIdxProc)
	le.PutUint32(c[4:], cnValProc)
	le.PutUint16(c[16:], 4)
	le.PutUint32(c[cnMsgLen:], op)
	return unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
}

func (w *procWatcher) loop() {
	defer close(w.done)
	buf := make([]byte, 1<<16)
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		n, err := unix.Read(w.fd, buf)
		switch {
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOBUFS):
			w.mu.Lock()
			w.lost++
			w.mu.Unlock()
			continue
		case err != nil:
			return
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			continue
		}
		for _, m := range msgs {
			if ev, ok := parseForkEvent(m.Data); ok {
				w.mu.Lock()
				w.forks = append(w.forks, ev)
				w.mu.Unlock()
			}
		}
	}
}

// parseForkEvent reads a cn_msg carrying a proc_event; ok only for a fork
// of a new thread group (a new thread is not a new process).
func parseForkEvent(b []byte) (forkEvent, bool) {
	le := binary.NativeEndian
	if len(b) < cnMsgLen+procEventHeaderLen+16 {
		return forkEvent{}, false
	}
	if le.Uint32(b[0:]) != cnIdxProc || le.Uint32(b[4:]) != cnValProc {
		return forkEvent{}, false
	}
	ev := b[cnMsgLen:]
	if le.Uint32(ev[0:]) != procEventFork {
		return forkEvent{}, false
	}
	d := ev[procEventHeaderLen:]
	parentTgid := int(le.Uint32(d[4:]))
	childPid, childTgid := int(le.Uint32(d[8:])), int(le.Uint32(d[12:]))
	if childPid != childTgid {
		return forkEvent{}, false
	}
	return forkEvent{parent: parentTgid, child: childTgid}, true
}

func (w *procWatcher) close() (forks []forkEvent, lost int) {
	close(w.stop)
	<-w.done
	_ = sendProcOp(w.fd, procCnMcastIgnore)
	unix.Close(w.fd)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.forks, w.lost
}

// descendants returns roots and every process forked from them, following
// forks in the order the kernel reported them. A root counts from the last
// fork that created it (a PID used by another process earlier in the
// window does not bring that process's children in).
func descendants(forks []forkEvent, roots []int) map[int]bool {
	start := map[int]int{} // root → index of the fork that made it; -1: before the window
	for _, r := range roots {
		start[r] = -1
	}
	for i, f := range forks {
		if _, ok := start[f.child]; ok {
			start[f.child] = i
		}
	}
	ours := map[int]bool{}
	for r, i := range start {
		if i < 0 {
			ours[r] = true
		}
	}
	for i, f := range forks {
		if j, ok := start[f.child]; ok && j == i {
			ours[f.child] = true
			continue
		}
		if ours[f.parent] {
			ours[f.child] = true
		}
	}
	return ours
}
