// Package audit assesses the security posture of a Docker engine (or a
// Podman service through its Docker-compatible API), its host, its
// containers and its images against the CIS Docker Benchmark v1.6, and
// reports each result as a model.Finding of kind posture.
//
// Checks are plugins: each is a named function with its Info, in one file
// per CIS section (cis1_host.go … cis7_swarm.go), and all of them are listed
// explicitly in checks.go. Facts are gathered once per run (Engine API
// first, daemon.json and the daemon's command line only for what the API
// does not show) and every check is a function of those facts.
package audit

import (
	"context"
	"fmt"

	"github.com/docker/docker/api/types/container"

	chk "github.com/lockdown-sec/lockdown/internal/check"
	"github.com/lockdown-sec/lockdown/internal/model"
)

// Scopes group checks and findings.
const (
	ScopeDaemon    = "daemon"
	ScopeHost      = "host"
	ScopeContainer = "container"
	ScopeImage     = "image"
	ScopeSwarm     = "swarm"
)

// Info describes a check (shared with every other checker).
type Info = chk.Info

// Check is one posture check. Run is called once per subject of the check's
// scope (once for daemon, host and swarm checks, once per container or
// image) and must not keep t.
type Check interface {
	Info() Info
	Run(ctx context.Context, t *Target) Result
}

// HostGated is implemented by container checks whose applicability depends
// on the host, not the container (AppArmor and SELinux need the host's
// LSM). Gate returns the result to report once for the whole host instead
// of once per container, or nil when the check runs per container.
type HostGated interface {
	Gate(t *Target) *Result
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

func pass(format string, args ...any) Result { return result(model.StatusPass, format, args) }
func fail(format string, args ...any) Result { return result(model.StatusFail, format, args) }
func warn(format string, args ...any) Result { return result(model.StatusWarn, format, args) }
func info(format string, args ...any) Result { return result(model.StatusInfo, format, args) }
func skip(format string, args ...any) Result { return result(model.StatusSkip, format, args) }

// notApplicable is a SKIP that says why the check does not apply; never a
// PASS for something that was not seen.
func notApplicable(format string, args ...any) Result {
	return result(model.StatusSkip, "not applicable: "+format, args)
}

func result(status, format string, args []any) Result {
	return Result{Status: status, Evidence: fmt.Sprintf(format, args...)}
}

// check is the usual Check: fixed Info, a function, and for container
// checks an optional host-level gate.
type check struct {
	info Info
	run  func(ctx context.Context, t *Target) Result
	gate func(t *Target) *Result
}

func (c check) Info() Info                                { return c.info }
func (c check) Run(ctx context.Context, t *Target) Result { return c.run(ctx, t) }
func (c check) Gate(t *Target) *Result {
	if c.gate == nil {
		return nil
	}
	return c.gate(t)
}

// onDaemon makes a daemon-scope check of fn.
func onDaemon(in Info, fn func(t *Target) Result) Check {
	return onDaemonCtx(in, func(_ context.Context, t *Target) Result { return fn(t) })
}

// onDaemonCtx makes a daemon-scope check of fn, which does I/O.
func onDaemonCtx(in Info, fn func(ctx context.Context, t *Target) Result) Check {
	in.Scope = ScopeDaemon
	return check{info: in, run: fn}
}

// onHost makes a host-scope check: SKIP with the reason when the audit does
// not run on the daemon's host.
func onHost(in Info, fn func(t *Target) Result) Check {
	in.Scope = ScopeHost
	return check{info: in, run: func(_ context.Context, t *Target) Result {
		if t.Host == nil {
			return skip("the daemon's host is not visible from here: %s", orDefault(t.HostReason, "host checks are off"))
		}
		return fn(t)
	}}
}

// onContainer makes a container-scope check; fn gets the inspected
// container and never a nil HostConfig or Config.
func onContainer(in Info, fn func(t *Target, c *container.InspectResponse) Result) check {
	in.Scope = ScopeContainer
	return check{info: in, run: func(_ context.Context, t *Target) Result {
		c := &t.Container.Inspect
		if c.ContainerJSONBase == nil || c.HostConfig == nil || c.Config == nil {
			return skip("container %s: inspect data is incomplete", t.Container.Name)
		}
		return fn(t, c)
	}}
}

// gated adds a host-level gate to a container check.
func (c check) gated(gate func(t *Target) *Result) Check {
	c.gate = gate
	return c
}

// onImage makes an image-scope check.
func onImage(in Info, fn func(t *Target, im *Image) Result) Check {
	in.Scope = ScopeImage
	return check{info: in, run: func(_ context.Context, t *Target) Result { return fn(t, t.Image) }}
}

// onSwarm makes a swarm-scope check: not applicable when Swarm is not
// active, and, when manager is set, SKIP on a worker (cluster settings are
// visible on managers only).
func onSwarm(in Info, manager bool, fn func(t *Target, s *Swarm) Result) Check {
	in.Scope = ScopeSwarm
	return check{info: in, run: func(_ context.Context, t *Target) Result {
		s := t.Daemon.Swarm
		if s == nil {
			return notApplicable("swarm mode is %s on this engine", orDefault(string(t.Daemon.Info.Swarm.LocalNodeState), "not reported"))
		}
		if manager && !s.Manager {
			return skip("this node is a swarm worker: cluster settings are visible on managers only")
		}
		return fn(t, s)
	}}
}

// ValidateChecks reports an error for an empty or duplicate ID, an unknown
// scope or a check without title.
func ValidateChecks(checks []Check) error {
	infos := make([]Info, len(checks))
	for i, c := range checks {
		infos[i] = c.Info()
	}
	return chk.Validate(infos, ScopeDaemon, ScopeHost, ScopeContainer, ScopeImage, ScopeSwarm)
}

// Select returns the checks that match include (all when empty) and do not
// match exclude (see check.Select).
func Select(checks []Check, include, exclude []string) ([]Check, error) {
	return chk.Select(checks, Check.Info, include, exclude)
}

// Infos returns the Info of every check.
func Infos() []Info {
	checks := Checks()
	out := make([]Info, len(checks))
	for i, c := range checks {
		out[i] = c.Info()
	}
	return out
}
