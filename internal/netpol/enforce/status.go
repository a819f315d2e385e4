package enforce

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/netpol/nft"
)

// Drift values.
const (
	DriftNone     = ""
	DriftNotFound = "not applied"                     // no table and no state
	DriftDeleted  = "table deleted"                   // state says applied, the table is gone
	DriftEdited   = "table edited"                    // the table is not what Lockdown wrote
	DriftUnknown  = "unknown: no state"               // a table, but no state file to compare with
	DriftExtra    = "unexpected bridge or inet table" // a table of a family Lockdown did not apply
)

// Status is what is in force.
type Status struct {
	Table    string        `json:"table"`
	Applied  bool          `json:"applied"`
	State    *State        `json:"state,omitempty"`
	Drift    string        `json:"drift"`
	Counts   nft.Counts    `json:"counts"`
	Families []string      `json:"families"`
	Counters []RuleCounter `json:"counters"`
}

// RuleCounter is the packet and byte count of one rule of a policy or
// profile (summed over its nft rules), or of an end-of-tier or default
// deny.
type RuleCounter struct {
	Policy    string `json:"policy"`          // policy key, "profile:NAME", "tier:NAME" or "default"
	Stage     string `json:"stage,omitempty"` // untracked, preDNAT
	Direction string `json:"direction"`       // ingress, egress
	Rule      string `json:"rule"`            // rule index, "end-of-tier" or "default"
	Action    string `json:"action"`          // Allow, Deny, Pass, Log
	Packets   uint64 `json:"packets"`
	Bytes     uint64 `json:"bytes"`
}

// Status reads the table(s) from the kernel and compares them with what
// Apply recorded.
func (a *Applier) Status(ctx context.Context) (*Status, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := a.conn()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	st, err := a.readState()
	if err != nil {
		return nil, err
	}
	s := &Status{Table: a.opts.Table, State: st, Counters: []RuleCounter{}}
	counters := map[RuleCounter]*RuleCounter{}
	var order []RuleCounter
	for _, f := range []nft.Family{nft.Inet, nft.Bridge} {
		d, err := nft.Read(c, f, a.opts.Table)
		if errors.Is(err, nft.ErrNoTable) {
			continue
		}
		if err != nil {
			return nil, classify(err)
		}
		s.Applied = true
		s.Families = append(s.Families, f.String())
		cn := d.Counts()
		s.Counts.Tables++
		s.Counts.Chains += cn.Chains
		s.Counts.Rules += cn.Rules
		s.Counts.Sets += cn.Sets
		s.Counts.Elements += cn.Elements
		switch {
		case st == nil:
			s.Drift = DriftUnknown
		case !slices.Contains(st.Families, f.String()):
			s.Drift = DriftExtra
		case st.Kernel[f.String()] != d.Digest && s.Drift == DriftNone:
			s.Drift = DriftEdited
		}
		for _, ch := range d.Chains {
			for _, r := range ch.Rules {
				k, ok := parseCounterComment(r.Comment)
				if !ok {
					continue
				}
				rc := counters[k]
				if rc == nil {
					rc = &RuleCounter{Policy: k.Policy, Stage: k.Stage, Direction: k.Direction, Rule: k.Rule, Action: k.Action}
					counters[k] = rc
					order = append(order, k)
				}
				rc.Packets += r.Packets
				rc.Bytes += r.Bytes
			}
		}
	}
	if st != nil {
		for _, f := range st.Families {
			if !slices.Contains(s.Families, f) {
				s.Drift = DriftDeleted
			}
		}
	} else if !s.Applied {
		s.Drift = DriftNotFound
	}
	for _, k := range order {
		s.Counters = append(s.Counters, *counters[k])
	}
	return s, nil
}

// parseCounterComment reads the comments the compiler writes on counted
// rules: "policy=KEY [stage=S] dir=D rule=N action=A",
// "profile=NAME dir=D rule=N action=A", "tier=NAME dir=D end-of-tier
// deny" and "dir=D default-deny: …".
func parseCounterComment(c string) (RuleCounter, bool) {
	var k RuleCounter
	fields := strings.Fields(c)
	if len(fields) == 0 {
		return k, false
	}
	for _, f := range fields {
		key, val, ok := strings.Cut(f, "=")
		if !ok {
			switch f {
			case "end-of-tier":
				k.Rule, k.Action = "end-of-tier", "Deny"
			}
			continue
		}
		switch key {
		case "policy":
			k.Policy = val
		case "profile":
			k.Policy = "profile:" + val
		case "tier":
			k.Policy = "tier:" + val
		case "stage":
			k.Stage = val
		case "dir":
			k.Direction = strings.TrimSuffix(val, ":")
		case "rule":
			if _, err := strconv.Atoi(val); err == nil {
				k.Rule = val
			}
		case "action":
			k.Action = val
		}
	}
	if strings.HasPrefix(fields[len(fields)-1], "default-deny") || slices.ContainsFunc(fields, func(f string) bool { return strings.HasPrefix(f, "default-deny") }) {
		k.Policy, k.Rule, k.Action = "default", "default", "Deny"
	}
	if k.Policy == "" || k.Direction == "" || k.Rule == "" || k.Action == "" {
		return RuleCounter{}, false
	}
	return k, true
}
