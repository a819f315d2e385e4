package nft

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// ErrNoTable is returned by Read when the table does not exist.
var ErrNoTable = errors.New("no such table")

// Conn is an nftables connection to one network namespace.
type Conn struct {
	*nftables.Conn
	netns int
}

// NewConn wraps a connection to the namespace netnsFD (0: the caller's).
func NewConn(c *nftables.Conn, netnsFD int) *Conn { return &Conn{Conn: c, netns: netnsFD} }

// Close closes a lasting connection.
func (c *Conn) Close() error { return c.CloseLasting() }

// Dial opens a lasting nftables connection to the network namespace
// netnsFD (0: the caller's). Large batches need a large socket buffer: it
// is raised (as nft does) when the process may.
func Dial(netnsFD int) (*Conn, error) {
	opts := []nftables.ConnOption{nftables.AsLasting(), nftables.WithSockOptions(func(c *netlink.Conn) error {
		raw, err := c.SyscallConn()
		if err != nil {
			return nil
		}
		raw.Control(func(fd uintptr) {
			for _, o := range []int{unix.SO_SNDBUFFORCE, unix.SO_RCVBUFFORCE} {
				if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o, 64<<20) != nil {
					break
				}
			}
		})
		return nil
	})}
	if netnsFD > 0 {
		opts = append(opts, nftables.WithNetNSFd(netnsFD))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return NewConn(c, netnsFD), nil
}

func nfFamily(f Family) nftables.TableFamily {
	if f == Bridge {
		return nftables.TableFamilyBridge
	}
	return nftables.TableFamilyINet
}

// batch holds the objects of one transaction.
type batch struct {
	c      *Conn
	nextID uint32
	tables map[*Table]*nftables.Table
	sets   map[*Table]map[string]*nftables.Set
	chains map[*Table]map[string]*nftables.Chain
}

func newBatch(c *Conn) *batch {
	return &batch{c: c, nextID: 1, tables: map[*Table]*nftables.Table{},
		sets: map[*Table]map[string]*nftables.Set{}, chains: map[*Table]map[string]*nftables.Chain{}}
}

// TableRef names a table.
type TableRef struct {
	Family Family
	Name   string
}

// Prior is what Lockdown last wrote to a table that is still in the
// kernel as it was written (no drift): its chains, and its sets with the
// SetDigest of what they were given.
type Prior struct {
	Chains []string
	// Sets are the sets' names, SetDigests their digests ("" unknown).
	Sets       []string
	SetDigests map[string]string
}

