package netpol

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/netpol/load"
	"github.com/lockdown-sec/lockdown/internal/netpol/selector"
)

// Peer is one side of a flow: an endpoint (IP is then its address for the
// flow's family, possibly invalid when it has none) or a bare address.
type Peer struct {
	Endpoint *Endpoint
	IP       netip.Addr
}

// EndpointPeer is e as a flow peer for the IP family (4 or 6).
func EndpointPeer(e *Endpoint, family int) Peer {
	return Peer{Endpoint: e, IP: e.Addr(family)}
}

func (p Peer) String() string {
	switch {
	case p.Endpoint != nil:
		return p.Endpoint.ID()
	case p.IP.IsValid():
		return p.IP.String()
	}
	return "?"
}

// Flow is one connection attempt.
type Flow struct {
	Src, Dst  Peer
	IPVersion int // 4 (default) or 6
	Protocol  Protocol
	SrcPort   uint16 // 0: unknown (an ephemeral port; matches no source port list)
	DstPort   uint16
	ICMPType  int // -1: none given
	ICMPCode  int
}

func (f *Flow) family() int {
	if f.IPVersion == 6 {
		return 6
	}
	return 4
}

// PortProto is a destination port and protocol ("443/TCP").
type PortProto struct {
	Protocol Protocol
	Port     uint16 // 0 for protocols without ports
	ICMPType int    // -1: none
	ICMPCode int
}

func (p PortProto) String() string {
	switch {
	case protoHasPorts(p.Protocol):
		return strconv.Itoa(int(p.Port)) + "/" + ProtoName(p.Protocol)
	case (p.Protocol == ProtoICMP || p.Protocol == ProtoICMPv6) && p.ICMPType >= 0:
		return fmt.Sprintf("%s:%d:%d", ProtoName(p.Protocol), p.ICMPType, p.ICMPCode)
	}
	return ProtoName(p.Protocol)
}

