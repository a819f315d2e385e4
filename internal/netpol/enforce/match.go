package enforce

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/netpol"
	"github.com/lockdown-sec/lockdown/internal/netpol/nft"
	"github.com/lockdown-sec/lockdown/internal/netpol/selector"
)

// ruleMatches translates a rule's conditions, for IPv4 and IPv6, into
// alternatives: each is the match list of one nft rule; together they
// match what the rule matches. A port list of numbers and named ports is
// one alternative for the numbers and one per named port.
func (c *compiler) ruleMatches(r *netpol.Rule) [][]nft.Match {
	var out [][]nft.Match
	for _, fam := range []int{4, 6} {
		if r.IPVersion != 0 && r.IPVersion != fam {
			continue
		}
		base := []nft.Match{nft.Family4or6(fam)}
		if r.Protocol != nil {
			base = append(base, nft.Cmp(nft.FieldL4Proto, false, []byte{byte(*r.Protocol)}))
		}
		if r.NotProtocol != nil {
			base = append(base, nft.Cmp(nft.FieldL4Proto, true, []byte{byte(*r.NotProtocol)}))
		}
		if r.ICMP != nil {
			base = append(base, icmpMatch(r.ICMP, false))
		}
		if r.NotICMP != nil {
			base = append(base, icmpMatch(r.NotICMP, true))
		}
		proto := netpol.Protocol(0)
		if r.Protocol != nil {
			proto = *r.Protocol
		}
		src, ok1 := c.side(&r.Src, false, fam, proto)
		dst, ok2 := c.side(&r.Dst, true, fam, proto)
		if !ok1 || !ok2 {
			continue
		}
		for _, s := range src {
			for _, d := range dst {
				m := append(append(append([]nft.Match{}, base...), s...), d...)
				out = append(out, m)
			}
		}
	}
	return out
}

func icmpMatch(m *netpol.ICMPMatch, neg bool) nft.Match {
	if m.Code == nil {
		return nft.Cmp(nft.FieldICMPType, neg, []byte{byte(m.Type)})
	}
	return nft.Cmp(nft.FieldICMPTypeCode, neg, []byte{byte(m.Type), byte(*m.Code)})
}

// side translates one side of a rule for family fam: alternatives of
// match lists (at least one), and false when the side cannot match a
// packet of that family.
func (c *compiler) side(m *netpol.EntityMatch, dst bool, fam int, proto netpol.Protocol) ([][]nft.Match, bool) {
	addr := nft.AddrField(dst, fam)
	portField := nft.FieldSport
	if dst {
		portField = nft.FieldDport
	}
	var all []nft.Match
	if m.Services != "" {
		svc := c.cfg.Services[m.Services]
		if svc == nil {
			return nil, false
		}
		if dst {
			all = append(all, nft.InSet(c.serviceSet(svc, fam), false, addr, nft.FieldL4Proto, nft.FieldDport))
		} else {
			all = append(all, nft.InSet(c.serviceEndpointSet(svc, fam), false, addr))
		}
	}
	if m.Selector != nil {
		all = append(all, nft.InSet(c.selectorSet(m.Selector, fam), false, addr))
	}
	if m.NotSelector != nil {
		all = append(all, nft.InSet(c.selectorSet(m.NotSelector, fam), true, addr))
	}
	if len(m.Nets) > 0 {
		nets := ofFamily(m.Nets, fam)
		if len(nets) == 0 {
			return nil, false
		}
		all = append(all, nft.InSet(c.netSet(nets, fam), false, addr))
	}
	if nets := ofFamily(m.NotNets, fam); len(nets) > 0 {
		all = append(all, nft.InSet(c.netSet(nets, fam), true, addr))
	}
	nums, names := splitPorts(m.NotPorts)
	if len(nums) > 0 {
		all = append(all, nft.InSet(c.portSet(nums), true, portField))
	}
	for _, n := range names {
		all = append(all, nft.InSet(c.namedPortSet(n, proto, fam), true, addr, nft.FieldL4Proto, portField))
	}
	if len(m.Ports) == 0 {
		return [][]nft.Match{all}, true
	}
	var alts [][]nft.Match
	nums, names = splitPorts(m.Ports)
	if len(nums) > 0 {
		alts = append(alts, append(append([]nft.Match{}, all...), nft.InSet(c.portSet(nums), false, portField)))
	}
	for _, n := range names {
		alts = append(alts, append(append([]nft.Match{}, all...), nft.InSet(c.namedPortSet(n, proto, fam), false, addr, nft.FieldL4Proto, portField)))
	}
	return alts, true
}

func splitPorts(ps []netpol.PortMatch) (nums []nft.PortRange, names []string) {
	for _, p := range ps {
		if p.Name != "" {
			names = append(names, p.Name)
			continue
		}
		nums = append(nums, nft.PortRange{Lo: p.Lo, Hi: p.Hi})
	}
	return nums, names
}

func ofFamily(ps []netip.Prefix, fam int) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range ps {
		if p.Addr().Is6() == (fam == 6) {
			out = append(out, p)
		}
	}
	return out
}

func famOf(ip netip.Addr) int {
	if ip.Is6() {
		return 6
	}
	return 4
}

