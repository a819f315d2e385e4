package wire

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Filter keeps the packets between two address ranges, in either
// direction. The zero value keeps every packet.
type Filter struct {
	A, B netip.Prefix
}

// Match reports whether a packet from src to dst is between A and B.
func (f Filter) Match(src, dst netip.Addr) bool {
	if !f.A.IsValid() || !f.B.IsValid() {
		return true
	}
	return f.A.Contains(src) && f.B.Contains(dst) || f.B.Contains(src) && f.A.Contains(dst)
}

// String is "A,B", or "any" for the zero filter.
func (f Filter) String() string {
	if !f.A.IsValid() {
		return "any"
	}
	return prefixString(f.A) + "," + prefixString(f.B)
}

func prefixString(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// ParseFilter reads "A,B": two addresses or CIDRs of one IP version.
func ParseFilter(s string) (Filter, error) {
	a, b, ok := cutComma(s)
	if !ok {
		return Filter{}, fmt.Errorf("%q: want two addresses or CIDRs, A,B", s)
	}
	pa, err := parseAddrOrPrefix(a)
	if err != nil {
		return Filter{}, err
	}
	pb, err := parseAddrOrPrefix(b)
	if err != nil {
		return Filter{}, err
	}
	if pa.Addr().Is4() != pb.Addr().Is4() {
		return Filter{}, fmt.Errorf("%q: %s and %s are of different IP versions", s, a, b)
	}
	return Filter{A: pa, B: pb}, nil
}

func cutComma(s string) (string, string, bool) {
	for i := range len(s) {
		if s[i] == ',' {
			return s[:i], s[i+1:], s[:i] != "" && s[i+1:] != ""
		}
	}
	return "", "", false
}

func parseAddrOrPrefix(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither an IP address nor a CIDR", s)
	}
	return p.Masked(), nil
}

// flowKey names a flow in both directions: the lower endpoint first.
type flowKey struct {
	proto          uint8
	lo, hi         netip.Addr
	loPort, hiPort uint16
}

func keyOf(p *Packet) flowKey {
	k := flowKey{proto: p.Proto, lo: p.Src, hi: p.Dst, loPort: p.SrcPort, hiPort: p.DstPort}
	if c := cmp.Or(p.Src.Compare(p.Dst), cmp.Compare(p.SrcPort, p.DstPort)); c > 0 {
		k.lo, k.hi, k.loPort, k.hiPort = p.Dst, p.Src, p.DstPort, p.SrcPort
	}
	return k
}

// Stream states of one TCP direction.
const (
	streamNew = iota
	streamTLS
	streamSSH
	streamContent
)

// stream follows one direction of a TCP connection.
type stream struct {
	state   uint8
	synced  bool   // recNext is known
	recNext uint32 // sequence number of the next TLS record header
}

// flow is the state of one flow.
type flow struct {
	key                flowKey
	a, b               netip.AddrPort // a sent the first packet seen
	first, last        time.Time
	packets            int
	wire               int64
	bytes              [numClasses]int64
	dir                [2]stream // [0]: a → b, [1]: b → a
	wg                 [5]int    // WireGuard messages by type
	tlsRecords         int
	evidence           *Evidence
	evidenceCandidates int
}

// Evidence is the first plaintext seen in a flow.
type Evidence struct {
	Time time.Time `json:"time"`
	From string    `json:"from"` // the sender, address:port
	// Text is the first readable run of the payload (at most 64 bytes).
	Text string `json:"text,omitempty"`
	// Entropy is the Shannon entropy of the captured payload, bits per byte.
	Entropy float64 `json:"entropyBitsPerByte"`
	Bytes   int     `json:"bytes"` // captured payload bytes it was judged on
}

// Analyzer groups packets into flows and classifies their payload bytes.
// The zero value keeps every flow.
type Analyzer struct {
	Filter Filter
	// MaxFlows bounds the flows kept (0: 65536); packets of further flows
	// are counted in Result.Overflow.
	MaxFlows int

	flows    map[flowKey]*flow
	order    []*flow
	frags    map[fragKey]fragPorts
	seen     int
	matched  int
	skipped  int
	bad      int
	overflow int
	firstErr error
}

type fragKey struct {
	src, dst netip.Addr
	id       uint32
	proto    uint8
}

type fragPorts struct{ src, dst uint16 }

