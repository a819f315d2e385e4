package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

// The pcap reader never panics, never returns a record larger than the
// maximum, and fails only with a *FormatError.
func FuzzReader(f *testing.F) {
	var good bytes.Buffer
	w, _ := NewWriter(&good, LinkEthernet, 1500)
	w.Write(Record{Time: time.Unix(5, 0), Data: ether(pkt{src: hostA, dst: hostB, proto: ProtoTCP, payload: []byte("x")}.ip(), true)})
	w.Flush()
	f.Add(good.Bytes())
	f.Add(buildPcapng(false, pkt{src: hostA, dst: hostB, proto: ProtoUDP, payload: wgMsg(1, 148)}.ip()))
	f.Add(buildPcapng(true, pkt{src: host6A, dst: host6B, proto: ProtoUDP, payload: wgData(10)}.ip()))
	f.Add(append(buildSHB(false), buildSHB(true)...))
	f.Add([]byte{0xd4, 0xc3, 0xb2, 0xa1, 0, 2, 0, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := NewReader(bytes.NewReader(data))
		for n := 0; err == nil && n < 10000; n++ {
			var r Record
			r, err = rd.Next()
			if err == nil && len(r.Data) > MaxSnaplen {
				t.Fatalf("record of %d bytes", len(r.Data))
			}
			if err == nil {
				var an Analyzer
				an.Add(r.LinkType, r.Time, r.Data, r.OrigLen)
			}
		}
		var fe *FormatError
		if err != nil && !errors.Is(err, io.EOF) && !errors.As(err, &fe) {
			t.Fatalf("error %T %v, want a *FormatError", err, err)
		}
	})
}

// Decoding and classifying arbitrary frames never panics, and payload
// bounds hold.
func FuzzDecode(f *testing.F) {
	f.Add(LinkRaw, pkt{src: hostA, dst: hostB, proto: ProtoTCP, payload: []byte{22, 3, 1, 0, 5, 1, 2, 3, 4, 5}}.ip(), 0)
	f.Add(LinkRaw, pkt{src: host6A, dst: host6B, proto: ProtoUDP, payload: wgMsg(1, 148)}.ip(), 0)
	f.Add(LinkEthernet, ether(pkt{src: hostA, dst: hostB, proto: ProtoUDP, sport: 4500, payload: []byte{0, 0, 0, 0, 1}}.ip(), true), 0)
	f.Add(LinkLinuxSLL2, []byte{0x08, 0x00}, 100)
	f.Add(LinkRaw, pkt{src: hostA, dst: hostB, proto: ProtoUDP, payload: make([]byte, 30), moreFrags: true, id: 3}.ip(), 9000)
	f.Fuzz(func(t *testing.T, lt int, frame []byte, orig int) {
		var p Packet
		if err := Decode(lt, frame, orig, &p); err != nil {
			return
		}
		if len(p.Payload) > p.PayloadLen || p.PayloadLen < 0 {
			t.Fatalf("payload %d of %d", len(p.Payload), p.PayloadLen)
		}
		an := Analyzer{}
		an.AddPacket(&p)
		an.AddPacket(&p)
		r := an.Result()
		if r.EncryptedShare < 0 || r.EncryptedShare > 1 {
			t.Fatalf("share %v", r.EncryptedShare)
		}
	})
}

// The classifiers accept any bytes; what they claim holds.
func FuzzClassify(f *testing.F) {
	f.Add(wgMsg(1, 148), 148)
	f.Add(wgData(20), 64)
	f.Add([]byte{23, 3, 3, 0x40, 0}, 5)
	f.Add([]byte("SSH-2.0-OpenSSH_9.2\r\n"), 21)
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), 18)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if typ := WireGuardType(b, n); typ != 0 && (b[0] != byte(typ) || n < 32) {
			t.Fatalf("WireGuardType = %d for % x (n %d)", typ, b[:4], n)
		}
		if typ, l, ok := TLSRecord(b); ok && (typ < 20 || typ > 24 || l <= 0 || l > tlsMaxRecord) {
			t.Fatalf("TLSRecord = %d %d", typ, l)
		}
		DTLSRecord(b, n)
		IKE(b, n)
		ESPHeader(b, n)
		c := Content(b)
		if c != ClassPlaintext && c != ClassOpaque {
			t.Fatalf("Content = %s", c)
		}
		if e := Entropy(b); e < 0 || e > 8.0001 {
			t.Fatalf("entropy %v", e)
		}
		if s := ReadableText(b, 64); len(s) > 3*64 {
			t.Fatalf("readable text of %d bytes", len(s))
		}
	})
}
