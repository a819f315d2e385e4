package netpol

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/lockdown-sec/lockdown/internal/netpol/calicov3"
	"github.com/lockdown-sec/lockdown/internal/netpol/load"
)

// genSpec sizes a random world.
type genSpec struct {
	namespaces, pods, policies, k8sPolicies, tiers, sets, hostEndpoints int
	services, stagePolicies                                             int // Services; untracked and preDNAT policies
	apps                                                                int // distinct app labels per namespace
	replicas                                                            int // pods per deployment (identical but for name and IP)
}

// gen builds a random but valid set of objects from r.
type gen struct {
	r    *rand.Rand
	spec genSpec
	objs []*load.Object
	line int
}

func (g *gen) add(kind, ns, name string, obj any) {
	g.line++
	g.objs = append(g.objs, &load.Object{Kind: kind, Name: name, Namespace: ns, Obj: obj,
		Source: load.Source{File: "gen.yaml", Line: g.line}})
}

func (g *gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g *gen) ns(i int) string { return fmt.Sprintf("ns%d", i) }

func (g *gen) app() string { return fmt.Sprintf("a%d", g.r.IntN(max(1, g.spec.apps))) }

func (g *gen) selector(depth int) string {
	switch g.r.IntN(12) {
	case 0:
		return "all()"
	case 1:
		return ""
	case 2:
		return "has(role)"
	case 3:
		return "!has(role)"
	case 4:
		return fmt.Sprintf("app != '%s'", g.app())
	case 5:
		return fmt.Sprintf("role in {'db', '%s'}", g.pick("web", "cache"))
	case 6:
		return fmt.Sprintf("role not in {'%s'}", g.pick("db", "web"))
	case 7:
		return "app starts with 'a1'"
	case 8:
		if depth < 2 {
			return fmt.Sprintf("(%s) && (%s)", g.nonEmpty(depth+1), g.nonEmpty(depth+1))
		}
	case 9:
		if depth < 2 {
			return fmt.Sprintf("(%s) || (%s)", g.nonEmpty(depth+1), g.nonEmpty(depth+1))
		}
	case 10:
		return "kind == 'netset'"
	}
	return fmt.Sprintf("app == '%s'", g.app())
}

func (g *gen) nonEmpty(depth int) string {
	s := g.selector(depth)
	if s == "" {
		return "all()"
	}
	return s
}

func (g *gen) nsSelector() string {
	switch g.r.IntN(6) {
	case 0:
		return "all()"
	case 1:
		return "global()"
	case 2:
		return fmt.Sprintf("team == 't%d'", g.r.IntN(3))
	case 3:
		return fmt.Sprintf("projectcalico.org/name == '%s'", g.ns(g.r.IntN(g.spec.namespaces)))
	}
	return ""
}

var genPorts = []int64{53, 80, 443, 5432, 8080}

