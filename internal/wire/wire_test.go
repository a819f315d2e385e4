package wire

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lockdown-sec/lockdown/internal/testutil"
	"golang.org/x/net/bpf"
)

func TestDecode(t *testing.T) {
	tcp := pkt{src: hostA, dst: hostB, proto: ProtoTCP, sport: 40000, dport: 443, seq: 7, payload: []byte("hello")}.ip()
	udp6 := pkt{src: host6A, dst: host6B, proto: ProtoUDP, sport: 51820, dport: 51821, payload: wgMsg(1, 148)}.ip()
	sll := append([]byte{0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00}, tcp...)
	sll2 := append([]byte{0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0}, udp6...)
	null := append([]byte{2, 0, 0, 0}, tcp...)
	tests := []struct {
		name  string
		lt    int
		frame []byte
		src   string
		proto uint8
		ports [2]uint16
		n     int
	}{
		{"ethernet tcp", LinkEthernet, ether(tcp, false), "192.0.2.1", ProtoTCP, [2]uint16{40000, 443}, 5},
		{"ethernet vlan tcp", LinkEthernet, ether(tcp, true), "192.0.2.1", ProtoTCP, [2]uint16{40000, 443}, 5},
		{"raw ipv6 udp", LinkRaw, udp6, "2001:db8::1", ProtoUDP, [2]uint16{51820, 51821}, 148},
		{"linux sll", LinkLinuxSLL, sll, "192.0.2.1", ProtoTCP, [2]uint16{40000, 443}, 5},
		{"linux sll2", LinkLinuxSLL2, sll2, "2001:db8::1", ProtoUDP, [2]uint16{51820, 51821}, 148},
		{"bsd loopback", LinkNull, null, "192.0.2.1", ProtoTCP, [2]uint16{40000, 443}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Packet
			if err := Decode(tt.lt, tt.frame, 0, &p); err != nil {
				t.Fatal(err)
			}
			if p.Src.String() != tt.src || p.Proto != tt.proto || p.SrcPort != tt.ports[0] || p.DstPort != tt.ports[1] || p.PayloadLen != tt.n || len(p.Payload) != tt.n {
				t.Errorf("Decode = src %s proto %d ports %d,%d payload %d/%d; want %s %d %v %d", p.Src, p.Proto, p.SrcPort, p.DstPort, len(p.Payload), p.PayloadLen, tt.src, tt.proto, tt.ports, tt.n)
			}
		})
	}
	// A packet cut by the snap length keeps its length on the wire.
	var p Packet
	if err := Decode(LinkRaw, udp6[:60], len(udp6), &p); err != nil || p.PayloadLen != 148 || len(p.Payload) != 12 {
		t.Errorf("snapped: err %v, payload %d of %d, want 12 of 148", err, len(p.Payload), p.PayloadLen)
	}
	arp := append(make([]byte, 12), 0x08, 0x06, 0, 1)
	if err := Decode(LinkEthernet, arp, 0, &p); !errors.Is(err, ErrNotIP) {
		t.Errorf("ARP: err = %v, want ErrNotIP", err)
	}
	for _, bad := range [][]byte{tcp[:10], tcp[:24], {0x45}, append([]byte{0x4f}, tcp[1:]...)} {
		if err := Decode(LinkRaw, bad, 0, &p); err == nil || errors.Is(err, ErrNotIP) {
			t.Errorf("Decode(% x…) = %v, want a truncation error", bad[:1], err)
		}
	}
	if err := Decode(999, tcp, 0, &p); err == nil || !strings.Contains(err.Error(), "link type 999 is not supported") {
		t.Errorf("link type 999: %v", err)
	}
}

