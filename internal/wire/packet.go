// Package wire tells from captured packets what crosses the network
// encrypted and what in clear text. It decodes IP packets (pure Go, from a
// live AF_PACKET capture or a pcap/pcapng file), groups them into flows,
// and classifies every payload byte: WireGuard (message types and sizes),
// IPsec (ESP, IKE), TLS and DTLS (record layer), SSH, plaintext (with
// evidence: the first readable bytes and their entropy), or opaque. It
// never decrypts anything, and it keeps only what it classifies.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Link types (pcap LINKTYPE_* values).
const (
	LinkNull      = 0   // BSD loopback: 4-byte address family
	LinkEthernet  = 1   // Ethernet II, 802.1Q tags
	LinkRaw       = 101 // raw IPv4 or IPv6
	LinkLinuxSLL  = 113 // Linux "cooked" capture v1
	LinkIPv4      = 228
	LinkIPv6      = 229
	LinkLinuxSLL2 = 276 // Linux "cooked" capture v2
	linkRawOld    = 12  // raw IP on some systems
	linkRawOld2   = 14
)

// IP protocol numbers.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoESP    = 50
	ProtoAH     = 51
	ProtoICMPv6 = 58
)

// ErrNotIP marks frames that carry no IP packet (ARP, LLDP, …): skipped,
// not errors.
var ErrNotIP = errors.New("not an IP packet")

// Packet is one decoded IP packet.
type Packet struct {
	Time             time.Time
	Src, Dst         netip.Addr
	Proto            uint8
	SrcPort, DstPort uint16
	// Seq and Flags are TCP's.
	Seq   uint32
	Flags uint8
	// Payload is the transport payload as captured: possibly cut short by
	// the snap length. PayloadLen is its length on the wire.
	Payload    []byte
	PayloadLen int
	// WireLen is the IP packet's length on the wire.
	WireLen int
	// UDPLen is the UDP header's length field: the whole datagram's, which
	// a first fragment carries only part of.
	UDPLen int
	// Fragment marks an IP fragment; Later ones (offset > 0) carry no
	// transport header: their ports come from the first fragment.
	Fragment, Later bool
	FragID          uint32
}

// TCP flags.
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
)

// Decode decodes a frame of link type lt captured from a frame origLen
// bytes long (origLen >= len(frame); 0 means len(frame)) into p.
// p.Payload aliases frame.
func Decode(lt int, frame []byte, origLen int, p *Packet) error {
	if origLen < len(frame) {
		origLen = len(frame)
	}
	hdr, err := linkHeader(lt, frame)
	if err != nil {
		return err
	}
	return decodeIP(frame[hdr:], origLen-hdr, p)
}

// linkHeader returns the length of the link-layer header, or ErrNotIP.
func linkHeader(lt int, b []byte) (int, error) {
	switch lt {
	case LinkRaw, LinkIPv4, LinkIPv6, linkRawOld, linkRawOld2:
		return 0, nil
	case LinkEthernet:
		off, et := 12, 0
		for range 3 { // up to two VLAN tags
			if len(b) < off+2 {
				return 0, fmt.Errorf("ethernet frame of %d bytes: %w", len(b), errShort)
			}
			et = int(binary.BigEndian.Uint16(b[off:]))
			if et != 0x8100 && et != 0x88a8 {
				break
			}
			off += 4
		}
		if et != 0x0800 && et != 0x86dd {
			return 0, ErrNotIP
		}
		return off + 2, nil
	case LinkLinuxSLL:
		if len(b) < 16 {
			return 0, fmt.Errorf("linux cooked header of %d bytes: %w", len(b), errShort)
		}
		if et := binary.BigEndian.Uint16(b[14:]); et != 0x0800 && et != 0x86dd {
			return 0, ErrNotIP
		}
		return 16, nil
	case LinkLinuxSLL2:
		if len(b) < 20 {
			return 0, fmt.Errorf("linux cooked v2 header of %d bytes: %w", len(b), errShort)
		}
		if et := binary.BigEndian.Uint16(b[0:]); et != 0x0800 && et != 0x86dd {
			return 0, ErrNotIP
		}
		return 20, nil
	case LinkNull:
		if len(b) < 4 {
			return 0, fmt.Errorf("loopback header of %d bytes: %w", len(b), errShort)
		}
		fam := binary.LittleEndian.Uint32(b)
		if fam > 0xffff {
			fam = binary.BigEndian.Uint32(b)
		}
		switch fam {
		case 2, 24, 28, 30: // AF_INET, AF_INET6 (BSDs, macOS)
			return 4, nil
		}
		return 0, ErrNotIP
	}
	return 0, fmt.Errorf("link type %d is not supported (want Ethernet, raw IP, Linux cooked or loopback)", lt)
}

var errShort = errors.New("truncated")