func (g *gen) entity(proto *calicov3.Protocol, dst bool) calicov3.EntityRule {
	var e calicov3.EntityRule
	if g.spec.services > 0 && g.r.IntN(8) == 0 {
		// A Service peer: nothing else on a destination, ports on a source.
		e.Services = &calicov3.ServiceMatch{Name: fmt.Sprintf("svc%d", g.r.IntN(g.spec.services)), Namespace: g.ns(g.r.IntN(g.spec.namespaces))}
		if !dst && proto != nil && !proto.IsNum && (proto.Str == "TCP" || proto.Str == "UDP") && g.r.IntN(2) == 0 {
			e.Ports = []calicov3.Port{{IsNum: true, Num: genPorts[g.r.IntN(len(genPorts))]}}
		}
		return e
	}
	if g.r.IntN(2) == 0 {
		e.Selector = g.selector(0)
	}
	if g.r.IntN(6) == 0 {
		e.NotSelector = g.nonEmpty(0)
	}
	if g.r.IntN(4) == 0 {
		e.NamespaceSelector = g.nsSelector()
	}
	if g.r.IntN(5) == 0 {
		e.Nets = []string{g.pick("10.0.0.0/8", "10.1.0.0/16", "10.2.0.0/24", "0.0.0.0/0", "192.168.0.0/16")}
	}
	if g.r.IntN(7) == 0 {
		e.NotNets = []string{g.pick("10.1.0.0/16", "10.0.3.0/24", "10.0.0.5/32")}
	}
	if g.r.IntN(8) == 0 {
		e.ServiceAccounts = &calicov3.ServiceAccountMatch{}
		if g.r.IntN(2) == 0 {
			e.ServiceAccounts.Names = []string{g.pick("sa0", "sa1", "default")}
		} else {
			e.ServiceAccounts.Selector = g.pick("tier == 'gold'", "has(tier)")
		}
	}
	if proto != nil && !proto.IsNum && (proto.Str == "TCP" || proto.Str == "UDP") {
		if g.r.IntN(2) == 0 {
			n := 1 + g.r.IntN(2)
			for range n {
				switch g.r.IntN(4) {
				case 0:
					e.Ports = append(e.Ports, calicov3.Port{Str: g.pick("http", "dns", "db")})
				case 1:
					e.Ports = append(e.Ports, calicov3.Port{Str: g.pick("1:1024", "400:500", "5000:9000")})
				default:
					e.Ports = append(e.Ports, calicov3.Port{IsNum: true, Num: genPorts[g.r.IntN(len(genPorts))]})
				}
			}
		}
		if g.r.IntN(6) == 0 {
			e.NotPorts = []calicov3.Port{{IsNum: true, Num: genPorts[g.r.IntN(len(genPorts))]}}
		}
	}
	return e
}

func (g *gen) rule(egress bool) calicov3.Rule {
	r := calicov3.Rule{Action: calicov3.Action(g.pick("Allow", "Allow", "Allow", "Deny", "Deny", "Pass", "Log"))}
	switch g.r.IntN(5) {
	case 0, 1:
		r.Protocol = &calicov3.Protocol{Str: "TCP"}
	case 2:
		r.Protocol = &calicov3.Protocol{Str: "UDP"}
	case 3:
		if g.r.IntN(3) == 0 {
			r.NotProtocol = &calicov3.Protocol{Str: "UDP"}
		}
	}
	if g.r.IntN(15) == 0 {
		v := 6
		r.IPVersion = &v
	}
	// The peer side gets most of the matching.
	if egress {
		r.Destination = g.entity(r.Protocol, true)
		if g.r.IntN(6) == 0 {
			r.Source = g.entity(r.Protocol, false)
		}
	} else {
		r.Source = g.entity(r.Protocol, false)
		if g.r.IntN(3) == 0 {
			r.Destination = g.entity(r.Protocol, true)
			r.Destination.Nets, r.Destination.NotNets = nil, nil
		}
	}
	if r.IPVersion != nil {
		for _, e := range []*calicov3.EntityRule{&r.Source, &r.Destination} {
			e.Nets, e.NotNets = nil, nil
		}
		if g.r.IntN(2) == 0 && r.Source.Services == nil {
			r.Source.Nets = []string{"fd00::/64"}
		}
	}
	return r
}

func (g *gen) order() *float64 {
	if g.r.IntN(5) == 0 {
		return nil
	}
	o := float64(g.r.IntN(4) * 100)
	return &o
}

func (g *gen) tierName() string {
	if g.spec.tiers == 0 || g.r.IntN(2) == 0 {
		return ""
	}
	return fmt.Sprintf("t%d", g.r.IntN(g.spec.tiers))
}

func (g *gen) rules(egress bool) []calicov3.Rule {
	n := g.r.IntN(4)
	var out []calicov3.Rule
	for range n {
		out = append(out, g.rule(egress))
	}
	return out
}

func (g *gen) types() []calicov3.PolicyType {
	switch g.r.IntN(4) {
	case 0:
		return []calicov3.PolicyType{calicov3.PolicyTypeIngress}
	case 1:
		return []calicov3.PolicyType{calicov3.PolicyTypeEgress}
	case 2:
		return []calicov3.PolicyType{calicov3.PolicyTypeIngress, calicov3.PolicyTypeEgress}
	}
	return nil
}