func TestWireGuardType(t *testing.T) {
	tests := []struct {
		b    []byte
		n    int
		want int
	}{
		{wgMsg(1, 148), 148, 1},
		{wgMsg(1, 148), 149, 0},
		{wgMsg(2, 92), 92, 2},
		{wgMsg(3, 64), 64, 3},
		{wgData(0), 32, 4},      // keepalive
		{wgData(1400), 1440, 4}, // 1400 padded to 1408 + 32
		{wgData(5)[:40], 48, 4}, // captured prefix of a larger packet
		{wgData(5), 47, 0},      // not a multiple of 16 past the header
		{[]byte{4, 0, 0, 1}, 48, 0},
		{[]byte{5, 0, 0, 0}, 148, 0},
		{[]byte("GET / HTTP/1.1\r\n"), 16, 0},
	}
	for _, tt := range tests {
		if got := WireGuardType(tt.b, tt.n); got != tt.want {
			t.Errorf("WireGuardType(% x…, %d) = %d, want %d", tt.b[:4], tt.n, got, tt.want)
		}
	}
}

func TestContent(t *testing.T) {
	random := make([]byte, 400)
	rand.Read(random)
	tests := []struct {
		name string
		b    []byte
		want Class
	}{
		{"http", []byte("GET /index.html HTTP/1.1\r\nHost: shop\r\nCookie: s=1\r\n\r\n"), ClassPlaintext},
		{"zeros", make([]byte, 300), ClassPlaintext},
		{"random", random, ClassOpaque},
		{"random short", random[:40], ClassOpaque},
		{"tiny", random[:8], ClassPlaintext},
	}
	for _, tt := range tests {
		if got := Content(tt.b); got != tt.want {
			t.Errorf("Content(%s) = %s, want %s (entropy %.2f, readable %.2f)", tt.name, got, tt.want, Entropy(tt.b), Readable(tt.b))
		}
	}
	if got := ReadableText([]byte("\x01\x02ab\x00PASSWORD=hunter2\nrest"), 16); got != `PASSWORD=hunter2` {
		t.Errorf("ReadableText = %q", got)
	}
	if got := Entropy([]byte{1, 2, 3, 4}); got != 2 {
		t.Errorf("Entropy of 4 distinct bytes = %v, want 2", got)
	}
}

// tlsStreams runs a real TLS 1.3 handshake and exchange with crypto/tls
// and returns the bytes each side sent.
func tlsStreams(t testing.TB, secret []byte) (client, server []byte) {
	t.Helper()
	ca := testutil.NewCA(t, "lockdown test CA")
	cert := ca.Issue(t, "b", x509.ExtKeyUsageServerAuth, "b").TLS()
	c1, c2 := net.Pipe()
	var cw, sw bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := tls.Server(teeConn{c2, &sw}, &tls.Config{Certificates: []tls.Certificate{cert}})
		buf := make([]byte, len(secret))
		if _, err := io.ReadFull(s, buf); err == nil {
			s.Write(buf)
		}
		io.Copy(io.Discard, s) // until the client's close_notify
		c2.Close()
	}()
	c := tls.Client(teeConn{c1, &cw}, &tls.Config{RootCAs: ca.Pool(), ServerName: "b"})
	if _, err := c.Write(secret); err != nil {
		t.Fatal(err)
	}
	io.ReadFull(c, make([]byte, len(secret)))
	c.Close()
	wg.Wait()
	return cw.Bytes(), sw.Bytes()
}

type teeConn struct {
	net.Conn
	w *bytes.Buffer
}

func (c teeConn) Write(b []byte) (int, error) {
	c.w.Write(b)
	return c.Conn.Write(b)
}

