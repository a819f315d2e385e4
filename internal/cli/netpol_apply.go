//go:build !scanonly

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockdown-sec/lockdown/internal/netpol/dockerep"
	"github.com/lockdown-sec/lockdown/internal/netpol/enforce"
	"github.com/lockdown-sec/lockdown/internal/netpol/load"
	"github.com/lockdown-sec/lockdown/internal/termsafe"
)

// enforceFlags select the table and the network namespace of apply and
// status.
type enforceFlags struct {
	flagPrefix string // "enforce-" for serve's flags
	table      string
	netns      string
	bridge     string
	stateDir   string
}

func (f *enforceFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.table, "table", enforce.DefaultTable, "nftables table `NAME` Lockdown owns (inet family, and bridge family when needed)")
	fl.StringVar(&f.netns, "netns", "", "apply in the network namespace at `PATH` (such as /run/netns/NAME or /proc/PID/ns/net) instead of the host's")
	fl.StringVar(&f.bridge, "bridge", "auto", "how bridged traffic between containers is filtered: auto (detect br_netfilter), br_netfilter (the inet table sees it) or bridge (a bridge-family table)")
	fl.StringVar(&f.stateDir, "state-dir", enforce.DefaultStateDir, "`DIR` that records what was applied (for status and drift)")
}

func (f *enforceFlags) applier(g *globals) (*enforce.Applier, error) {
	mode, err := enforce.ParseBridgeMode(f.bridge)
	if err != nil {
		return nil, badInput(fmt.Errorf("--%sbridge: %w", f.flagPrefix, err))
	}
	a, err := enforce.NewApplier(enforce.Options{Table: f.table, NetNS: f.netns, StateDir: f.stateDir, Bridge: mode, Logger: g.logger})
	if err != nil {
		return nil, badInput(err)
	}
	return a, nil
}

// enforceErr maps enforcement errors to exit codes: everything that stops
// an apply is bad input (exit 2), including nftables being unavailable.
func enforceErr(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) || errors.Is(err, context.Canceled) {
		return err
	}
	return badInput(err)
}

func newNetpolApplyCmd(g *globals) *cobra.Command {
	var in netpolInput
	var ef enforceFlags
	var dryRun, watch, remove bool
	cmd := &cobra.Command{
		Use:   "apply POLICIES... [--from-docker] [--dry-run] [--watch] | --remove",
		Short: "Enforce the policies with nftables on this host: one table, applied in one transaction",
		Long: `apply compiles the policies — against the endpoints in the inputs (Pods, HostEndpoints) and,
with --from-docker, the running containers of the local Docker engine — into one nftables table
that Lockdown owns (inet family; plus a bridge-family table when bridged traffic does not pass
br_netfilter), and replaces that table in one netlink transaction: the previous ruleset stays in
force until the new one is. Applying the same policies again changes nothing.

A container's namespace is its lockdown.namespace label, else its projectcalico.org/namespace
label, else its Compose project (com.docker.compose.project), else "default"; its labels are the
container's labels. The verdicts are those of "lockdown netpol check" for the same inputs.

--dry-run prints the ruleset in nft -f syntax and changes nothing. --watch keeps it applied:
Docker events update only the sets' elements; a drifted table is applied again. --remove deletes
Lockdown's table(s) and nothing else.`,
		Example: `  lockdown netpol apply policies/ --from-docker
  lockdown netpol apply policies/ --from-docker --dry-run
  lockdown netpol apply policies/ --from-docker --watch
  lockdown netpol apply --remove`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if remove {
				if len(args) > 0 || dryRun || watch {
					return badInput(errors.New("--remove takes no policies, --dry-run or --watch"))
				}
				return runNetpolRemove(ctx, g, &ef)
			}
			if len(args) == 0 && !in.fromDocker {
				return badInput(errors.New("apply needs policy files (POLICIES...) and endpoints (in them or --from-docker)"))
			}
			if watch && !in.fromDocker {
				return badInput(errors.New("--watch follows the Docker engine: it needs --from-docker"))
			}
			if watch && dryRun {
				return badInput(errors.New("--watch and --dry-run do not go together"))
			}
			format, err := g.pickFormat("apply", []string{"table", "json"}, "table")
			if err != nil {
				return err
			}
			a, err := ef.applier(g)
			if err != nil {
				return err
			}
			defer a.Close()
			if watch {
				return runNetpolWatch(ctx, g, &in, a, args)
			}
			cfg, err := in.build(ctx, g, args)
			if err != nil {
				return err
			}
			rs, err := a.Compile(cfg)
			if err != nil {
				return badInput(err)
			}
			for _, w := range rs.Warnings {
				g.logger.Warn(w)
			}
			if dryRun {
				return g.writeOutput(func(w io.Writer, _ bool) error {
					_, err := io.WriteString(w, rs.Text())
					return err
				})
			}
			res, err := a.Apply(ctx, rs)
			if err != nil {
				return enforceErr(err)
			}
			return g.writeOutput(func(w io.Writer, _ bool) error {
				return writeApplyResult(w, format, a, rs, res)
			})
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&in.fromDocker, "from-docker", false, "add the local Docker engine's running containers as endpoints")
	fl.BoolVar(&in.skipUnknown, "skip-unknown", false, "skip documents of other kinds (Deployments, …) with a warning instead of failing")
	fl.BoolVar(&dryRun, "dry-run", false, "print the ruleset in nft -f syntax; change nothing")
	fl.BoolVar(&watch, "watch", false, "keep the ruleset applied, following Docker events (until interrupted)")
	fl.BoolVar(&remove, "remove", false, "remove Lockdown's table(s) and nothing else")
	ef.register(cmd)
	in.ipVersion = 4
	return cmd
}