func (g *gen) labelSel() *metav1.LabelSelector {
	switch g.r.IntN(4) {
	case 0:
		return &metav1.LabelSelector{}
	case 1:
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "role", Operator: metav1.LabelSelectorOpIn, Values: []string{"db", "web"}}}}
	}
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": g.app()}}
}

func (g *gen) k8sPeer() networkingv1.NetworkPolicyPeer {
	switch g.r.IntN(4) {
	case 0:
		return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.0.1.0/24"}}}
	case 1:
		return networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": fmt.Sprintf("t%d", g.r.IntN(3))}}, PodSelector: g.labelSel()}
	case 2:
		return networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}}
	}
	return networkingv1.NetworkPolicyPeer{PodSelector: g.labelSel()}
}

func (g *gen) k8sPorts() []networkingv1.NetworkPolicyPort {
	if g.r.IntN(2) == 0 {
		return nil
	}
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	switch g.r.IntN(4) {
	case 0:
		p := intstr.FromString("http")
		return []networkingv1.NetworkPolicyPort{{Port: &p}}
	case 1:
		p := intstr.FromInt32(400)
		end := int32(8080)
		return []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &p, EndPort: &end}}
	case 2:
		p := intstr.FromInt32(53)
		return []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &p}}
	}
	p := intstr.FromInt32(int32(genPorts[g.r.IntN(len(genPorts))]))
	return []networkingv1.NetworkPolicyPort{{Port: &p}}
}

