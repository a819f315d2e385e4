package netpol

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/lockdown-sec/lockdown/internal/netpol/selector"
)

// Engine is the compiled evaluator. Endpoints that no policy, rule or
// network set can tell apart (same selector matches, same nets, same named
// ports, same profiles) form one class. Each class gets a compiled program
// per direction (only the rules whose own side matches it); programs are
// shared between classes. A program is then run once against all peer
// classes at a time: every rule's peer condition is a bit set over classes,
// so the walk of tiers and rules costs a few word operations per rule and
// port.
type Engine struct {
	cfg    *Config
	family int
	eps    []*Endpoint
	ports  []PortProto
	words  int // uint64 words per port bit set

	atoms    atomTable
	epAtoms  []uint64 // endpoint-major, aw words each
	aw       int
	npKeys   []npKey
	epNP     []uint32 // endpoint-major, len(npKeys) each: port+1, 0 = none
	classOf  []int32
	classRep []int32               // representative endpoint per class
	cw       int                   // uint64 words per bit set over classes
	atomCls  [][]uint64            // atom → classes holding it
	portCls  map[uint32][][]uint64 // named-port side and direction → port → classes passing
	all      []uint64              // every class

	dir [2]dirTables

	// slow marks the classes whose pairs the reference evaluator decides:
	// host endpoints when untracked or preDNAT policies exist (those
	// stages are not compiled). slowPairs caches their verdicts.
	slow      []bool
	slowMu    sync.Mutex
	slowPairs map[[2]int32][]uint64

	applyAtom []int32 // by Policy.idx
	side      map[*EntityMatch]sideAtoms
	portIDs   map[*EntityMatch]uint32 // stable ids of sides with named ports, for program keys
}

// sideAtoms are the atoms of one side of a rule (-1: not set).
type sideAtoms struct {
	sel, notSel, nets, notNets, svc int32
}

type npKey struct {
	name  string
	proto Protocol
}

type dirTables struct {
	progOf []int32    // class → program
	progs  []*program // distinct programs
	// verdict[p][k] is the set of peer classes that program p allows on
	// port k (a bit set over classes, cw words).
	verdict [][][]uint64
}

type atomKind uint8

const (
	atomApply   atomKind = iota // policy selector: the endpoint's labels match
	atomPeer                    // rule selector: labels match, or the address is in a matching network set
	atomNets                    // the address is in one of the nets
	atomService                 // the endpoint is one of a Service's endpoints
)

type atomTable struct {
	index map[string]int32
	kind  []atomKind
	sel   []*selector.Selector
	nets  [][]netip.Prefix
	svc   []*Service
}

// add returns the atom of key, adding it with its kind and operand (one of
// sel, nets, svc) the first time.
func (t *atomTable) add(key string, k atomKind, sel *selector.Selector, nets []netip.Prefix, svc *Service) int32 {
	if i, ok := t.index[key]; ok {
		return i
	}
	i := int32(len(t.kind))
	t.index[key] = i
	t.kind = append(t.kind, k)
	t.sel = append(t.sel, sel)
	t.nets = append(t.nets, nets)
	t.svc = append(t.svc, svc)
	return i
}

func (t *atomTable) serviceAtom(s *Service, id string) int32 {
	return t.add("svc:"+id, atomService, nil, nil, s)
}

func (t *atomTable) sel2(k atomKind, s *selector.Selector) int32 {
	return t.add(fmt.Sprintf("%d:%s", k, s.String()), k, s, nil, nil)
}

func (t *atomTable) netsAtom(ns []netip.Prefix) int32 {
	var b strings.Builder
	b.WriteString("n:")
	for _, p := range ns {
		b.WriteString(p.String())
		b.WriteByte(',')
	}
	return t.add(b.String(), atomNets, nil, ns, nil)
}