type applyOut struct {
	Table     string   `json:"table"`
	Families  []string `json:"families"`
	Changed   bool     `json:"changed"`
	Digest    string   `json:"digest"`
	Endpoints int      `json:"endpoints"`
	Policies  int      `json:"policies"`
	Chains    int      `json:"chains"`
	Rules     int      `json:"rules"`
	Sets      int      `json:"sets"`
	Elements  int      `json:"elements"`
	Millis    float64  `json:"millis"`
}

func writeApplyResult(w io.Writer, format string, a *enforce.Applier, rs *enforce.Ruleset, res enforce.Result) error {
	out := applyOut{Table: a.Table(), Changed: res.Changed, Digest: rs.Digest, Endpoints: rs.Endpoints, Policies: rs.Policies,
		Chains: res.Counts.Chains, Rules: res.Counts.Rules, Sets: res.Counts.Sets, Elements: res.Counts.Elements,
		Millis: float64(res.Took.Microseconds()) / 1000}
	for _, t := range rs.Tables {
		out.Families = append(out.Families, t.Family.String())
	}
	if format == "json" {
		return writeJSON(w, out)
	}
	verb := "applied"
	if !res.Changed {
		verb = "unchanged"
	}
	_, err := fmt.Fprintf(w, "%s: table %s (%s): %d endpoints, %d policies; %d chains, %d rules, %d sets with %d elements; digest %s (%s)\n",
		verb, out.Table, strings.Join(out.Families, ", "), out.Endpoints, out.Policies, out.Chains, out.Rules, out.Sets, out.Elements,
		shortDigest(out.Digest), res.Took.Round(time.Millisecond))
	return err
}