// Apply brings the tables into force; no other table is touched but the
// drop tables, deleted when they exist.
//
// A table without a prior (prior[i] nil, or prior shorter) is replaced
// whole in one transaction: created (if absent), deleted and built again.
//
// A table with a prior is updated in place, hitless: a packet sees the
// old ruleset or the new one, never a mix, never neither. Two kernel
// facts shape it. A packet walks the rules of the generation it entered
// with, but looks set elements up in the current one. And an interval
// set (rbtree, pipapo) publishes the lookup structure of its new
// elements only after the generation has moved on, at the end of the
// commit: until then the new generation's packets see the set as it was
// before the transaction — empty, for a set the transaction created. So:
//
//  1. The sets t adds (but verdict maps) are created with their elements,
//     kept sets (same name: the compiler names sets by what they mean)
//     get their elements rewritten when their digest changed. No rule
//     refers to the new sets yet; the old rules see the kept sets as the
//     old ruleset would with the current endpoints.
//  2. The switch: every chain of t is created or flushed and given its
//     rules, the verdict maps t adds are created (hash maps: their new
//     elements are live with the new generation), base chains that t no
//     longer has are flushed (an empty base chain only applies its accept
//     policy). Every set a new rule looks up was complete before this
//     transaction, and what a new packet can reach is t alone. A packet
//     still walking the old rules reaches old chains and sets, which this
//     transaction leaves as they were.
//  3. Once an RCU grace period has passed (no packet of the old
//     generation is left in the hooks), the obsolete chains and sets are
//     deleted.
func Apply(c *Conn, tables []*Table, prior []*Prior, drop ...TableRef) error {
	b := newBatch(c)
	up := make([]*Prior, len(tables))
	copy(up, prior)
	pending := false
	for i, t := range tables {
		if up[i] == nil {
			continue
		}
		n, err := b.prepareTable(t, up[i])
		if err != nil {
			return fmt.Errorf("table %s %s: %w", t.Family, t.Name, err)
		}
		pending = pending || n > 0
	}
	if pending {
		if err := c.Flush(); err != nil {
			return fmt.Errorf("nftables transaction (new sets): %w", err)
		}
	}
	for _, d := range drop {
		nt := &nftables.Table{Name: d.Name, Family: nfFamily(d.Family)}
		c.AddTable(nt)
		c.DelTable(nt)
	}
	var later []obsolete
	for i, t := range tables {
		var err error
		if up[i] != nil {
			var o obsolete
			o, err = b.switchTable(t, up[i])
			later = append(later, o)
		} else {
			err = b.addTable(t)
		}
		if err != nil {
			return fmt.Errorf("table %s %s: %w", t.Family, t.Name, err)
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables transaction: %w", err)
	}
	n := 0
	for _, o := range later {
		n += len(o.chains) + len(o.sets)
	}
	if n == 0 {
		return nil
	}
	graceRCU()
	for _, o := range later {
		for _, ch := range o.chains {
			c.FlushChain(ch)
		}
		for _, s := range o.sets {
			c.DelSet(s)
		}
		for _, ch := range o.chains {
			c.DelChain(ch)
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables transaction (deleting obsolete chains and sets): %w", err)
	}
	return nil
}

// membarrierCmdGlobal is MEMBARRIER_CMD_GLOBAL (linux/membarrier.h):
// membarrier(2) returns after an RCU grace period (synchronize_rcu).
const membarrierCmdGlobal = 1

// graceRCU waits until every packet that was in the netfilter hooks (an
// RCU read-side section) when it was called has left them.
func graceRCU() {
	if _, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, membarrierCmdGlobal, 0, 0); errno != 0 {
		// No membarrier (nohz_full): a grace period is milliseconds.
		time.Sleep(100 * time.Millisecond)
	}
}

// obsolete are the chains and sets of a table that the new ruleset no
// longer has.
type obsolete struct {
	chains []*nftables.Chain
	sets   []*nftables.Set
}

// prepareTable adds step 1 of an in-place update of t (see Apply) to the
// batch and returns how many sets it writes.
func (b *batch) prepareTable(t *Table, p *Prior) (int, error) {
	nt := &nftables.Table{Name: t.Name, Family: nfFamily(t.Family)}
	b.tables[t] = nt
	b.chains[t] = map[string]*nftables.Chain{}
	b.sets[t] = map[string]*nftables.Set{}
	n := 0
	for _, s := range t.Sets {
		ns, err := b.nfSet(nt, s)
		if err != nil {
			return n, fmt.Errorf("set %s: %w", s.Name, err)
		}
		b.sets[t][s.Name] = ns
		digest, kept := p.SetDigests[s.Name]
		if s.Kind == SetVerdicts && !kept {
			continue // step 2: its elements jump to chains made there
		}
		if kept && (s.Kind == SetDynamic || digest == SetDigest(t.Family, s)) {
			continue
		}
		elems, err := elements(s)
		if err != nil {
			return n, fmt.Errorf("set %s: %w", s.Name, err)
		}
		n++
		if !kept {
			if err := b.c.AddSet(ns, elems); err != nil {
				return n, fmt.Errorf("set %s: %w", s.Name, err)
			}
			continue
		}
		if err := b.delta(ns, elems); err != nil {
			return n, fmt.Errorf("set %s: %w", s.Name, err)
		}
	}
	return n, nil
}

// delta adds to the batch what turns the set's elements in the kernel
// into elems: the missing ones added, the extra ones deleted, the others
// left alone. Flushing and adding them all again is not hitless: an
// interval set's lookups miss elements deleted and added again in one
// transaction until a later one rebuilds it.
func (b *batch) delta(ns *nftables.Set, elems []nftables.SetElement) error {
	cur, err := b.c.GetSetElements(ns)
	if err != nil {
		return fmt.Errorf("list elements: %w", err)
	}
	key := func(e nftables.SetElement) string {
		k := hex.EncodeToString(e.Key) + fmt.Sprintf("/%v", e.IntervalEnd)
		if e.VerdictData != nil {
			k += fmt.Sprintf("/%d:%s", e.VerdictData.Kind, e.VerdictData.Chain)
		}
		return k
	}
	want := map[string]bool{}
	for _, e := range elems {
		want[key(e)] = true
	}
	have := map[string]bool{}
	var del, add []nftables.SetElement
	for _, e := range cur {
		have[key(e)] = true
		if !want[key(e)] {
			del = append(del, nftables.SetElement{Key: e.Key, IntervalEnd: e.IntervalEnd})
		}
	}
	for _, e := range elems {
		if !have[key(e)] {
			add = append(add, e)
		}
	}
	if len(del) > 0 {
		if err := b.c.SetDeleteElements(ns, del); err != nil {
			return err
		}
	}
	if len(add) > 0 {
		return b.c.SetAddElements(ns, add)
	}
	return nil
}

// switchTable adds step 2 of an in-place update of t (see Apply) to the
// batch and returns what step 3 deletes.
func (b *batch) switchTable(t *Table, p *Prior) (obsolete, error) {
	var o obsolete
	nt := b.tables[t]
	had := map[string]bool{}
	for _, name := range p.Chains {
		had[name] = true
	}
	for _, ch := range t.Chains {
		nc := b.nfChain(nt, ch)
		if had[ch.Name] {
			b.c.FlushChain(nc)
		} else {
			b.c.AddChain(nc)
		}
		b.chains[t][ch.Name] = nc
	}
	for _, name := range p.Chains {
		if t.Chain(name) != nil {
			continue
		}
		nc := &nftables.Chain{Name: name, Table: nt}
		b.c.FlushChain(nc)
		o.chains = append(o.chains, nc)
	}
	for _, s := range t.Sets {
		if _, kept := p.SetDigests[s.Name]; kept || s.Kind != SetVerdicts {
			continue
		}
		elems, err := elements(s)
		if err != nil {
			return o, fmt.Errorf("set %s: %w", s.Name, err)
		}
		if err := b.c.AddSet(b.sets[t][s.Name], elems); err != nil {
			return o, fmt.Errorf("set %s: %w", s.Name, err)
		}
	}
	for _, name := range p.Sets {
		if t.Set(name) == nil {
			o.sets = append(o.sets, &nftables.Set{Table: nt, Name: name})
		}
	}
	return o, b.addRules(t)
}

// SetDigest identifies a set's definition and elements.
func SetDigest(f Family, s *Set) string {
	h := sha256.New()
	Text(h, []*Table{{Family: f, Name: "x", Sets: []*Set{s}}})
	return hex.EncodeToString(h.Sum(nil))
}

func (b *batch) nfChain(nt *nftables.Table, ch *Chain) *nftables.Chain {
	nc := &nftables.Chain{Name: ch.Name, Table: nt}
	if ch.Hook != nil {
		nc.Type = nftables.ChainTypeFilter
		nc.Hooknum = nftables.ChainHookRef(hookNum(ch.Hook.Name))
		nc.Priority = nftables.ChainPriorityRef(nftables.ChainPriority(ch.Hook.Priority))
		accept := nftables.ChainPolicyAccept
		nc.Policy = &accept
	}
	return nc
}

func (b *batch) addTable(t *Table) error {
	nt := &nftables.Table{Name: t.Name, Family: nfFamily(t.Family)}
	b.c.AddTable(nt)
	b.c.DelTable(nt)
	b.c.AddTable(nt)
	b.tables[t] = nt
	b.chains[t] = map[string]*nftables.Chain{}
	b.sets[t] = map[string]*nftables.Set{}
	for _, ch := range t.Chains {
		b.chains[t][ch.Name] = b.c.AddChain(b.nfChain(nt, ch))
	}
	for _, s := range t.Sets {
		ns, err := b.nfSet(nt, s)
		if err != nil {
			return fmt.Errorf("set %s: %w", s.Name, err)
		}
		elems, err := elements(s)
		if err != nil {
			return fmt.Errorf("set %s: %w", s.Name, err)
		}
		if err := b.c.AddSet(ns, elems); err != nil {
			return fmt.Errorf("set %s: %w", s.Name, err)
		}
		b.sets[t][s.Name] = ns
	}
	return b.addRules(t)
}

// addRules adds every rule of t's chains (made or flushed before).
func (b *batch) addRules(t *Table) error {
	nt := b.tables[t]
	for _, ch := range t.Chains {
		for i, r := range ch.Rules {
			exprs, err := b.exprs(t, r)
			if err != nil {
				return fmt.Errorf("chain %s rule %d: %w", ch.Name, i, err)
			}
			nr := &nftables.Rule{Table: nt, Chain: b.chains[t][ch.Name], Exprs: exprs}
			if r.Comment != "" {
				nr.UserData = userdata.AppendString(nil, userdata.TypeComment, Comment(r.Comment))
			}
			b.c.AddRule(nr)
		}
	}
	return nil
}

// UpdateSets replaces the elements of the named sets of t (already
// applied) in one transaction; chains and rules are untouched, so their
// counters keep counting.
func UpdateSets(c *Conn, t *Table, names []string) error {
	b := newBatch(c)
	nt := &nftables.Table{Name: t.Name, Family: nfFamily(t.Family)}
	for _, name := range names {
		s := t.Set(name)
		if s == nil {
			return fmt.Errorf("no set %s in table %s", name, t.Name)
		}
		ns, err := b.nfSet(nt, s)
		if err != nil {
			return fmt.Errorf("set %s: %w", name, err)
		}
		elems, err := elements(s)
		if err != nil {
			return fmt.Errorf("set %s: %w", name, err)
		}
		if err := b.delta(ns, elems); err != nil {
			return fmt.Errorf("set %s: %w", name, err)
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables transaction: %w", err)
	}
	return nil
}

// Remove deletes a table. It reports false when there was none.
func Remove(c *Conn, f Family, name string) (bool, error) {
	if _, err := c.ListTableOfFamily(name, nfFamily(f)); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return false, nil
		}
		return false, fmt.Errorf("list table %s %s: %w", f, name, err)
	}
	c.DelTable(&nftables.Table{Name: name, Family: nfFamily(f)})
	if err := c.Flush(); err != nil {
		return false, fmt.Errorf("delete table %s %s: %w", f, name, err)
	}
	return true, nil
}

