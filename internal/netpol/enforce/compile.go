// Package enforce turns the normalised policy model that `netpol check`
// evaluates (netpol.Config) into nftables tables and keeps them applied:
// compile (this file), apply in one transaction, status and drift, set
// updates as endpoints come and go.
//
// The tables walk the same steps as netpol's reference evaluator, per
// packet: untracked (doNotTrack) policies of host endpoints before
// connection tracking, established and related connections accepted, then
// the source's egress and the destination's ingress (preDNAT policies of
// a host endpoint first): tiers in order, policies in order, rules in
// order, Pass to the next tier, each tier's defaultAction, profiles, and
// deny when nothing allowed. Endpoints reach their rules through verdict
// maps keyed by address; rule peers are named sets keyed by selector, so
// the rule count grows with policies, not with endpoints.
package enforce

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lockdown-sec/lockdown/internal/netpol"
	"github.com/lockdown-sec/lockdown/internal/netpol/nft"
)

// DefaultTable is the name of Lockdown's table (in the inet family, and in
// the bridge family when bridged traffic bypasses the inet hooks).
const DefaultTable = "lockdown"

// CompileOptions say what to build.
type CompileOptions struct {
	// Table names the tables ("" means DefaultTable).
	Table string
	// Bridge adds a bridge-family table for traffic between ports of one
	// bridge that the inet hooks do not see (no br_netfilter). Without
	// connection tracking in the bridge family, that table keeps its own
	// set of allowed flows so that replies pass.
	Bridge bool
}

// Ruleset is a compiled policy set.
type Ruleset struct {
	Tables []*nft.Table
	// Digest identifies the whole ruleset (its nft text); StructDigest
	// leaves out set elements: two rulesets with the same StructDigest
	// differ only in which addresses are in which sets.
	Digest, StructDigest string
	Endpoints            int // endpoints with an address
	Policies             int // enforced policies (every stage)
	Warnings             []string
}

// Counts sums the tables' sizes.
func (r *Ruleset) Counts() nft.Counts { return nft.Count(r.Tables) }

// Text writes the ruleset in `nft -f` syntax.
func (r *Ruleset) Text() string {
	var b strings.Builder
	nft.Text(&b, r.Tables)
	return b.String()
}

// Chain and set names shared by every table.
const (
	chainFlow          = "new-flow"
	chainEgressAllowed = "egress-allowed"
	chainUntracked     = "untracked-check"
	chainUntrackedRaw  = "untracked-raw"
	chainTrack         = "track-flow"
	chainMeta          = "lockdown"
	setProtos          = "port-protocols"
	setNDTypes         = "icmpv6-nd-types"
	flowTimeout        = 2 * time.Minute
)

// Hook priorities: just before the filter tables of other tools
// (Docker's iptables-nft rules at 0), before Docker's DNAT (-100) for
// preDNAT policies, and in the raw slot (-300) for untracked ones.
const (
	prioFilter  = -10
	prioPreDNAT = -110
	prioRaw     = -300
)

type compiler struct {
	cfg  *netpol.Config
	eps  []*netpol.Endpoint // with addresses
	opts CompileOptions

	// Per table being built.
	t     *nft.Table
	sets  map[string]*nft.Set
	built map[string]bool // chains made

	// Endpoints with the same labels are selected alike: groups holds them
	// by label set (keys in first-seen order), labelKey each one's key.
	groups    map[string][]*netpol.Endpoint
	groupKeys []string
	labelKey  map[*netpol.Endpoint]string
	// applies caches, per stage, direction and label set, the policies
	// that apply, by tier.
	applies map[string][][]*netpol.Policy
}