func TestAnalyzerTLSStream(t *testing.T) {
	secret := bytes.Repeat([]byte("LOCKDOWN-SECRET-MARKER "), 2000)
	client, server := tlsStreams(t, secret)
	for _, snap := range []int{0, 96} {
		an := &Analyzer{Filter: Filter{A: netip.PrefixFrom(hostA, 32), B: netip.PrefixFrom(hostB, 32)}}
		add := func(ip []byte) {
			data := ip
			if snap > 0 && len(data) > snap {
				data = data[:snap]
			}
			an.Add(LinkRaw, time.Unix(1, 0), data, len(ip))
		}
		cs := tcpSegments(hostA, hostB, 40000, 8443, 1000, client, 1448)
		ss := tcpSegments(hostB, hostA, 8443, 40000, 5000, server, 1448)
		for i := range max(len(cs), len(ss)) {
			if i < len(cs) {
				add(cs[i])
			}
			if i < len(ss) {
				add(ss[i])
			}
		}
		// Unrelated traffic is not kept.
		add(pkt{src: hostA, dst: hostC, proto: ProtoTCP, sport: 1, dport: 2, payload: secret[:100]}.ip())
		r := an.Result()
		if len(r.Flows) != 1 {
			t.Fatalf("snap %d: %d flows, want 1", snap, len(r.Flows))
		}
		f := r.Flows[0]
		want := int64(len(client) + len(server))
		if f.Class != "tls" || f.Bytes["tls"] != want || f.EncryptedShare != 1 || f.Evidence != nil {
			t.Errorf("snap %d: flow %+v; want all %d bytes TLS", snap, f, want)
		}
		if snap == 0 && !strings.HasSuffix(f.Details, "TLS record headers verified") {
			t.Errorf("details = %q", f.Details)
		}
	}
	// The same bytes in clear: plaintext with the marker as evidence.
	an := &Analyzer{}
	for _, ip := range tcpSegments(hostA, hostB, 40000, 8080, 1, secret, 1448) {
		an.Add(LinkRaw, time.Unix(1, 0), ip, 0)
	}
	f := an.Result().Flows[0]
	if f.Class != "plaintext" || f.EncryptedShare != 0 || f.Evidence == nil || !strings.HasPrefix(f.Evidence.Text, "LOCKDOWN-SECRET-MARKER") {
		t.Errorf("plaintext flow = %+v", f)
	}
}

// A stream that starts like TLS and then carries clear text is caught at
// the first record header that is not there.
func TestAnalyzerTLSContradiction(t *testing.T) {
	rec := append([]byte{23, 3, 3, 0, 32}, bytes.Repeat([]byte{0xaa}, 32)...)
	stream := append(rec, []byte("USER admin PASS secret-in-clear-text-after-a-fake-record")...)
	an := &Analyzer{}
	for _, ip := range tcpSegments(hostA, hostB, 1, 2, 0, stream, 37) {
		an.Add(LinkRaw, time.Time{}, ip, 0)
	}
	f := an.Result().Flows[0]
	if f.Bytes["tls"] != 37 || f.Plaintext != int64(len(stream)-37) || f.Evidence == nil || !strings.HasPrefix(f.Evidence.Text, "USER admin") {
		t.Errorf("flow = %+v, evidence %+v", f, f.Evidence)
	}
}

