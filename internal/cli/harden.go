//go:build !scanonly

package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockdown-sec/lockdown/internal/atomicfile"
	"github.com/lockdown-sec/lockdown/internal/audit"
	"github.com/lockdown-sec/lockdown/internal/harden"
	"github.com/lockdown-sec/lockdown/internal/harden/daemon"
	"github.com/lockdown-sec/lockdown/internal/termsafe"
)

func newHardenCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "harden",
		Short: "Generate the hardened configuration of the daemon, a container or an image, and prove it by running it",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newHardenWorkloadCmd(g, "image"), newHardenWorkloadCmd(g, "container"), newHardenDaemonCmd(g))
	return cmd
}

type hardenFlags struct {
	observe, settle, testTimeout time.Duration
	stopTimeout                  time.Duration
	network, user, name          string
	profileDir, dockerHost       string
	prefix                       string
	labels, sysctls              []string
}

func newHardenWorkloadCmd(g *globals, kind string) *cobra.Command {
	var f hardenFlags
	use, arg := "image REF [-- TEST…]", "REF"
	short := "Observe what an image runs and generate its hardened run configuration and profiles"
	if kind == "container" {
		use, arg = "container NAME|ID [-- TEST…]", "NAME|ID"
		short = "Observe what a container runs (in a throwaway copy) and generate its hardened configuration and profiles"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: short + `.

The workload runs in throwaway containers (removed whatever happens): first
under a seccomp profile that logs every system call, to learn the calls it
makes (read from the kernel's audit log), the paths it writes (the engine's
container changes), its peak memory, CPU and processes; then under the
generated configuration with every capability dropped, adding back (for a
root workload) only the capabilities it fails without. TEST, after --, runs
inside the container once it has settled: exit status 0 passes. Without it
the workload passes by staying up for --observe (or exiting 0).

Writes NAME.seccomp.json and NAME.apparmor into --profile-dir and prints the
configuration (--format run, compose, kubernetes or json). Exit 1 when the
generated configuration did not pass its verification run. Needs root (the
kernel's audit log) and the Docker engine; never pulls an image and never
runs anything from it outside a container.`,
		Example: `  lockdown harden image nginx:1.25 --observe 10s -- curl -fsS http://127.0.0.1/
  lockdown harden container web --format compose --profile-dir ./profiles
  lockdown harden image app:1 --network appnet --format kubernetes -- /app/selftest`,
		Args: func(cmd *cobra.Command, args []string) error {
			n := len(args)
			if d := cmd.ArgsLenAtDash(); d >= 0 {
				n = d
			}
			if n != 1 {
				return badInput(fmt.Errorf("harden %s takes one %s (then -- and a test command), got %d", kind, arg, n))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var test []string
			if d := cmd.ArgsLenAtDash(); d >= 0 {
				test = args[d:]
				if len(test) == 0 {
					return badInput(errors.New("nothing after --: give the test command or leave out --"))
				}
			}
			return runHardenWorkload(cmd, g, f, kind, args[0], test)
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.observe, "observe", 5*time.Second, "observe the workload for at least `DURATION`")
	fl.DurationVar(&f.settle, "settle", time.Second, "wait `DURATION` after start before the test command")
	fl.DurationVar(&f.testTimeout, "test-timeout", 2*time.Minute, "the test command must end within `DURATION`")
	fl.DurationVar(&f.stopTimeout, "stop-timeout", 5*time.Second, "give the workload `DURATION` to end after SIGTERM before it is killed")
	if kind == "image" {
		fl.StringVar(&f.network, "network", "none", "run the workload on this network `MODE` (none, bridge, a network name)")
		fl.StringSliceVar(&f.sysctls, "sysctl", nil, "run the workload with the namespaced kernel setting `KEY=VALUE`")
	}
	fl.StringVar(&f.user, "user", "", "run as `USER[:GROUP]` (default: the image's user unless root, else 65534:65534 when the workload passes as it)")
	fl.StringVar(&f.name, "name", "", "`NAME` of the service and the profiles (default: from the image or container)")
	fl.StringVar(&f.profileDir, "profile-dir", ".", "write NAME.seccomp.json and NAME.apparmor into `DIR`")
	fl.StringVar(&f.dockerHost, "docker-host", "", "Docker Engine API `URL` (default $DOCKER_HOST, else unix:///var/run/docker.sock)")
	fl.StringVar(&f.prefix, "container-prefix", "lockdown-harden-", "name the throwaway containers `PREFIX`…")
	fl.StringSliceVar(&f.labels, "label", nil, "put `KEY=VALUE` labels on the throwaway containers")
	return cmd
}

func runHardenWorkload(cmd *cobra.Command, g *globals, f hardenFlags, kind, target string, test []string) error {
	ctx := cmd.Context()
	format, err := g.pickFormat("harden "+kind, harden.Formats, harden.FormatRun)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(f.profileDir); err != nil || !fi.IsDir() {
		return badInput(fmt.Errorf("--profile-dir %s: not a directory", f.profileDir))
	}
	labels := map[string]string{"lockdown.harden": "throwaway"}
	for _, l := range f.labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return badInput(fmt.Errorf("--label %q: want KEY=VALUE", l))
		}
		labels[k] = v
	}
	var sysctls map[string]string
	for _, kv := range f.sysctls {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return badInput(fmt.Errorf("--sysctl %q: want KEY=VALUE", kv))
		}
		if sysctls == nil {
			sysctls = map[string]string{}
		}
		sysctls[k] = v
	}
	eng, err := audit.NewEngine(f.dockerHost)
	if err != nil {
		return badInput(err)
	}
	defer eng.Close()
	cfg := harden.Config{Engine: eng, Test: test, Observe: f.observe, Settle: f.settle, TestTimeout: f.testTimeout,
		StopTimeout: f.stopTimeout, Sysctls: sysctls, Network: f.network, User: f.user, Name: f.name, ContainerPrefix: f.prefix, Labels: labels, Logger: g.logger}
	var plan *harden.Plan
	if kind == "image" {
		plan, err = harden.Image(ctx, cfg, target)
	} else {
		plan, err = harden.Container(ctx, cfg, target)
	}
	if err != nil {
		if errors.Is(err, harden.ErrBadInput) {
			return badInput(err)
		}
		return err
	}
	files := harden.FilesIn(plan, f.profileDir)
	out, err := harden.Render(plan, format, files)
	if err != nil {
		return err
	}
	if err := writeProfiles(plan, files); err != nil {
		return err
	}
	if err := g.writeOutput(func(w io.Writer, _ bool) error { _, err := w.Write(out); return err }); err != nil {
		return err
	}
	if !plan.Verified {
		g.logger.Warn("the generated configuration did not pass its verification run", "subject", plan.Subject)
		return findingsExit()
	}
	return nil
}

