//go:build linux

package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Capture reads packets from an interface with an AF_PACKET socket (no
// cgo, no libpcap) and hands each to fn as a raw IP record (LinkRaw). It
// returns when the duration is over, MaxPackets were read, ctx ends
// (Stopped "cancelled", no error) or fn fails.
func Capture(ctx context.Context, cfg CaptureConfig, fn func(Record) error) (CaptureStats, error) {
	var st CaptureStats
	if !cfg.Filter.A.IsValid() || !cfg.Filter.B.IsValid() {
		return st, errors.New("capture: a filter (between A and B) is required")
	}
	snap := cfg.Snaplen
	if snap == 0 {
		snap = DefaultSnaplen
	}
	prog, err := FilterProgram(cfg.Filter, snap)
	if err != nil {
		return st, fmt.Errorf("capture on %s: %w", cfg.Interface, err)
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return st, fmt.Errorf("capture on %s: %w", cfg.Interface, err)
	}
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return st, fmt.Errorf("capture on %q: %w", cfg.Interface, ErrNoInterface)
	}
	// Protocol 0: the socket receives nothing until it is bound, after
	// the filter is in place.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return st, fmt.Errorf("capture on %s: %w (%v)", cfg.Interface, ErrPermission, err)
		}
		return st, fmt.Errorf("capture on %s: packet socket: %w", cfg.Interface, err)
	}
	f := os.NewFile(uintptr(fd), "packet:"+cfg.Interface)
	defer f.Close()
	filter := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		filter[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return st, fmt.Errorf("capture on %s: attach filter: %w", cfg.Interface, err)
	}
	// A larger receive buffer rides out bursts; drops are counted either way.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		return st, fmt.Errorf("capture on %s: auxdata: %w", cfg.Interface, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		return st, fmt.Errorf("capture on %s: bind: %w", cfg.Interface, err)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return st, fmt.Errorf("capture on %s: %w", cfg.Interface, err)
	}
	start := time.Now()
	if cfg.Duration > 0 {
		if err := f.SetReadDeadline(start.Add(cfg.Duration)); err != nil {
			return st, fmt.Errorf("capture on %s: %w", cfg.Interface, err)
		}
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Now()) })
	defer stop()
	loopback := ifi.Flags&net.FlagLoopback != 0
	buf := make([]byte, snap)
	oob := make([]byte, unix.CmsgSpace(sizeofAuxdata))
	for cfg.MaxPackets <= 0 || st.Packets < cfg.MaxPackets {
		var n, oobn int
		var from unix.Sockaddr
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, oobn, _, from, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_TRUNC)
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			switch {
			case ctx.Err() != nil:
				st.Stopped = "cancelled"
			case errors.Is(err, os.ErrDeadlineExceeded):
				st.Stopped = "duration"
			default:
				return st, fmt.Errorf("capture on %s: read: %w", cfg.Interface, err)
			}
			break
		}
		ll, _ := from.(*unix.SockaddrLinklayer)
		if ll != nil && loopback && ll.Pkttype == unix.PACKET_OUTGOING {
			continue // on loopback every packet is seen going out and coming in
		}
		if ll != nil && ll.Protocol != htons(unix.ETH_P_IP) && ll.Protocol != htons(unix.ETH_P_IPV6) {
			continue
		}
		capLen := min(n, len(buf))
		orig := max(n, auxLen(oob[:oobn]))
		st.Packets++
		if err := fn(Record{Time: time.Now().UTC(), LinkType: LinkRaw, Data: buf[:capLen], OrigLen: orig}); err != nil {
			return st, err
		}
	}
	if st.Stopped == "" {
		st.Stopped = "max-packets"
	}
	st.Elapsed = time.Since(start)
	if s, err := unix.GetsockoptTpacketStats(fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
		st.KernelDrops = s.Drops
	}
	return st, nil
}

// auxLen returns the packet's length on the wire from PACKET_AUXDATA (the
// kernel records it before the filter cuts the packet to the snap length).
func auxLen(oob []byte) int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_PACKET && m.Header.Type == unix.PACKET_AUXDATA && len(m.Data) >= sizeofAuxdata {
			return int(binary.NativeEndian.Uint32(m.Data[4:8])) // tp_len
		}
	}
	return 0
}

// sizeofAuxdata is the size of struct tpacket_auxdata: status, len,
// snaplen (u32), mac, net, vlan_tci, vlan_tpid (u16).
const sizeofAuxdata = 20

func htons(v uint16) uint16 { return v<<8 | v>>8 }