// MarshalText writes "443/TCP".
func (p PortProto) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// ParsePortProto reads "443/TCP", "443" (TCP), "53/udp", "ICMP", "ICMP:8:0".
func ParsePortProto(s string) (PortProto, error) {
	s = strings.TrimSpace(s)
	pp := PortProto{ICMPType: -1}
	up := strings.ToUpper(s)
	if strings.HasPrefix(up, "ICMP") {
		parts := strings.Split(s, ":")
		proto, err := ParseProtocol(parts[0])
		if err != nil || !proto.IsICMP() || len(parts) > 3 {
			return pp, fmt.Errorf("invalid port %q (want PORT/PROTOCOL, ICMP or ICMP:TYPE:CODE)", s)
		}
		pp.Protocol = proto
		if len(parts) > 1 {
			t, err := strconv.Atoi(parts[1])
			if err != nil {
				return pp, fmt.Errorf("invalid ICMP type in %q (want 0-254)", s)
			}
			var code *int
			if len(parts) > 2 {
				c, err := strconv.Atoi(parts[2])
				if err != nil {
					return pp, fmt.Errorf("invalid ICMP code in %q (want 0-255)", s)
				}
				code = &c
			}
			m, err := newICMPMatch(t, code)
			if err != nil {
				return pp, fmt.Errorf("%q: %w", s, err)
			}
			pp.ICMPType = m.Type
			if m.Code != nil {
				pp.ICMPCode = *m.Code
			}
		}
		return pp, nil
	}
	num, proto, hasProto := strings.Cut(s, "/")
	pp.Protocol = ProtoTCP
	if hasProto {
		p, err := ParseProtocol(proto)
		if err != nil {
			return pp, err
		}
		pp.Protocol = p
	}
	if !protoHasPorts(pp.Protocol) {
		if num != "" && hasProto {
			return pp, fmt.Errorf("invalid port %q: %s has no ports", s, ProtoName(pp.Protocol))
		}
		return pp, nil
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > 65535 {
		return pp, fmt.Errorf("invalid port %q (want PORT/PROTOCOL with PORT 1-65535)", s)
	}
	pp.Port = uint16(n)
	return pp, nil
}

// Flow builds the flow from src to dst on pp.
func (pp PortProto) Flow(src, dst Peer, family int) Flow {
	return Flow{Src: src, Dst: dst, IPVersion: family, Protocol: pp.Protocol, DstPort: pp.Port, ICMPType: pp.ICMPType, ICMPCode: pp.ICMPCode}
}

// Step is one thing the evaluator looked at, in order.
type Step struct {
	Kind   string      `json:"kind"` // "tier", "policy", "rule", "end-of-tier", "profile", "default"
	Tier   string      `json:"tier,omitempty"`
	Policy string      `json:"policy,omitempty"`
	Rule   int         `json:"rule"` // rule index, -1 when not about a rule
	Action string      `json:"action,omitempty"`
	Note   string      `json:"note,omitempty"`
	Source load.Source `json:"source"`
	// Decided marks the step that gave the verdict.
	Decided bool `json:"decided,omitempty"`
	// Stage is "untracked" or "preDNAT" for the steps of those policies.
	Stage string `json:"stage,omitempty"`
}

// DirVerdict is the verdict of one side: the source's egress or the
// destination's ingress.
type DirVerdict struct {
	Direction Direction `json:"direction"`
	Endpoint  string    `json:"endpoint,omitempty"`
	Evaluated bool      `json:"evaluated"` // false when that side is not an endpoint
	Allowed   bool      `json:"allowed"`
	Steps     []Step    `json:"steps,omitempty"`
}

// Verdict is the outcome of a flow: allowed only if the source's egress and
// the destination's ingress both allow it.
type Verdict struct {
	Allowed bool   `json:"allowed"`
	Note    string `json:"note,omitempty"`
	// Stage is "untracked" when an untracked (doNotTrack) policy decided
	// the flow, skipping the other stages.
	Stage   string     `json:"stage,omitempty"`
	Egress  DirVerdict `json:"egress"`
	Ingress DirVerdict `json:"ingress"`
}

// Evaluate is the reference evaluator: a plain walk of tiers, policies and
// rules for one flow, recording every step.
func (c *Config) Evaluate(f Flow) Verdict {
	return c.evaluate(&f, true)
}

// Allowed is Evaluate without the explanation.
func (c *Config) Allowed(f Flow) bool {
	return c.evaluate(&f, false).Allowed
}

func (c *Config) evaluate(f *Flow, explain bool) Verdict {
	v := Verdict{Egress: DirVerdict{Direction: Egress}, Ingress: DirVerdict{Direction: Ingress}}
	if f.Src.Endpoint != nil && f.Src.Endpoint == f.Dst.Endpoint {
		v.Allowed, v.Egress.Allowed, v.Ingress.Allowed = true, true, true
		v.Note = "source and destination are the same endpoint: the traffic never leaves it"
		return v
	}
	if dockerIsolated(f.Src.Endpoint, f.Dst.Endpoint) {
		v.Note = "the containers share no Docker network: Docker gives them no path to each other, whatever the policies say"
		return v
	}
	// Untracked (doNotTrack) policies of host endpoints come first, the
	// source's egress then the destination's ingress: the first that
	// decides decides the flow, and an Allow skips every later stage.
	if len(c.Untracked) > 0 {
		for _, side := range []struct {
			ep  *Endpoint
			out *DirVerdict
		}{{f.Src.Endpoint, &v.Egress}, {f.Dst.Endpoint, &v.Ingress}} {
			o := c.walkTiers(StageUntracked, side.ep, side.out.Direction, f, side.out, explain)
			if o == undecided {
				continue
			}
			v.Stage = StageUntracked.String()
			v.Allowed = o == decidedAllow
			v.Egress.Allowed, v.Ingress.Allowed = v.Allowed, v.Allowed
			v.Note = "decided by an untracked (doNotTrack) policy: later stages are skipped"
			return v
		}
	}
	c.evalDir(f.Src.Endpoint, Egress, f, &v.Egress, explain)
	// PreDNAT policies of a host endpoint decide its ingress before the
	// normal policies; an Allow skips them.
	switch c.walkTiers(StagePreDNAT, f.Dst.Endpoint, Ingress, f, &v.Ingress, explain) {
	case decidedAllow:
		v.Ingress.Allowed, v.Ingress.Evaluated = true, true
	case decidedDeny:
		v.Ingress.Evaluated = true
	default:
		c.evalDir(f.Dst.Endpoint, Ingress, f, &v.Ingress, explain)
	}
	v.Allowed = v.Egress.Allowed && v.Ingress.Allowed
	return v
}

// outcome is what one stage's tiers made of one side of a flow.
type outcome uint8

const (
	undecided outcome = iota
	decidedAllow
	decidedDeny
)

// walkTiers walks the tiers of stage st for endpoint ep in direction d. In
// the normal stage a tier in which some policy applies but none decides
// ends with the tier's defaultAction; untracked and preDNAT tiers have no
// end-of-tier action, and apply to host endpoints only, as in Calico.
func (c *Config) walkTiers(st Stage, ep *Endpoint, d Direction, f *Flow, out *DirVerdict, explain bool) outcome {
	if ep == nil || (st != StageNormal && ep.Kind != EndpointHost) {
		return undecided
	}
	add := func(s Step) {
		if explain {
			if st != StageNormal {
				s.Stage = st.String()
			}
			out.Steps = append(out.Steps, s)
		}
	}
	decide := func(allowed bool, s Step) outcome {
		out.Allowed = allowed
		s.Decided = true
		add(s)
		if allowed {
			return decidedAllow
		}
		return decidedDeny
	}
tiers:
	for ti, tier := range c.Tiers {
		active := false
		for _, p := range c.byStage[st][ti] {
			if !p.Applies(d) || !p.Selector.Matches(ep.Labels) {
				continue
			}
			if !active {
				active = true
				add(Step{Kind: "tier", Tier: tier.Name, Rule: -1, Note: tierNote(tier), Source: tier.Source})
			}
			matched := false
			for i := range p.Rules(d) {
				r := &p.Rules(d)[i]
				if !c.ruleMatches(r, f) {
					continue
				}
				s := Step{Kind: "rule", Tier: tier.Name, Policy: p.ID(), Rule: r.Index, Action: r.Action.String(), Source: r.Source, Note: policyNote(p)}
				switch r.Action {
				case ActionLog:
					add(s)
					continue
				case ActionAllow:
					return decide(true, s)
				case ActionDeny:
					return decide(false, s)
				case ActionPass:
					s.Note = "pass to the next tier"
					add(s)
					matched = true
				}
				break
			}
			if matched {
				continue tiers
			}
			add(Step{Kind: "policy", Tier: tier.Name, Policy: p.ID(), Rule: -1, Note: policyNote(p) + "no rule matched", Source: p.Source})
		}
		if !active {
			continue
		}
		s := Step{Kind: "end-of-tier", Tier: tier.Name, Rule: -1, Action: tier.DefaultAction.String(), Source: tier.Source}
		switch {
		case st != StageNormal:
			s.Action, s.Note = "", "no policy decided: on to the next stage"
			add(s)
		case tier.DefaultAction == ActionPass:
			s.Note = "no policy decided: defaultAction Pass"
			add(s)
		default:
			s.Note = "no policy in the tier decided: end-of-tier deny"
			return decide(false, s)
		}
	}
	return undecided
}

func (c *Config) evalDir(ep *Endpoint, d Direction, f *Flow, out *DirVerdict, explain bool) {
	if ep == nil {
		out.Allowed = true
		if explain {
			out.Steps = append(out.Steps, Step{Kind: "default", Rule: -1, Action: "Allow", Decided: true,
				Note: "not an endpoint: no " + d.String() + " policy applies"})
		}
		return
	}
	out.Endpoint = ep.ID()
	out.Evaluated = true
	add := func(s Step) {
		if explain {
			out.Steps = append(out.Steps, s)
		}
	}
	decide := func(allowed bool, s Step) {
		out.Allowed = allowed
		s.Decided = true
		add(s)
	}
	steps := len(out.Steps)
	if c.walkTiers(StageNormal, ep, d, f, out, explain) != undecided {
		return
	}
	if explain && !slices.ContainsFunc(out.Steps[steps:], func(s Step) bool { return s.Kind == "tier" }) {
		add(Step{Kind: "default", Rule: -1, Note: "no policy selects the endpoint for " + d.String()})
	}
	for _, name := range ep.Profiles {
		prof := c.Profiles[name]
		if prof == nil {
			continue
		}
		for i := range prof.Rules(d) {
			r := &prof.Rules(d)[i]
			if !c.ruleMatches(r, f) {
				continue
			}
			s := Step{Kind: "profile", Policy: "profile " + name, Rule: i, Action: r.Action.String(), Source: r.Source}
			if prof.BuiltIn {
				s.Note = "built-in profile"
			}
			switch r.Action {
			case ActionAllow:
				decide(true, s)
				return
			case ActionDeny:
				decide(false, s)
				return
			case ActionLog:
				add(s)
				continue
			}
			break // Pass: on to the next profile
		}
	}
	note := "no profile allowed it: deny"
	if len(ep.Profiles) == 0 {
		note = "no policy or profile allowed it: deny"
		if ep.Kind == EndpointHost {
			note = "host endpoint with no policy or profile: deny by default"
		}
	}
	decide(false, Step{Kind: "default", Rule: -1, Action: "Deny", Note: note})
}

func tierNote(t *Tier) string {
	order := "unset"
	if t.Order != nil {
		order = strconv.FormatFloat(*t.Order, 'f', -1, 64)
	}
	s := "order " + order + ", defaultAction " + t.DefaultAction.String()
	if t.Missing {
		s += "; tier is not defined"
	}
	return s
}

func policyNote(p *Policy) string {
	order := "unset"
	if p.Order != nil {
		order = strconv.FormatFloat(*p.Order, 'f', -1, 64)
	}
	kind := p.Kind
	if kind == KindK8sNetworkPolicy {
		kind = "Kubernetes NetworkPolicy"
	}
	return kind + ", order " + order + ": "
}

func (c *Config) ruleMatches(r *Rule, f *Flow) bool {
	if r.IPVersion != 0 && r.IPVersion != f.family() {
		return false
	}
	if r.Protocol != nil && *r.Protocol != f.Protocol {
		return false
	}
	if r.NotProtocol != nil && *r.NotProtocol == f.Protocol {
		return false
	}
	if r.ICMP != nil && !r.ICMP.matches(f.ICMPType, f.ICMPCode) {
		return false
	}
	if r.NotICMP != nil && r.NotICMP.matches(f.ICMPType, f.ICMPCode) {
		return false
	}
	return c.entityMatches(&r.Src, f.Src, f.SrcPort, f.Protocol, false) && c.entityMatches(&r.Dst, f.Dst, f.DstPort, f.Protocol, true)
}

func (c *Config) entityMatches(e *EntityMatch, p Peer, port uint16, proto Protocol, dst bool) bool {
	if e.Services != "" && !c.matchesService(e.Services, p, port, proto, dst) {
		return false
	}
	if len(e.Nets) > 0 && !(p.IP.IsValid() && containsAddr(e.Nets, p.IP)) {
		return false
	}
	if len(e.NotNets) > 0 && p.IP.IsValid() && containsAddr(e.NotNets, p.IP) {
		return false
	}
	if e.Selector != nil && !c.selects(e.Selector, p) {
		return false
	}
	if e.NotSelector != nil && c.selects(e.NotSelector, p) {
		return false
	}
	if len(e.Ports) > 0 && !portsMatch(e.Ports, p.Endpoint, port, proto) {
		return false
	}
	if len(e.NotPorts) > 0 && portsMatch(e.NotPorts, p.Endpoint, port, proto) {
		return false
	}
	return true
}

// selects reports whether a rule selector selects the peer: the endpoint's
// labels match, or its address is in a network set whose labels match.
func (c *Config) selects(sel *selector.Selector, p Peer) bool {
	if p.Endpoint != nil && sel.Matches(p.Endpoint.Labels) {
		return true
	}
	if !p.IP.IsValid() {
		return false
	}
	for _, s := range c.Sets {
		if s.Contains(p.IP) && sel.Matches(s.Labels) {
			return true
		}
	}
	return false
}

func portsMatch(ports []PortMatch, ep *Endpoint, port uint16, proto Protocol) bool {
	for _, pm := range ports {
		if pm.Name != "" {
			if n, ok := ep.NamedPort(pm.Name, proto); ok && n == port {
				return true
			}
			continue
		}
		if pm.Lo <= port && port <= pm.Hi {
			return true
		}
	}
	return false
}

// dockerIsolated reports whether a and b are Docker containers with no
// path to each other: one is only on the "none" network, or they share no
// network and neither is on the host's network (which routes to every
// bridge). Endpoints whose networks are unknown are not isolated.
func dockerIsolated(a, b *Endpoint) bool {
	if a == nil || b == nil || a.Kind != EndpointContainer || b.Kind != EndpointContainer ||
		len(a.Networks) == 0 || len(b.Networks) == 0 {
		return false
	}
	connected := func(n string) bool { return n != "none" }
	if !slices.ContainsFunc(a.Networks, connected) || !slices.ContainsFunc(b.Networks, connected) {
		return true
	}
	if slices.Contains(a.Networks, "host") || slices.Contains(b.Networks, "host") {
		return false
	}
	for _, n := range a.Networks {
		if n != "none" && slices.Contains(b.Networks, n) {
			return false
		}
	}
	return true
}
