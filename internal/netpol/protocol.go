package netpol

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/lockdown-sec/lockdown/internal/netpol/calicov3"
)

// Protocol is an IP protocol number (6 TCP, 17 UDP, 1 ICMP, …). It is the
// one representation of a protocol everywhere in netpol: rules, named
// ports, flows, the CLI and the nftables compiler.
type Protocol uint8

// IP protocol numbers with a name.
const (
	ProtoICMP    Protocol = 1
	ProtoTCP     Protocol = 6
	ProtoUDP     Protocol = 17
	ProtoICMPv6  Protocol = 58
	ProtoSCTP    Protocol = 132
	ProtoUDPLite Protocol = 136
)

// protoNames are the names Calico accepts, keyed by their upper case.
var protoNames = map[string]Protocol{
	"TCP": ProtoTCP, "UDP": ProtoUDP, "ICMP": ProtoICMP, "ICMPV6": ProtoICMPv6,
	"SCTP": ProtoSCTP, "UDPLITE": ProtoUDPLite,
}

const protoWant = "want TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number 1-255"

// ParseProtocol reads a protocol as Calico accepts it: a name (TCP, UDP,
// ICMP, ICMPv6, SCTP, UDPLite, in any case) or a number 1-255.
func ParseProtocol(s string) (Protocol, error) {
	t := strings.TrimSpace(s)
	if p, ok := protoNames[strings.ToUpper(t)]; ok {
		return p, nil
	}
	n, err := strconv.Atoi(t)
	if err != nil {
		return 0, fmt.Errorf("unknown protocol %q (%s)", s, protoWant)
	}
	return protocolNumber(int64(n))
}

func protocolNumber(n int64) (Protocol, error) {
	if n < 1 || n > 255 {
		return 0, fmt.Errorf("protocol number %d out of range 1-255", n)
	}
	return Protocol(n), nil
}

// protocolOf reads a Calico protocol field (a number or a string).
func protocolOf(v calicov3.Protocol) (Protocol, error) {
	if v.IsNum {
		return protocolNumber(v.Num)
	}
	return ParseProtocol(v.Str)
}

// k8sProtocol reads a Kubernetes protocol field: TCP (also when empty),
// UDP or SCTP.
func k8sProtocol(p corev1.Protocol) (Protocol, error) {
	if p == "" {
		return ProtoTCP, nil
	}
	got, ok := protoNames[strings.ToUpper(strings.TrimSpace(string(p)))]
	if !ok || (got != ProtoTCP && got != ProtoUDP && got != ProtoSCTP) {
		return 0, fmt.Errorf("want TCP, UDP or SCTP, got %q", p)
	}
	return got, nil
}

// String is the usual name of the protocol, or its number.
func (p Protocol) String() string {
	switch p {
	case ProtoTCP:
		return "TCP"
	case ProtoUDP:
		return "UDP"
	case ProtoICMP:
		return "ICMP"
	case ProtoICMPv6:
		return "ICMPv6"
	case ProtoSCTP:
		return "SCTP"
	case ProtoUDPLite:
		return "UDPLite"
	}
	return strconv.Itoa(int(p))
}

// HasPorts reports whether the protocol has source and destination ports.
func (p Protocol) HasPorts() bool {
	return p == ProtoTCP || p == ProtoUDP || p == ProtoSCTP || p == ProtoUDPLite
}

// IsICMP reports whether the protocol is ICMP or ICMPv6 (type and code).
func (p Protocol) IsICMP() bool { return p == ProtoICMP || p == ProtoICMPv6 }

// ProtoName returns the usual name of a protocol number.
func ProtoName(p Protocol) string { return p.String() }

func protoHasPorts(p Protocol) bool { return p.HasPorts() }

// newICMPMatch checks an ICMP type (0-254) and optional code (0-255).
func newICMPMatch(typ int, code *int) (ICMPMatch, error) {
	if typ < 0 || typ > 254 {
		return ICMPMatch{}, fmt.Errorf("ICMP type %d out of range 0-254", typ)
	}
	if code != nil && (*code < 0 || *code > 255) {
		return ICMPMatch{}, fmt.Errorf("ICMP code %d out of range 0-255", *code)
	}
	return ICMPMatch{Type: typ, Code: code}, nil
}