func hookNum(h HookName) nftables.ChainHook {
	switch h {
	case HookPrerouting:
		return *nftables.ChainHookPrerouting
	case HookInput:
		return *nftables.ChainHookInput
	case HookOutput:
		return *nftables.ChainHookOutput
	}
	return *nftables.ChainHookForward
}

var typesByName = map[string]nftables.SetDatatype{
	"ipv4_addr": nftables.TypeIPAddr, "ipv6_addr": nftables.TypeIP6Addr,
	"inet_proto": nftables.TypeInetProto, "inet_service": nftables.TypeInetService,
	"icmpv6_type": nftables.TypeICMP6Type,
}

func (b *batch) nfSet(nt *nftables.Table, s *Set) (*nftables.Set, error) {
	ns := &nftables.Set{Table: nt, Name: s.Name, ID: b.nextID}
	if s.Comment != "" {
		ns.Comment = Comment(s.Comment)
	}
	b.nextID++
	var types []nftables.SetDatatype
	for _, n := range s.KeyTypes() {
		t, ok := typesByName[n]
		if !ok {
			return nil, fmt.Errorf("no set type for key %q", n)
		}
		types = append(types, t)
	}
	if len(types) == 1 {
		ns.KeyType = types[0]
	} else {
		kt, err := nftables.ConcatSetType(types...)
		if err != nil {
			return nil, err
		}
		ns.KeyType, ns.Concatenation = kt, true
	}
	switch s.Kind {
	case SetPrefixes, SetPorts:
		ns.Interval = true
	case SetVerdicts:
		ns.IsMap, ns.DataType = true, nftables.TypeVerdict
	case SetDynamic:
		ns.Dynamic, ns.HasTimeout, ns.Timeout = true, true, s.Timeout
	}
	return ns, nil
}