// Compile builds the engine for the config's endpoints and the ports of
// interest, for flows of one IP family (4 or 6). Flows have source port 0
// (unknown), as in Evaluate.
func Compile(cfg *Config, ports []PortProto, family int) *Engine {
	if family != 6 {
		family = 4
	}
	e := &Engine{cfg: cfg, family: family, eps: cfg.Endpoints, ports: ports, words: (len(ports) + 63) / 64}
	if e.words == 0 {
		e.words = 1
	}
	e.atoms.index = map[string]int32{}
	e.collectAtoms()
	e.evalAtoms()
	e.classify()
	e.classSets()
	if len(cfg.Untracked)+len(cfg.PreDNAT) > 0 {
		e.slow = make([]bool, len(e.classRep))
		for c, rep := range e.classRep {
			e.slow[c] = e.eps[rep].Kind == EndpointHost
		}
		e.slowPairs = map[[2]int32][]uint64{}
	}
	for d := range 2 {
		e.compileDir(Direction(d))
	}
	return e
}

// eachRule calls f for every rule of every enforced policy (of every
// stage) and profile.
func (c *Config) eachRule(f func(r *Rule)) {
	for _, p := range slices.Concat(c.Policies, c.Untracked, c.PreDNAT) {
		for i := range p.Ingress {
			f(&p.Ingress[i])
		}
		for i := range p.Egress {
			f(&p.Egress[i])
		}
	}
	for _, p := range c.Profiles {
		for i := range p.Ingress {
			f(&p.Ingress[i])
		}
		for i := range p.Egress {
			f(&p.Egress[i])
		}
	}
}

func (e *Engine) collectAtoms() {
	e.applyAtom = make([]int32, len(e.cfg.Policies))
	e.side = map[*EntityMatch]sideAtoms{}
	e.portIDs = map[*EntityMatch]uint32{}
	for _, p := range e.cfg.Policies {
		e.applyAtom[p.idx] = e.atoms.sel2(atomApply, p.Selector)
	}
	// Untracked and preDNAT policies are evaluated by the reference
	// evaluator (Engine.slow), but their selectors still tell classes apart.
	for _, p := range slices.Concat(e.cfg.Untracked, e.cfg.PreDNAT) {
		e.atoms.sel2(atomApply, p.Selector)
	}
	npSeen := map[npKey]bool{}
	addNP := func(k npKey) {
		if !npSeen[k] {
			npSeen[k] = true
			e.npKeys = append(e.npKeys, k)
		}
	}
	side := func(m *EntityMatch, proto *Protocol) {
		sa := sideAtoms{-1, -1, -1, -1, -1}
		if m.Selector != nil {
			sa.sel = e.atoms.sel2(atomPeer, m.Selector)
		}
		if m.NotSelector != nil {
			sa.notSel = e.atoms.sel2(atomPeer, m.NotSelector)
		}
		if len(m.Nets) > 0 {
			sa.nets = e.atoms.netsAtom(m.Nets)
		}
		if len(m.NotNets) > 0 {
			sa.notNets = e.atoms.netsAtom(m.NotNets)
		}
		if m.Services != "" {
			svc := e.cfg.Services[m.Services]
			sa.svc = e.atoms.serviceAtom(svc, m.Services)
			if svc != nil {
				for _, sp := range svc.Ports {
					if sp.TargetName != "" {
						addNP(npKey{sp.TargetName, sp.Protocol})
					}
				}
			}
		}
		e.side[m] = sa
		if hasNamedPort(m) || m.Services != "" {
			e.portIDs[m] = uint32(len(e.portIDs) + 1)
		}
		for _, ps := range [][]PortMatch{m.Ports, m.NotPorts} {
			for _, pm := range ps {
				if pm.Name != "" && proto != nil {
					addNP(npKey{pm.Name, *proto})
				}
			}
		}
	}
	e.cfg.eachRule(func(r *Rule) {
		side(&r.Src, r.Protocol)
		side(&r.Dst, r.Protocol)
	})
}