const maxFrags = 4096

// Add decodes one frame and accounts for it. Frames that are not IP are
// skipped; undecodable ones are counted (the first error is kept).
func (an *Analyzer) Add(lt int, t time.Time, frame []byte, origLen int) {
	an.seen++
	var p Packet
	p.Time = t
	if err := Decode(lt, frame, origLen, &p); err != nil {
		if errors.Is(err, ErrNotIP) {
			an.skipped++
			return
		}
		an.bad++
		if an.firstErr == nil {
			an.firstErr = fmt.Errorf("packet %d: %w", an.seen, err)
		}
		return
	}
	an.AddPacket(&p)
}

// AddPacket accounts for a decoded packet.
func (an *Analyzer) AddPacket(p *Packet) {
	if !an.Filter.Match(p.Src, p.Dst) {
		return
	}
	an.matched++
	an.fragments(p)
	if an.flows == nil {
		an.flows = map[flowKey]*flow{}
	}
	k := keyOf(p)
	f := an.flows[k]
	if f == nil {
		if len(an.flows) >= cmp.Or(an.MaxFlows, 65536) {
			an.overflow++
			return
		}
		f = &flow{key: k, a: netip.AddrPortFrom(p.Src, p.SrcPort), b: netip.AddrPortFrom(p.Dst, p.DstPort), first: p.Time}
		an.flows[k] = f
		an.order = append(an.order, f)
	}
	dir := 0
	if p.Src != f.a.Addr() || p.SrcPort != f.a.Port() {
		dir = 1
	}
	f.packets++
	f.wire += int64(p.WireLen)
	if p.Time.After(f.last) {
		f.last = p.Time
	}
	if p.PayloadLen == 0 {
		return
	}
	f.classify(p, dir)
}

// fragments gives later IPv4/IPv6 fragments the ports of their first
// fragment, so they join its flow.
func (an *Analyzer) fragments(p *Packet) {
	if !p.Fragment {
		return
	}
	fk := fragKey{p.Src, p.Dst, p.FragID, p.Proto}
	if !p.Later {
		if an.frags == nil {
			an.frags = map[fragKey]fragPorts{}
		}
		if len(an.frags) >= maxFrags {
			clear(an.frags)
		}
		an.frags[fk] = fragPorts{p.SrcPort, p.DstPort}
		return
	}
	if fp, ok := an.frags[fk]; ok {
		p.SrcPort, p.DstPort = fp.src, fp.dst
	}
}

// classify attributes the packet's payload bytes to classes.
func (f *flow) classify(p *Packet, dir int) {
	n, b := p.PayloadLen, p.Payload
	add := func(c Class, k int) {
		f.bytes[c] += int64(k)
		if c == ClassPlaintext {
			f.noteEvidence(p, b)
		}
	}
	if p.Later {
		// The rest of a fragmented datagram: it belongs with its first
		// fragment's class.
		add(f.dominant(), n)
		return
	}
	switch p.Proto {
	case ProtoESP:
		add(ClassIPsec, n)
	case ProtoICMP, ProtoICMPv6:
		add(ClassControl, n)
	case ProtoUDP:
		f.classifyUDP(p, add)
	case ProtoTCP:
		f.classifyTCP(p, dir, add)
	default:
		add(Content(b), n)
	}
}

func (f *flow) classifyUDP(p *Packet, add func(Class, int)) {
	b, n := p.Payload, p.PayloadLen
	size := n // the datagram's payload size, which a first fragment only states
	if p.Fragment && p.UDPLen >= 8 {
		size = p.UDPLen - 8
	}
	if t := WireGuardType(b, size); t != 0 {
		f.wg[t]++
		add(ClassWireGuard, n)
		return
	}
	nat := p.SrcPort == 4500 || p.DstPort == 4500
	switch {
	case nat && n == 1 && len(b) == 1 && b[0] == 0xff: // NAT-T keepalive
		add(ClassIPsec, n)
	case nat && len(b) >= 4 && b[0]|b[1]|b[2]|b[3] == 0 && IKE(b[4:], size-4):
		add(ClassIPsec, n)
	case nat && ESPHeader(b, size):
		add(ClassIPsec, n)
	case (p.SrcPort == 500 || p.DstPort == 500) && IKE(b, size):
		add(ClassIPsec, n)
	case DTLSRecord(b, size):
		add(ClassTLS, n)
	default:
		add(Content(b), n)
	}
}

