package netpol

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/termsafe"
)

// FlowChange is one (source, destination, port) whose verdict changed.
type FlowChange struct {
	From string    `json:"from"`
	To   string    `json:"to"`
	Port PortProto `json:"port"`
}

// DiffResult lists the flows a policy change newly allows and newly blocks.
type DiffResult struct {
	Ports        []PortProto  `json:"ports"`
	Endpoints    int          `json:"endpoints"`
	NewlyAllowed []FlowChange `json:"newlyAllowed"`
	NewlyBlocked []FlowChange `json:"newlyBlocked"`
	// Unmatched lists endpoints present in only one of the two configs;
	// they are left out of the comparison.
	Unmatched []string `json:"unmatched,omitempty"`
	// External lists the addresses outside the endpoints that flows from
	// and to were compared: one for each distinct combination of the nets
	// (rule nets and notNets, network sets) of either config it falls in.
	External []string `json:"external,omitempty"`
}

// Changed reports whether any flow changed.
func (d *DiffResult) Changed() bool { return len(d.NewlyAllowed)+len(d.NewlyBlocked) > 0 }

// Diff compares two configs over the endpoints they share (by ID) on
// ports, with both compiled engines.
func Diff(old, cur *Config, ports []PortProto, family int) *DiffResult {
	res := &DiffResult{Ports: ports}
	eo := Compile(old, ports, family)
	en := Compile(cur, ports, family)
	oldIdx := map[string]int{}
	for i, e := range old.Endpoints {
		oldIdx[e.ID()] = i
	}
	type pair struct{ n, o int }
	var common []pair
	seen := map[string]bool{}
	for i, e := range cur.Endpoints {
		if j, ok := oldIdx[e.ID()]; ok {
			common = append(common, pair{i, j})
			seen[e.ID()] = true
		} else {
			res.Unmatched = append(res.Unmatched, e.ID())
		}
	}
	for _, e := range old.Endpoints {
		if !seen[e.ID()] {
			res.Unmatched = append(res.Unmatched, e.ID())
		}
	}
	res.Endpoints = len(common)
	bo := make([]uint64, eo.Words())
	bn := make([]uint64, en.Words())
	for _, s := range common {
		for _, d := range common {
			if s == d {
				continue
			}
			eo.AllowedInto(s.o, d.o, bo)
			en.AllowedInto(s.n, d.n, bn)
			for k, pp := range ports {
				was := bo[k/64]&(1<<(k%64)) != 0
				now := bn[k/64]&(1<<(k%64)) != 0
				if was == now {
					continue
				}
				fc := FlowChange{From: cur.Endpoints[s.n].ID(), To: cur.Endpoints[d.n].ID(), Port: pp}
				if now {
					res.NewlyAllowed = append(res.NewlyAllowed, fc)
				} else {
					res.NewlyBlocked = append(res.NewlyBlocked, fc)
				}
			}
		}
	}
	// Flows between the endpoints and addresses outside them (an ipBlock
	// or nets change shows only here). Endpoints that neither engine can
	// tell apart share one evaluation.
	type classKey struct{ o, n int32 }
	var keys []classKey
	members := map[classKey][]pair{}
	for _, p := range common {
		k := classKey{eo.classOf[p.o], en.classOf[p.n]}
		if _, ok := members[k]; !ok {
			keys = append(keys, k)
		}
		members[k] = append(members[k], p)
	}
	for _, addr := range externalPeers(family, old, cur) {
		res.External = append(res.External, addr.String())
		ext := Peer{IP: addr}
		for _, egress := range []bool{false, true} {
			for _, k := range keys {
				rep := members[k][0]
				for _, pp := range ports {
					fo := pp.Flow(ext, EndpointPeer(old.Endpoints[rep.o], family), family)
					fn := pp.Flow(ext, EndpointPeer(cur.Endpoints[rep.n], family), family)
					if egress {
						fo.Src, fo.Dst = fo.Dst, fo.Src
						fn.Src, fn.Dst = fn.Dst, fn.Src
					}
					was, now := old.Allowed(fo), cur.Allowed(fn)
					if was == now {
						continue
					}
					for _, m := range members[k] {
						fc := FlowChange{From: addr.String(), To: cur.Endpoints[m.n].ID(), Port: pp}
						if egress {
							fc.From, fc.To = fc.To, fc.From
						}
						if now {
							res.NewlyAllowed = append(res.NewlyAllowed, fc)
						} else {
							res.NewlyBlocked = append(res.NewlyBlocked, fc)
						}
					}
				}
			}
		}
	}
	return res
}