func (e *Engine) evalAtoms() {
	n := len(e.atoms.kind)
	e.aw = (n + 63) / 64
	if e.aw == 0 {
		e.aw = 1
	}
	e.epAtoms = make([]uint64, len(e.eps)*e.aw)
	// Endpoints with identical labels share selector results.
	type group struct{ members []int }
	byLabels := map[string]*group{}
	var order []string
	for i, ep := range e.eps {
		k := LabelsKey(ep.Labels)
		g, ok := byLabels[k]
		if !ok {
			g = &group{}
			byLabels[k] = g
			order = append(order, k)
		}
		g.members = append(g.members, i)
	}
	// An index label=value → label groups, for selectors that require one.
	index := map[[2]string][]int{}
	for gi, k := range order {
		for lk, lv := range e.eps[byLabels[k].members[0]].Labels {
			index[[2]string{lk, lv}] = append(index[[2]string{lk, lv}], gi)
		}
	}
	ips := make([]netip.Addr, len(e.eps))
	for i, ep := range e.eps {
		ips[i] = ep.Addr(e.family)
	}
	for a := range n {
		word, bit := a/64, uint64(1)<<(a%64)
		switch e.atoms.kind[a] {
		case atomApply, atomPeer:
			sel := e.atoms.sel[a]
			try := func(gi int) {
				g := byLabels[order[gi]]
				if sel.Matches(e.eps[g.members[0]].Labels) {
					for _, i := range g.members {
						e.epAtoms[i*e.aw+word] |= bit
					}
				}
			}
			if k, v, ok := sel.RequiredEq(index); ok {
				for _, gi := range index[[2]string{k, v}] {
					try(gi)
				}
			} else {
				for gi := range order {
					try(gi)
				}
			}
			if e.atoms.kind[a] == atomPeer {
				var sets []*NetworkSet
				for _, s := range e.cfg.Sets {
					if len(s.Nets) > 0 && sel.Matches(s.Labels) {
						sets = append(sets, s)
					}
				}
				if len(sets) > 0 {
					for i, ip := range ips {
						if !ip.IsValid() || e.epAtoms[i*e.aw+word]&bit != 0 {
							continue
						}
						for _, s := range sets {
							if s.Contains(ip) {
								e.epAtoms[i*e.aw+word] |= bit
								break
							}
						}
					}
				}
			}
		case atomService:
			for i, ep := range e.eps {
				if e.atoms.svc[a].Selects(ep) {
					e.epAtoms[i*e.aw+word] |= bit
				}
			}
		case atomNets:
			for i, ip := range ips {
				if ip.IsValid() && containsAddr(e.atoms.nets[a], ip) {
					e.epAtoms[i*e.aw+word] |= bit
				}
			}
		}
	}
	e.epNP = make([]uint32, len(e.eps)*len(e.npKeys))
	for i, ep := range e.eps {
		for j, k := range e.npKeys {
			if p, ok := ep.NamedPort(k.name, k.proto); ok {
				e.epNP[i*len(e.npKeys)+j] = uint32(p) + 1
			}
		}
	}
}

// LabelsKey is a canonical key of a label set: endpoints with the same
// key are selected alike by every selector.
func LabelsKey(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(l[k])
		b.WriteByte(0)
	}
	return b.String()
}

func (e *Engine) classify() {
	e.classOf = make([]int32, len(e.eps))
	index := map[string]int32{}
	buf := make([]byte, 0, 256)
	for i, ep := range e.eps {
		buf = buf[:0]
		for _, w := range e.epAtoms[i*e.aw : (i+1)*e.aw] {
			buf = binary.LittleEndian.AppendUint64(buf, w)
		}
		for _, v := range e.epNP[i*len(e.npKeys) : (i+1)*len(e.npKeys)] {
			buf = binary.LittleEndian.AppendUint32(buf, v)
		}
		buf = append(buf, ep.Kind...)
		for _, p := range ep.Profiles {
			buf = append(buf, 0)
			buf = append(buf, p...)
		}
		if ep.Kind == EndpointContainer {
			// Docker networks decide whether two containers have a path.
			for _, n := range ep.Networks {
				buf = append(buf, 1)
				buf = append(buf, n...)
			}
		}
		c, ok := index[string(buf)]
		if !ok {
			c = int32(len(e.classRep))
			index[string(buf)] = c
			e.classRep = append(e.classRep, int32(i))
		}
		e.classOf[i] = c
	}
}

