// Package audit assesses the security posture of a Docker engine, its host,
// its containers and its images (CIS Docker Benchmark v1.6), and reports
// each result as a model.Finding of kind posture.
//
// Checks are plugins: each implements Check, and all of them are listed
// explicitly in checks.go. Facts are gathered once per run (Engine API
// first, daemon.json and the daemon's command line only for what the API
// does not show) and every check is a function of those facts.
package audit

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// Scopes group checks and findings.
const (
	ScopeDaemon    = "daemon"
	ScopeHost      = "host"
	ScopeContainer = "container"
	ScopeImage     = "image"
)

// Info describes a check. It is fixed: the same for every run.
type Info struct {
	ID          string         // stable check ID, "LD-DKR-110"
	CIS         string         // CIS Docker Benchmark v1.6 ID(s), "2.2"; empty when none maps
	Title       string         // what a passing result means, "Inter-container communication is restricted"
	Severity    model.Severity // severity of a FAIL
	Scope       string         // ScopeDaemon, ScopeHost, ScopeContainer, ScopeImage
	Tags        []string       // for --check/--skip selection: "cis", "network", "tls", …
	Rationale   string
	Remediation string // exact flag or daemon.json key
}

// Check is one posture check. Run is called once per subject of the check's
// scope (once for daemon and host checks, once per container or image) and
// must not keep t.
type Check interface {
	Info() Info
	Run(ctx context.Context, t *Target) Result
}

// Result is what one check saw on one subject.
type Result struct {
	Status   string // model.StatusPass, StatusFail, StatusWarn, StatusInfo, StatusSkip
	Evidence string // what was seen; secrets are redacted before they get here
	// Optional overrides of the check's Info for this result.
	Severity    model.Severity
	Remediation string
	Location    string
	References  []string
}

func pass(format string, args ...any) Result {
	return Result{Status: model.StatusPass, Evidence: fmt.Sprintf(format, args...)}
}
func fail(format string, args ...any) Result {
	return Result{Status: model.StatusFail, Evidence: fmt.Sprintf(format, args...)}
}
func warn(format string, args ...any) Result {
	return Result{Status: model.StatusWarn, Evidence: fmt.Sprintf(format, args...)}
}
func info(format string, args ...any) Result {
	return Result{Status: model.StatusInfo, Evidence: fmt.Sprintf(format, args...)}
}
func skip(format string, args ...any) Result {
	return Result{Status: model.StatusSkip, Evidence: fmt.Sprintf(format, args...)}
}

// check is the usual Check: fixed Info plus a function.
type check struct {
	info Info
	run  func(ctx context.Context, t *Target) Result
}

func (c check) Info() Info                                { return c.info }
func (c check) Run(ctx context.Context, t *Target) Result { return c.run(ctx, t) }

// ValidateChecks reports an error for an empty or duplicate ID, an unknown
// scope or a check without title.
func ValidateChecks(checks []Check) error {
	seen := make(map[string]bool, len(checks))
	for i, c := range checks {
		in := c.Info()
		if in.ID == "" {
			return fmt.Errorf("check %d has no ID", i)
		}
		if seen[in.ID] {
			return fmt.Errorf("duplicate check ID %s", in.ID)
		}
		seen[in.ID] = true
		switch in.Scope {
		case ScopeDaemon, ScopeHost, ScopeContainer, ScopeImage:
		default:
			return fmt.Errorf("check %s: unknown scope %q", in.ID, in.Scope)
		}
		if in.Title == "" {
			return fmt.Errorf("check %s has no title", in.ID)
		}
	}
	return nil
}

// Select returns the checks that match include (all when empty) and do not
// match exclude. A selector matches a check by ID, by CIS ID ("cis:5.4") or
// by tag, case-insensitively. A selector that matches no check is an error,
// so that a typo does not silently audit nothing.
func Select(checks []Check, include, exclude []string) ([]Check, error) {
	for _, s := range append(slices.Clone(include), exclude...) {
		if !slices.ContainsFunc(checks, func(c Check) bool { return matches(c.Info(), s) }) {
			return nil, fmt.Errorf("--check/--skip %q matches no check ID, tag or cis:ID", s)
		}
	}
	var out []Check
	for _, c := range checks {
		in := c.Info()
		if len(include) > 0 && !slices.ContainsFunc(include, func(s string) bool { return matches(in, s) }) {
			continue
		}
		if slices.ContainsFunc(exclude, func(s string) bool { return matches(in, s) }) {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

func matches(in Info, sel string) bool {
	sel = strings.TrimSpace(sel)
	if strings.EqualFold(in.ID, sel) || strings.EqualFold(in.Scope, sel) {
		return true
	}
	if cis, ok := strings.CutPrefix(strings.ToLower(sel), "cis:"); ok {
		return cisCovers(in.CIS, cis)
	}
	return slices.ContainsFunc(in.Tags, func(t string) bool { return strings.EqualFold(t, sel) })
}

// cisCovers reports whether a check's CIS field ("5.4", "3.15,3.16",
// "1.1.4-1.1.13") names id.
func cisCovers(field, id string) bool {
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