func TestAnalyzerUDP(t *testing.T) {
	an := &Analyzer{}
	add := func(p pkt) { an.Add(LinkRaw, time.Time{}, p.ip(), 0) }
	add(pkt{src: hostA, dst: hostB, proto: ProtoUDP, sport: 51820, dport: 51820, payload: wgMsg(1, 148)})
	add(pkt{src: hostB, dst: hostA, proto: ProtoUDP, sport: 51820, dport: 51820, payload: wgMsg(2, 92)})
	add(pkt{src: hostA, dst: hostB, proto: ProtoUDP, sport: 51820, dport: 51820, payload: wgData(100)})
	// A data message fragmented by the underlay: the first fragment is
	// judged by the UDP length, the later one joins the flow.
	big := wgData(1600)
	add(pkt{src: hostA, dst: hostB, proto: ProtoUDP, sport: 51820, dport: 51820, payload: big[:1000], id: 9, moreFrags: true, udpLenOverride: 8 + len(big)})
	add(pkt{src: hostA, dst: hostB, proto: ProtoUDP, payload: big[1000:], id: 9, fragOff: 126})
	// ESP, IKE, plain DNS.
	esp := make([]byte, 64)
	esp[2] = 1
	add(pkt{src: hostA, dst: hostB, proto: ProtoESP, payload: esp})
	add(pkt{src: hostA, dst: hostB, proto: ProtoUDP, sport: 53000, dport: 53, payload: []byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04shop\x07example\x03com\x00\x00\x01\x00\x01")})
	r := an.Result()
	got := map[string]FlowStat{}
	for _, f := range r.Flows {
		got[f.Proto+" "+f.A] = f
	}
	wg := got["udp 192.0.2.1:51820"]
	if wg.Class != "wireguard" || wg.EncryptedShare != 1 || wg.Bytes["wireguard"] != int64(148+92+len(wgData(100))+len(big)) || wg.Packets != 5 {
		t.Errorf("wireguard flow = %+v", wg)
	}
	if wg.Details != "WireGuard messages: 1 handshake initiation, 1 response, 0 cookie, 2 data" {
		t.Errorf("details = %q", wg.Details)
	}
	if f := got["esp 192.0.2.1"]; f.Class != "ipsec" {
		t.Errorf("esp flow = %+v", f)
	}
	if f := got["udp 192.0.2.1:53000"]; f.Class != "plaintext" || f.Evidence == nil || f.Evidence.Text != "shop" {
		t.Errorf("dns flow = %+v %+v", f, f.Evidence)
	}
}

func TestParseFilter(t *testing.T) {
	f, err := ParseFilter("192.0.2.1,198.51.100.0/24")
	if err != nil || f.String() != "192.0.2.1,198.51.100.0/24" || !f.Match(netip.MustParseAddr("198.51.100.9"), hostA) || f.Match(hostA, hostB) {
		t.Errorf("ParseFilter = %v, %v", f, err)
	}
	for _, bad := range []string{"", "192.0.2.1", "192.0.2.1,", "a,b", "192.0.2.1,2001:db8::1"} {
		if _, err := ParseFilter(bad); err == nil {
			t.Errorf("ParseFilter(%q) = nil error", bad)
		}
	}
}

// The kernel filter keeps exactly the packets between A and B, cut to the
// snap length (run here in x/net/bpf's virtual machine).
func TestFilterProgram(t *testing.T) {
	tests := []struct {
		filter string
		pkts   []pkt
		keep   []bool
	}{
		{"192.0.2.1,192.0.2.2", []pkt{
			{src: hostA, dst: hostB, proto: ProtoUDP, payload: make([]byte, 600)},
			{src: hostB, dst: hostA, proto: ProtoTCP},
			{src: hostA, dst: hostC, proto: ProtoTCP},
			{src: hostC, dst: hostB, proto: ProtoTCP},
			{src: hostA, dst: hostA, proto: ProtoTCP},
			{src: host6A, dst: host6B, proto: ProtoTCP},
		}, []bool{true, true, false, false, false, false}},
		{"192.0.2.0/31,192.0.2.2/32", []pkt{
			{src: hostA, dst: hostB, proto: ProtoTCP},
			{src: hostC, dst: hostB, proto: ProtoTCP},
		}, []bool{true, false}},
		{"2001:db8::/126,2001:db8::2", []pkt{
			{src: host6A, dst: host6B, proto: ProtoTCP},
			{src: host6B, dst: host6A, proto: ProtoUDP},
			{src: netip.MustParseAddr("2001:db8::9"), dst: host6B, proto: ProtoUDP},
			{src: hostA, dst: hostB, proto: ProtoTCP},
		}, []bool{true, true, false, false}},
	}
	for _, tt := range tests {
		f, err := ParseFilter(tt.filter)
		if err != nil {
			t.Fatal(err)
		}
		prog, err := FilterProgram(f, 128)
		if err != nil {
			t.Fatal(err)
		}
		vm, err := bpf.NewVM(prog)
		if err != nil {
			t.Fatalf("%s: %v", tt.filter, err)
		}
		for i, p := range tt.pkts {
			ip := p.ip()
			n, err := vm.Run(ip)
			want := 0
			if tt.keep[i] {
				want = 128 // the snap length: the kernel keeps at most the packet
			}
			if err != nil || n != want {
				t.Errorf("filter %s, packet %s → %s: keeps %d bytes (%v), want %d", tt.filter, p.src, p.dst, n, err, want)
			}
		}
	}
	arp := []byte{0, 1, 8, 0, 6, 4, 0, 1}
	prog, _ := FilterProgram(Filter{}, 64)
	vm, _ := bpf.NewVM(prog)
	if n, _ := vm.Run(append(arp, make([]byte, 20)...)); n != 0 {
		t.Errorf("the any-IP filter keeps ARP (%d bytes)", n)
	}
	if _, err := FilterProgram(Filter{}, 0); err == nil {
		t.Error("FilterProgram(snaplen 0) = nil error")
	}
}

func TestPcapRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, LinkRaw, 100)
	if err != nil {
		t.Fatal(err)
	}
	in := []Record{
		{Time: time.Unix(1700000000, 123456000).UTC(), Data: pkt{src: hostA, dst: hostB, proto: ProtoUDP, payload: wgMsg(1, 148)}.ip()},
		{Time: time.Unix(1700000001, 0).UTC(), Data: pkt{src: host6B, dst: host6A, proto: ProtoTCP, payload: []byte("x")}.ip()},
	}
	for _, r := range in {
		r.OrigLen = len(r.Data)
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	rd, err := NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range in {
		got, err := rd.Next()
		if err != nil {
			t.Fatal(err)
		}
		wantData := want.Data[:min(100, len(want.Data))]
		if !got.Time.Equal(want.Time) || got.LinkType != LinkRaw || !bytes.Equal(got.Data, wantData) || got.OrigLen != len(want.Data) {
			t.Errorf("record %d = %v %d %d/%d bytes, want %v %d/%d", i, got.Time, got.LinkType, len(got.Data), got.OrigLen, want.Time, len(wantData), len(want.Data))
		}
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Errorf("after the last record: %v, want io.EOF", err)
	}
}

// pcapng, as Wireshark writes it (little endian) and as a big-endian
// machine would, with nanosecond timestamps on the second.
func TestPcapng(t *testing.T) {
	ip := pkt{src: hostA, dst: hostB, proto: ProtoUDP, payload: wgMsg(2, 92)}.ip()
	for _, be := range []bool{false, true} {
		data := buildPcapng(be, ip)
		rd, err := NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		var got []Record
		for {
			r, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("big endian %v: %v", be, err)
			}
			r.Data = append([]byte(nil), r.Data...)
			got = append(got, r)
		}
		want := []Record{
			{Time: time.Unix(1, 500000).UTC(), LinkType: LinkRaw, Data: ip, OrigLen: len(ip)},
			{Time: time.Unix(2, 999).UTC(), LinkType: LinkEthernet, Data: ether(ip, false)[:60], OrigLen: len(ip) + 14},
			{LinkType: LinkRaw, Data: ip, OrigLen: len(ip)},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("big endian %v (-want +got):\n%s", be, diff)
		}
	}
}