func hostPrefix(ip netip.Addr) netip.Prefix { return netip.PrefixFrom(ip, ip.BitLen()) }

// selectorSet is the set of what a rule selector selects: the addresses
// of the endpoints whose labels match and the nets of the network sets
// whose labels match (as netpol's evaluator selects a peer).
//
// Sets are named by what they mean (a hash of the selector, the nets,
// the ports, the Service), never by the order the compiler met them, so
// that the same set keeps its name and elements across policy sets: an
// update in place (nft.Apply) leaves it untouched.
func (c *compiler) selectorSet(sel *selector.Selector, fam int) string {
	text := sel.String()
	name := "sel/" + shortHash(text) + "-" + strconv.Itoa(fam)
	return c.set(name, func() *nft.Set {
		s := &nft.Set{Kind: nft.SetPrefixes, V6: fam == 6, Comment: truncate(text, 127)}
		for _, k := range c.groupKeys {
			members := c.groups[k]
			if !sel.Matches(members[0].Labels) {
				continue
			}
			for _, e := range members {
				for _, ip := range e.IPs {
					if famOf(ip) == fam {
						s.Prefixes = append(s.Prefixes, hostPrefix(ip))
					}
				}
			}
		}
		for _, ns := range c.cfg.Sets {
			if sel.Matches(ns.Labels) {
				s.Prefixes = append(s.Prefixes, ofFamily(ns.Nets, fam)...)
			}
		}
		return s
	}).Name
}

func (c *compiler) netSet(nets []netip.Prefix, fam int) string {
	parts := make([]string, len(nets))
	for i, p := range nets {
		parts[i] = p.String()
	}
	key := strings.Join(parts, ",")
	name := "net/" + shortHash(key) + "-" + strconv.Itoa(fam)
	return c.set(name, func() *nft.Set {
		return &nft.Set{Kind: nft.SetPrefixes, V6: fam == 6, Prefixes: nets, Comment: truncate(key, 127)}
	}).Name
}

func (c *compiler) portSet(ports []nft.PortRange) string {
	var parts []string
	for _, p := range ports {
		parts = append(parts, strconv.Itoa(int(p.Lo))+"-"+strconv.Itoa(int(p.Hi)))
	}
	name := "ports/" + shortHash(strings.Join(parts, ","))
	return c.set(name, func() *nft.Set { return &nft.Set{Kind: nft.SetPorts, Ports: ports} }).Name
}

// namedPortSet holds address . protocol . port of every endpoint that
// declares the named port for the protocol.
func (c *compiler) namedPortSet(port string, proto netpol.Protocol, fam int) string {
	name := nft.Name("port", port, strings.ToLower(proto.String())) + "-" + strconv.Itoa(fam)
	return c.set(name, func() *nft.Set {
		s := &nft.Set{Kind: nft.SetTuples, Key: []nft.Field{nft.AddrField(true, fam), nft.FieldL4Proto, nft.FieldDport},
			Comment: "named port " + port + "/" + proto.String()}
		for _, e := range c.eps {
			n, ok := e.NamedPort(port, proto)
			if !ok {
				continue
			}
			for _, ip := range e.IPs {
				if famOf(ip) == fam {
					s.Tuples = append(s.Tuples, nft.Tuple{ip, uint8(proto), n})
				}
			}
		}
		return s
	}).Name
}

// serviceSet holds address . protocol . port of every port a Service
// forwards to on each of its endpoints.
func (c *compiler) serviceSet(svc *netpol.Service, fam int) string {
	name := "svc/" + shortHash(svc.ID()) + "-" + strconv.Itoa(fam)
	return c.set(name, func() *nft.Set {
		s := &nft.Set{Kind: nft.SetTuples, Key: []nft.Field{nft.AddrField(true, fam), nft.FieldL4Proto, nft.FieldDport},
			Comment: "Service " + svc.ID()}
		for _, e := range c.eps {
			if !svc.Selects(e) {
				continue
			}
			for _, sp := range svc.Ports {
				port := sp.TargetPort
				if sp.TargetName != "" {
					n, ok := e.NamedPort(sp.TargetName, sp.Protocol)
					if !ok {
						continue
					}
					port = n
				}
				for _, ip := range e.IPs {
					if famOf(ip) == fam {
						s.Tuples = append(s.Tuples, nft.Tuple{ip, uint8(sp.Protocol), port})
					}
				}
			}
		}
		return s
	}).Name
}

// serviceEndpointSet holds the addresses of a Service's endpoints.
func (c *compiler) serviceEndpointSet(svc *netpol.Service, fam int) string {
	name := "svc/" + shortHash(svc.ID()) + "-endpoints-" + strconv.Itoa(fam)
	return c.set(name, func() *nft.Set {
		s := &nft.Set{Kind: nft.SetPrefixes, V6: fam == 6, Comment: "endpoints of Service " + svc.ID()}
		for _, e := range c.eps {
			if svc.Selects(e) {
				for _, ip := range e.IPs {
					if famOf(ip) == fam {
						s.Prefixes = append(s.Prefixes, hostPrefix(ip))
					}
				}
			}
		}
		return s
	}).Name
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
