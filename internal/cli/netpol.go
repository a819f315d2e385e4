//go:build !scanonly

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockdown-sec/lockdown/internal/check"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/netpol"
	"github.com/lockdown-sec/lockdown/internal/netpol/dockerep"
	"github.com/lockdown-sec/lockdown/internal/netpol/load"
	"github.com/lockdown-sec/lockdown/internal/report"
	"github.com/lockdown-sec/lockdown/internal/termsafe"
)

func newNetpolCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "netpol",
		Short: "Check Calico and Kubernetes network policies (validate, check a flow, matrix, lint, diff) and enforce them (apply, status)",
		Long: `Evaluate Calico projectcalico.org/v3 policies (NetworkPolicy, GlobalNetworkPolicy, tiers,
network sets, host endpoints, profiles; staged policies are reported, never enforced) and
Kubernetes NetworkPolicies with Calico's semantics, offline; apply enforces the same verdicts on
this host with nftables.

Inputs are YAML or JSON files or directories (multi-document, Kubernetes Lists). Endpoints
come from Pod and Namespace manifests in the same inputs (labels, status.podIP, named
container ports, service accounts), HostEndpoints, or the local Docker engine
(--from-docker).`,
	}
	cmd.AddCommand(
		newNetpolValidateCmd(g),
		newNetpolCheckCmd(g),
		newNetpolMatrixCmd(g),
		newNetpolLintCmd(g),
		newNetpolDiffCmd(g),
		newNetpolApplyCmd(g),
		newNetpolStatusCmd(g),
	)
	return cmd
}

// netpolInput are the flags every netpol command shares.
type netpolInput struct {
	fromDocker  bool
	skipUnknown bool
	ipVersion   int
}

func (in *netpolInput) flags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&in.fromDocker, "from-docker", false, "add the local Docker engine's running containers as endpoints")
	fl.BoolVar(&in.skipUnknown, "skip-unknown", false, "skip documents of other kinds (Deployments, Services, …) with a warning instead of failing")
	fl.IntVar(&in.ipVersion, "ip-version", 4, "IP family of evaluated flows: 4 or 6")
}

func (in *netpolInput) check() error {
	if in.ipVersion != 4 && in.ipVersion != 6 {
		return badInput(fmt.Errorf("--ip-version %d: want 4 or 6", in.ipVersion))
	}
	return nil
}

// loaded is the outcome of reading inputs.
type loaded struct {
	res    *load.Result
	docker []*netpol.Endpoint
}

// read loads paths and the Docker endpoints; any bad input is an error (the
// first problem, and how many more there are).
func (in *netpolInput) read(ctx context.Context, g *globals, paths []string) (*loaded, error) {
	l, lerr, err := in.readAll(ctx, g, paths)
	if err != nil {
		return nil, err
	}
	if lerr != nil {
		return nil, netpolInputErr(lerr)
	}
	return l, nil
}

// readAll loads paths and the Docker endpoints, going on past bad documents:
// lerr lists them, l holds what loaded. err is a failure that stops the run.
func (in *netpolInput) readAll(ctx context.Context, g *globals, paths []string) (l *loaded, lerr, err error) {
	res, lerr := load.Load(ctx, paths, os.Stdin, load.Options{SkipUnknownKinds: in.skipUnknown})
	if res == nil {
		if ctx.Err() != nil {
			return nil, nil, lerr
		}
		return nil, nil, badInput(lerr)
	}
	for _, w := range res.Warnings {
		g.logger.Warn(w.Error())
	}
	l = &loaded{res: res}
	if in.fromDocker {
		cli, err := dockerep.NewClient()
		if err != nil {
			return nil, nil, badInput(err)
		}
		defer cli.Close()
		eps, err := dockerep.Endpoints(ctx, cli, g.logger)
		if err != nil {
			return nil, nil, badInput(fmt.Errorf("--from-docker: %w", err))
		}
		l.docker = eps
	}
	return l, lerr, nil
}