func decodeIP(b []byte, wire int, p *Packet) error {
	*p = Packet{Time: p.Time}
	if len(b) < 1 {
		return fmt.Errorf("empty IP packet: %w", errShort)
	}
	switch b[0] >> 4 {
	case 4:
		return decodeIPv4(b, wire, p)
	case 6:
		return decodeIPv6(b, wire, p)
	}
	return ErrNotIP
}

func decodeIPv4(b []byte, wire int, p *Packet) error {
	if len(b) < 20 {
		return fmt.Errorf("IPv4 header of %d bytes: %w", len(b), errShort)
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 || len(b) < ihl {
		return fmt.Errorf("IPv4 header length %d of %d captured bytes: %w", ihl, len(b), errShort)
	}
	total := int(binary.BigEndian.Uint16(b[2:]))
	if total == 0 { // segmentation offload: the length is the frame's
		total = wire
	}
	if total < ihl {
		return fmt.Errorf("IPv4 total length %d below the header length %d", total, ihl)
	}
	p.WireLen = total
	p.Src = netip.AddrFrom4([4]byte(b[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	p.Proto = b[9]
	frag := binary.BigEndian.Uint16(b[6:])
	offset := frag & 0x1fff
	p.Fragment = frag&0x2000 != 0 || offset != 0
	p.Later = offset != 0
	p.FragID = uint32(binary.BigEndian.Uint16(b[4:]))
	return transport(b[ihl:min(len(b), total)], total-ihl, p)
}

func decodeIPv6(b []byte, wire int, p *Packet) error {
	if len(b) < 40 {
		return fmt.Errorf("IPv6 header of %d bytes: %w", len(b), errShort)
	}
	plen := int(binary.BigEndian.Uint16(b[4:]))
	if plen == 0 { // jumbogram or offload
		plen = wire - 40
	}
	p.WireLen = plen + 40
	p.Src = netip.AddrFrom16([16]byte(b[8:24]))
	p.Dst = netip.AddrFrom16([16]byte(b[24:40]))
	next := b[6]
	rest := b[40:min(len(b), 40+plen)]
	restLen := plen
	for range 8 { // extension headers
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(rest) < 8 {
				return fmt.Errorf("IPv6 extension header: %w", errShort)
			}
			n := (int(rest[1]) + 1) * 8
			if n > len(rest) {
				return fmt.Errorf("IPv6 extension header of %d bytes: %w", n, errShort)
			}
			next, rest, restLen = rest[0], rest[n:], restLen-n
		case 44: // fragment
			if len(rest) < 8 {
				return fmt.Errorf("IPv6 fragment header: %w", errShort)
			}
			fo := binary.BigEndian.Uint16(rest[2:])
			p.Fragment = true
			p.Later = fo>>3 != 0
			p.FragID = binary.BigEndian.Uint32(rest[4:])
			next, rest, restLen = rest[0], rest[8:], restLen-8
		default:
			p.Proto = next
			return transport(rest, restLen, p)
		}
	}
	return fmt.Errorf("IPv6 extension header chain too long")
}

// transport decodes the transport header of b (captured bytes of an IP
// payload n bytes long on the wire).
func transport(b []byte, n int, p *Packet) error {
	if n < 0 {
		n = 0
	}
	if p.Later {
		p.Payload, p.PayloadLen = b, n
		return nil
	}
	switch p.Proto {
	case ProtoTCP:
		if len(b) < 20 {
			return fmt.Errorf("TCP header of %d bytes: %w", len(b), errShort)
		}
		off := int(b[12]>>4) * 4
		if off < 20 || off > len(b) {
			return fmt.Errorf("TCP data offset %d of %d captured bytes: %w", off, len(b), errShort)
		}
		p.SrcPort = binary.BigEndian.Uint16(b[0:])
		p.DstPort = binary.BigEndian.Uint16(b[2:])
		p.Seq = binary.BigEndian.Uint32(b[4:])
		p.Flags = b[13]
		p.Payload, p.PayloadLen = b[off:], max(n-off, 0)
	case ProtoUDP:
		if len(b) < 8 {
			return fmt.Errorf("UDP header of %d bytes: %w", len(b), errShort)
		}
		p.SrcPort = binary.BigEndian.Uint16(b[0:])
		p.DstPort = binary.BigEndian.Uint16(b[2:])
		p.UDPLen = int(binary.BigEndian.Uint16(b[4:]))
		p.Payload, p.PayloadLen = b[8:], max(n-8, 0)
	case ProtoICMP, ProtoICMPv6:
		if len(b) < 4 {
			return fmt.Errorf("ICMP header of %d bytes: %w", len(b), errShort)
		}
		p.Payload, p.PayloadLen = b, n
	default:
		p.Payload, p.PayloadLen = b, n
	}
	if len(p.Payload) > p.PayloadLen {
		p.Payload = p.Payload[:p.PayloadLen]
	}
	return nil
}
