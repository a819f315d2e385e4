package nft

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/lockdown-sec/lockdown/internal/termsafe"
)

// Text writes the tables in `nft -f` syntax. Each table is first created
// (if absent) and deleted, so loading the text replaces the tables in one
// transaction, as Apply does.
func Text(w io.Writer, tables []*Table) error {
	bw := bufio.NewWriter(w)
	for _, t := range tables {
		fmt.Fprintf(bw, "table %s %s\ndelete table %s %s\n", t.Family, t.Name, t.Family, t.Name)
	}
	for _, t := range tables {
		writeTable(bw, t)
	}
	return bw.Flush()
}

func writeTable(w *bufio.Writer, t *Table) {
	fmt.Fprintf(w, "table %s %s {\n", t.Family, t.Name)
	for _, s := range t.Sets {
		writeSet(w, s)
	}
	for _, c := range t.Chains {
		fmt.Fprintf(w, "\tchain %s {\n", c.Name)
		if c.Hook != nil {
			fmt.Fprintf(w, "\t\ttype filter hook %s priority %d; policy accept;\n", c.Hook.Name, c.Hook.Priority)
		}
		for _, r := range c.Rules {
			w.WriteString("\t\t")
			w.WriteString(RuleText(t.Family, r))
			w.WriteByte('\n')
		}
		w.WriteString("\t}\n")
	}
	w.WriteString("}\n")
}

func writeSet(w *bufio.Writer, s *Set) {
	kw := "set"
	if s.Kind == SetVerdicts {
		kw = "map"
	}
	fmt.Fprintf(w, "\t%s %s {\n\t\ttype %s", kw, s.Name, strings.Join(s.KeyTypes(), " . "))
	if s.Kind == SetVerdicts {
		w.WriteString(" : verdict")
	}
	w.WriteByte('\n')
	switch s.Kind {
	case SetPrefixes, SetPorts:
		w.WriteString("\t\tflags interval\n")
	case SetDynamic:
		w.WriteString("\t\tflags dynamic,timeout\n")
		fmt.Fprintf(w, "\t\ttimeout %ds\n", int(s.Timeout.Seconds()))
	}
	if s.Comment != "" {
		fmt.Fprintf(w, "\t\tcomment %s\n", quote(s.Comment))
	}
	var elems []string
	switch s.Kind {
	case SetPrefixes:
		for _, r := range mergePrefixes(s.Prefixes) {
			elems = append(elems, r.String())
		}
	case SetPorts:
		for _, r := range mergePorts(s.Ports) {
			if r.Lo == r.Hi {
				elems = append(elems, strconv.Itoa(int(r.Lo)))
			} else {
				elems = append(elems, fmt.Sprintf("%d-%d", r.Lo, r.Hi))
			}
		}
	case SetTuples:
		for _, tu := range s.Tuples {
			parts := make([]string, len(tu))
			for i, v := range tu {
				parts[i] = fmt.Sprint(v)
			}
			elems = append(elems, strings.Join(parts, " . "))
		}
	case SetVerdicts:
		for _, j := range s.Jumps {
			elems = append(elems, j.Addr.String()+" : jump "+j.Chain)
		}
	case SetBytes:
		for _, p := range s.Bytes {
			elems = append(elems, strconv.Itoa(int(p)))
		}
	}
	if len(elems) > 0 {
		w.WriteString("\t\telements = { ")
		for i, e := range elems {
			if i > 0 {
				w.WriteString(",\n\t\t\t     ")
			}
			w.WriteString(e)
		}
		w.WriteString(" }\n")
	}
	w.WriteString("\t}\n")
}

// RuleText is one rule in nft syntax, for a table of family fam.
func RuleText(fam Family, r *Rule) string {
	var parts []string
	for _, m := range r.Match {
		parts = append(parts, matchText(fam, m))
	}
	if r.Counter {
		parts = append(parts, "counter")
	}
	if r.Log != "" {
		parts = append(parts, "log prefix "+quote(r.Log))
	}
	for _, d := range r.Dynsets {
		op := "add"
		if d.Op == DynsetUpdate {
			op = "update"
		}
		parts = append(parts, fmt.Sprintf("%s @%s { %s }", op, d.Set, keyText(d.Key)))
	}
	if r.Notrack {
		parts = append(parts, "notrack")
	}
	if r.Vmap != "" {
		parts = append(parts, keyText(r.VmapKey)+" vmap @"+r.Vmap)
	}
	if v := verdictText(r.Verdict); v != "" {
		parts = append(parts, v)
	}
	if r.Comment != "" {
		parts = append(parts, "comment "+quote(r.Comment))
	}
	return strings.Join(parts, " ")
}

func matchText(fam Family, m Match) string {
	neg := ""
	if m.Neg {
		neg = "!= "
	}
	switch m.Kind {
	case MatchFamily:
		p := "meta nfproto ipv4"
		if m.V6 {
			p = "meta nfproto ipv6"
		}
		if fam == Bridge {
			p = "meta protocol ip"
			if m.V6 {
				p = "meta protocol ip6"
			}
		}
		return p
	case MatchCmp:
		if len(m.Value) == 1 {
			return m.Field.Info().Text + " " + neg + strconv.Itoa(int(m.Value[0]))
		}
		return m.Field.Info().Text + " " + neg + "0x" + hex.EncodeToString(m.Value)
	case MatchSet:
		return keyText(m.Key) + " " + neg + "@" + m.Set
	case MatchCtState:
		var states []string
		for _, s := range []struct {
			bit  uint32
			name string
		}{{CtEstablished, "established"}, {CtRelated, "related"}, {CtUntracked, "untracked"}} {
			if m.CtState&s.bit != 0 {
				states = append(states, s.name)
			}
		}
		return "ct state " + strings.Join(states, ",")
	}
	return "?"
}

func keyText(key []Field) string {
	parts := make([]string, len(key))
	for i, f := range key {
		parts[i] = f.Info().Text
	}
	return strings.Join(parts, " . ")
}

func verdictText(v Verdict) string {
	switch v.Kind {
	case Accept:
		return "accept"
	case Drop:
		return "drop"
	case Return:
		return "return"
	case Jump:
		return "jump " + v.Chain
	case Goto:
		return "goto " + v.Chain
	}
	return ""
}

// quote writes s as an nft string (see Comment).
func quote(s string) string { return `"` + Comment(s) + `"` }

// Comment is s as both backends store a comment or log prefix: control
// characters (a policy name's line break or escape sequence, which would
// break the nft text and reach terminals through nft list, status and the
// kernel log) escaped (termsafe.String), double quotes, which nft strings
// cannot hold, single quotes, and at most 127 bytes kept (the kernel's
// limit), cut between characters.
func Comment(s string) string {
	s = strings.ReplaceAll(termsafe.String(s), `"`, `'`)
	if len(s) > 127 {
		n := 127
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return s
}

// addrRange is an inclusive range of addresses.
type addrRange struct{ lo, hi netip.Addr }

func (r addrRange) String() string {
	if r.lo == r.hi {
		return r.lo.String()
	}
	if p, ok := rangePrefix(r); ok {
		return p.String()
	}
	return r.lo.String() + "-" + r.hi.String()
}

// rangePrefix returns the prefix that is exactly r, if there is one.
func rangePrefix(r addrRange) (netip.Prefix, bool) {
	for bits := 0; bits <= r.lo.BitLen(); bits++ {
		p := netip.PrefixFrom(r.lo, bits).Masked()
		if p.Addr() == r.lo && lastAddr(p) == r.hi {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// lastAddr is the highest address in p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
