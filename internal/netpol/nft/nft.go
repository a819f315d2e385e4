// Package nft is a small model of an nftables ruleset — tables, sets,
// maps, chains and rules built from a closed set of matches and statements
// — with two backends that must agree: Text writes it in `nft -f` syntax
// (for --dry-run and for people), and Apply sends it to the kernel over
// netlink (github.com/google/nftables) as one transaction. Read dumps a
// table back, for status, counters and drift.
//
// The model only covers what Lockdown's policy compiler needs; every
// construct is written the way nft itself compiles it, so a table loaded
// from Text and the same table sent by Apply list identically.
package nft

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Family is a table family.
type Family uint8

const (
	// Inet sees routed and locally delivered IPv4 and IPv6 traffic, and
	// bridged traffic when br_netfilter passes it up.
	Inet Family = iota + 1
	// Bridge sees frames forwarded between the ports of a bridge.
	Bridge
)

func (f Family) String() string {
	if f == Bridge {
		return "bridge"
	}
	return "inet"
}

// Table is one table: Lockdown owns it whole and replaces it whole.
type Table struct {
	Family Family
	Name   string
	Sets   []*Set
	Chains []*Chain
}

// Chain returns the chain named name, or nil.
func (t *Table) Chain(name string) *Chain {
	for _, c := range t.Chains {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Set returns the set named name, or nil.
func (t *Table) Set(name string) *Set {
	for _, s := range t.Sets {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Hook makes a chain a base chain.
type Hook struct {
	Name     HookName
	Priority int32
}

// HookName is a netfilter hook.
type HookName uint8

const (
	HookPrerouting HookName = iota + 1
	HookInput
	HookForward
	HookOutput
)

func (h HookName) String() string {
	switch h {
	case HookPrerouting:
		return "prerouting"
	case HookInput:
		return "input"
	case HookForward:
		return "forward"
	case HookOutput:
		return "output"
	}
	return "?"
}

// Chain is a base chain (Hook set; type filter, policy accept) or a
// regular chain.
type Chain struct {
	Name  string
	Hook  *Hook
	Rules []*Rule
}

// Add appends a rule.
func (c *Chain) Add(r *Rule) { c.Rules = append(c.Rules, r) }

// Field is a packet value a match, a set key or a statement reads.
type Field uint8

const (
	FieldSaddr4       Field = iota + 1 // ip saddr
	FieldDaddr4                        // ip daddr
	FieldSaddr6                        // ip6 saddr
	FieldDaddr6                        // ip6 daddr
	FieldL4Proto                       // meta l4proto
	FieldSport                         // th sport
	FieldDport                         // th dport
	FieldICMPType                      // first byte of the ICMP header
	FieldICMPTypeCode                  // type and code, 16 bits
	FieldICMPv6Type                    // icmpv6 type (for sets of icmpv6_type)
)

// FieldInfo is what a backend needs to know about a field.
type FieldInfo struct {
	Text string // in nft syntax
	Len  uint32 // bytes loaded
	Type string // nft set datatype
}

var fieldInfo = map[Field]FieldInfo{
	FieldSaddr4:       {"ip saddr", 4, "ipv4_addr"},
	FieldDaddr4:       {"ip daddr", 4, "ipv4_addr"},
	FieldSaddr6:       {"ip6 saddr", 16, "ipv6_addr"},
	FieldDaddr6:       {"ip6 daddr", 16, "ipv6_addr"},
	FieldL4Proto:      {"meta l4proto", 1, "inet_proto"},
	FieldSport:        {"th sport", 2, "inet_service"},
	FieldDport:        {"th dport", 2, "inet_service"},
	FieldICMPType:     {"@th,0,8", 1, ""},
	FieldICMPv6Type:   {"icmpv6 type", 1, "icmpv6_type"},
	FieldICMPTypeCode: {"@th,0,16", 2, ""},
}

// Info describes f.
func (f Field) Info() FieldInfo { return fieldInfo[f] }

// AddrField returns the saddr or daddr field of an IP family (4 or 6).
func AddrField(dst bool, family int) Field {
	switch {
	case family == 6 && dst:
		return FieldDaddr6
	case family == 6:
		return FieldSaddr6
	case dst:
		return FieldDaddr4
	}
	return FieldSaddr4
}

// MatchKind is the kind of a match.
type MatchKind uint8

const (
	// MatchFamily: the packet is IPv4 (V6 false) or IPv6. In an inet table
	// it reads meta nfproto, in a bridge table meta protocol.
	MatchFamily MatchKind = iota + 1
	// MatchCmp compares Field with Value (== or !=).
	MatchCmp
	// MatchSet looks Key up in the named set (in or not in).
	MatchSet
	// MatchCtState: the connection state has one of the CtState bits.
	MatchCtState
)

// Conntrack state bits.
const (
	CtEstablished uint32 = 2
	CtRelated     uint32 = 4
	CtUntracked   uint32 = 64
)

// Match is one condition of a rule; a rule's matches must all hold.
type Match struct {
	Kind    MatchKind
	V6      bool    // MatchFamily
	Field   Field   // MatchCmp
	Value   []byte  // MatchCmp, big endian, Field's length
	Key     []Field // MatchSet: one field, or a concatenation
	Set     string  // MatchSet
	Neg     bool    // MatchCmp, MatchSet
	CtState uint32  // MatchCtState
}

// Family4or6 is the match for IPv4 (6: IPv6) packets.
func Family4or6(family int) Match { return Match{Kind: MatchFamily, V6: family == 6} }

// InSet is `KEY @set` (or `KEY != @set`).
func InSet(set string, neg bool, key ...Field) Match {
	return Match{Kind: MatchSet, Key: key, Set: set, Neg: neg}
}

// Cmp is `FIELD VALUE` (or `FIELD != VALUE`).
func Cmp(f Field, neg bool, value []byte) Match {
	return Match{Kind: MatchCmp, Field: f, Value: value, Neg: neg}
}

// VerdictKind is what a rule does when it matches.
type VerdictKind uint8

const (
	VerdictNone VerdictKind = iota // go on with the next rule
	Accept
	Drop
	Return
	Jump
	Goto
)

// Verdict is a verdict and, for Jump and Goto, the chain.
type Verdict struct {
	Kind  VerdictKind
	Chain string
}

// DynsetOp adds or refreshes an element of a dynamic set.
type DynsetOp uint8

const (
	DynsetAdd DynsetOp = iota
	DynsetUpdate
)

// Dynset is `add @set { KEY }` or `update @set { KEY }`.
type Dynset struct {
	Op  DynsetOp
	Set string
	Key []Field
}

// Rule is matches, then statements (counter, log, set updates, notrack),
// then a verdict — or a verdict map lookup (Vmap) instead of a verdict.
type Rule struct {
	Match   []Match
	Counter bool
	Log     string // log prefix; "" for no log statement
	Dynsets []Dynset
	Notrack bool
	// VmapKey and Vmap: `KEY vmap @map` (the map gives the verdict).
	VmapKey []Field
	Vmap    string
	Verdict Verdict
	Comment string
}

// SetKind is what a set holds.
type SetKind uint8

const (
	// SetPrefixes: an interval set of addresses (Prefixes).
	SetPrefixes SetKind = iota + 1
	// SetPorts: an interval set of ports (Ports).
	SetPorts
	// SetTuples: a set of concatenated values (Tuples), matching Key.
	SetTuples
	// SetVerdicts: a map from an address to a jump to a chain (Jumps).
	SetVerdicts
	// SetDynamic: a set the packet path fills (Key, Timeout), empty at
	// start.
	SetDynamic
	// SetBytes: a set of one-byte values (Bytes) of datatype ByteType
	// (inet_proto, icmpv6_type).
	SetBytes
)

// PortRange is Lo..Hi.
type PortRange struct{ Lo, Hi uint16 }

// Tuple is one element of a SetTuples set: one value per key field
// (addresses as netip.Addr, protocols as uint8, ports as uint16).
type Tuple []any

// AddrJump is an element of a SetVerdicts map.
type AddrJump struct {
	Addr  netip.Addr
	Chain string
}

// Set is a named set or verdict map.
type Set struct {
	Name    string
	Kind    SetKind
	V6      bool    // SetPrefixes, SetVerdicts: IPv6 addresses
	Key     []Field // SetTuples, SetDynamic: the key's fields
	Timeout time.Duration
	Comment string

	Prefixes []netip.Prefix
	Ports    []PortRange
	Tuples   []Tuple
	Jumps    []AddrJump
	Bytes    []uint8
	ByteType string // SetBytes
}

// KeyTypes are the nft datatypes of the set's key, in order.
func (s *Set) KeyTypes() []string {
	switch s.Kind {
	case SetPrefixes, SetVerdicts:
		if s.V6 {
			return []string{"ipv6_addr"}
		}
		return []string{"ipv4_addr"}
	case SetPorts:
		return []string{"inet_service"}
	case SetBytes:
		return []string{s.ByteType}
	}
	out := make([]string, len(s.Key))
	for i, f := range s.Key {
		out[i] = f.Info().Type
	}
	return out
}

// Len is the number of elements (a prefix or range counts once).
func (s *Set) Len() int {
	return len(s.Prefixes) + len(s.Ports) + len(s.Tuples) + len(s.Jumps) + len(s.Bytes)
}

// sanitize keeps a chain or set name within nft's identifier syntax.
func sanitize(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		case (r >= '0' && r <= '9' || r == '/' || r == '.' || r == '-' || r == '_') && i > 0:
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Name builds a chain or set name from parts joined by "/", each made safe
// for nft's identifier syntax; the result is at most 200 bytes.
func Name(parts ...string) string {
	n := sanitize(strings.Join(parts, "/"))
	if len(n) > 200 {
		n = n[:200]
	}
	return n
}

// Counts summarises a ruleset's size.
type Counts struct {
	Tables, Chains, Rules, Sets, Elements int
}

func (c Counts) String() string {
	return fmt.Sprintf("%d tables, %d chains, %d rules, %d sets with %d elements", c.Tables, c.Chains, c.Rules, c.Sets, c.Elements)
}

// Count counts the tables' chains, rules, sets and elements.
func Count(tables []*Table) Counts {
	c := Counts{Tables: len(tables)}
	for _, t := range tables {
		c.Chains += len(t.Chains)
		for _, ch := range t.Chains {
			c.Rules += len(ch.Rules)
		}
		c.Sets += len(t.Sets)
		for _, s := range t.Sets {
			c.Elements += s.Len()
		}
	}
	return c
}