// Compile builds the tables for cfg. Every endpoint must have an address
// (containers without one — on Docker's none or host network — are left
// out with a warning) and no address may belong to two endpoints.
func Compile(cfg *netpol.Config, opts CompileOptions) (*Ruleset, error) {
	if opts.Table == "" {
		opts.Table = DefaultTable
	}
	if nft.Name(opts.Table) != opts.Table || len(opts.Table) > 64 {
		return nil, fmt.Errorf("table name %q: use letters, digits, '-', '_' or '.', at most 64", opts.Table)
	}
	c := &compiler{cfg: cfg, opts: opts, applies: map[string][][]*netpol.Policy{},
		groups: map[string][]*netpol.Endpoint{}, labelKey: map[*netpol.Endpoint]string{}}
	rs := &Ruleset{Policies: len(cfg.Policies) + len(cfg.Untracked) + len(cfg.PreDNAT)}
	owner := map[netip.Addr]string{}
	for _, e := range cfg.Endpoints {
		if len(e.IPs) == 0 {
			if e.Kind == netpol.EndpointContainer {
				rs.Warnings = append(rs.Warnings, fmt.Sprintf("container %s has no address of its own (network none or host): not enforced", e.ID()))
				continue
			}
			return nil, fmt.Errorf("%s: endpoint %s has no IP address: Lockdown enforces by address", e.Source, e.ID())
		}
		for _, ip := range e.IPs {
			if prev, dup := owner[ip]; dup {
				return nil, fmt.Errorf("%s: address %s belongs to both %s and %s", e.Source, ip, prev, e.ID())
			}
			owner[ip] = e.ID()
		}
		c.eps = append(c.eps, e)
		k := netpol.LabelsKey(e.Labels)
		if _, ok := c.groups[k]; !ok {
			c.groupKeys = append(c.groupKeys, k)
		}
		c.groups[k] = append(c.groups[k], e)
		c.labelKey[e] = k
	}
	rs.Endpoints = len(c.eps)
	rs.Tables = append(rs.Tables, c.table(nft.Inet))
	if opts.Bridge {
		rs.Tables = append(rs.Tables, c.table(nft.Bridge))
	}
	rs.Digest = digest(rs.Tables, true)
	rs.StructDigest = digest(rs.Tables, false)
	return rs, nil
}