func shortDigest(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

func runNetpolRemove(ctx context.Context, g *globals, ef *enforceFlags) error {
	a, err := ef.applier(g)
	if err != nil {
		return err
	}
	defer a.Close()
	removed, err := a.Remove(ctx)
	if err != nil {
		return enforceErr(err)
	}
	msg := "removed: table " + a.Table() + "\n"
	if !removed {
		msg = "nothing to remove: no table " + a.Table() + "\n"
	}
	return g.writeOutput(func(w io.Writer, _ bool) error {
		_, err := io.WriteString(w, msg)
		return err
	})
}

// runNetpolWatch keeps the policies applied until ctx ends.
func runNetpolWatch(ctx context.Context, g *globals, in *netpolInput, a *enforce.Applier, paths []string) error {
	src, closeSrc, err := dockerSource(ctx, g, in, paths)
	if err != nil {
		return err
	}
	defer closeSrc()
	e := &enforce.Enforcer{Applier: a, Source: src, Logger: g.logger, Observe: func(ev enforce.Event) {
		if !g.quiet && ev.Kind != "error" {
			fmt.Fprintf(g.stderr, "lockdown: %s: %d endpoints, %d rules (%s after the change)\n", ev.Kind, ev.Endpoint, ev.Counts, ev.Latency.Round(time.Millisecond))
		}
	}}
	if err := e.Run(ctx); err != nil {
		return enforceErr(err)
	}
	return nil
}

// dockerSource loads the inputs once and follows the local engine.
func dockerSource(ctx context.Context, g *globals, in *netpolInput, paths []string) (*enforce.DockerSource, func(), error) {
	res, lerr := load.Load(ctx, paths, os.Stdin, load.Options{SkipUnknownKinds: in.skipUnknown})
	if lerr != nil {
		if res == nil && ctx.Err() != nil {
			return nil, nil, lerr
		}
		return nil, nil, netpolInputErr(lerr)
	}
	// The inputs must build on their own before the engine is followed.
	if _, err := buildAll(g, res.Files, res.Objects, nil, nil); err != nil {
		return nil, nil, err
	}
	cli, err := dockerep.NewClient()
	if err != nil {
		return nil, nil, badInput(err)
	}
	return &enforce.DockerSource{API: cli, Objects: res.Objects, Logger: g.logger}, func() { cli.Close() }, nil
}

// ---- status

func newNetpolStatusCmd(g *globals) *cobra.Command {
	var ef enforceFlags
	var exitCode bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the ruleset in force: digest, time, endpoint/rule/set counts, drift and per-rule counters",
		Long: `status reads Lockdown's table(s) from the kernel and the record apply wrote: what policy set
is applied (digest, time), how many endpoints, policies, chains, rules, sets and elements, whether
someone edited or deleted the table since (drift), and the packet and byte counters of every
policy rule, end of tier and default deny.`,
		Example: `  lockdown netpol status
  lockdown netpol status --format json --exit-code`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := g.pickFormat("status", []string{"table", "json"}, "table")
			if err != nil {
				return err
			}
			a, err := ef.applier(g)
			if err != nil {
				return err
			}
			defer a.Close()
			st, err := a.Status(cmd.Context())
			if err != nil {
				return enforceErr(err)
			}
			if err := g.writeOutput(func(w io.Writer, _ bool) error {
				if format == "json" {
					return writeJSON(w, st)
				}
				return writeStatusTable(w, st)
			}); err != nil {
				return err
			}
			if exitCode && (st.Drift != enforce.DriftNone || !st.Applied) {
				return findingsExit()
			}
			return nil
		},
	}
	ef.register(cmd)
	cmd.Flags().BoolVar(&exitCode, "exit-code", false, "exit 1 when nothing is applied or the table drifted")
	return cmd
}

func writeStatusTable(w io.Writer, st *enforce.Status) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fam := "none"
	if len(st.Families) > 0 {
		fam = strings.Join(st.Families, ", ")
	}
	// Names read back from the kernel (rule comments, which anyone with
	// CAP_NET_ADMIN may have edited): escaped for the terminal.
	safe := termsafe.String
	fmt.Fprintf(tw, "table\t%s (%s)\n", safe(st.Table), safe(fam))
	if s := st.State; s != nil {
		fmt.Fprintf(tw, "applied\t%s, digest %s (updated %s)\n", s.Applied.Format(time.RFC3339), shortDigest(s.Digest), s.Updated.Format(time.RFC3339))
		fmt.Fprintf(tw, "policy set\t%d policies, %d endpoints\n", s.Policies, s.Endpoints)
	}
	fmt.Fprintf(tw, "in the kernel\t%d chains, %d rules, %d sets with %d elements\n", st.Counts.Chains, st.Counts.Rules, st.Counts.Sets, st.Counts.Elements)
	drift := st.Drift
	if drift == enforce.DriftNone {
		drift = "none"
	}
	fmt.Fprintf(tw, "drift\t%s\n", drift)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(st.Counters) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POLICY\tSTAGE\tDIRECTION\tRULE\tACTION\tPACKETS\tBYTES")
	for _, c := range st.Counters {
		stage := c.Stage
		if stage == "" {
			stage = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", safe(c.Policy), safe(stage), safe(c.Direction), safe(c.Rule), safe(c.Action), c.Packets, c.Bytes)
	}
	return tw.Flush()
}