// elements encodes a set's elements as the kernel wants them: intervals
// as a start and an end (the address after the last), led by an end at
// zero, as nft writes them.
func elements(s *Set) ([]nftables.SetElement, error) {
	var out []nftables.SetElement
	interval := func(lo, next []byte, hasNext, first bool) {
		if first && !isZero(lo) {
			out = append(out, nftables.SetElement{Key: make([]byte, len(lo)), IntervalEnd: true})
		}
		out = append(out, nftables.SetElement{Key: lo})
		if hasNext {
			out = append(out, nftables.SetElement{Key: next, IntervalEnd: true})
		}
	}
	switch s.Kind {
	case SetPrefixes:
		for i, r := range mergePrefixes(s.Prefixes) {
			if r.lo.Is6() != s.V6 {
				return nil, fmt.Errorf("address %s is not IPv%s", r.lo, map[bool]string{true: "6", false: "4"}[s.V6])
			}
			next := r.hi.Next()
			interval(r.lo.AsSlice(), addrBytes(next), next.IsValid(), i == 0)
		}
	case SetPorts:
		for i, r := range mergePorts(s.Ports) {
			interval(binaryutil.BigEndian.PutUint16(r.Lo), binaryutil.BigEndian.PutUint16(r.Hi+1), r.Hi < 65535, i == 0)
		}
	case SetTuples:
		for _, tu := range s.Tuples {
			k, err := tupleKey(s.Key, tu)
			if err != nil {
				return nil, err
			}
			out = append(out, nftables.SetElement{Key: k})
		}
	case SetVerdicts:
		for _, j := range s.Jumps {
			if j.Addr.Is6() != s.V6 {
				return nil, fmt.Errorf("address %s of the wrong family", j.Addr)
			}
			out = append(out, nftables.SetElement{Key: j.Addr.AsSlice(), VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: j.Chain}})
		}
	case SetBytes:
		for _, p := range s.Bytes {
			out = append(out, nftables.SetElement{Key: []byte{p}})
		}
	}
	return out, nil
}