func (g *gen) build(t testing.TB) *Config {
	t.Helper()
	s := g.spec
	for i := range s.tiers {
		tier := &calicov3.Tier{}
		tier.Spec.Order = g.order()
		if g.r.IntN(2) == 0 {
			a := calicov3.Pass
			tier.Spec.DefaultAction = &a
		}
		g.add(calicov3.KindTier, "", fmt.Sprintf("t%d", i), tier)
	}
	for i := range s.namespaces {
		n := &corev1.Namespace{}
		n.Labels = map[string]string{"team": fmt.Sprintf("t%d", i%3)}
		g.add("Namespace", "", g.ns(i), n)
		sa := &corev1.ServiceAccount{}
		sa.Labels = map[string]string{"tier": g.pick("gold", "silver")}
		g.add("ServiceAccount", g.ns(i), "sa0", sa)
	}
	var tmpl *corev1.Pod
	for i := range s.pods {
		ns := g.ns(i % s.namespaces)
		if s.replicas > 1 {
			// Deployments: consecutive pods of a namespace share a template.
			ns = g.ns((i / s.replicas) % s.namespaces)
			if i%s.replicas != 0 && tmpl != nil {
				p := tmpl.DeepCopy()
				ip := fmt.Sprintf("10.%d.%d.%d", i%3, (i/250)%250, i%250+1)
				p.Status.PodIP, p.Status.PodIPs = ip, nil
				g.add("Pod", ns, fmt.Sprintf("p%d", i), p)
				continue
			}
		}
		p := &corev1.Pod{}
		tmpl = p
		p.Labels = map[string]string{"app": g.app()}
		if g.r.IntN(3) == 0 {
			p.Labels["role"] = g.pick("db", "web", "cache")
		}
		p.Spec.ServiceAccountName = g.pick("default", "sa0", "sa1")
		ip := fmt.Sprintf("10.%d.%d.%d", i%3, (i/250)%250, i%250+1)
		if g.r.IntN(20) != 0 { // some pods have no IP yet
			p.Status.PodIP = ip
			if g.r.IntN(2) == 0 {
				p.Status.PodIPs = []corev1.PodIP{{IP: ip}, {IP: fmt.Sprintf("fd00::%x", i+1)}}
			}
		}
		c := corev1.Container{Name: "c"}
		switch g.r.IntN(3) {
		case 0:
			c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: int32(g.pick2(80, 8080)), Protocol: corev1.ProtocolTCP}}
		case 1:
			c.Ports = []corev1.ContainerPort{{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}, {Name: "db", ContainerPort: 5432}}
		}
		p.Spec.Containers = []corev1.Container{c}
		g.add("Pod", ns, fmt.Sprintf("p%d", i), p)
	}
	for i := range s.hostEndpoints {
		h := &calicov3.HostEndpoint{}
		h.Labels = map[string]string{"app": g.app(), "role": "host"}
		h.Spec.ExpectedIPs = []string{fmt.Sprintf("192.168.0.%d", i+1)}
		if g.r.IntN(2) == 0 {
			h.Spec.Profiles = []string{"projectcalico-default-allow"}
		}
		g.add(calicov3.KindHostEndpoint, "", fmt.Sprintf("h%d", i), h)
	}
	for i := range s.sets {
		nets := []string{g.pick("10.0.0.0/24", "10.1.0.0/24", "10.2.0.0/16", "192.168.0.0/24")}
		labels := map[string]string{"kind": "netset", "app": g.app()}
		if g.r.IntN(2) == 0 {
			ns := &calicov3.NetworkSet{Spec: calicov3.NetworkSetSpec{Nets: nets}}
			ns.Labels = labels
			g.add(calicov3.KindNetworkSet, g.ns(g.r.IntN(s.namespaces)), fmt.Sprintf("s%d", i), ns)
		} else {
			gs := &calicov3.GlobalNetworkSet{Spec: calicov3.GlobalNetworkSetSpec{Nets: nets}}
			gs.Labels = labels
			g.add(calicov3.KindGlobalNetworkSet, "", fmt.Sprintf("gs%d", i), gs)
		}
	}
	for i := range s.policies {
		switch g.r.IntN(3) {
		case 0:
			gp := &calicov3.GlobalNetworkPolicy{}
			gp.Spec = calicov3.GlobalNetworkPolicySpec{Tier: g.tierName(), Order: g.order(), Selector: g.selector(0),
				Types: g.types(), Ingress: g.rules(false), Egress: g.rules(true)}
			if g.r.IntN(4) == 0 {
				gp.Spec.NamespaceSelector = g.nsSelector()
			}
			g.fixTypes(gp.Spec.Types, &gp.Spec.Ingress, &gp.Spec.Egress)
			g.add(calicov3.KindGlobalNetworkPolicy, "", fmt.Sprintf("g%d", i), gp)
		default:
			np := &calicov3.NetworkPolicy{}
			np.Spec = calicov3.NetworkPolicySpec{Tier: g.tierName(), Order: g.order(), Selector: g.selector(0),
				Types: g.types(), Ingress: g.rules(false), Egress: g.rules(true)}
			if g.r.IntN(6) == 0 {
				np.Spec.ServiceAccountSelector = "tier == 'gold'"
			}
			g.fixTypes(np.Spec.Types, &np.Spec.Ingress, &np.Spec.Egress)
			g.add(calicov3.KindNetworkPolicy, g.ns(g.r.IntN(s.namespaces)), fmt.Sprintf("n%d", i), np)
		}
	}
	for i := range s.services {
		svc := &corev1.Service{}
		svc.Spec.Selector = map[string]string{"app": g.app()}
		switch g.r.IntN(3) {
		case 0:
			svc.Spec.Ports = []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}
		case 1:
			svc.Spec.Ports = []corev1.ServicePort{{Port: 5432}, {Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")}}
		default:
			svc.Spec.Ports = []corev1.ServicePort{{Port: 8080, TargetPort: intstr.FromInt32(80)}}
		}
		g.add("Service", g.ns(g.r.IntN(s.namespaces)), fmt.Sprintf("svc%d", i), svc)
	}
	for i := range s.stagePolicies {
		gp := &calicov3.GlobalNetworkPolicy{}
		gp.Spec = calicov3.GlobalNetworkPolicySpec{Tier: g.tierName(), Order: g.order(), Selector: g.pick("role == 'host'", "has(app)", "all()"),
			ApplyOnForward: true, Ingress: g.rules(false)}
		if g.r.IntN(2) == 0 {
			gp.Spec.DoNotTrack = true
			gp.Spec.Egress = g.rules(true)
		} else {
			gp.Spec.PreDNAT = true
			gp.Spec.Types = []calicov3.PolicyType{calicov3.PolicyTypeIngress}
		}
		g.add(calicov3.KindGlobalNetworkPolicy, "", fmt.Sprintf("stage%d", i), gp)
	}
	for i := range s.k8sPolicies {
		kp := &networkingv1.NetworkPolicy{}
		kp.Spec.PodSelector = *g.labelSel()
		for range g.r.IntN(3) {
			var from []networkingv1.NetworkPolicyPeer
			for range g.r.IntN(3) {
				from = append(from, g.k8sPeer())
			}
			kp.Spec.Ingress = append(kp.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: from, Ports: g.k8sPorts()})
		}
		if g.r.IntN(2) == 0 {
			for range g.r.IntN(3) {
				kp.Spec.Egress = append(kp.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{g.k8sPeer()}, Ports: g.k8sPorts()})
			}
		}
		if g.r.IntN(3) == 0 {
			kp.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
		}
		g.add(calicov3.KindNetworkPolicy, g.ns(g.r.IntN(s.namespaces)), fmt.Sprintf("k%d", i), kp)
	}
	cfg, err := Build(g.objs, nil)
	if err != nil {
		t.Fatalf("Build(generated) = %v", err)
	}
	return cfg
}