// externalPeers returns addresses of the family that stand for the address
// space outside the endpoints: the nets of both configs (rule nets and
// notNets, network sets) cut it into stretches, and every stretch with the
// same set of containing nets evaluates alike, so one address (the lowest
// that is no endpoint's) stands for each such set.
func externalPeers(family int, cfgs ...*Config) []netip.Addr {
	var nets []netip.Prefix
	add := func(ps []netip.Prefix) {
		for _, p := range ps {
			if p.Addr().Is6() == (family == 6) {
				nets = append(nets, p.Masked())
			}
		}
	}
	owned := map[netip.Addr]bool{}
	for _, c := range cfgs {
		c.eachRule(func(r *Rule) {
			add(r.Src.Nets)
			add(r.Src.NotNets)
			add(r.Dst.Nets)
			add(r.Dst.NotNets)
		})
		for _, s := range c.Sets {
			add(s.Nets)
		}
		for _, e := range c.Endpoints {
			for _, ip := range e.IPs {
				owned[ip] = true
			}
		}
	}
	slices.SortFunc(nets, func(a, b netip.Prefix) int {
		if r := a.Addr().Compare(b.Addr()); r != 0 {
			return r
		}
		return cmp.Compare(a.Bits(), b.Bits())
	})
	nets = slices.Compact(nets)
	bounds := []netip.Addr{netip.IPv4Unspecified()}
	if family == 6 {
		bounds[0] = netip.IPv6Unspecified()
	}
	for _, p := range nets {
		bounds = append(bounds, p.Addr())
		if next := lastAddr(p).Next(); next.IsValid() {
			bounds = append(bounds, next)
		}
	}
	slices.SortFunc(bounds, netip.Addr.Compare)
	bounds = slices.Compact(bounds)
	seen := map[string]bool{}
	var out []netip.Addr
	sig := make([]byte, len(nets))
	for i, a := range bounds {
		for tries := 0; a.IsValid() && owned[a] && tries < 16; tries++ {
			a = a.Next()
		}
		if !a.IsValid() || owned[a] || i+1 < len(bounds) && a.Compare(bounds[i+1]) >= 0 {
			continue
		}
		for j, p := range nets {
			sig[j] = 0
			if p.Contains(a) {
				sig[j] = 1
			}
		}
		if seen[string(sig)] {
			continue
		}
		seen[string(sig)] = true
		out = append(out, a)
	}
	return out
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// WriteDiff writes the result as table, json or csv.
func WriteDiff(w io.Writer, d *DiffResult, format string) error {
	bw := bufio.NewWriter(w)
	switch strings.ToLower(format) {
	case FormatTable, "":
		fmt.Fprintf(bw, "Compared %d endpoints and %d external addresses on %d ports: %d flows newly allowed, %d newly blocked\n",
			d.Endpoints, len(d.External), len(d.Ports), len(d.NewlyAllowed), len(d.NewlyBlocked))
		// Names come from the input files: escaped for the terminal.
		safe := termsafe.String
		if len(d.Unmatched) > 0 {
			fmt.Fprintf(bw, "Not compared (in only one side): %s\n", safe(strings.Join(d.Unmatched, ", ")))
		}
		if len(d.External) > 0 {
			fmt.Fprintf(bw, "External addresses (each stands for the addresses in the same nets): %s\n", strings.Join(d.External, ", "))
		}
		for _, c := range d.NewlyAllowed {
			fmt.Fprintf(bw, "+ allow  %s -> %s  %s\n", safe(c.From), safe(c.To), c.Port)
		}
		for _, c := range d.NewlyBlocked {
			fmt.Fprintf(bw, "- block  %s -> %s  %s\n", safe(c.From), safe(c.To), c.Port)
		}
	case FormatJSON:
		out := *d
		if out.NewlyAllowed == nil {
			out.NewlyAllowed = []FlowChange{}
		}
		if out.NewlyBlocked == nil {
			out.NewlyBlocked = []FlowChange{}
		}
		enc := json.NewEncoder(bw)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	case FormatCSV:
		cw := csv.NewWriter(bw)
		cw.Write([]string{"change", "from", "to", "port", "protocol"})
		for _, set := range []struct {
			name string
			cs   []FlowChange
		}{{"allowed", d.NewlyAllowed}, {"blocked", d.NewlyBlocked}} {
			for _, c := range set.cs {
				port := ""
				if protoHasPorts(c.Port.Protocol) {
					port = strconv.Itoa(int(c.Port.Port))
				}
				cw.Write([]string{set.name, c.From, c.To, port, ProtoName(c.Port.Protocol)})
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown diff format %q (want table, json or csv)", format)
	}
	return bw.Flush()
}
