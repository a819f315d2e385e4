package enforce_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/netpol"
	"github.com/lockdown-sec/lockdown/internal/netpol/enforce"
	"github.com/lockdown-sec/lockdown/internal/netpol/enforce/lab"
)

// propPod is a pod of the property test's lab.
type propPod struct {
	name, bridge, addr string
}

var propPods = []propPod{
	{"p0", "b0", "10.98.1.10"}, {"p1", "b0", "10.98.1.11"}, {"p2", "b0", "10.98.1.12"},
	{"p3", "b1", "10.98.2.10"}, {"p4", "b1", "10.98.2.11"}, {"p5", "b1", "10.98.2.12"},
}

var (
	propTCP = []uint16{80, 443, 8080, 9000}
	propUDP = []uint16{53}
)

// propWorld writes a random world: the six pods with random namespaces,
// labels and named ports, and a few random Kubernetes and Calico policies.
func propWorld(r *rand.Rand) string {
	var b strings.Builder
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	for i := range 2 {
		fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata: {name: n%d, labels: {team: t%d}}\n---\n", i, r.IntN(2))
	}
	for _, p := range propPods {
		labels := "app: " + pick("a", "b", "c")
		if r.IntN(2) == 0 {
			labels += ", role: " + pick("x", "y")
		}
		fmt.Fprintf(&b, "apiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: n%d, labels: {%s}}\nspec:\n  containers: [{name: c, ports: [{name: http, containerPort: %s}]}]\nstatus: {podIP: %s}\n---\n",
			p.name, r.IntN(2), labels, pick("80", "8080"), p.addr)
	}
	if r.IntN(3) == 0 {
		fmt.Fprintf(&b, "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: t0}\nspec: {order: 10, defaultAction: %s}\n---\n", pick("Deny", "Pass"))
	}
	sel := func() string {
		return pick("app == 'a'", "app == 'b'", "app in {'a', 'c'}", "has(role)", "role != 'x'", "all()")
	}
	ports := func() string {
		return pick("[80]", "[http]", "[443, http]", "['8000:9000']", "[9000]")
	}
	calicoRule := func(peer string) string {
		action := pick("Allow", "Allow", "Deny", "Pass", "Log")
		var parts []string
		switch r.IntN(5) {
		case 0, 1:
			parts = append(parts, "protocol: TCP")
			if r.IntN(2) == 0 {
				parts = append(parts, "destination: {ports: "+ports()+"}")
			} else if r.IntN(3) == 0 {
				parts = append(parts, "destination: {notPorts: [443]}")
			}
		case 2:
			parts = append(parts, "protocol: UDP")
		case 3:
			parts = append(parts, "protocol: ICMP", "icmp: {type: "+pick("8", "0")+"}")
		}
		switch r.IntN(4) {
		case 0:
			parts = append(parts, peer+": {selector: \""+sel()+"\"}")
		case 1:
			parts = append(parts, peer+": {nets: ["+pick("10.98.1.0/24", "10.98.2.10/32")+"]}")
		case 2:
			parts = append(parts, peer+": {notNets: ["+pick("10.98.1.0/24", "10.98.2.10/32")+"]}")
		}
		// A peer and a destination port list both on "destination".
		for i, p := range parts {
			if strings.HasPrefix(p, "destination: {ports") && peer == "destination" {
				for j, q := range parts {
					if j != i && strings.HasPrefix(q, "destination: {") {
						parts[i] = "destination: {" + strings.TrimSuffix(strings.TrimPrefix(q, "destination: {"), "}") + ", " + strings.TrimPrefix(p, "destination: {")
						parts = append(parts[:j], parts[j+1:]...)
						break
					}
				}
				break
			}
		}
		return "  - {action: " + action + joinParts(parts) + "}\n"
	}
	n := 1 + r.IntN(4)
	for i := range n {
		switch r.IntN(3) {
		case 0: // Kubernetes
			fmt.Fprintf(&b, "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: k%d, namespace: n%d}\nspec:\n  podSelector: {matchLabels: {app: %s}}\n", i, r.IntN(2), pick("a", "b", "c"))
			if r.IntN(2) == 0 {
				fmt.Fprintf(&b, "  policyTypes: [Ingress, Egress]\n  egress:\n  - to: [{podSelector: {matchLabels: {app: %s}}}]\n", pick("a", "b"))
			}
			b.WriteString("  ingress:\n")
			for range r.IntN(3) {
				switch r.IntN(3) {
				case 0:
					fmt.Fprintf(&b, "  - from: [{namespaceSelector: {matchLabels: {team: t%d}}}]\n    ports: [{port: %s}]\n", r.IntN(2), pick("80", "http", "9000"))
				case 1:
					fmt.Fprintf(&b, "  - from: [{ipBlock: {cidr: 10.98.0.0/16, except: [10.98.2.0/24]}}]\n")
				default:
					fmt.Fprintf(&b, "  - from: [{podSelector: {matchLabels: {app: %s}}}]\n    ports: [{port: 53, protocol: UDP}, {port: 8000, endPort: 8100}]\n", pick("a", "b", "c"))
				}
			}
		default: // Calico
			kind, ns, tier := "GlobalNetworkPolicy", "", ""
			if r.IntN(2) == 0 {
				kind, ns = "NetworkPolicy", fmt.Sprintf(", namespace: n%d", r.IntN(2))
			}
			name := fmt.Sprintf("c%d", i)
			if strings.Contains(b.String(), "name: t0}") && r.IntN(2) == 0 {
				tier, name = "  tier: t0\n", "t0.c"+fmt.Sprint(i)
			}
			fmt.Fprintf(&b, "apiVersion: projectcalico.org/v3\nkind: %s\nmetadata: {name: %s%s}\nspec:\n%s  order: %d\n  selector: \"%s\"\n", kind, name, ns, tier, r.IntN(3)*10, sel())
			b.WriteString("  ingress:\n")
			for range 1 + r.IntN(3) {
				b.WriteString(calicoRule("source"))
			}
			if r.IntN(2) == 0 {
				b.WriteString("  egress:\n")
				for range 1 + r.IntN(2) {
					b.WriteString(calicoRule("destination"))
				}
			}
		}
		b.WriteString("---\n")
	}
	return b.String()
}