// digest hashes the tables' text, with or without set elements.
func digest(tables []*nft.Table, elements bool) string {
	h := sha256.New()
	if elements {
		nft.Text(h, tables)
	} else {
		bare := make([]*nft.Table, len(tables))
		for i, t := range tables {
			cp := *t
			cp.Sets = make([]*nft.Set, len(t.Sets))
			for j, s := range t.Sets {
				cs := *s
				cs.Prefixes, cs.Ports, cs.Tuples, cs.Jumps, cs.Bytes = nil, nil, nil, nil, nil
				cp.Sets[j] = &cs
			}
			bare[i] = &cp
		}
		nft.Text(h, bare)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (c *compiler) table(fam nft.Family) *nft.Table {
	c.t = &nft.Table{Family: fam, Name: c.opts.Table}
	c.sets = map[string]*nft.Set{}
	c.built = map[string]bool{}
	cfg := c.cfg
	untracked, preDNAT := len(cfg.Untracked) > 0, len(cfg.PreDNAT) > 0

	// Base chains first, so that the listing reads from the hooks down.
	if fam == nft.Inet {
		for _, h := range []nft.HookName{nft.HookForward, nft.HookInput, nft.HookOutput} {
			ch := c.chain("hook-"+h.String(), &nft.Hook{Name: h, Priority: prioFilter})
			ch.Add(&nft.Rule{Match: []nft.Match{{Kind: nft.MatchCtState, CtState: nft.CtEstablished | nft.CtRelated}}, Verdict: nft.Verdict{Kind: nft.Accept}})
			ch.Add(&nft.Rule{Verdict: nft.Verdict{Kind: nft.Jump, Chain: chainFlow}})
		}
		if untracked {
			for _, h := range []nft.HookName{nft.HookPrerouting, nft.HookOutput} {
				ch := c.chain("hook-"+h.String()+"-raw", &nft.Hook{Name: h, Priority: prioRaw})
				ch.Add(&nft.Rule{Verdict: nft.Verdict{Kind: nft.Jump, Chain: chainUntrackedRaw}})
			}
		}
		if preDNAT {
			ch := c.chain("hook-prerouting-prednat", &nft.Hook{Name: nft.HookPrerouting, Priority: prioPreDNAT})
			ch.Add(&nft.Rule{Match: []nft.Match{{Kind: nft.MatchCtState, CtState: nft.CtEstablished | nft.CtRelated}}, Verdict: nft.Verdict{Kind: nft.Accept}})
			c.vmaps(ch, "pdn-in", true)
		}
	} else {
		ch := c.chain("hook-forward", &nft.Hook{Name: nft.HookForward, Priority: prioFilter})
		c.flowLookups(ch)
		ch.Add(&nft.Rule{Verdict: nft.Verdict{Kind: nft.Jump, Chain: chainFlow}})
	}

	flow := c.chain(chainFlow, nil)
	// IPv6 neighbour discovery and multicast listener messages are the
	// link's plumbing, not flows: allowed, as Calico allows them.
	flow.Add(&nft.Rule{Match: []nft.Match{nft.Family4or6(6), nft.Cmp(nft.FieldL4Proto, false, []byte{byte(netpol.ProtoICMPv6)}),
		nft.InSet(c.set(setNDTypes, func() *nft.Set {
			return &nft.Set{Kind: nft.SetBytes, ByteType: "icmpv6_type", Bytes: []uint8{130, 131, 132, 133, 134, 135, 136, 143}}
		}).Name, false, nft.FieldICMPv6Type)}, Verdict: nft.Verdict{Kind: nft.Accept}, Comment: "IPv6 neighbour discovery and MLD"})
	if untracked {
		r := &nft.Rule{Verdict: nft.Verdict{Kind: nft.Jump, Chain: chainUntracked}}
		if fam == nft.Inet {
			// The raw hook allowed these (and took them out of
			// connection tracking): decide them again, the same way.
			r.Match = []nft.Match{{Kind: nft.MatchCtState, CtState: nft.CtUntracked}}
		}
		flow.Add(r)
	}
	c.vmaps(flow, "ep-eg", false)
	flow.Add(&nft.Rule{Verdict: nft.Verdict{Kind: nft.Goto, Chain: chainEgressAllowed}})

	ea := c.chain(chainEgressAllowed, nil)
	if preDNAT {
		c.vmaps(ea, "pdn-in", true)
	}
	c.vmaps(ea, "ep-in", true)
	ea.Add(c.finalAllow(nil, "allowed: no ingress policy applies"))

	if untracked {
		u := c.chain(chainUntracked, nil)
		c.vmaps(u, "unt-eg", false)
		c.vmaps(u, "unt-in", true)
		if fam == nft.Inet {
			u := c.chain(chainUntrackedRaw, nil)
			c.vmaps(u, "untraw-eg", false)
			c.vmaps(u, "untraw-in", true)
		}
	}
	if fam == nft.Bridge {
		c.trackChain()
	}
	meta := c.chain(chainMeta, nil)
	meta.Add(&nft.Rule{Counter: true, Comment: "managed by lockdown netpol apply: changes here are drift"})

	// The programs: one chain per distinct list of policies and profiles
	// that applies to an endpoint, reached through the maps.
	for _, e := range c.eps {
		c.endpoint(e)
	}
	// Maps always exist (possibly empty), so the base chains' lookups
	// are valid and the structure does not depend on the endpoints.
	for _, name := range c.mapNames() {
		for _, fam := range []int{4, 6} {
			c.set(mapName(name, fam), func() *nft.Set { return &nft.Set{Kind: nft.SetVerdicts, V6: fam == 6} })
		}
	}
	c.nameMaps()
	slices.SortStableFunc(c.t.Sets, func(a, b *nft.Set) int { return strings.Compare(a.Name, b.Name) })
	return c.t
}

// nameMaps suffixes the verdict maps' names with a hash of the chains:
// their elements jump to chains by name, and a packet that entered the
// old rules just before an update looks elements up in the new
// generation (see nft.Apply), so a map keeps its name only while the
// chains its elements name are the same. Endpoints coming and going
// change elements, not chains: the maps keep their names and watch
// updates only their elements.
func (c *compiler) nameMaps() {
	h := sha256.New()
	nft.Text(h, []*nft.Table{{Family: c.t.Family, Name: c.t.Name, Chains: c.t.Chains}})
	suffix := "." + hex.EncodeToString(h.Sum(nil))[:10]
	renamed := map[string]string{}
	for _, s := range c.t.Sets {
		if s.Kind == nft.SetVerdicts {
			renamed[s.Name] = s.Name + suffix
			s.Name += suffix
		}
	}
	for _, ch := range c.t.Chains {
		for _, r := range ch.Rules {
			if n, ok := renamed[r.Vmap]; ok {
				r.Vmap = n
			}
		}
	}
}

func (c *compiler) mapNames() []string {
	names := []string{"ep-eg", "ep-in"}
	if len(c.cfg.Untracked) > 0 {
		names = append(names, "unt-eg", "unt-in")
		if c.t.Family == nft.Inet {
			names = append(names, "untraw-eg", "untraw-in")
		}
	}
	if len(c.cfg.PreDNAT) > 0 {
		names = append(names, "pdn-in")
	}
	return names
}

func mapName(base string, fam int) string { return base + strconv.Itoa(fam) }

// vmaps adds `ADDR vmap @BASE4` and the IPv6 twin to ch.
func (c *compiler) vmaps(ch *nft.Chain, base string, dst bool) {
	for _, fam := range []int{4, 6} {
		ch.Add(&nft.Rule{Match: []nft.Match{nft.Family4or6(fam)}, VmapKey: []nft.Field{nft.AddrField(dst, fam)}, Vmap: mapName(base, fam)})
	}
}

func (c *compiler) chain(name string, hook *nft.Hook) *nft.Chain {
	ch := &nft.Chain{Name: name, Hook: hook}
	c.t.Chains = append(c.t.Chains, ch)
	c.built[name] = true
	return ch
}

// set returns the set named name, made by mk the first time.
func (c *compiler) set(name string, mk func() *nft.Set) *nft.Set {
	if s, ok := c.sets[name]; ok {
		return s
	}
	s := mk()
	s.Name = name
	c.sets[name] = s
	c.t.Sets = append(c.t.Sets, s)
	return s
}

// finalAllow is the verdict that lets a new flow through: accept (the
// inet table's connection tracking lets its replies through), or in the
// bridge table a jump to the chain that records the flow first.
func (c *compiler) finalAllow(r *nft.Rule, comment string) *nft.Rule {
	if r == nil {
		r = &nft.Rule{}
	}
	if comment != "" && r.Comment == "" {
		r.Comment = comment
	}
	r.Verdict = nft.Verdict{Kind: nft.Accept}
	if c.t.Family == nft.Bridge {
		r.Verdict = nft.Verdict{Kind: nft.Goto, Chain: chainTrack}
	}
	return r
}

// flowKey is the key of a flow, or of its reply, in the bridge table's
// flow sets.
func flowKey(fam int, reply bool) []nft.Field {
	s, d := nft.AddrField(false, fam), nft.AddrField(true, fam)
	if reply {
		return []nft.Field{d, nft.FieldL4Proto, nft.FieldDport, s, nft.FieldSport}
	}
	return []nft.Field{s, nft.FieldL4Proto, nft.FieldSport, d, nft.FieldDport}
}

func (c *compiler) flowSet(fam int) string {
	return c.set("flows"+strconv.Itoa(fam), func() *nft.Set {
		return &nft.Set{Kind: nft.SetDynamic, Key: flowKey(fam, false), Timeout: flowTimeout,
			Comment: "flows allowed in the last 2 minutes (the bridge family has no connection tracking)"}
	}).Name
}

// echoSet holds the address pairs (replier . asker) an ICMP echo request
// was allowed between: their echo replies pass.
func (c *compiler) echoSet(fam int) string {
	return c.set("echo"+strconv.Itoa(fam), func() *nft.Set {
		return &nft.Set{Kind: nft.SetDynamic, Key: []nft.Field{nft.AddrField(false, fam), nft.AddrField(true, fam)}, Timeout: flowTimeout,
			Comment: "ICMP echo requests allowed in the last 2 minutes"}
	}).Name
}

func (c *compiler) protoSet() string {
	return c.set(setProtos, func() *nft.Set {
		return &nft.Set{Kind: nft.SetBytes, ByteType: "inet_proto", Bytes: []uint8{uint8(netpol.ProtoTCP), uint8(netpol.ProtoUDP), uint8(netpol.ProtoSCTP), uint8(netpol.ProtoUDPLite)}}
	}).Name
}

func icmpProto(fam int) netpol.Protocol {
	if fam == 6 {
		return netpol.ProtoICMPv6
	}
	return netpol.ProtoICMP
}

func echoTypes(fam int) (request, reply byte) {
	if fam == 6 {
		return 128, 129
	}
	return 8, 0
}

// flowLookups lets packets of recorded flows through the bridge table.
func (c *compiler) flowLookups(ch *nft.Chain) {
	for _, fam := range []int{4, 6} {
		set := c.flowSet(fam)
		key := flowKey(fam, false)
		ch.Add(&nft.Rule{Match: []nft.Match{nft.Family4or6(fam), nft.InSet(c.protoSet(), false, nft.FieldL4Proto), nft.InSet(set, false, key...)},
			Dynsets: []nft.Dynset{{Op: nft.DynsetUpdate, Set: set, Key: key}}, Verdict: nft.Verdict{Kind: nft.Accept}})
		_, reply := echoTypes(fam)
		ch.Add(&nft.Rule{Match: []nft.Match{nft.Family4or6(fam), nft.Cmp(nft.FieldL4Proto, false, []byte{byte(icmpProto(fam))}),
			nft.Cmp(nft.FieldICMPType, false, []byte{reply}), nft.InSet(c.echoSet(fam), false, nft.AddrField(false, fam), nft.AddrField(true, fam))},
			Verdict: nft.Verdict{Kind: nft.Accept}})
	}
}

// trackChain records an allowed flow (both directions) and accepts it.
func (c *compiler) trackChain() {
	ch := c.chain(chainTrack, nil)
	for _, fam := range []int{4, 6} {
		set := c.flowSet(fam)
		ch.Add(&nft.Rule{Match: []nft.Match{nft.Family4or6(fam), nft.InSet(c.protoSet(), false, nft.FieldL4Proto)},
			Dynsets: []nft.Dynset{{Op: nft.DynsetAdd, Set: set, Key: flowKey(fam, false)}, {Op: nft.DynsetAdd, Set: set, Key: flowKey(fam, true)}},
			Verdict: nft.Verdict{Kind: nft.Accept}})
		request, _ := echoTypes(fam)
		ch.Add(&nft.Rule{Match: []nft.Match{nft.Family4or6(fam), nft.Cmp(nft.FieldL4Proto, false, []byte{byte(icmpProto(fam))}), nft.Cmp(nft.FieldICMPType, false, []byte{request})},
			Dynsets: []nft.Dynset{{Op: nft.DynsetAdd, Set: c.echoSet(fam), Key: []nft.Field{nft.AddrField(true, fam), nft.AddrField(false, fam)}}},
			Verdict: nft.Verdict{Kind: nft.Accept}})
	}
	ch.Add(&nft.Rule{Verdict: nft.Verdict{Kind: nft.Accept}})
}

// stageVariant is one way a stage's chains are built.
type stageVariant struct {
	stage netpol.Stage
	raw   bool // untracked policies in the raw hooks: allow is notrack + accept
}

func (v stageVariant) prefix(d netpol.Direction) string {
	dir := "in"
	if d == netpol.Egress {
		dir = "eg"
	}
	switch {
	case v.raw:
		return "untraw-" + dir
	case v.stage == netpol.StageUntracked:
		return "unt-" + dir
	case v.stage == netpol.StagePreDNAT:
		return "pdn-" + dir
	}
	return dir
}

// mapBase is the name of the stage's verdict maps, less the family.
func (v stageVariant) mapBase(d netpol.Direction) string {
	if v.stage == netpol.StageNormal {
		return "ep-" + v.prefix(d)
	}
	return v.prefix(d)
}

// endpoint adds e's addresses to the maps of every stage whose policies
// (or, in the normal stage, profiles) apply to it.
func (c *compiler) endpoint(e *netpol.Endpoint) {
	variants := []stageVariant{{stage: netpol.StageNormal}}
	if e.Kind == netpol.EndpointHost {
		if len(c.cfg.Untracked) > 0 {
			variants = append(variants, stageVariant{stage: netpol.StageUntracked})
			if c.t.Family == nft.Inet {
				variants = append(variants, stageVariant{stage: netpol.StageUntracked, raw: true})
			}
		}
		if len(c.cfg.PreDNAT) > 0 {
			variants = append(variants, stageVariant{stage: netpol.StagePreDNAT})
		}
	}
	for _, v := range variants {
		for _, d := range []netpol.Direction{netpol.Egress, netpol.Ingress} {
			if v.stage == netpol.StagePreDNAT && d == netpol.Egress {
				continue
			}
			prog := c.program(v, d, e)
			if prog == "" {
				continue
			}
			for _, ip := range e.IPs {
				fam := 4
				if ip.Is6() {
					fam = 6
				}
				m := c.set(mapName(v.mapBase(d), fam), func() *nft.Set { return &nft.Set{Kind: nft.SetVerdicts, V6: fam == 6} })
				m.Jumps = append(m.Jumps, nft.AddrJump{Addr: ip, Chain: prog})
			}
		}
	}
}

// applying lists, per tier, the policies of the stage that apply to e in
// direction d (cached by label set).
func (c *compiler) applying(st netpol.Stage, d netpol.Direction, e *netpol.Endpoint) [][]*netpol.Policy {
	key := fmt.Sprintf("%d|%d|%s", st, d, c.labelKey[e])
	if out, ok := c.applies[key]; ok {
		return out
	}
	out := make([][]*netpol.Policy, len(c.cfg.Tiers))
	for ti := range c.cfg.Tiers {
		for _, p := range c.cfg.TierPolicies(st, ti) {
			if p.Applies(d) && p.Selector.Matches(e.Labels) {
				out[ti] = append(out[ti], p)
			}
		}
	}
	c.applies[key] = out
	return out
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:5])
}