func addrBytes(a netip.Addr) []byte {
	if !a.IsValid() {
		return nil
	}
	return a.AsSlice()
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// tupleKey is a concatenated key: each field padded to 4 bytes.
func tupleKey(key []Field, tu Tuple) ([]byte, error) {
	if len(tu) != len(key) {
		return nil, fmt.Errorf("tuple %v has %d values, the key %d fields", tu, len(tu), len(key))
	}
	var out []byte
	for i, f := range key {
		var v []byte
		switch x := tu[i].(type) {
		case netip.Addr:
			v = x.AsSlice()
		case uint8:
			v = []byte{x}
		case uint16:
			v = binaryutil.BigEndian.PutUint16(x)
		default:
			return nil, fmt.Errorf("tuple value %v (%T) for %s", x, x, f.Info().Text)
		}
		if uint32(len(v)) != f.Info().Len {
			return nil, fmt.Errorf("tuple value %v does not fit %s", tu[i], f.Info().Text)
		}
		out = append(out, v...)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
	}
	return out, nil
}

// load puts field f into register reg.
func load(f Field, reg uint32) expr.Any {
	switch f {
	case FieldSaddr4:
		return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}
	case FieldDaddr4:
		return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4}
	case FieldSaddr6:
		return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 16}
	case FieldDaddr6:
		return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: 24, Len: 16}
	case FieldL4Proto:
		return &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg}
	case FieldSport, FieldICMPTypeCode:
		return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2}
	case FieldDport:
		return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}
	case FieldICMPType, FieldICMPv6Type:
		return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1}
	}
	panic(fmt.Sprintf("nft: no load for field %d", f))
}

// loadKey puts a key (one field or a concatenation) into registers from
// register 1 on, each field in whole 32-bit registers, as nft does.
func loadKey(key []Field) []expr.Any {
	out := make([]expr.Any, 0, len(key))
	words := uint32(0)
	for i, f := range key {
		reg := uint32(1)
		if i > 0 {
			reg = 8 + words // NFT_REG32_00 + offset
		}
		out = append(out, load(f, reg))
		words += (f.Info().Len + 3) / 4
	}
	return out
}

func (b *batch) setRef(t *Table, name string) (*nftables.Set, error) {
	s, ok := b.sets[t][name]
	if !ok {
		return nil, fmt.Errorf("no set %s", name)
	}
	return s, nil
}

