package lab

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// Listen serves, in the namespace, TCP (accept, write "ok", close) and
// UDP echo on each port, on IPv4 and IPv6, until the test ends.
func (n *NS) Listen(tcp []uint16, udp []uint16) {
	n.lab.t.Helper()
	err := n.Do(func() error {
		for _, p := range tcp {
			for _, nw := range []string{"tcp4", "tcp6"} {
				l, err := net.Listen(nw, ":"+strconv.Itoa(int(p)))
				if err != nil {
					return err
				}
				n.lab.t.Cleanup(func() { l.Close() })
				go func() {
					for {
						c, err := l.Accept()
						if err != nil {
							return
						}
						c.Write([]byte("ok"))
						c.Close()
					}
				}()
			}
		}
		for _, p := range udp {
			for _, nw := range []string{"udp4", "udp6"} {
				pc, err := net.ListenPacket(nw, ":"+strconv.Itoa(int(p)))
				if err != nil {
					return err
				}
				n.lab.t.Cleanup(func() { pc.Close() })
				go func() {
					buf := make([]byte, 1500)
					for {
						k, from, err := pc.ReadFrom(buf)
						if err != nil {
							return
						}
						pc.WriteTo(buf[:k], from)
					}
				}()
			}
		}
		return nil
	})
	if err != nil {
		n.lab.t.Fatalf("listen in %s: %v", n.Name, err)
	}
}

// Timeout is how long a probe waits before it calls a flow denied; a
// denied result is confirmed once with Confirm, so that a slow machine
// does not pass for a firewall.
var (
	Timeout = 300 * time.Millisecond
	Confirm = 1500 * time.Millisecond
)

// Probe is a flow to try: TCP or UDP to a port, or ICMP echo.
type Probe struct {
	Proto string // "tcp", "udp", "icmp"
	Dst   netip.Addr
	Port  uint16
}

func (p Probe) String() string {
	if p.Proto == "icmp" {
		return "icmp " + p.Dst.String()
	}
	return p.Proto + " " + netip.AddrPortFrom(p.Dst, p.Port).String()
}

// Try reports whether the flow gets through from n: a TCP connection
// accepted, a UDP datagram echoed, an ICMP echo answered. A failure is
// tried again with the longer Confirm timeout.
func (n *NS) Try(p Probe) (bool, error) {
	ok, err := n.try(p, Timeout)
	if ok || err != nil {
		return ok, err
	}
	return n.try(p, Confirm)
}

func (n *NS) try(p Probe, timeout time.Duration) (ok bool, err error) {
	err = n.Do(func() error {
		switch p.Proto {
		case "tcp":
			ok, err = tcpProbe(p, timeout)
		case "udp":
			ok, err = udpProbe(p, timeout)
		case "icmp":
			ok, err = icmpProbe(p, timeout)
		default:
			err = fmt.Errorf("unknown probe protocol %q", p.Proto)
		}
		return err
	})
	return ok, err
}

func localAddr(nw string, dst netip.Addr) string {
	if dst.Is6() {
		return "[::]:" + strconv.Itoa(nextPort())
	}
	return "0.0.0.0:" + strconv.Itoa(nextPort())
}

func tcpProbe(p Probe, timeout time.Duration) (bool, error) {
	for range 3 {
		la, err := net.ResolveTCPAddr("tcp", localAddr("tcp", p.Dst))
		if err != nil {
			return false, err
		}
		d := net.Dialer{Timeout: timeout, LocalAddr: la}
		c, err := d.Dial("tcp", netip.AddrPortFrom(p.Dst, p.Port).String())
		if errors.Is(err, errAddrInUse) {
			continue
		}
		if err != nil {
			return false, nil
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(timeout))
		b, _ := io.ReadAll(c)
		return string(b) == "ok", nil
	}
	return false, errors.New("no free client port")
}

func udpProbe(p Probe, timeout time.Duration) (bool, error) {
	la, err := net.ResolveUDPAddr("udp", localAddr("udp", p.Dst))
	if err != nil {
		return false, err
	}
	c, err := net.DialUDP("udp", la, net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.Dst, p.Port)))
	if err != nil {
		return false, nil
	}
	defer c.Close()
	msg := []byte("lockdown probe " + strconv.Itoa(nextPort()))
	if _, err := c.Write(msg); err != nil {
		return false, nil
	}
	c.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 1500)
	k, err := c.Read(buf)
	return err == nil && bytes.Equal(buf[:k], msg), nil
}

var echoID atomic.Uint32

func icmpProbe(p Probe, timeout time.Duration) (bool, error) {
	nw, typ, reply := "ip4:icmp", byte(8), byte(0)
	if p.Dst.Is6() {
		nw, typ, reply = "ip6:ipv6-icmp", 128, 129
	}
	c, err := net.ListenPacket(nw, "")
	if err != nil {
		return false, fmt.Errorf("icmp socket: %w", err)
	}
	defer c.Close()
	id := uint16(echoID.Add(1))
	msg := []byte{typ, 0, 0, 0, 0, 0, 0, 1, 'l', 'o', 'c', 'k', 'd', 'o', 'w', 'n'}
	binary.BigEndian.PutUint16(msg[4:], id)
	if !p.Dst.Is6() {
		binary.BigEndian.PutUint16(msg[2:], checksum(msg))
	}
	if _, err := c.WriteTo(msg, &net.IPAddr{IP: p.Dst.AsSlice()}); err != nil {
		return false, nil
	}
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 1500)
	for {
		c.SetReadDeadline(deadline)
		k, _, err := c.ReadFrom(buf)
		if err != nil {
			return false, nil
		}
		if k >= 8 && buf[0] == reply && binary.BigEndian.Uint16(buf[4:]) == id {
			return true, nil
		}
	}
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

var errAddrInUse error = syscall.EADDRINUSE