// program returns the chain that evaluates stage v in direction d for
// endpoints like e, building it (and its tier and policy chains) the
// first time. "" means nothing of the stage applies to e.
func (c *compiler) program(v stageVariant, d netpol.Direction, e *netpol.Endpoint) string {
	tiers := c.applying(v.stage, d, e)
	var sig strings.Builder
	for ti, pols := range tiers {
		if len(pols) == 0 {
			continue
		}
		fmt.Fprintf(&sig, "t%d:", ti)
		for _, p := range pols {
			sig.WriteString(p.Key)
			sig.WriteByte(',')
		}
		sig.WriteByte(';')
	}
	var profiles []string
	if v.stage == netpol.StageNormal {
		for _, name := range e.Profiles {
			if c.cfg.Profiles[name] != nil {
				profiles = append(profiles, name)
			}
		}
		fmt.Fprintf(&sig, "profiles:%s", strings.Join(profiles, ","))
	} else if sig.Len() == 0 {
		return ""
	}
	name := nft.Name(v.prefix(d), shortHash(sig.String()))
	if c.built[name] {
		return name
	}
	ch := c.chain(name, nil)
	for ti, pols := range tiers {
		if len(pols) > 0 {
			ch.Add(&nft.Rule{Verdict: nft.Verdict{Kind: nft.Jump, Chain: c.tierBlock(v, d, ti, pols)}})
		}
	}
	if v.stage == netpol.StageNormal {
		for _, name := range profiles {
			ch.Add(&nft.Rule{Verdict: nft.Verdict{Kind: nft.Jump, Chain: c.profileChain(d, c.cfg.Profiles[name])}})
		}
		ch.Add(&nft.Rule{Counter: true, Verdict: nft.Verdict{Kind: nft.Drop},
			Comment: fmt.Sprintf("dir=%s default-deny: no policy or profile allowed it", d)})
	}
	return name
}

