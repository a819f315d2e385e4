package netpol

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
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
	return res
}

// WriteDiff writes the result as table, json or csv.
func WriteDiff(w io.Writer, d *DiffResult, format string) error {
	bw := bufio.NewWriter(w)
	switch strings.ToLower(format) {
	case FormatTable, "":
		fmt.Fprintf(bw, "Compared %d endpoints on %d ports: %d flows newly allowed, %d newly blocked\n",
			d.Endpoints, len(d.Ports), len(d.NewlyAllowed), len(d.NewlyBlocked))
		if len(d.Unmatched) > 0 {
			fmt.Fprintf(bw, "Not compared (in only one side): %s\n", strings.Join(d.Unmatched, ", "))
		}
		for _, c := range d.NewlyAllowed {
			fmt.Fprintf(bw, "+ allow  %s -> %s  %s\n", c.From, c.To, c.Port)
		}
		for _, c := range d.NewlyBlocked {
			fmt.Fprintf(bw, "- block  %s -> %s  %s\n", c.From, c.To, c.Port)
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
