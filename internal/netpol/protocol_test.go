package netpol

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/lockdown-sec/lockdown/internal/netpol/calicov3"
)

func TestParseProtocol(t *testing.T) {
	cases := []struct {
		in      string
		want    Protocol
		wantErr string
	}{
		{in: "TCP", want: ProtoTCP},
		{in: "tcp", want: ProtoTCP},
		{in: " Udp ", want: ProtoUDP},
		{in: "ICMP", want: ProtoICMP},
		{in: "icmpv6", want: ProtoICMPv6},
		{in: "ICMPv6", want: ProtoICMPv6},
		{in: "sctp", want: ProtoSCTP},
		{in: "UDPLite", want: ProtoUDPLite},
		{in: "udplite", want: ProtoUDPLite},
		{in: "6", want: ProtoTCP},
		{in: "255", want: 255},
		{in: "1", want: ProtoICMP},
		{in: "0", wantErr: "protocol number 0 out of range 1-255"},
		{in: "256", wantErr: "protocol number 256 out of range 1-255"},
		{in: "-1", wantErr: "protocol number -1 out of range 1-255"},
		{in: "gre", wantErr: `unknown protocol "gre" (want TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number 1-255)`},
		{in: "", wantErr: `unknown protocol ""`},
	}
	for _, c := range cases {
		got, err := ParseProtocol(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseProtocol(%q) = %v, %v; want error %q", c.in, got, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseProtocol(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestProtocolOfCalicoField(t *testing.T) {
	cases := []struct {
		in      calicov3.Protocol
		want    Protocol
		wantErr string
	}{
		{in: calicov3.Protocol{Str: "tcp"}, want: ProtoTCP},
		{in: calicov3.Protocol{IsNum: true, Num: 17}, want: ProtoUDP},
		{in: calicov3.Protocol{IsNum: true, Num: 300}, wantErr: "protocol number 300 out of range 1-255"},
		{in: calicov3.Protocol{Str: "17"}, want: ProtoUDP},
	}
	for _, c := range cases {
		got, err := protocolOf(c.in)
		if c.wantErr != "" {
			if err == nil || err.Error() != c.wantErr {
				t.Errorf("protocolOf(%v) = %v, %v; want error %q", c.in, got, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("protocolOf(%v) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestK8sProtocol(t *testing.T) {
	for in, want := range map[corev1.Protocol]Protocol{"": ProtoTCP, "TCP": ProtoTCP, "UDP": ProtoUDP, "SCTP": ProtoSCTP, "udp": ProtoUDP} {
		if got, err := k8sProtocol(in); err != nil || got != want {
			t.Errorf("k8sProtocol(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []corev1.Protocol{"ICMP", "6", "HTTP"} {
		if got, err := k8sProtocol(in); err == nil {
			t.Errorf("k8sProtocol(%q) = %v, nil; want an error", in, got)
		}
	}
}

// The protocol names read by every input path agree: a rule's protocol,
// a host endpoint port's protocol and a --port flag.
func TestProtocolEverywhere(t *testing.T) {
	for _, name := range []string{"tcp", "Udp", "SCTP", "udplite"} {
		want, err := ParseProtocol(name)
		if err != nil {
			t.Fatal(err)
		}
		pp, err := ParsePortProto("80/" + name)
		if err != nil || pp.Protocol != want {
			t.Errorf("ParsePortProto(80/%s) = %v, %v; want protocol %v", name, pp, err, want)
		}
		y := `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: p}
spec:
  ingress:
  - action: Allow
    protocol: ` + name + `
    destination: {ports: [80]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: h, labels: {a: b}}
spec:
  expectedIPs: [10.0.0.1]
  ports: [{name: web, protocol: ` + name + `, port: 80}]
`
		cfg := buildYAML(t, y)
		if got := *cfg.Policies[0].Ingress[0].Protocol; got != want {
			t.Errorf("rule protocol %s = %v, want %v", name, got, want)
		}
		if got := cfg.Endpoints[0].Ports[0].Protocol; got != want {
			t.Errorf("host endpoint port protocol %s = %v, want %v", name, got, want)
		}
	}
}

func FuzzParseProtocol(f *testing.F) {
	for _, s := range []string{"TCP", "icmpv6", "255", "0", "-7", "udplite", "999999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseProtocol(s)
		if err != nil {
			return
		}
		if p == 0 {
			t.Fatalf("ParseProtocol(%q) = 0 without an error", s)
		}
		// A parsed protocol reads back from its own name.
		back, err := ParseProtocol(p.String())
		if err != nil || back != p {
			t.Fatalf("ParseProtocol(%q) = %v; ParseProtocol(%q) = %v, %v", s, p, p.String(), back, err)
		}
	})
}