// classifyTCP follows each direction as a byte stream: a TLS stream is
// walked record by record (headers verified wherever they were captured),
// an SSH stream is recognised by its version exchange, anything else is
// judged by content, segment by segment.
func (f *flow) classifyTCP(p *Packet, dir int, add func(Class, int)) {
	s := &f.dir[dir]
	b, n := p.Payload, p.PayloadLen
	if s.state == streamNew || s.state == streamContent {
		switch {
		case SSHBanner(b) && s.state == streamNew:
			s.state = streamSSH
		case tlsStart(b):
			s.state, s.synced, s.recNext = streamTLS, true, p.Seq
		default:
			s.state = streamContent
			add(Content(b), n)
			return
		}
	}
	switch s.state {
	case streamSSH:
		add(ClassSSH, n)
	case streamTLS:
		if !f.walkTLS(s, p) {
			// A header that should be there is not: not (or no longer) TLS.
			s.state, s.synced = streamContent, false
			add(Content(b), n)
			return
		}
		add(ClassTLS, n)
	}
}

// tlsStart reports whether a segment starts with a TLS record header.
func tlsStart(b []byte) bool {
	_, _, ok := TLSRecord(b)
	return ok
}

// walkTLS checks the record headers that start in the segment. It returns
// false when a captured header is invalid. When a header falls beyond the
// captured bytes (snap length) or a segment was missed, it loses sync and
// resynchronises on the next segment that starts with a header.
func (f *flow) walkTLS(s *stream, p *Packet) bool {
	b, n := p.Payload, p.PayloadLen
	if !s.synced {
		if !tlsStart(b) {
			return true // inside records we cannot see the bounds of
		}
		s.synced, s.recNext = true, p.Seq
	}
	end := p.Seq + uint32(n)
	for {
		off := int32(s.recNext - p.Seq)
		if off < 0 {
			if int32(end-s.recNext) <= 0 {
				return true // a retransmission of bytes already walked
			}
			s.synced = false // a gap: lost sync
			return true
		}
		if int(off) >= n {
			return true // the next header is in a later segment
		}
		if int(off)+TLSHeaderLen > len(b) {
			s.synced = false // beyond the snap length, or split across segments
			return true
		}
		_, l, ok := TLSRecord(b[off:])
		if !ok {
			return false
		}
		f.tlsRecords++
		s.recNext += uint32(TLSHeaderLen + l)
	}
}

// dominant is the class with the most bytes so far (plaintext on a tie
// or none).
func (f *flow) dominant() Class {
	best := ClassPlaintext
	for c := range numClasses {
		if f.bytes[c] > f.bytes[best] {
			best = c
		}
	}
	return best
}

// noteEvidence keeps the first plaintext payload with readable text (or
// the first plaintext payload when none has any).
func (f *flow) noteEvidence(p *Packet, b []byte) {
	if f.evidence != nil && f.evidence.Text != "" || f.evidenceCandidates > 64 {
		return
	}
	f.evidenceCandidates++
	text := ReadableText(b, 64)
	if f.evidence != nil && text == "" {
		return
	}
	f.evidence = &Evidence{
		Time: p.Time, From: netip.AddrPortFrom(p.Src, p.SrcPort).String(),
		Text: text, Entropy: roundTo(Entropy(b), 2), Bytes: len(b),
	}
}

func roundTo(x float64, digits int) float64 {
	m := 1.0
	for range digits {
		m *= 10
	}
	return float64(int64(x*m+0.5)) / m
}

// Result is what the analyzer saw.
type Result struct {
	Filter string `json:"between"`
	// Packets counts every frame read; Matched those between the filter's
	// addresses; NotIP frames without IP; Undecodable broken ones;
	// Overflow those of flows beyond MaxFlows.
	Packets     int        `json:"packets"`
	Matched     int        `json:"matched"`
	NotIP       int        `json:"notIP,omitempty"`
	Undecodable int        `json:"undecodable,omitempty"`
	Overflow    int        `json:"overflow,omitempty"`
	FirstError  string     `json:"firstError,omitempty"`
	Flows       []FlowStat `json:"flows"`
	// Bytes by class over all flows, and the encrypted share of the bytes
	// that are not control traffic.
	Bytes          map[string]int64 `json:"bytes"`
	EncryptedShare float64          `json:"encryptedShare"`
}

