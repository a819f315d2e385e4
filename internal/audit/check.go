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

	chk "github.com/lockdown-sec/lockdown/internal/check"
	"github.com/lockdown-sec/lockdown/internal/model"
)

// Scopes group checks and findings.
const (
	ScopeDaemon    = "daemon"
	ScopeHost      = "host"
	ScopeContainer = "container"
	ScopeImage     = "image"
)

// Info describes a check (shared with every other checker).
type Info = chk.Info

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
	infos := make([]Info, len(checks))
	for i, c := range checks {
		infos[i] = c.Info()
	}
	return chk.Validate(infos, ScopeDaemon, ScopeHost, ScopeContainer, ScopeImage)
}

// Select returns the checks that match include (all when empty) and do not
// match exclude (see check.Select).
func Select(checks []Check, include, exclude []string) ([]Check, error) {
	return chk.Select(checks, Check.Info, include, exclude)
}