func joinParts(parts []string) string {
	if len(parts) == 0 {
		return ""
	}
	return ", " + strings.Join(parts, ", ")
}

// TestEnforcerMatchesAnalyser is the property test: on random small worlds
// (fixed seeds, both bridge modes), a real probe of random flows gets
// through exactly when netpol's evaluator (what `netpol check` runs)
// allows the flow.
func TestEnforcerMatchesAnalyser(t *testing.T) {
	labs := map[bool]*lab.Lab{}
	for _, brnf := range []bool{true, false} {
		l := lab.New(t, lab.Options{BrNetfilter: brnf})
		l.Bridge("b0", "10.98.1.1/24")
		l.Bridge("b1", "10.98.2.1/24")
		labs[brnf] = l
	}
	nsOf := map[bool]map[string]*lab.NS{true: {}, false: {}}
	for brnf, l := range labs {
		for _, p := range propPods {
			ns := l.Pod(p.name, p.bridge, p.addr+"/24")
			ns.Listen(propTCP, propUDP)
			nsOf[brnf][p.addr] = ns
		}
	}
	const seeds = 10
	flows, deniedFlows := 0, 0
	for seed := range uint64(seeds) {
		r := rand.New(rand.NewPCG(seed, 0x1d9))
		brnf := seed%2 == 0
		world := propWorld(r)
		cfg := buildYAML(t, world)
		a, err := enforce.NewApplier(enforce.Options{NetNS: labs[brnf].Host.Path, StateDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		rs, err := a.Compile(cfg)
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, world)
		}
		if _, err := a.Apply(context.Background(), rs); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		a.Close()
		type flow struct {
			src, dst propPod
			probe    lab.Probe
			pp       netpol.PortProto
			want     bool
		}
		var fs []flow
		for range 14 {
			src := propPods[r.IntN(len(propPods))]
			dst := propPods[r.IntN(len(propPods))]
			for dst == src {
				dst = propPods[r.IntN(len(propPods))]
			}
			f := flow{src: src, dst: dst}
			daddr := netip.MustParseAddr(dst.addr)
			switch r.IntN(4) {
			case 0:
				f.probe = lab.Probe{Proto: "udp", Dst: daddr, Port: 53}
				f.pp = netpol.PortProto{Protocol: netpol.ProtoUDP, Port: 53, ICMPType: -1}
			case 1:
				f.probe = lab.Probe{Proto: "icmp", Dst: daddr}
				f.pp = netpol.PortProto{Protocol: netpol.ProtoICMP, ICMPType: 8, ICMPCode: 0}
			default:
				port := propTCP[r.IntN(len(propTCP))]
				f.probe = lab.Probe{Proto: "tcp", Dst: daddr, Port: port}
				f.pp = netpol.PortProto{Protocol: netpol.ProtoTCP, Port: port, ICMPType: -1}
			}
			s, _ := cfg.Endpoint(src.addr)
			d, _ := cfg.Endpoint(dst.addr)
			f.want = cfg.Allowed(f.pp.Flow(netpol.EndpointPeer(s, 4), netpol.EndpointPeer(d, 4), 4))
			fs = append(fs, f)
		}
		got := make([]bool, len(fs))
		var wg sync.WaitGroup
		for i, f := range fs {
			wg.Go(func() {
				ok, err := nsOf[brnf][f.src.addr].Try(f.probe)
				if err != nil {
					t.Errorf("seed %d: probe %s: %v", seed, f.probe, err)
				}
				got[i] = ok
			})
		}
		wg.Wait()
		for i, f := range fs {
			flows++
			if !f.want {
				deniedFlows++
			}
			if got[i] != f.want {
				s, _ := cfg.Endpoint(f.src.addr)
				d, _ := cfg.Endpoint(f.dst.addr)
				v := cfg.Evaluate(f.pp.Flow(netpol.EndpointPeer(s, 4), netpol.EndpointPeer(d, 4), 4))
				t.Errorf("seed %d (br_netfilter %v): %s -> %s %s: probe %v, analyser %v\nsteps: %+v %+v\nworld:\n%s\nruleset:\n%s",
					seed, brnf, f.src.name, f.dst.name, f.pp, got[i], f.want, v.Egress.Steps, v.Ingress.Steps, world, rs.Text())
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	t.Logf("%d random worlds, %d flows (%d denied): enforcer == analyser", seeds, flows, deniedFlows)
	if deniedFlows == 0 || deniedFlows == flows {
		t.Errorf("the random flows were all %v: the test proves nothing", deniedFlows == 0)
	}
}
