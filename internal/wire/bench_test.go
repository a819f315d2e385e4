package wire

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// benchFrames is a mix of an underlay's traffic: WireGuard data, a TLS
// stream, a plaintext stream, IPsec.
func benchFrames(b *testing.B) (frames [][]byte, total int) {
	b.Helper()
	for i := range 200 {
		frames = append(frames, pkt{src: hostA, dst: hostB, proto: ProtoUDP, sport: 51820, dport: 51820, payload: wgData(1380 - i%7*16)}.ip())
	}
	client, server := tlsStreams(b, bytes.Repeat([]byte("x"), 200_000))
	frames = append(frames, tcpSegments(hostA, hostB, 40000, 443, 1, client, 1448)...)
	frames = append(frames, tcpSegments(hostB, hostA, 443, 40000, 9, server, 1448)...)
	frames = append(frames, tcpSegments(hostA, hostB, 40001, 80, 1, bytes.Repeat([]byte("GET /x HTTP/1.1\r\n"), 10000), 1448)...)
	for range 100 {
		esp := make([]byte, 1200)
		esp[2] = 1
		frames = append(frames, pkt{src: hostA, dst: hostB, proto: ProtoESP, payload: esp}.ip())
	}
	for _, f := range frames {
		total += len(f)
	}
	return frames, total
}

// Classification throughput: bytes of IP packets per second.
func BenchmarkAnalyzer(b *testing.B) {
	frames, total := benchFrames(b)
	b.SetBytes(int64(total))
	b.ReportAllocs()
	t := time.Unix(0, 0)
	for b.Loop() {
		var an Analyzer
		for _, f := range frames {
			an.Add(LinkRaw, t, f, len(f))
		}
		if r := an.Result(); len(r.Flows) != 4 {
			b.Fatalf("%d flows", len(r.Flows))
		}
	}
}

// The same with a capture's default snap length (512 bytes kept).
func BenchmarkAnalyzerSnaplen(b *testing.B) {
	frames, total := benchFrames(b)
	b.SetBytes(int64(total))
	b.ReportAllocs()
	t := time.Unix(0, 0)
	for b.Loop() {
		var an Analyzer
		for _, f := range frames {
			an.Add(LinkRaw, t, f[:min(len(f), DefaultSnaplen)], len(f))
		}
	}
}

func BenchmarkPcapReader(b *testing.B) {
	frames, total := benchFrames(b)
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, LinkRaw, 65535)
	for _, f := range frames {
		w.Write(Record{Time: time.Unix(1, 0), Data: f, OrigLen: len(f)})
	}
	w.Flush()
	data := buf.Bytes()
	b.SetBytes(int64(total))
	b.ReportAllocs()
	for b.Loop() {
		rd, err := NewReader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := rd.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}
