package wire

import (
	"encoding/binary"
	"math"
	"strings"
)

// Class is what a payload byte was found to be.
type Class uint8

// Classes. Encrypted reports which count as encrypted.
const (
	ClassPlaintext Class = iota // readable or structured data in clear
	ClassOpaque                 // high entropy, no known protocol: compressed, or encrypted by something unrecognised
	ClassWireGuard
	ClassIPsec // ESP, ESP in UDP, IKE
	ClassTLS   // TLS and DTLS record layer
	ClassSSH
	ClassControl // ICMP: never encrypted, carries no user data
	numClasses
)

var classNames = [numClasses]string{"plaintext", "opaque", "wireguard", "ipsec", "tls", "ssh", "control"}

func (c Class) String() string {
	if c < numClasses {
		return classNames[c]
	}
	return "unknown"
}

// MarshalText writes the class name.
func (c Class) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// Encrypted reports whether bytes of the class are encrypted on the wire.
func (c Class) Encrypted() bool {
	return c == ClassWireGuard || c == ClassIPsec || c == ClassTLS || c == ClassSSH
}

// WireGuard message types.
const (
	WGHandshakeInit     = 1 // 148 bytes
	WGHandshakeResponse = 2 // 92 bytes
	WGCookieReply       = 3 // 64 bytes
	WGData              = 4 // 16-byte header + padded ciphertext + 16-byte tag (32 bytes: keepalive)
)

// WireGuardType returns the WireGuard message type of a UDP payload n bytes
// long whose first bytes are b, or 0 when it is not one: type 1-4, three
// reserved zero bytes, and the size each type has.
func WireGuardType(b []byte, n int) int {
	if len(b) < 4 || b[1] != 0 || b[2] != 0 || b[3] != 0 {
		return 0
	}
	switch t := int(b[0]); {
	case t == WGHandshakeInit && n == 148, t == WGHandshakeResponse && n == 92, t == WGCookieReply && n == 64:
		return t
	case t == WGData && n >= 32 && (n-32)%16 == 0:
		return t
	}
	return 0
}

// TLS record content types and limits.
const (
	tlsChangeCipherSpec = 20
	tlsHandshake        = 22
	tlsApplicationData  = 23
	tlsHeartbeat        = 24
	tlsMaxRecord        = 1<<14 + 2048 // ciphertext limit of TLS 1.2
	TLSHeaderLen        = 5
)

// TLSRecord parses a TLS record header: content type 20-24, version 3.0 to
// 3.4 (TLS 1.3 writes 3.3), length within the protocol's limit.
func TLSRecord(b []byte) (typ uint8, length int, ok bool) {
	if len(b) < TLSHeaderLen || b[0] < tlsChangeCipherSpec || b[0] > tlsHeartbeat || b[1] != 3 || b[2] > 4 {
		return 0, 0, false
	}
	length = int(binary.BigEndian.Uint16(b[3:]))
	if length == 0 || length > tlsMaxRecord {
		return 0, 0, false
	}
	return b[0], length, true
}

// DTLSRecord reports whether a UDP payload n bytes long starts with a DTLS
// 1.0/1.2 record whose length fits the datagram.
func DTLSRecord(b []byte, n int) bool {
	if len(b) < 13 || b[0] < tlsChangeCipherSpec || b[0] > 25 || b[1] != 0xfe || (b[2] != 0xff && b[2] != 0xfd) {
		return false
	}
	l := int(binary.BigEndian.Uint16(b[11:]))
	return l > 0 && 13+l <= n
}

// SSHBanner reports whether a stream starts with an SSH version exchange.
func SSHBanner(b []byte) bool {
	return len(b) >= 4 && string(b[:4]) == "SSH-"
}

// IKE reports whether a UDP payload n bytes long is an IKE message
// (version 1 or 2 header whose length is the datagram's).
func IKE(b []byte, n int) bool {
	if len(b) < 28 {
		return false
	}
	if major := b[17] >> 4; major != 1 && major != 2 {
		return false
	}
	return int(binary.BigEndian.Uint32(b[24:])) == n
}

// ESPHeader reports whether b starts like an ESP packet: a non-reserved
// security parameter index (>= 256) and a sequence number.
func ESPHeader(b []byte, n int) bool {
	return len(b) >= 8 && n >= 8+16 && binary.BigEndian.Uint32(b) >= 256
}

// Content classifies bytes of no recognised protocol: plaintext when they
// are mostly readable or of low entropy, opaque when their entropy is close
// to the maximum for their length. Fewer than 16 bytes are plaintext unless
// they look random: too few to tell, and in clear either way.
func Content(b []byte) Class {
	if len(b) == 0 {
		return ClassPlaintext
	}
	if Readable(b) >= 0.85 {
		return ClassPlaintext
	}
	if len(b) >= 16 && Entropy(b) >= 0.85*maxEntropy(len(b)) {
		return ClassOpaque
	}
	return ClassPlaintext
}

// maxEntropy is the largest Shannon entropy (bits per byte) n bytes can
// have.
func maxEntropy(n int) float64 {
	if n >= 256 {
		return 8
	}
	return math.Log2(float64(n))
}

// Entropy is the Shannon entropy of b in bits per byte.
func Entropy(b []byte) float64 {
	if len(b) == 0 {
		return 0
	}
	var counts [256]int
	for _, c := range b {
		counts[c]++
	}
	n := float64(len(b))
	var h float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// Readable is the share of printable ASCII bytes (with tab, CR, LF) in b.
func Readable(b []byte) float64 {
	if len(b) == 0 {
		return 0
	}
	r := 0
	for _, c := range b {
		if c >= 0x20 && c < 0x7f || c == '\t' || c == '\n' || c == '\r' {
			r++
		}
	}
	return float64(r) / float64(len(b))
}

// ReadableText returns the first run of readable text in b of at least
// four characters, at most max long, with control characters escaped.
func ReadableText(b []byte, limit int) string {
	start, run := -1, 0
	for i, c := range b {
		if c >= 0x20 && c < 0x7f || c == '\t' || c == '\n' || c == '\r' {
			if start < 0 {
				start = i
			}
			run++
			if run >= limit {
				break
			}
			continue
		}
		if run >= 4 {
			break
		}
		start, run = -1, 0
	}
	if start < 0 || run < 4 {
		return ""
	}
	s := string(b[start : start+run])
	return strings.NewReplacer("\r", `\r`, "\n", `\n`, "\t", `\t`).Replace(s)
}
