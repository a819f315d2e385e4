// Package check holds what every checker shares: the fixed description of
// a check (Info), selecting checks with --check/--skip, validating a list
// of checks, and the --list-checks table. `audit docker`, `netpol lint` and
// the other checkers keep their own run logic and describe each check with
// an Info.
package check

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// Info describes a check. It is fixed: the same for every run.
type Info struct {
	ID          string         // stable check ID, "LD-DKR-110"
	CIS         string         // CIS Docker Benchmark ID(s), "2.2", "3.15,3.16", "1.1.4-1.1.13"; empty when none maps
	Title       string         // what a passing result means, "Inter-container communication is restricted"
	Severity    model.Severity // severity of a FAIL
	Scope       string         // what the check looks at: "daemon", "container", "policy", …
	Tags        []string       // for --check/--skip selection: "cis", "network", "tls", …
	Rationale   string
	Remediation string // exact flag, key, patch or command
}

// Validate reports an error for an empty or duplicate ID, a check without
// title, or (when scopes are given) a scope not among them.
func Validate(infos []Info, scopes ...string) error {
	seen := make(map[string]bool, len(infos))
	for i, in := range infos {
		if in.ID == "" {
			return fmt.Errorf("check %d has no ID", i)
		}
		if seen[in.ID] {
			return fmt.Errorf("duplicate check ID %s", in.ID)
		}
		seen[in.ID] = true
		if len(scopes) > 0 && !slices.Contains(scopes, in.Scope) {
			return fmt.Errorf("check %s: unknown scope %q", in.ID, in.Scope)
		}
		if in.Title == "" {
			return fmt.Errorf("check %s has no title", in.ID)
		}
	}
	return nil
}

// Select returns the items whose Info matches include (all when empty) and
// does not match exclude. A selector matches by ID, scope, CIS ID
// ("cis:5.4") or tag, case-insensitively. A selector that matches nothing
// is an error, so that a typo does not silently check nothing.
func Select[T any](items []T, info func(T) Info, include, exclude []string) ([]T, error) {
	for _, s := range append(slices.Clone(include), exclude...) {
		if !slices.ContainsFunc(items, func(c T) bool { return Matches(info(c), s) }) {
			return nil, fmt.Errorf("--check/--skip %q matches no check ID, scope, tag or cis:ID", s)
		}
	}
	var out []T
	for _, c := range items {
		in := info(c)
		if len(include) > 0 && !slices.ContainsFunc(include, func(s string) bool { return Matches(in, s) }) {
			continue
		}
		if slices.ContainsFunc(exclude, func(s string) bool { return Matches(in, s) }) {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// Matches reports whether the selector sel names the check: its ID, scope,
// a tag, or "cis:ID" for a CIS ID the check covers.
func Matches(in Info, sel string) bool {
	sel = strings.TrimSpace(sel)
	if strings.EqualFold(in.ID, sel) || strings.EqualFold(in.Scope, sel) {
		return true
	}
	if cis, ok := strings.CutPrefix(strings.ToLower(sel), "cis:"); ok {
		return CISCovers(in.CIS, cis)
	}
	return slices.ContainsFunc(in.Tags, func(t string) bool { return strings.EqualFold(t, sel) })
}

// CISCovers reports whether a CIS field ("5.4", "3.15,3.16",
// "1.1.4-1.1.13") names id.
func CISCovers(field, id string) bool {
	for _, part := range strings.Split(field, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			if part == id {
				return true
			}
			continue
		}
		// Ranges share their prefix: 1.1.4-1.1.13 covers 1.1.N, 4 <= N <= 13.
		i := strings.LastIndex(lo, ".")
		j := strings.LastIndex(hi, ".")
		k := strings.LastIndex(id, ".")
		if i < 0 || j < 0 || k < 0 || lo[:i] != hi[:j] || lo[:i] != id[:k] {
			continue
		}
		a, e1 := strconv.Atoi(lo[i+1:])
		b, e2 := strconv.Atoi(hi[j+1:])
		n, e3 := strconv.Atoi(id[k+1:])
		if e1 == nil && e2 == nil && e3 == nil && a <= n && n <= b {
			return true
		}
	}
	return false
}

// WriteList writes the --list-checks table: one check a line.
func WriteList(w io.Writer, infos []Info) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCIS\tSCOPE\tSEVERITY\tTAGS\tTITLE")
	for _, in := range infos {
		cis := in.CIS
		if cis == "" {
			cis = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", in.ID, cis, in.Scope, in.Severity, strings.Join(in.Tags, ","), in.Title)
	}
	return tw.Flush()
}

// Weights are what a failed check costs in Score, by severity: a CRITICAL
// failure weighs ten LOW ones. A WARN costs half its weight.
var Weights = map[model.Severity]int{
	model.SeverityCritical: 10,
	model.SeverityHigh:     5,
	model.SeverityMedium:   3,
	model.SeverityLow:      1,
}

// Weight is a severity's weight in Score (1 for none or unknown).
func Weight(s model.Severity) int {
	if w, ok := Weights[s]; ok {
		return w
	}
	return 1
}

// Score is the severity-weighted share of what passed, as a whole
// percentage: 100 × (1 − lost / total), where total is the summed weight
// of every PASS, FAIL and WARN result and lost that of the FAILs plus half
// that of the WARNs. INFO and SKIP do not count. ok is false when nothing
// counted.
func Score(fs []model.Finding) (score int, ok bool) {
	var total, lost float64
	for _, f := range fs {
		w := float64(Weight(f.Severity))
		switch f.Status {
		case model.StatusPass:
			total += w
		case model.StatusFail:
			total += w
			lost += w
		case model.StatusWarn:
			total += w
			lost += w / 2
		}
	}
	if total == 0 {
		return 0, false
	}
	return int(math.Round(100 * (1 - lost/total))), true
}
