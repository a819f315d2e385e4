package wire

import (
	"encoding/binary"
	"net/netip"
)

// pkt builds raw IP packets for tests.
type pkt struct {
	src, dst         netip.Addr
	proto            uint8
	sport, dport     uint16
	seq              uint32
	flags            uint8
	payload          []byte
	fragOff          uint16 // IPv4 fragment offset in 8-byte units
	moreFrags        bool
	id               uint16
	udpLenOverride   int
	totalLenOverride int
}

var (
	hostA  = netip.MustParseAddr("192.0.2.1")
	hostB  = netip.MustParseAddr("192.0.2.2")
	hostC  = netip.MustParseAddr("192.0.2.3")
	host6A = netip.MustParseAddr("2001:db8::1")
	host6B = netip.MustParseAddr("2001:db8::2")
)

// transportBytes is the transport header plus payload.
func (p pkt) transportBytes() []byte {
	switch p.proto {
	case ProtoTCP:
		h := make([]byte, 20)
		binary.BigEndian.PutUint16(h[0:], p.sport)
		binary.BigEndian.PutUint16(h[2:], p.dport)
		binary.BigEndian.PutUint32(h[4:], p.seq)
		h[12] = 5 << 4
		h[13] = p.flags
		return append(h, p.payload...)
	case ProtoUDP:
		h := make([]byte, 8)
		binary.BigEndian.PutUint16(h[0:], p.sport)
		binary.BigEndian.PutUint16(h[2:], p.dport)
		l := 8 + len(p.payload)
		if p.udpLenOverride > 0 {
			l = p.udpLenOverride
		}
		binary.BigEndian.PutUint16(h[4:], uint16(l))
		return append(h, p.payload...)
	}
	return append([]byte(nil), p.payload...)
}

// ip returns the IP packet.
func (p pkt) ip() []byte {
	body := p.transportBytes()
	if p.fragOff > 0 {
		body = append([]byte(nil), p.payload...)
	}
	if p.src.Is6() {
		h := make([]byte, 40)
		h[0] = 6 << 4
		binary.BigEndian.PutUint16(h[4:], uint16(len(body)))
		h[6] = p.proto
		h[7] = 64
		copy(h[8:], p.src.AsSlice())
		copy(h[24:], p.dst.AsSlice())
		return append(h, body...)
	}
	h := make([]byte, 20)
	h[0] = 0x45
	total := 20 + len(body)
	if p.totalLenOverride > 0 {
		total = p.totalLenOverride
	}
	binary.BigEndian.PutUint16(h[2:], uint16(total))
	binary.BigEndian.PutUint16(h[4:], p.id)
	frag := p.fragOff
	if p.moreFrags {
		frag |= 0x2000
	}
	binary.BigEndian.PutUint16(h[6:], frag)
	h[8] = 64
	h[9] = p.proto
	copy(h[12:], p.src.AsSlice())
	copy(h[16:], p.dst.AsSlice())
	return append(h, body...)
}

// ether wraps an IP packet in an Ethernet frame, with a VLAN tag if vlan.
func ether(ip []byte, vlan bool) []byte {
	f := make([]byte, 12, 18+len(ip))
	if vlan {
		f = append(f, 0x81, 0x00, 0x00, 0x05)
	}
	if ip[0]>>4 == 6 {
		f = append(f, 0x86, 0xdd)
	} else {
		f = append(f, 0x08, 0x00)
	}
	return append(f, ip...)
}

// wgData is a WireGuard transport message carrying n bytes of (fake)
// ciphertext, padded as WireGuard pads.
func wgData(n int) []byte {
	padded := (n + 15) &^ 15
	b := make([]byte, 16+padded+16)
	b[0] = WGData
	for i := 16; i < len(b); i++ {
		b[i] = byte(i*131 + 7)
	}
	return b
}

func wgMsg(typ, size int) []byte {
	b := make([]byte, size)
	b[0] = byte(typ)
	for i := 4; i < size; i++ {
		b[i] = byte(i*29 + 3)
	}
	return b
}

// tcpSegments cuts a byte stream into TCP packets of at most mss bytes.
func tcpSegments(src, dst netip.Addr, sport, dport uint16, isn uint32, stream []byte, mss int) [][]byte {
	var out [][]byte
	seq := isn
	for len(stream) > 0 {
		n := min(mss, len(stream))
		out = append(out, pkt{src: src, dst: dst, proto: ProtoTCP, sport: sport, dport: dport, seq: seq, flags: 0x18, payload: stream[:n]}.ip())
		seq += uint32(n)
		stream = stream[n:]
	}
	return out
}

type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

func order(be bool) byteOrder {
	if be {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// block frames a pcapng block body.
func block(be bool, typ uint32, body []byte) []byte {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	o := order(be)
	total := uint32(12 + len(body))
	b := o.AppendUint32(nil, typ)
	b = o.AppendUint32(b, total)
	b = append(b, body...)
	return o.AppendUint32(b, total)
}

func buildSHB(be bool) []byte {
	o := order(be)
	body := o.AppendUint32(nil, 0x1a2b3c4d)
	body = o.AppendUint16(body, 1)
	body = o.AppendUint16(body, 0)
	body = o.AppendUint64(body, ^uint64(0))
	return block(be, 0x0a0d0d0a, body)
}

func idbBlock(be bool, lt, snaplen int, tsresol byte) []byte {
	o := order(be)
	body := o.AppendUint16(nil, uint16(lt))
	body = o.AppendUint16(body, 0)
	body = o.AppendUint32(body, uint32(snaplen))
	if tsresol != 0 {
		body = o.AppendUint16(body, 9)
		body = o.AppendUint16(body, 1)
		body = append(body, tsresol, 0, 0, 0)
		body = o.AppendUint32(body, 0) // opt_endofopt
	}
	return block(be, 1, body)
}

func epbBlock(be bool, iface int, ts uint64, data []byte, orig ...int) []byte {
	o := order(be)
	ol := len(data)
	if len(orig) > 0 {
		ol = orig[0]
	}
	body := o.AppendUint32(nil, uint32(iface))
	body = o.AppendUint32(body, uint32(ts>>32))
	body = o.AppendUint32(body, uint32(ts))
	body = o.AppendUint32(body, uint32(len(data)))
	body = o.AppendUint32(body, uint32(ol))
	body = append(body, data...)
	return block(be, 6, body)
}

func buildPcapng(be bool, ip []byte) []byte {
	o := order(be)
	var b []byte
	b = append(b, buildSHB(be)...)
	b = append(b, idbBlock(be, LinkRaw, 0, 0)...)
	b = append(b, idbBlock(be, LinkEthernet, 60, 9)...)
	b = append(b, epbBlock(be, 0, 1_000_500, ip)...)
	eth := ether(ip, false)
	b = append(b, epbBlock(be, 1, 2_000_000_999, eth[:60], len(eth))...)
	b = append(b, block(be, 0x0bad, []byte("skip me"))...)
	spb := o.AppendUint32(nil, uint32(len(ip)))
	b = append(b, block(be, 3, append(spb, ip...))...)
	return b
}