// classSets builds the bit set over classes of every atom.
func (e *Engine) classSets() {
	n := len(e.classRep)
	e.cw = max(1, (n+63)/64)
	e.all = make([]uint64, e.cw)
	for c := range n {
		e.all[c/64] |= 1 << (c % 64)
	}
	e.atomCls = make([][]uint64, len(e.atoms.kind))
	flat := make([]uint64, len(e.atoms.kind)*e.cw)
	for a := range e.atomCls {
		e.atomCls[a] = flat[a*e.cw : (a+1)*e.cw]
	}
	for c, rep := range e.classRep {
		for wi, w := range e.epAtoms[int(rep)*e.aw : (int(rep)+1)*e.aw] {
			for w != 0 {
				a := wi*64 + bits.TrailingZeros64(w)
				w &= w - 1
				e.atomCls[a][c/64] |= 1 << (c % 64)
			}
		}
	}
	e.portCls = map[uint32][][]uint64{}
}

// Classes returns the number of endpoint classes.
func (e *Engine) Classes() int { return len(e.classRep) }

// Programs returns the number of distinct compiled programs per direction.
func (e *Engine) Programs() (ingress, egress int) {
	return len(e.dir[Ingress].progs), len(e.dir[Egress].progs)
}

func (e *Engine) atom(ep int, a int32) bool {
	return e.epAtoms[ep*e.aw+int(a/64)]&(1<<(a%64)) != 0
}

type opcode uint8

const (
	opAllow opcode = iota
	opDeny
	opPass
)

type instr struct {
	op       opcode
	pos, neg []int32  // peer atoms that must hold / must not hold
	mask     []uint64 // ports for which everything not about the peer matches
	// peerPorts is the peer side when its port lists name ports (resolved
	// per peer); nil otherwise.
	peerPorts *EntityMatch
	portID    uint32
	proto     Protocol
}

type blockKind uint8

const (
	blockTierDeny blockKind = iota
	blockTierPass
	blockProfile
)

type block struct {
	kind   blockKind
	instrs []instr
}

type program struct {
	blocks []block
}

func (e *Engine) compileDir(d Direction) {
	t := &e.dir[d]
	t.progOf = make([]int32, len(e.classRep))
	index := map[string]int32{}
	for c, rep := range e.classRep {
		p := e.compileProgram(int(rep), d)
		key := p.key(e.words)
		id, ok := index[key]
		if !ok {
			id = int32(len(t.progs))
			index[key] = id
			t.progs = append(t.progs, p)
		}
		t.progOf[c] = id
	}
	t.verdict = make([][][]uint64, len(t.progs))
	for pi, p := range t.progs {
		t.verdict[pi] = e.run(p, d)
	}
}

func (p *program) key(words int) string {
	var b []byte
	for _, bl := range p.blocks {
		b = append(b, 0xff, byte(bl.kind))
		for _, in := range bl.instrs {
			b = append(b, 0xfe, byte(in.op), byte(in.proto))
			for _, a := range in.pos {
				b = binary.LittleEndian.AppendUint32(b, uint32(a))
			}
			b = append(b, 0xfd)
			for _, a := range in.neg {
				b = binary.LittleEndian.AppendUint32(b, uint32(a))
			}
			b = append(b, 0xfc)
			for _, w := range in.mask {
				b = binary.LittleEndian.AppendUint64(b, w)
			}
			b = binary.LittleEndian.AppendUint32(b, in.portID)
		}
	}
	return string(b)
}

// compileProgram compiles the rules that can apply to endpoint ep (a class
// representative) in direction d.
func (e *Engine) compileProgram(ep int, d Direction) *program {
	p := &program{}
	cfg := e.cfg
	for ti, tier := range cfg.Tiers {
		var bl *block
		for _, pol := range cfg.byTier[ti] {
			if !pol.Applies(d) || !e.atom(ep, e.applyAtom[pol.idx]) {
				continue
			}
			if bl == nil {
				kind := blockTierDeny
				if tier.DefaultAction == ActionPass {
					kind = blockTierPass
				}
				p.blocks = append(p.blocks, block{kind: kind})
				bl = &p.blocks[len(p.blocks)-1]
			}
			for i := range pol.Rules(d) {
				if in, ok := e.compileRule(&pol.Rules(d)[i], ep, d); ok {
					bl.instrs = append(bl.instrs, in)
				}
			}
		}
	}
	for _, name := range e.eps[ep].Profiles {
		prof := cfg.Profiles[name]
		if prof == nil {
			continue
		}
		bl := block{kind: blockProfile}
		for i := range prof.Rules(d) {
			if in, ok := e.compileRule(&prof.Rules(d)[i], ep, d); ok {
				bl.instrs = append(bl.instrs, in)
			}
		}
		p.blocks = append(p.blocks, bl)
	}
	return p
}

