//go:build !scanonly

package cli

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockdown-sec/lockdown/internal/audit"
	"github.com/lockdown-sec/lockdown/internal/check"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/report"
	"github.com/lockdown-sec/lockdown/internal/vulndb"
)

func newAuditCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Assess security posture: a Docker or Podman engine (CIS Docker Benchmark v1.6), a Calico cluster's configuration",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newAuditDockerCmd(g), newAuditCalicoCmd(g))
	return cmd
}

type auditFlags struct {
	checks, skip, containers []string
	all                      bool
	failOn                   string
	baseline, writeBaseline  string
	hostChecks               string
	dockerHost               string
	osvZip                   string
	dbPath                   string
	listChecks, showPassed   bool
}

func newAuditDockerCmd(g *globals) *cobra.Command {
	var f auditFlags
	cmd := &cobra.Command{
		Use:   "docker",
		Short: "Audit a Docker engine, its host, every container and every image",
		Long: `Audit a Docker engine (DOCKER_HOST: a unix socket, or tcp with TLS via
DOCKER_TLS_VERIFY / DOCKER_CERT_PATH), or a Podman service through its
Docker-compatible API (--docker-host unix:///run/podman/podman.sock), against
the CIS Docker Benchmark v1.6: daemon settings from the Engine API, host files
when run on the daemon's host, every running container, every image, and the
swarm when swarm mode is active. Each result is PASS, FAIL, WARN, INFO or SKIP
(SKIP says why: not applicable, or not visible from here) with the evidence
seen and the exact flag, Compose key or daemon.json key to fix it.

The table starts with a summary (results by severity, the severity-weighted
score, the fixes that clear the most severe failures first), then lists what
failed, worst first; a finding repeated on many containers is one row with a
count. --show-passed lists the passed and skipped checks too.`,
		Example: `  lockdown audit docker
  lockdown audit docker --format sarif -o audit.sarif --fail-on high
  lockdown audit docker --container web,db --skip LD-DKR-119,auditd
  lockdown audit docker --write-baseline accepted.json
  lockdown audit docker --baseline accepted.json --fail-on medium`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAuditDocker(cmd, g, f) },
	}
	fl := cmd.Flags()
	addCheckFlags(cmd, &f.checks, &f.skip, &f.listChecks, &f.showPassed, "tags, scopes (daemon, host, container, image, swarm) or cis:ID")
	fl.StringSliceVar(&f.containers, "container", nil, "audit only these containers (`NAME`s or ID prefixes) and their images")
	fl.BoolVar(&f.all, "all", false, "include stopped containers")
	addFailOn(cmd, &f.failOn)
	fl.StringVar(&f.baseline, "baseline", "", "accept the results listed in `FILE` (written by --write-baseline): only changes are reported")
	fl.StringVar(&f.writeBaseline, "write-baseline", "", "write every FAIL and WARN result of this run to `FILE` as accepted")
	fl.StringVar(&f.hostChecks, "host-checks", "auto", "host file checks: auto (when on the daemon's host), on (required), off")
	fl.StringVar(&f.dockerHost, "docker-host", "", "Docker Engine API `URL` (default $DOCKER_HOST, else unix:///var/run/docker.sock)")
	fl.StringVar(&f.osvZip, "osv-zip", "", "Go advisories as an osv.dev export `ZIP` for the engine version checks (default: the vulnerability database; without either they SKIP)")
	fl.StringVar(&f.dbPath, "db", "", "vulnerability database `PATH` for the engine version checks (default: the user cache dir's lockdown/db/lockdown.db when it exists)")
	return cmd
}

func runAuditDocker(cmd *cobra.Command, g *globals, f auditFlags) error {
	ctx := cmd.Context()
	if f.listChecks {
		return g.writeOutput(func(w io.Writer, _ bool) error { return check.WriteList(w, audit.Infos()) })
	}
	fail, err := parseFailOn(f.failOn)
	if err != nil {
		return err
	}
	format, err := g.pickFormat("audit", report.ReportFormats(report.KindAudit), report.FormatTable)
	if err != nil {
		return err
	}
	cfg := audit.Config{
		Include: f.checks, Exclude: f.skip, Containers: f.containers, AllContainers: f.all,
		Logger: g.logger, Tool: model.Tool{Name: "lockdown", Version: Version},
	}
	switch f.hostChecks {
	case "auto", "":
		cfg.HostChecks = audit.HostAuto
	case "on":
		cfg.HostChecks = audit.HostOn
	case "off":
		cfg.HostChecks = audit.HostOff
	default:
		return badInput(fmt.Errorf("--host-checks %q: want auto, on or off", f.hostChecks))
	}
	// Check the selectors before talking to the engine.
	if _, err := audit.Select(audit.Checks(), f.checks, f.skip); err != nil {
		return badInput(err)
	}
	var base *audit.Baseline
	if f.baseline != "" {
		b, err := audit.ReadBaseline(f.baseline)
		if err != nil {
			return badInput(err)
		}
		base = &b
	}
	if f.osvZip != "" {
		adv, err := audit.AdvisoriesFromOSVZip(f.osvZip, audit.ModDocker, audit.ModMoby, audit.ModRunc, audit.ModContainerd)
		if err != nil {
			return badInput(err)
		}
		cfg.Advisories = adv
	} else {
		// The vulnerability database, when there is one, knows the Go
		// advisories for the engine, containerd and runc.
		path, err := resolveDBPath(f.dbPath)
		if err != nil {
			return err
		}
		switch store, err := vulndb.Open(path, vulndb.OpenOptions{}); {
		case err == nil:
			defer store.Close()
			cfg.Advisories = store
		case errors.Is(err, vulndb.ErrNoDB) && f.dbPath == "":
			g.logger.Info("no vulnerability database: the engine version checks will SKIP", "path", path)
		default:
			return badInput(err)
		}
	}
	eng, err := audit.NewEngine(f.dockerHost)
	if err != nil {
		return badInput(err)
	}
	defer eng.Close()
	cfg.Engine = eng

	rep, runErr := audit.Run(ctx, cfg)
	if rep == nil {
		if errors.Is(runErr, ctx.Err()) && ctx.Err() != nil {
			return runErr
		}
		return badInput(runErr)
	}
	// A baseline accepts what one whole run saw: an incomplete run would
	// leave out results that a later run then reports as new.
	if f.writeBaseline != "" && runErr == nil {
		if err := audit.NewBaseline(rep, time.Now()).WriteFile(f.writeBaseline); err != nil {
			return badInput(err)
		}
	} else if f.writeBaseline != "" {
		g.logger.Warn("the audit is incomplete: no baseline written", "file", f.writeBaseline)
	}
	if base != nil {
		rep = base.Apply(rep)
	}
	werr := g.emitReportWith(rep, format, fail, report.Options{ShowPassed: f.showPassed})
	if runErr != nil {
		// Partial results were written; the run itself is incomplete.
		if ctx.Err() != nil {
			return runErr
		}
		return badInput(fmt.Errorf("audit incomplete: %w", runErr))
	}
	return werr
}