// FlowStat is one flow's classification.
type FlowStat struct {
	Proto   string           `json:"proto"`
	A       string           `json:"a"` // the endpoint that sent first
	B       string           `json:"b"`
	First   time.Time        `json:"first"`
	Last    time.Time        `json:"last"`
	Packets int              `json:"packets"`
	Wire    int64            `json:"wireBytes"` // IP bytes on the wire
	Bytes   map[string]int64 `json:"bytes"`     // payload bytes by class
	// Class is the class of most payload bytes; EncryptedShare the share
	// of payload bytes (control traffic aside) that are encrypted.
	Class          string    `json:"class"`
	EncryptedShare float64   `json:"encryptedShare"`
	Plaintext      int64     `json:"plaintextBytes"`
	Unencrypted    int64     `json:"unencryptedBytes"` // plaintext + opaque
	Evidence       *Evidence `json:"evidence,omitempty"`
	Details        string    `json:"details,omitempty"`
}

// Result returns the flows, largest first.
func (an *Analyzer) Result() Result {
	r := Result{
		Filter: an.Filter.String(), Packets: an.seen, Matched: an.matched, NotIP: an.skipped,
		Undecodable: an.bad, Overflow: an.overflow, Bytes: map[string]int64{}, Flows: []FlowStat{},
	}
	if an.firstErr != nil {
		r.FirstError = an.firstErr.Error()
	}
	var total [numClasses]int64
	for _, f := range an.order {
		fs := f.stat()
		for c := range numClasses {
			total[c] += f.bytes[c]
		}
		r.Flows = append(r.Flows, fs)
	}
	slices.SortStableFunc(r.Flows, func(a, b FlowStat) int { return cmp.Compare(b.Wire, a.Wire) })
	for c := range numClasses {
		if total[c] > 0 {
			r.Bytes[c.String()] = total[c]
		}
	}
	r.EncryptedShare = share(total)
	return r
}

// share is encrypted / (all − control), 1 when there is nothing else.
func share(b [numClasses]int64) float64 {
	var enc, all int64
	for c := range numClasses {
		if c == ClassControl {
			continue
		}
		all += b[c]
		if c.Encrypted() {
			enc += b[c]
		}
	}
	if all == 0 {
		return 1
	}
	return roundTo(float64(enc)/float64(all), 4)
}

var protoNames = map[uint8]string{ProtoTCP: "tcp", ProtoUDP: "udp", ProtoICMP: "icmp", ProtoICMPv6: "icmpv6", ProtoESP: "esp", ProtoAH: "ah"}

func (f *flow) stat() FlowStat {
	name := protoNames[f.key.proto]
	if name == "" {
		name = fmt.Sprintf("ip-proto-%d", f.key.proto)
	}
	a, b := f.a.String(), f.b.String()
	if f.key.proto != ProtoTCP && f.key.proto != ProtoUDP {
		a, b = f.a.Addr().String(), f.b.Addr().String()
	}
	fs := FlowStat{
		Proto: name, A: a, B: b, First: f.first, Last: f.last, Packets: f.packets, Wire: f.wire,
		Bytes: map[string]int64{}, Class: f.dominant().String(), EncryptedShare: share(f.bytes),
		Plaintext: f.bytes[ClassPlaintext], Unencrypted: f.bytes[ClassPlaintext] + f.bytes[ClassOpaque],
		Evidence: f.evidence,
	}
	var any bool
	for c := range numClasses {
		if f.bytes[c] > 0 {
			fs.Bytes[c.String()] = f.bytes[c]
			any = true
		}
	}
	if !any {
		fs.Class = "none"
	}
	if f.bytes[ClassWireGuard] > 0 {
		fs.Details = fmt.Sprintf("WireGuard messages: %d handshake initiation, %d response, %d cookie, %d data",
			f.wg[WGHandshakeInit], f.wg[WGHandshakeResponse], f.wg[WGCookieReply], f.wg[WGData])
	} else if f.bytes[ClassTLS] > 0 && f.key.proto == ProtoTCP {
		fs.Details = fmt.Sprintf("%d TLS record headers verified", f.tlsRecords)
	}
	return fs
}