func hasNamedPort(m *EntityMatch) bool {
	for _, ps := range [][]PortMatch{m.Ports, m.NotPorts} {
		for _, pm := range ps {
			if pm.Name != "" {
				return true
			}
		}
	}
	return false
}

// compileRule resolves everything about rule r that does not depend on the
// peer, for self endpoint ep in direction d. ok is false when the rule can
// never match for ep (Log rules are dropped too: they never decide).
func (e *Engine) compileRule(r *Rule, ep int, d Direction) (instr, bool) {
	var in instr
	switch r.Action {
	case ActionAllow:
		in.op = opAllow
	case ActionDeny:
		in.op = opDeny
	case ActionPass:
		in.op = opPass
	default:
		return in, false
	}
	if r.IPVersion != 0 && r.IPVersion != e.family {
		return in, false
	}
	self, peer := &r.Dst, &r.Src // ingress: the endpoint is the destination
	if d == Egress {
		self, peer = &r.Src, &r.Dst
	}
	// Self side: selectors, nets and Service from the endpoint's atoms.
	sa := e.side[self]
	if sa.svc >= 0 && !e.atom(ep, sa.svc) ||
		sa.sel >= 0 && !e.atom(ep, sa.sel) ||
		sa.notSel >= 0 && e.atom(ep, sa.notSel) ||
		sa.nets >= 0 && !e.atom(ep, sa.nets) ||
		sa.notNets >= 0 && e.atom(ep, sa.notNets) {
		return in, false
	}
	// Peer side: atoms to test per peer.
	pa := e.side[peer]
	if pa.sel >= 0 {
		in.pos = append(in.pos, pa.sel)
	}
	if pa.nets >= 0 {
		in.pos = append(in.pos, pa.nets)
	}
	if pa.notSel >= 0 {
		in.neg = append(in.neg, pa.notSel)
	}
	if pa.notNets >= 0 {
		in.neg = append(in.neg, pa.notNets)
	}
	if pa.svc >= 0 {
		in.pos = append(in.pos, pa.svc)
	}
	// Ports that depend on the peer: its named ports, and on egress the
	// ports a destination Service forwards to.
	peerNamed := hasNamedPort(peer) || peer.Services != "" && d == Egress
	if peerNamed {
		in.peerPorts = peer
		in.portID = e.portIDs[peer]
		if r.Protocol != nil {
			in.proto = *r.Protocol
		}
	}
	// Static port mask.
	in.mask = make([]uint64, e.words)
	selfEp := e.eps[ep]
	for k, pp := range e.ports {
		if r.Protocol != nil && *r.Protocol != pp.Protocol {
			continue
		}
		if r.NotProtocol != nil && *r.NotProtocol == pp.Protocol {
			continue
		}
		if r.ICMP != nil && !r.ICMP.matches(pp.ICMPType, pp.ICMPCode) {
			continue
		}
		if r.NotICMP != nil && r.NotICMP.matches(pp.ICMPType, pp.ICMPCode) {
			continue
		}
		selfPort, peerPort := pp.Port, uint16(0) // ingress: self is the destination
		if d == Egress {
			selfPort, peerPort = 0, pp.Port
		}
		if len(self.Ports) > 0 && !portsMatch(self.Ports, selfEp, selfPort, pp.Protocol) {
			continue
		}
		if len(self.NotPorts) > 0 && portsMatch(self.NotPorts, selfEp, selfPort, pp.Protocol) {
			continue
		}
		if self.Services != "" && d == Ingress && !e.cfg.Services[self.Services].Forwards(selfEp, pp.Protocol, selfPort) {
			continue
		}
		if !peerNamed {
			if len(peer.Ports) > 0 && !portsMatch(peer.Ports, nil, peerPort, pp.Protocol) {
				continue
			}
			if len(peer.NotPorts) > 0 && portsMatch(peer.NotPorts, nil, peerPort, pp.Protocol) {
				continue
			}
		}
		in.mask[k/64] |= 1 << (k % 64)
	}
	if isZero(in.mask) {
		return in, false
	}
	return in, true
}