// tierBlock is the chain of one tier for a list of applying policies:
// each policy's chain in turn; a Pass (a policy chain returns after one
// of its Pass rules matched, as Allow and Deny never return) leaves the
// tier; the tier ends with its defaultAction.
func (c *compiler) tierBlock(v stageVariant, d netpol.Direction, ti int, pols []*netpol.Policy) string {
	tier := c.cfg.Tiers[ti]
	keys := make([]string, len(pols))
	for i, p := range pols {
		keys[i] = p.Key
	}
	name := nft.Name(v.prefix(d)+"-tier", tier.Name, shortHash(strings.Join(keys, ",")))
	if c.built[name] {
		return name
	}
	ch := c.chain(name, nil)
	for _, p := range pols {
		ch.Add(&nft.Rule{Verdict: nft.Verdict{Kind: nft.Jump, Chain: c.policyChain(v, d, p)}})
		for i := range p.Rules(d) {
			r := &p.Rules(d)[i]
			if r.Action != netpol.ActionPass {
				continue
			}
			for _, m := range c.ruleMatches(r) {
				ch.Add(&nft.Rule{Match: m, Verdict: nft.Verdict{Kind: nft.Return}})
			}
		}
	}
	if v.stage == netpol.StageNormal && tier.DefaultAction != netpol.ActionPass {
		ch.Add(&nft.Rule{Counter: true, Verdict: nft.Verdict{Kind: nft.Drop},
			Comment: fmt.Sprintf("tier=%s dir=%s end-of-tier deny", tier.Name, d)})
	}
	return name
}