func (b *batch) exprs(t *Table, r *Rule) ([]expr.Any, error) {
	var out []expr.Any
	cmpOp := func(neg bool) expr.CmpOp {
		if neg {
			return expr.CmpOpNeq
		}
		return expr.CmpOpEq
	}
	for _, m := range r.Match {
		switch m.Kind {
		case MatchFamily:
			if t.Family == Bridge {
				proto := uint16(unix.ETH_P_IP)
				if m.V6 {
					proto = unix.ETH_P_IPV6
				}
				out = append(out, &expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
					&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(proto)})
				continue
			}
			fam := byte(unix.NFPROTO_IPV4)
			if m.V6 {
				fam = unix.NFPROTO_IPV6
			}
			out = append(out, &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{fam}})
		case MatchCmp:
			if uint32(len(m.Value)) != m.Field.Info().Len {
				return nil, fmt.Errorf("%s compared with %d bytes", m.Field.Info().Text, len(m.Value))
			}
			out = append(out, load(m.Field, 1), &expr.Cmp{Op: cmpOp(m.Neg), Register: 1, Data: m.Value})
		case MatchSet:
			s, err := b.setRef(t, m.Set)
			if err != nil {
				return nil, err
			}
			out = append(out, loadKey(m.Key)...)
			out = append(out, &expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID, Invert: m.Neg})
		case MatchCtState:
			out = append(out, &expr.Ct{Register: 1, Key: expr.CtKeySTATE},
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
					Mask: binaryutil.NativeEndian.PutUint32(m.CtState), Xor: make([]byte, 4)},
				&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)})
		default:
			return nil, fmt.Errorf("unknown match kind %d", m.Kind)
		}
	}
	if r.Counter {
		out = append(out, &expr.Counter{})
	}
	if r.Log != "" {
		out = append(out, &expr.Log{Key: 1 << unix.NFTA_LOG_PREFIX, Data: []byte(Comment(r.Log))})
	}
	for _, d := range r.Dynsets {
		s, err := b.setRef(t, d.Set)
		if err != nil {
			return nil, err
		}
		out = append(out, loadKey(d.Key)...)
		out = append(out, &expr.Dynset{SrcRegKey: 1, SetName: s.Name, SetID: s.ID, Operation: uint32(d.Op)})
	}
	if r.Notrack {
		out = append(out, &expr.Notrack{})
	}
	if r.Vmap != "" {
		s, err := b.setRef(t, r.Vmap)
		if err != nil {
			return nil, err
		}
		out = append(out, loadKey(r.VmapKey)...)
		out = append(out, &expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true, SetName: s.Name, SetID: s.ID})
	}
	switch r.Verdict.Kind {
	case Accept:
		out = append(out, &expr.Verdict{Kind: expr.VerdictAccept})
	case Drop:
		out = append(out, &expr.Verdict{Kind: expr.VerdictDrop})
	case Return:
		out = append(out, &expr.Verdict{Kind: expr.VerdictReturn})
	case Jump:
		out = append(out, &expr.Verdict{Kind: expr.VerdictJump, Chain: r.Verdict.Chain})
	case Goto:
		out = append(out, &expr.Verdict{Kind: expr.VerdictGoto, Chain: r.Verdict.Chain})
	}
	return out, nil
}

// Dump is a table as read back from the kernel.
type Dump struct {
	Family Family
	Name   string
	Chains []DumpChain
	Sets   []DumpSet
	// Digest covers chains, rules (expressions and comments, counters
	// left out) and the elements of every set but dynamic ones (which the
	// packet path fills): it changes when anyone edits the table. It is
	// PartsDigest of Parts (the rules, each set).
	Digest string
	Parts  map[string]string
}

// DumpChain is a chain and its rules in order.
type DumpChain struct {
	Name  string
	Base  bool
	Rules []DumpRule
}

// DumpRule is a rule's handle, comment and counter.
type DumpRule struct {
	Handle  uint64
	Comment string
	Packets uint64
	Bytes   uint64
}

// DumpSet is a set's name and element count.
type DumpSet struct {
	Name     string
	Elements int
	Dynamic  bool
}

// Counts summarises the dump.
func (d *Dump) Counts() Counts {
	c := Counts{Tables: 1, Chains: len(d.Chains), Sets: len(d.Sets)}
	for _, ch := range d.Chains {
		c.Rules += len(ch.Rules)
	}
	for _, s := range d.Sets {
		c.Elements += s.Elements
	}
	return c
}