func (g *gen) pick2(a, b int) int {
	if g.r.IntN(2) == 0 {
		return a
	}
	return b
}

// fixTypes keeps generated policies valid: no rules in a direction the
// types leave out is fine (they are ignored), so nothing to fix; kept for
// symmetry with Calico's validator.
func (g *gen) fixTypes([]calicov3.PolicyType, *[]calicov3.Rule, *[]calicov3.Rule) {}

// extraPorts are checked besides the ports in use.
var extraPorts = []PortProto{
	{Protocol: ProtoTCP, Port: 9999, ICMPType: -1},
	{Protocol: ProtoUDP, Port: 53, ICMPType: -1},
	{Protocol: ProtoICMP, ICMPType: -1},
	{Protocol: ProtoSCTP, Port: 80, ICMPType: -1},
}

// compareWithReference checks every (src, dst, port) of the engine against
// the reference evaluator and returns the first difference.
func compareWithReference(cfg *Config, family int) error {
	ports := append(PortsInUse(cfg), extraPorts...)
	eng := Compile(cfg, ports, family)
	bits := make([]uint64, eng.Words())
	for i, src := range cfg.Endpoints {
		for j, dst := range cfg.Endpoints {
			eng.AllowedInto(i, j, bits)
			for k, pp := range ports {
				got := bits[k/64]&(1<<(k%64)) != 0
				f := pp.Flow(EndpointPeer(src, family), EndpointPeer(dst, family), family)
				if want := cfg.Allowed(f); got != want {
					return fmt.Errorf("engine(%s -> %s %s) = %v, reference = %v", src.ID(), dst.ID(), pp, got, want)
				}
			}
		}
	}
	return nil
}

// TestEngineMatchesReference is the property test: on randomized policy
// sets (fixed seeds), the compiled matrix equals per-pair reference
// evaluation for every pair and port.
func TestEngineMatchesReference(t *testing.T) {
	for seed := range uint64(150) {
		r := rand.New(rand.NewPCG(seed, 0x5eed))
		g := &gen{r: r, spec: genSpec{
			namespaces: 1 + r.IntN(4), pods: 2 + r.IntN(14), policies: r.IntN(10), k8sPolicies: r.IntN(4),
			tiers: r.IntN(3), sets: r.IntN(3), hostEndpoints: r.IntN(3), apps: 1 + r.IntN(4),
			services: r.IntN(3), stagePolicies: r.IntN(3),
		}}
		cfg := g.build(t)
		for _, fam := range []int{4, 6} {
			if err := compareWithReference(cfg, fam); err != nil {
				t.Fatalf("seed %d, IPv%d: %v", seed, fam, err)
			}
		}
	}
}

var _ = netip.Addr{}