// writeProfiles writes the seccomp and AppArmor profiles, each atomically.
func writeProfiles(p *harden.Plan, f harden.Files) error {
	b, err := harden.SeccompJSON(p)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(f.Seccomp, 0o644, b); err != nil {
		return err
	}
	return atomicfile.WriteBytes(f.AppArmor, 0o644, []byte(p.AppArmor.Profile))
}

type hardenDaemonFlags struct {
	apply              bool
	config, backup     string
	dockerHost, pidfil string
}

func newHardenDaemonCmd(g *globals) *cobra.Command {
	var f hardenDaemonFlags
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Harden the Docker daemon's daemon.json: a merged file shown as a diff, applied with --apply",
		Long: `Harden the Docker daemon's daemon.json: icc off, user namespace remapping,
no-new-privileges, live-restore, no userland proxy, default ulimits, bounded
local logs, no TCP without TLS client verification, seccomp on. The hardened
settings are merged into the existing file (every other key is kept) and shown
as a diff with each key's CIS Docker Benchmark ID, audit check and reason.

Settings that would break what runs on the engine are called out and not
applied: userns-remap with existing containers or volumes, icc=false with
linked containers, live-restore in swarm mode, a setting dockerd already gets
on its command line. --apply validates the merged file (dockerd --validate
where dockerd has it, else a throwaway dockerd in its own namespaces and
directories) and only then writes it atomically, after saving the old file as
the backup. Restart dockerd to use it.`,
		Example: `  lockdown harden daemon
  lockdown harden daemon --apply
  lockdown harden daemon --config /etc/docker/daemon.json --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runHardenDaemon(cmd, g, f) },
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.apply, "apply", false, "validate and write the hardened daemon.json (the old one is kept as --backup)")
	fl.StringVar(&f.config, "config", "/etc/docker/daemon.json", "the daemon's configuration `FILE`")
	fl.StringVar(&f.backup, "backup", "", "with --apply, save the old file as `FILE` (default: FILE.lockdown-backup)")
	fl.StringVar(&f.dockerHost, "docker-host", "", "Docker Engine API `URL` of that daemon (default $DOCKER_HOST, else unix:///var/run/docker.sock)")
	fl.StringVar(&f.pidfil, "pidfile", "/var/run/docker.pid", "the daemon's pidfile `FILE`, to read which settings its command line sets")
	return cmd
}

func runHardenDaemon(cmd *cobra.Command, g *globals, f hardenDaemonFlags) error {
	ctx := cmd.Context()
	format, err := g.pickFormat("harden daemon", []string{"diff", "json"}, "diff")
	if err != nil {
		return err
	}
	old, err := daemon.ReadFile(f.config)
	if err != nil {
		return badInput(err)
	}
	argv, err := daemon.DockerdArgv(f.pidfil)
	if err != nil {
		g.logger.Warn("settings on dockerd's command line are unknown", "err", err)
	}
	eng, err := audit.NewEngine(f.dockerHost)
	if err != nil {
		return badInput(err)
	}
	defer eng.Close()
	facts, err := daemon.Gather(ctx, eng, old, argv)
	if err != nil {
		return badInput(err)
	}
	r := daemon.Harden(f.config, old, facts)
	if f.apply && len(r.Changes) > 0 {
		if err := daemon.Validate(ctx, r.New, facts.FlagKeys); err != nil {
			if errors.Is(err, daemon.ErrRefused) {
				return badInput(fmt.Errorf("%s not written: %w", f.config, err))
			}
			return err
		}
		backup := f.backup
		if backup == "" {
			backup = f.config + ".lockdown-backup"
		}
		saved, err := daemon.Apply(r, backup)
		if err != nil {
			return err
		}
		g.logger.Warn("daemon.json written: restart dockerd to use it", "file", f.config, "backup", orDefaultStr(saved, "none (there was no file)"))
	}
	return g.writeOutput(func(w io.Writer, _ bool) error {
		if format == "json" {
			return writeJSON(w, r)
		}
		d, err := daemon.Diff(r)
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, termsafe.Lines(d)) // keys and values from daemon.json
		return err
	})
}

func orDefaultStr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