func TestPcapCorrupt(t *testing.T) {
	var good bytes.Buffer
	w, _ := NewWriter(&good, LinkRaw, 65535)
	w.Write(Record{Time: time.Unix(1, 0), Data: make([]byte, 40), OrigLen: 40})
	w.Flush()
	g := good.Bytes()
	hugeCap := append([]byte(nil), g...)
	hugeCap[24+8], hugeCap[24+9], hugeCap[24+10], hugeCap[24+11] = 0xff, 0xff, 0xff, 0x7f
	badVersion := append([]byte(nil), g...)
	badVersion[4] = 9
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "offset 0: not a pcap or pcapng file: the file ends early"},
		{"text", []byte("GET / HTTP/1.1\r\n"), "offset 0: not a pcap or pcapng file (magic 47455420)"},
		{"short header", g[:10], "offset 0: pcap header: the file ends early"},
		{"bad version", badVersion, "offset 4: pcap version 9.4 is not 2.4"},
		{"truncated record", g[:len(g)-5], "offset 24: record 1 of 40 bytes: the file ends early"},
		{"truncated record header", g[:30], "offset 24: record 1 header: the file ends early"},
		{"huge record", hugeCap, "offset 24: record 1 claims 2147483647 captured bytes, more than the maximum 262144"},
		{"pcapng without byte order", append([]byte{0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0}, 1, 2, 3, 4), "offset 0: pcapng section header without its byte-order magic"},
		{"pcapng packet before interface", append(buildSHB(false), epbBlock(false, 0, 0, []byte{1, 2, 3, 4})...), "offset 28: pcapng packet of interface 0, which was not described"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, err := NewReader(bytes.NewReader(tt.data))
			for err == nil {
				_, err = rd.Next()
			}
			var fe *FormatError
			if !errors.As(err, &fe) || err.Error() != tt.want {
				t.Errorf("error = %v, want *FormatError %q", err, tt.want)
			}
		})
	}
}