// Read dumps a table (ErrNoTable when it does not exist): its chains,
// every rule in one netlink dump, its sets and their elements.
func Read(c *Conn, f Family, name string) (*Dump, error) {
	fam := nfFamily(f)
	nt, err := c.ListTableOfFamily(name, fam)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, ErrNoTable
		}
		return nil, fmt.Errorf("list table %s %s: %w", f, name, err)
	}
	d := &Dump{Family: f, Name: name, Parts: map[string]string{}}
	h := sha256.New()
	chains, err := c.ListChainsOfTableFamily(fam)
	if err != nil {
		return nil, fmt.Errorf("list chains of %s %s: %w", f, name, err)
	}
	chains = slices.DeleteFunc(chains, func(ch *nftables.Chain) bool { return ch.Table.Name != name })
	slices.SortFunc(chains, func(a, b *nftables.Chain) int { return strings.Compare(a.Name, b.Name) })
	rules, err := dumpRules(c.netns, fam, name)
	if err != nil {
		return nil, fmt.Errorf("list rules of %s %s: %w", f, name, err)
	}
	for _, ch := range chains {
		dc := DumpChain{Name: ch.Name, Base: ch.Hooknum != nil}
		fmt.Fprintf(h, "chain %s base=%v", ch.Name, dc.Base)
		if ch.Hooknum != nil && ch.Priority != nil {
			fmt.Fprintf(h, " hook=%d prio=%d", *ch.Hooknum, *ch.Priority)
		}
		h.Write([]byte{0})
		for _, r := range rules[ch.Name] {
			fmt.Fprintf(h, "rule %d %x %x\x00", r.handle, r.userdata, r.exprs)
			dr := DumpRule{Handle: r.handle, Packets: r.packets, Bytes: r.bytes}
			if s, ok := userdata.GetString(r.userdata, userdata.TypeComment); ok {
				dr.Comment = s
			}
			dc.Rules = append(dc.Rules, dr)
		}
		d.Chains = append(d.Chains, dc)
	}
	d.Parts[partRules] = hex.EncodeToString(h.Sum(nil))
	sets, err := c.GetSets(nt)
	if err != nil {
		return nil, fmt.Errorf("list sets of %s %s: %w", f, name, err)
	}
	for _, s := range sets {
		ds, part, err := readSet(c, s)
		if err != nil {
			return nil, err
		}
		d.Sets = append(d.Sets, ds)
		d.Parts[partSet+s.Name] = part
	}
	slices.SortFunc(d.Sets, func(a, b DumpSet) int { return strings.Compare(a.Name, b.Name) })
	d.Digest = PartsDigest(d.Parts)
	return d, nil
}

// Parts of a dump's digest: the chains and rules, and each set.
const (
	partRules = "rules"
	partSet   = "set:"
)