func isZero(m []uint64) bool {
	for _, w := range m {
		if w != 0 {
			return false
		}
	}
	return true
}

// run evaluates program p against every peer class at once and returns,
// per port, the set of peer classes allowed.
func (e *Engine) run(p *program, d Direction) [][]uint64 {
	cw, np := e.cw, len(e.ports)
	flat := make([]uint64, 4*np*cw)
	slot := func(i, k int) []uint64 { return flat[(i*np+k)*cw : (i*np+k+1)*cw] }
	allowed := make([][]uint64, np)
	und := make([][]uint64, np)
	tierUnd := make([][]uint64, np)
	passed := make([][]uint64, np)
	for k := range np {
		allowed[k], und[k], tierUnd[k], passed[k] = slot(0, k), slot(1, k), slot(2, k), slot(3, k)
		copy(und[k], e.all)
	}
	sat := make([]uint64, cw)
	for _, bl := range p.blocks {
		for k := range np {
			copy(tierUnd[k], und[k])
			clear(passed[k])
		}
		for i := range bl.instrs {
			in := &bl.instrs[i]
			copy(sat, e.all)
			for _, a := range in.pos {
				andInto(sat, e.atomCls[a])
			}
			for _, a := range in.neg {
				andNotInto(sat, e.atomCls[a])
			}
			var pc [][]uint64
			if in.peerPorts != nil {
				pc = e.peerPortClasses(in, d)
			}
			for k := range np {
				if in.mask[k/64]&(1<<(k%64)) == 0 {
					continue
				}
				tu := tierUnd[k]
				for j := range cw {
					m := sat[j] & tu[j]
					if pc != nil {
						m &= pc[k][j]
					}
					if m == 0 {
						continue
					}
					switch in.op {
					case opAllow:
						allowed[k][j] |= m
					case opPass:
						passed[k][j] |= m
					}
					tu[j] &^= m
				}
			}
		}
		for k := range np {
			if bl.kind == blockTierDeny {
				copy(und[k], passed[k])
				continue
			}
			// Pass tiers and profiles hand undecided traffic on.
			for j := range cw {
				und[k][j] = passed[k][j] | tierUnd[k][j]
			}
		}
	}
	// Whatever is still undecided after the profiles is denied.
	return allowed
}

func andInto(dst, src []uint64) {
	for j := range dst {
		dst[j] &= src[j]
	}
}

func andNotInto(dst, src []uint64) {
	for j := range dst {
		dst[j] &^= src[j]
	}
}

// peerPortClasses returns, per port, the peer classes whose named ports let
// the peer side's port lists match (source port 0 on ingress).
func (e *Engine) peerPortClasses(in *instr, d Direction) [][]uint64 {
	key := in.portID<<1 | uint32(d)
	if pc, ok := e.portCls[key]; ok {
		return pc
	}
	pc := make([][]uint64, len(e.ports))
	m := in.peerPorts
	for k, pp := range e.ports {
		pc[k] = make([]uint64, e.cw)
		port := pp.Port // egress: the peer is the destination
		if d == Ingress {
			port = 0
		}
		for c, rep := range e.classRep {
			ep := e.eps[rep]
			if (len(m.Ports) == 0 || portsMatch(m.Ports, ep, port, pp.Protocol)) &&
				(len(m.NotPorts) == 0 || !portsMatch(m.NotPorts, ep, port, pp.Protocol)) &&
				(m.Services == "" || d == Ingress || e.cfg.Services[m.Services].Forwards(ep, pp.Protocol, port)) {
				pc[k][c/64] |= 1 << (c % 64)
			}
		}
	}
	e.portCls[key] = pc
	return pc
}

// Ports returns the ports the engine was compiled for.
func (e *Engine) Ports() []PortProto { return e.ports }

// Endpoints returns the endpoints, indexed as in AllowedPorts.
func (e *Engine) Endpoints() []*Endpoint { return e.eps }

// AllowedInto writes into out (Words() long) the ports on which endpoint
// src may reach endpoint dst. A pair of the same endpoint gets every port.
func (e *Engine) AllowedInto(src, dst int, out []uint64) {
	clear(out)
	if src == dst {
		for k := range e.ports {
			out[k/64] |= 1 << (k % 64)
		}
		return
	}
	e.classPair(e.classOf[src], e.classOf[dst], out)
}