func (c *compiler) policyChain(v stageVariant, d netpol.Direction, p *netpol.Policy) string {
	name := nft.Name(v.prefix(d)+"-policy", p.Key)
	if c.built[name] {
		return name
	}
	ch := c.chain(name, nil)
	label := "policy=" + p.Key
	if v.stage != netpol.StageNormal {
		label += " stage=" + v.stage.String()
	}
	c.rules(ch, v, d, label, p.Rules(d))
	return name
}

func (c *compiler) profileChain(d netpol.Direction, p *netpol.Profile) string {
	name := nft.Name(stageVariant{}.prefix(d)+"-profile", p.Name)
	if c.built[name] {
		return name
	}
	ch := c.chain(name, nil)
	c.rules(ch, stageVariant{}, d, "profile="+p.Name, p.Rules(d))
	return name
}

// rules writes a policy's or profile's rules: every variant (address
// family, alternative of a port list) of a rule is one nft rule with the
// rule's counter comment and verdict.
func (c *compiler) rules(ch *nft.Chain, v stageVariant, d netpol.Direction, label string, rules []netpol.Rule) {
	for i := range rules {
		r := &rules[i]
		comment := fmt.Sprintf("%s dir=%s rule=%d action=%s", label, d, r.Index, r.Action)
		if len(comment) > 127 {
			comment = comment[:127]
		}
		for _, m := range c.ruleMatches(r) {
			nr := &nft.Rule{Match: m, Counter: true, Comment: comment}
			switch r.Action {
			case netpol.ActionAllow:
				switch {
				case v.raw:
					nr.Notrack, nr.Verdict = true, nft.Verdict{Kind: nft.Accept}
				case v.stage == netpol.StageUntracked:
					nr.Verdict = nft.Verdict{Kind: nft.Accept}
				case v.stage == netpol.StageNormal && d == netpol.Egress:
					nr.Verdict = nft.Verdict{Kind: nft.Goto, Chain: chainEgressAllowed}
				default:
					c.finalAllow(nr, "")
				}
			case netpol.ActionDeny:
				nr.Verdict = nft.Verdict{Kind: nft.Drop}
			case netpol.ActionPass:
				nr.Verdict = nft.Verdict{Kind: nft.Return}
			case netpol.ActionLog:
				nr.Log = logPrefix(label, d, r.Index)
			}
			ch.Add(nr)
		}
	}
}

// logPrefix names the policy and rule in the kernel log (at most 127
// bytes, the kernel's limit).
func logPrefix(label string, d netpol.Direction, idx int) string {
	s := fmt.Sprintf("lockdown %s %s rule %d: ", strings.TrimPrefix(label, "policy="), d, idx)
	if len(s) > 127 {
		s = s[:127]
	}
	return s
}