// PartsDigest combines the digests of a table's parts.
func PartsDigest(parts map[string]string) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(parts)) {
		fmt.Fprintf(h, "%s=%s\x00", k, parts[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ReadSets dumps the named sets of a table and returns their digest
// parts (to update a recorded Dump.Parts after UpdateSets).
func ReadSets(c *Conn, f Family, table string, names []string) (map[string]string, error) {
	nt := &nftables.Table{Name: table, Family: nfFamily(f)}
	out := map[string]string{}
	for _, name := range names {
		s, err := c.GetSetByName(nt, name)
		if err != nil {
			return nil, fmt.Errorf("list set %s: %w", name, err)
		}
		_, part, err := readSet(c, s)
		if err != nil {
			return nil, err
		}
		out[partSet+name] = part
	}
	return out, nil
}

// readSet is a set's summary and digest: its kind and key, and its
// elements unless the packet path fills it (a dynamic set).
func readSet(c *Conn, s *nftables.Set) (DumpSet, string, error) {
	h := sha256.New()
	ds := DumpSet{Name: s.Name, Dynamic: s.HasTimeout}
	fmt.Fprintf(h, "set %s map=%v interval=%v timeout=%v key=%d/%d\x00", s.Name, s.IsMap, s.Interval, s.HasTimeout, s.KeyType.GetNFTMagic(), s.KeyType.Bytes)
	elems, err := c.GetSetElements(s)
	if err != nil {
		return ds, "", fmt.Errorf("list elements of set %s: %w", s.Name, err)
	}
	ds.Elements = len(elems)
	if !ds.Dynamic {
		keys := make([]string, 0, len(elems))
		for _, e := range elems {
			k := hex.EncodeToString(e.Key) + "/" + hex.EncodeToString(e.KeyEnd) + fmt.Sprintf("/%v/%x", e.IntervalEnd, e.Val)
			if e.VerdictData != nil {
				k += fmt.Sprintf("/%d:%s", e.VerdictData.Kind, e.VerdictData.Chain)
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			h.Write([]byte(k))
			h.Write([]byte{0})
		}
	}
	return ds, hex.EncodeToString(h.Sum(nil)), nil
}

// rawRule is a rule as dumped: its expressions' bytes with every
// counter's values left out (they are in packets and bytes).
type rawRule struct {
	handle          uint64
	userdata, exprs []byte
	packets, bytes  uint64
}

// dumpRules reads every rule of a table in one netlink dump (asking chain
// by chain makes the kernel walk the table once per chain), grouped by
// chain, in order.
func dumpRules(netnsFD int, fam nftables.TableFamily, table string) (map[string][]rawRule, error) {
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: netnsFD})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.NFTA_RULE_TABLE, Data: []byte(table + "\x00")}})
	if err != nil {
		return nil, err
	}
	msgs, err := conn.Execute(netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETRULE),
			Flags: netlink.Request | netlink.Dump,
		},
		Data: append([]byte{byte(fam), unix.NFNETLINK_V0, 0, 0}, attrs...),
	})
	if err != nil {
		return nil, err
	}
	out := map[string][]rawRule{}
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			return nil, err
		}
		ad.ByteOrder = binary.BigEndian
		var r rawRule
		var chain string
		for ad.Next() {
			switch ad.Type() {
			case unix.NFTA_RULE_CHAIN:
				chain = ad.String()
			case unix.NFTA_RULE_HANDLE:
				r.handle = ad.Uint64()
			case unix.NFTA_RULE_USERDATA:
				r.userdata = ad.Bytes()
			case unix.NFTA_RULE_EXPRESSIONS:
				ad.Nested(func(nd *netlink.AttributeDecoder) error {
					for nd.Next() {
						nd.Nested(func(ed *netlink.AttributeDecoder) error {
							var name string
							var data []byte
							for ed.Next() {
								switch ed.Type() {
								case unix.NFTA_EXPR_NAME:
									name = ed.String()
								case unix.NFTA_EXPR_DATA:
									data = ed.Bytes()
								}
							}
							r.exprs = append(r.exprs, name...)
							r.exprs = append(r.exprs, 0)
							if name == "counter" {
								r.packets, r.bytes = counterValues(data)
								return nil
							}
							r.exprs = append(r.exprs, data...)
							return nil
						})
					}
					return nil
				})
			}
		}
		if err := ad.Err(); err != nil {
			return nil, err
		}
		out[chain] = append(out[chain], r)
	}
	return out, nil
}

func counterValues(data []byte) (packets, bytes uint64) {
	ad, err := netlink.NewAttributeDecoder(data)
	if err != nil {
		return 0, 0
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_COUNTER_PACKETS:
			packets = ad.Uint64()
		case unix.NFTA_COUNTER_BYTES:
			bytes = ad.Uint64()
		}
	}
	return packets, bytes
}

// GenID is the namespace's nftables ruleset generation: every committed
// transaction, by anyone, changes it. A table read after Lockdown's last
// write is still what was read while the generation is the same.
func GenID(c *Conn) (uint32, error) {
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: c.netns})
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	msgs, err := conn.Execute(netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETGEN),
			Flags: netlink.Request,
		},
		Data: []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0},
	})
	if err != nil {
		return 0, fmt.Errorf("nftables generation: %w", err)
	}
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			return 0, fmt.Errorf("nftables generation: %w", err)
		}
		ad.ByteOrder = binary.BigEndian
		for ad.Next() {
			if ad.Type() == unix.NFTA_GEN_ID {
				return ad.Uint32(), nil
			}
		}
	}
	return 0, errors.New("nftables generation: no id in the reply")
}