// netpolInputErr is the one-line exit-2 error of every netpol command but
// validate: the first problem, and how many more validate would list.
func netpolInputErr(err error) error {
	var list *load.Errors
	if errors.As(err, &list) && list.Len() > 1 && len(list.Errs) > 0 {
		return badInput(fmt.Errorf("%w (and %d more; run lockdown netpol validate)", list.Errs[0], list.Len()-1))
	}
	return badInput(err)
}

func (in *netpolInput) build(ctx context.Context, g *globals, paths []string) (*netpol.Config, error) {
	l, lerr, err := in.readAll(ctx, g, paths)
	if err != nil {
		return nil, err
	}
	cfg, err := buildAll(g, l.res.Files, l.res.Objects, l.docker, lerr)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// buildAll builds objs even when loading them failed (lerr), so the error
// counts every problem validate would list.
func buildAll(g *globals, files []string, objs []*load.Object, docker []*netpol.Endpoint, lerr error) (*netpol.Config, error) {
	cfg, berr := netpol.Build(objs, docker)
	if errs := mergeErrors(files, lerr, berr); errs != nil {
		return nil, netpolInputErr(errs)
	}
	for _, w := range cfg.Warnings {
		g.logger.Warn(w.String())
	}
	return cfg, nil
}

// ---- validate

func newNetpolValidateCmd(g *globals) *cobra.Command {
	var in netpolInput
	cmd := &cobra.Command{
		Use:   "validate PATH...",
		Short: "Report every schema and semantic error (with file and line), and policies that select nothing",
		Long: `validate reads every input even past bad documents (a YAML syntax error ends its file) and
lists every problem, one "file:line: message" a line on stderr (and in --format json), the first
100 of them and then "… and N more errors"; it exits 2 when there is any. The other netpol
commands stop on bad input with the first problem and the count of the rest.`,
		Args: cobra.MinimumNArgs(1),
		Example: `  lockdown netpol validate policies/
  lockdown netpol validate policies/ workloads.yaml --format json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := in.check(); err != nil {
				return err
			}
			return runNetpolValidate(cmd.Context(), g, in, args)
		},
	}
	in.flags(cmd)
	return cmd
}

type validateOut struct {
	Valid bool `json:"valid"`
	// Errors are "file:line: message", in input order, at most
	// load.MaxErrors of them and then "… and N more errors".
	Errors     []string       `json:"errors"`
	ErrorCount int            `json:"errorCount"`
	Warnings   []string       `json:"warnings"`
	Summary    map[string]int `json:"summary"`
	Files      []string       `json:"files"`
	Staged     []string       `json:"staged,omitempty"`
	Kinds      map[string]int `json:"kinds"`
}

func runNetpolValidate(ctx context.Context, g *globals, in netpolInput, paths []string) error {
	format, err := g.pickFormat("validate", []string{"table", "json"}, "table")
	if err != nil {
		return err
	}
	l, lerr, err := in.readAll(ctx, g, paths)
	if err != nil {
		return err
	}
	out := validateOut{Errors: []string{}, Warnings: []string{}, Kinds: map[string]int{}, Summary: map[string]int{}, Files: l.res.Files}
	for _, w := range l.res.Warnings {
		out.Warnings = append(out.Warnings, w.Error())
	}
	for _, o := range l.res.Objects {
		k := o.Kind
		if o.Kind == "NetworkPolicy" && !strings.HasPrefix(o.APIVersion, "projectcalico.org") {
			k = "NetworkPolicy (Kubernetes)"
		}
		out.Kinds[k]++
	}
	// The resources that loaded are built even when others did not, so one
	// run reports every problem.
	cfg, berr := netpol.Build(l.res.Objects, l.docker)
	errs := mergeErrors(l.res.Files, lerr, berr)
	if errs != nil {
		out.Errors = errs.Lines()
		out.ErrorCount = errs.Len()
	} else {
		for _, w := range cfg.Warnings {
			out.Warnings = append(out.Warnings, w.String())
		}
		if len(cfg.Endpoints) > 0 {
			for _, p := range cfg.Policies {
				if !selectsAny(cfg, p) {
					out.Warnings = append(out.Warnings, fmt.Sprintf("%s: %s %s selects no endpoint (selector %s)", p.Source, p.Kind, p.ID(), p.Selector))
				}
			}
		}
		for _, p := range cfg.Staged {
			out.Staged = append(out.Staged, fmt.Sprintf("%s: %s %s (staged: reported, not enforced)", p.Source, p.Kind, p.ID()))
		}
		out.Summary = map[string]int{
			"policies": len(cfg.Policies) + len(cfg.Untracked) + len(cfg.PreDNAT), "staged": len(cfg.Staged), "tiers": len(cfg.Tiers),
			"networkSets": len(cfg.Sets), "endpoints": len(cfg.Endpoints),
		}
	}
	out.Valid = errs == nil
	err = g.writeOutput(func(w io.Writer, _ bool) error {
		if format == "json" {
			return writeJSON(w, out)
		}
		return writeValidateTable(w, out)
	})
	if err != nil {
		return err
	}
	if errs != nil {
		// One problem a line on stderr, as compilers write them.
		var lines strings.Builder
		for _, e := range out.Errors {
			lines.WriteString(termsafe.String(e) + "\n")
		}
		if _, err := io.WriteString(g.stderr, lines.String()); err != nil {
			return badInput(err)
		}
		return &exitError{code: ExitBadInput}
	}
	return nil
}

// mergeErrors lists the loader's and the builder's errors together in input
// order (files in the order read, then line; errors naming no input file
// first), capped at load.MaxErrors. It returns nil when there are none.
func mergeErrors(files []string, errs ...error) *load.Errors {
	var all []error
	more := 0
	for _, err := range errs {
		if err == nil {
			continue
		}
		var list *load.Errors
		if errors.As(err, &list) {
			all = append(all, list.Errs...)
			more += list.More
		} else {
			all = append(all, err)
		}
	}
	if len(all) == 0 && more == 0 {
		return nil
	}
	fileIdx := make(map[string]int, len(files))
	for i, f := range files {
		if _, ok := fileIdx[f]; !ok {
			fileIdx[f] = i
		}
	}
	pos := func(err error) (int, int) {
		var le *load.Error
		if !errors.As(err, &le) {
			return -1, 0
		}
		i, ok := fileIdx[le.File]
		if !ok {
			return -1, le.Line
		}
		return i, le.Line
	}
	slices.SortStableFunc(all, func(a, b error) int {
		af, al := pos(a)
		bf, bl := pos(b)
		if af != bf {
			return af - bf
		}
		return al - bl
	})
	out := &load.Errors{}
	for _, e := range all {
		out.Add(e)
	}
	out.More += more
	return out
}

func selectsAny(cfg *netpol.Config, p *netpol.Policy) bool {
	for _, e := range cfg.Endpoints {
		if p.Selector.Matches(e.Labels) {
			return true
		}
	}
	return false
}

func writeValidateTable(w io.Writer, out validateOut) error {
	var b strings.Builder
	for _, e := range out.Errors {
		fmt.Fprintf(&b, "ERROR  %s\n", termsafe.String(e))
	}
	for _, x := range out.Warnings {
		fmt.Fprintf(&b, "WARN   %s\n", termsafe.String(x))
	}
	for _, s := range out.Staged {
		fmt.Fprintf(&b, "INFO   %s\n", termsafe.String(s))
	}
	kinds := make([]string, 0, len(out.Kinds))
	for k, n := range out.Kinds {
		kinds = append(kinds, fmt.Sprintf("%d %s", n, termsafe.String(k)))
	}
	slices.Sort(kinds)
	if len(kinds) == 0 {
		kinds = []string{"no resources"}
	}
	status := "valid"
	if !out.Valid {
		status = fmt.Sprintf("INVALID (%d errors)", out.ErrorCount)
	}
	fmt.Fprintf(&b, "%s: %d files, %s", status, len(out.Files), strings.Join(kinds, ", "))
	if out.Valid {
		fmt.Fprintf(&b, "; %d enforced policies, %d staged, %d tiers, %d network sets, %d endpoints",
			out.Summary["policies"], out.Summary["staged"], out.Summary["tiers"], out.Summary["networkSets"], out.Summary["endpoints"])
	}
	fmt.Fprintf(&b, "; %d warnings\n", len(out.Warnings))
	_, err := io.WriteString(w, b.String())
	return err
}

// ---- check

func newNetpolCheckCmd(g *globals) *cobra.Command {
	var in netpolInput
	var from, to, port string
	var explain bool
	cmd := &cobra.Command{
		Use:   "check PATH... --from A --to B --port 443/TCP [--explain]",
		Short: "Give the verdict for one flow and, with --explain, every tier, policy and rule consulted",
		Long: `A and B are an endpoint (namespace/pod, a container or host endpoint name) or an IP address.
PORT is PORT/PROTOCOL (443/TCP, 53/UDP; TCP when the protocol is left out), ICMP or ICMP:TYPE:CODE.
The flow is allowed only if the source's egress and the destination's ingress both allow it.`,
		Example: `  lockdown netpol check policies/ pods.yaml --from shop/frontend --to shop/db --port 5432/TCP --explain
  lockdown netpol check policies/ --from-docker --from web --to 10.0.0.7 --port 443`,
		Args: cobra.MinimumNArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := in.check(); err != nil {
				return err
			}
			if from == "" || to == "" || port == "" {
				return badInput(errors.New("check needs --from, --to and --port"))
			}
			format, err := g.pickFormat("check", []string{"table", "json"}, "table")
			if err != nil {
				return err
			}
			if len(args) == 0 && !in.fromDocker {
				return badInput(errors.New("check needs policy files (PATH...) or --from-docker"))
			}
			pp, err := netpol.ParsePortProto(port)
			if err != nil {
				return badInput(fmt.Errorf("--port: %w", err))
			}
			cfg, err := in.build(cmd.Context(), g, args)
			if err != nil {
				return err
			}
			fam := in.ipVersion
			src, srcFam, err := resolvePeer(cfg, from, "--from")
			if err != nil {
				return err
			}
			dst, dstFam, err := resolvePeer(cfg, to, "--to")
			if err != nil {
				return err
			}
			// An address given for either side sets the flow's family.
			if srcFam != 0 && dstFam != 0 && srcFam != dstFam {
				return badInput(fmt.Errorf("--from %s is IPv%d but --to %s is IPv%d: a flow has one IP family", from, srcFam, to, dstFam))
			}
			if f := max(srcFam, dstFam); f != 0 {
				if cmd.Flags().Changed("ip-version") && f != fam {
					return badInput(fmt.Errorf("--ip-version %d conflicts with the IPv%d address given in --from/--to", fam, f))
				}
				fam = f
			}
			if src.Endpoint != nil {
				src.IP = src.Endpoint.Addr(fam)
			}
			if dst.Endpoint != nil {
				dst.IP = dst.Endpoint.Addr(fam)
			}
			v := cfg.Evaluate(pp.Flow(src, dst, fam))
			return writeCheck(g, format, src, dst, pp, v, explain)
		},
	}
	in.flags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&from, "from", "", "source: namespace/pod, container or host endpoint name, or IP")
	fl.StringVar(&to, "to", "", "destination: namespace/pod, container or host endpoint name, or IP")
	fl.StringVar(&port, "port", "", "destination `PORT/PROTOCOL` (443/TCP, 53/UDP, ICMP)")
	fl.BoolVar(&explain, "explain", false, "show the tiers, policies and rules consulted on each side and which one decided")
	return cmd
}

// resolvePeer finds the endpoint or address ref names. family is 4 or 6
// when ref is an IP address (of an endpoint or not), 0 otherwise.
func resolvePeer(cfg *netpol.Config, ref string, flag string) (peer netpol.Peer, family int, err error) {
	e, err := cfg.Endpoint(ref)
	if err != nil {
		return netpol.Peer{}, 0, badInput(fmt.Errorf("%s: %w", flag, err))
	}
	ip, perr := netip.ParseAddr(ref)
	if perr == nil {
		ip = ip.Unmap()
		family = 4
		if ip.Is6() {
			family = 6
		}
	}
	if e != nil {
		return netpol.Peer{Endpoint: e}, family, nil
	}
	if perr != nil {
		return netpol.Peer{}, 0, badInput(fmt.Errorf("%s %q: not an endpoint or an IP address", flag, ref))
	}
	return netpol.Peer{IP: ip}, family, nil
}

func writeCheck(g *globals, format string, src, dst netpol.Peer, pp netpol.PortProto, v netpol.Verdict, explain bool) error {
	return g.writeOutput(func(w io.Writer, _ bool) error {
		if format == "json" {
			out := struct {
				From string           `json:"from"`
				To   string           `json:"to"`
				Port netpol.PortProto `json:"port"`
				netpol.Verdict
			}{src.String(), dst.String(), pp, v}
			if !explain {
				out.Egress.Steps, out.Ingress.Steps = nil, nil
			}
			return writeJSON(w, out)
		}
		var b strings.Builder
		verdict := "DENY "
		if v.Allowed {
			verdict = "ALLOW"
		}
		fmt.Fprintf(&b, "%s  %s -> %s  %s\n", verdict, termsafe.String(src.String()), termsafe.String(dst.String()), pp)
		if v.Note != "" {
			fmt.Fprintf(&b, "  %s\n", termsafe.String(v.Note))
		}
		if explain && (v.Note == "" || v.Stage != "") {
			for _, d := range []netpol.DirVerdict{v.Egress, v.Ingress} {
				writeDirExplain(&b, d, src, dst)
			}
		}
		_, err := io.WriteString(w, b.String())
		return err
	})
}

func writeDirExplain(b *strings.Builder, d netpol.DirVerdict, src, dst netpol.Peer) {
	// Names come from the policy files: escaped (termsafe) for the terminal.
	safe := termsafe.String
	who := safe(src.String())
	if d.Direction == netpol.Ingress {
		who = safe(dst.String())
	}
	res := "denies"
	if d.Allowed {
		res = "allows"
	}
	fmt.Fprintf(b, "\n%s of %s %s:\n", d.Direction, who, res)
	for _, s := range d.Steps {
		mark := "  "
		if s.Decided {
			mark = "=>"
		}
		loc := ""
		if s.Source.File != "" {
			loc = "  (" + safe(s.Source.String()) + ")"
		}
		if s.Stage != "" {
			mark += " [" + s.Stage + "]"
		}
		switch s.Kind {
		case "tier":
			fmt.Fprintf(b, "%s tier %s (%s)%s\n", mark, safe(s.Tier), safe(s.Note), loc)
		case "policy":
			fmt.Fprintf(b, "%s   policy %s: %s%s\n", mark, safe(s.Policy), safe(s.Note), loc)
		case "rule":
			fmt.Fprintf(b, "%s   policy %s rule %d: %s  [%s]%s\n", mark, safe(s.Policy), s.Rule, s.Action, safe(strings.TrimSuffix(s.Note, ": ")), loc)
		case "end-of-tier":
			fmt.Fprintf(b, "%s   end of tier %s: %s%s\n", mark, safe(s.Tier), safe(s.Note), loc)
		case "profile":
			fmt.Fprintf(b, "%s %s rule %d: %s %s%s\n", mark, safe(s.Policy), s.Rule, s.Action, safe(s.Note), loc)
		default:
			fmt.Fprintf(b, "%s %s\n", mark, safe(s.Note))
		}
	}
}

// ---- matrix

func newNetpolMatrixCmd(g *globals) *cobra.Command {
	var in netpolInput
	var ports []string
	cmd := &cobra.Command{
		Use:   "matrix PATH...",
		Short: "Reachability between every pair of endpoints on the ports in use (table, csv, json, dot, svg)",
		Long: `The ports are those the endpoints declare (container ports, published ports, host endpoint
ports), the single ports that rules name, and the first and last port of every port range
(Kubernetes endPort, Calico FROM:TO; plus the port after a range's end when it falls inside
another range), unless --port is given: together they sample every stretch of ports the rules
treat differently. Endpoints that no policy
can tell apart are evaluated once. --format dot and svg draw the allowed graph grouped by
namespace (svg runs Graphviz's dot).`,
		Example: `  lockdown netpol matrix policies/ pods.yaml
  lockdown netpol matrix policies/ pods.yaml --format svg -o reach.svg
  lockdown netpol matrix policies/ --from-docker --port 80/TCP,443/TCP --format csv`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := in.check(); err != nil {
				return err
			}
			format, err := g.pickFormat("matrix", netpol.MatrixFormats(), netpol.FormatTable)
			if err != nil {
				return err
			}
			pps, err := parsePorts(ports)
			if err != nil {
				return err
			}
			cfg, err := in.build(cmd.Context(), g, args)
			if err != nil {
				return err
			}
			if len(cfg.Endpoints) == 0 {
				return badInput(errors.New("no endpoints: give Pod manifests, HostEndpoints or --from-docker"))
			}
			if pps == nil {
				pps = netpol.PortsInUse(cfg)
			}
			if len(pps) == 0 {
				return badInput(errors.New("no ports in use (no endpoint declares a port and no rule names one): give --port"))
			}
			start := time.Now()
			m := netpol.ComputeMatrix(cfg, pps, in.ipVersion)
			g.logger.Debug("matrix computed", "endpoints", len(cfg.Endpoints), "classes", m.Engine().Classes(), "ports", len(pps), "took", time.Since(start))
			return g.writeOutput(func(w io.Writer, _ bool) error {
				return netpol.WriteMatrix(cmd.Context(), w, m, format)
			})
		},
	}
	in.flags(cmd)
	cmd.Flags().StringSliceVar(&ports, "port", nil, "ports to cover, `PORT/PROTOCOL` (repeat or comma-separate); default: the ports in use")
	return cmd
}

func parsePorts(in []string) ([]netpol.PortProto, error) {
	var out []netpol.PortProto
	for _, s := range in {
		p, err := netpol.ParsePortProto(s)
		if err != nil {
			return nil, badInput(fmt.Errorf("--port: %w", err))
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	netpol.SortPorts(out)
	return out, nil
}

// ---- lint

func newNetpolLintCmd(g *globals) *cobra.Command {
	var in netpolInput
	var failOn string
	var include, exclude []string
	var list, showPassed bool
	cmd := &cobra.Command{
		Use:   "lint PATH...",
		Short: "Find shadowed rules, allow-all from the internet, policies selecting nothing, missing default deny, missing tiers or network sets, Allow/Deny conflicts",
		Example: `  lockdown netpol lint policies/ pods.yaml
  lockdown netpol lint policies/ --format sarif -o netpol.sarif --fail-on medium
  lockdown netpol lint policies/ --skip NETPOL-SHADOWED-RULE
  lockdown netpol lint --list-checks`,
		Args: func(cmd *cobra.Command, args []string) error {
			if list {
				return nil
			}
			return cobra.MinimumNArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if list {
				return g.writeOutput(func(w io.Writer, _ bool) error { return check.WriteList(w, netpol.LintInfos()) })
			}
			if err := in.check(); err != nil {
				return err
			}
			rules, err := check.Select(netpol.LintRules(), func(r netpol.LintRule) check.Info { return r.Info }, include, exclude)
			if err != nil {
				return badInput(err)
			}
			fail, err := parseFailOn(failOn)
			if err != nil {
				return err
			}
			format, err := g.pickFormat("lint", report.ReportFormats(report.KindNetpolLint), report.FormatTable)
			if err != nil {
				return err
			}
			cfg, err := in.build(cmd.Context(), g, args)
			if err != nil {
				return err
			}
			findings := netpol.RunLint(cfg, rules)
			rep := &model.Report{
				Kind:      report.KindNetpolLint,
				Tool:      model.Tool{Name: "lockdown", Version: Version},
				CreatedAt: time.Now().UTC(),
				Target:    &model.Target{Input: strings.Join(args, " "), Kind: "netpol"},
				Findings:  findings,
				Meta: map[string]string{
					"policies":  strconv.Itoa(len(cfg.Policies)),
					"endpoints": strconv.Itoa(len(cfg.Endpoints)),
					"rules":     strconv.Itoa(len(rules)),
				},
			}
			for _, wn := range cfg.Warnings {
				rep.Warnings = append(rep.Warnings, model.Warning{Path: wn.Source.String(), Message: wn.Message})
			}
			return g.emitReportWith(rep, format, fail, report.Options{ShowPassed: showPassed})
		},
	}
	in.flags(cmd)
	addFailOn(cmd, &failOn)
	addCheckFlags(cmd, &include, &exclude, &list, &showPassed, "tags (default-deny, exposure, rules, selectors, tiers)")
	return cmd
}

// ---- diff

func newNetpolDiffCmd(g *globals) *cobra.Command {
	var in netpolInput
	var endpoints, ports []string
	var exitCode bool
	cmd := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "List the flows a policy change newly allows and newly blocks",
		Long: `OLD and NEW are policy files or directories. Both are evaluated over the same endpoints:
the ones in --endpoints files, --from-docker, and any Pod or Namespace manifests in OLD and NEW
(endpoints found on only one side are not compared). Flows between the endpoints and outside
addresses are compared too: one address stands for each stretch of address space that the
nets of either side (rule nets and notNets, network sets) treat alike.`,
		Example: `  lockdown netpol diff main/policies/ pr/policies/ --endpoints cluster-pods.yaml
  lockdown netpol diff old.yaml new.yaml --endpoints pods.yaml --format json --exit-code`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := in.check(); err != nil {
				return err
			}
			format, err := g.pickFormat("diff", []string{"table", "json", "csv"}, "table")
			if err != nil {
				return err
			}
			pps, err := parsePorts(ports)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var shared []*load.Object
			var sharedFiles []string
			var docker []*netpol.Endpoint
			if len(endpoints) > 0 || in.fromDocker {
				l, err := in.read(ctx, g, endpoints)
				if err != nil {
					return err
				}
				shared, sharedFiles, docker = l.res.Objects, l.res.Files, l.docker
			}
			side := func(path string) (*netpol.Config, error) {
				res, lerr := load.Load(ctx, []string{path}, os.Stdin, load.Options{SkipUnknownKinds: in.skipUnknown})
				if res == nil {
					if ctx.Err() != nil {
						return nil, lerr
					}
					return nil, badInput(lerr)
				}
				return buildAll(g, append(slices.Clone(res.Files), sharedFiles...), append(slices.Clone(res.Objects), shared...), docker, lerr)
			}
			oldCfg, err := side(args[0])
			if err != nil {
				return err
			}
			newCfg, err := side(args[1])
			if err != nil {
				return err
			}
			if len(newCfg.Endpoints) == 0 {
				return badInput(errors.New("no endpoints to compare: give --endpoints FILE, --from-docker, or Pod manifests"))
			}
			if pps == nil {
				pps = netpol.PortsInUse(newCfg)
				for _, p := range netpol.PortsInUse(oldCfg) {
					if !slices.Contains(pps, p) {
						pps = append(pps, p)
					}
				}
				netpol.SortPorts(pps)
			}
			if len(pps) == 0 {
				return badInput(errors.New("no ports in use: give --port"))
			}
			d := netpol.Diff(oldCfg, newCfg, pps, in.ipVersion)
			if err := g.writeOutput(func(w io.Writer, _ bool) error { return netpol.WriteDiff(w, d, format) }); err != nil {
				return err
			}
			if exitCode && d.Changed() {
				return findingsExit()
			}
			return nil
		},
	}
	in.flags(cmd)
	fl := cmd.Flags()
	fl.StringSliceVar(&endpoints, "endpoints", nil, "files or directories with the endpoints (Pods, Namespaces, ServiceAccounts, HostEndpoints) to compare on")
	fl.StringSliceVar(&ports, "port", nil, "ports to compare, `PORT/PROTOCOL`; default: the ports in use on either side")
	fl.BoolVar(&exitCode, "exit-code", false, "exit 1 when any flow changed")
	return cmd
}