func (e *Engine) classPair(cs, cd int32, out []uint64) {
	if e.isSlow(cs, cd) {
		copy(out, e.slowPair(cs, cd))
		return
	}
	if e.isolated(cs, cd) {
		return
	}
	ve := e.dir[Egress].verdict[e.dir[Egress].progOf[cs]]
	vi := e.dir[Ingress].verdict[e.dir[Ingress].progOf[cd]]
	ws, bs := cs/64, uint64(1)<<(cs%64)
	wd, bd := cd/64, uint64(1)<<(cd%64)
	for k := range e.ports {
		if ve[k][wd]&bd != 0 && vi[k][ws]&bs != 0 {
			out[k/64] |= 1 << (k % 64)
		}
	}
}

func (e *Engine) isSlow(cs, cd int32) bool {
	return e.slow != nil && (e.slow[cs] || e.slow[cd])
}

// slowPair evaluates every port for the representatives of cs and cd
// with the reference evaluator (cached).
func (e *Engine) slowPair(cs, cd int32) []uint64 {
	e.slowMu.Lock()
	defer e.slowMu.Unlock()
	if v, ok := e.slowPairs[[2]int32{cs, cd}]; ok {
		return v
	}
	v := make([]uint64, e.words)
	src, dst := e.eps[e.classRep[cs]], e.eps[e.classRep[cd]]
	if cs == cd {
		// Two members of one class: any other member stands for the peer.
		for i, c := range e.classOf {
			if c == cd && e.eps[i] != src {
				dst = e.eps[i]
				break
			}
		}
	}
	for k, pp := range e.ports {
		if e.cfg.Allowed(pp.Flow(EndpointPeer(src, e.family), EndpointPeer(dst, e.family), e.family)) {
			v[k/64] |= 1 << (k % 64)
		}
	}
	e.slowPairs[[2]int32{cs, cd}] = v
	return v
}

// isolated reports whether classes cs and cd are Docker containers with no
// network in common (class members share their kind and networks).
func (e *Engine) isolated(cs, cd int32) bool {
	a, b := e.eps[e.classRep[cs]], e.eps[e.classRep[cd]]
	return a.Kind == EndpointContainer && b.Kind == EndpointContainer && dockerIsolated(a, b)
}

// Words is the length of the bit sets AllowedInto writes.
func (e *Engine) Words() int { return e.words }

// Allowed reports whether src may reach dst on port index k.
func (e *Engine) Allowed(src, dst, k int) bool {
	out := make([]uint64, e.words)
	e.AllowedInto(src, dst, out)
	return out[k/64]&(1<<(k%64)) != 0
}

// CountAllowed returns how many (src, dst, port) triples are allowed,
// excluding an endpoint to itself, without expanding the matrix.
func (e *Engine) CountAllowed() int {
	n := len(e.classRep)
	members := make([]int, n)
	for _, c := range e.classOf {
		members[c]++
	}
	total := 0
	pairs := func(cs, cd int) int {
		p := members[cs] * members[cd]
		if cs == cd {
			p -= members[cs]
		}
		return p
	}
	if e.slow != nil {
		for cs := range n {
			for cd := range n {
				if e.isSlow(int32(cs), int32(cd)) {
					for _, w := range e.slowPair(int32(cs), int32(cd)) {
						total += bits.OnesCount64(w) * pairs(cs, cd)
					}
				}
			}
		}
	}
	eg, ig := &e.dir[Egress], &e.dir[Ingress]
	for cs := range n {
		ve := eg.verdict[eg.progOf[cs]]
		ws, bs := cs/64, uint64(1)<<(cs%64)
		for k := range e.ports {
			for j, w := range ve[k] {
				for w != 0 {
					cd := j*64 + bits.TrailingZeros64(w)
					w &= w - 1
					if ig.verdict[ig.progOf[cd]][k][ws]&bs == 0 || e.isolated(int32(cs), int32(cd)) || e.isSlow(int32(cs), int32(cd)) {
						continue
					}
					total += pairs(cs, cd)
				}
			}
		}
	}
	return total
}
