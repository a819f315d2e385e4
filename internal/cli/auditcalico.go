//go:build !scanonly

package cli

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/spf13/cobra"

	"github.com/lockdown-sec/lockdown/internal/audit/calico"
	"github.com/lockdown-sec/lockdown/internal/check"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/netpol/load"
	"github.com/lockdown-sec/lockdown/internal/report"
)

type auditCalicoFlags struct {
	checks, skip []string
	failOn       string
	underlayMTU  int
	trustedCIDR  string
	listChecks   bool
	showPassed   bool
}

func newAuditCalicoCmd(g *globals) *cobra.Command {
	var f auditCalicoFlags
	cmd := &cobra.Command{
		Use:   "calico PATH...",
		Short: "Audit a Calico cluster's configuration offline: encryption, Felix, IP pools, BGP, policy posture",
		Long: `Audit the manifests calicoctl (or kubectl) prints for a Calico cluster: FelixConfiguration
(WireGuard for IPv4 and IPv6, tunnel MTUs, eBPF, failsafe ports, pod-to-host traffic, logs, flow
logs), IPPool (encapsulation without encryption, NAT, overlaps, blocks), BGPConfiguration and
BGPPeer (passwords), Node (whether WireGuard runs where it is on), and policy posture through
Lockdown's policy engine (namespaces without default deny, global policies allowing all egress,
host endpoints without policy, staged policies never promoted). PATH is a file, a directory of
*.yaml/*.yml/*.json, or - for standard input. Every FAIL and WARN carries the exact calicoctl
patch or manifest that fixes it. This reads configuration only: ` + "`lockdown verify encryption`" + `
checks the wire.`,
		Example: `  calicoctl get felixconfiguration,ippool,node,bgpconfiguration,bgppeer -o yaml > calico.yaml
  calicoctl get globalnetworkpolicy,networkpolicy,hostendpoint -A -o yaml > policy.yaml
  kubectl get namespaces -o yaml > namespaces.yaml
  lockdown audit calico calico.yaml policy.yaml namespaces.yaml
  lockdown audit calico ./cluster/ --fail-on high --format sarif -o calico.sarif
  lockdown audit calico calico.yaml --check encryption --trusted-cidr 192.0.2.0/24`,
		RunE: func(cmd *cobra.Command, args []string) error { return runAuditCalico(cmd, g, f, args) },
	}
	fl := cmd.Flags()
	addCheckFlags(cmd, &f.checks, &f.skip, &f.listChecks, &f.showPassed, "tags (encryption, wireguard, ebpf, host, policy, …) or scopes (felix, ippool, node, bgp, policy)")
	addFailOn(cmd, &f.failOn)
	fl.IntVar(&f.underlayMTU, "underlay-mtu", calico.DefaultUnderlayMTU, "MTU of the network between the nodes, which tunnel MTUs must fit (`BYTES`)")
	fl.StringVar(&f.trustedCIDR, "trusted-cidr", "", "management network to put into the failsafe port patches (`CIDR`; default: a placeholder to replace)")
	return cmd
}

func runAuditCalico(cmd *cobra.Command, g *globals, f auditCalicoFlags, paths []string) error {
	ctx := cmd.Context()
	if f.listChecks {
		infos := make([]check.Info, 0, len(calico.Checks()))
		for _, c := range calico.Checks() {
			infos = append(infos, c.Info())
		}
		return g.writeOutput(func(w io.Writer, _ bool) error { return check.WriteList(w, infos) })
	}
	if len(paths) == 0 {
		return badInput(errors.New("audit calico: name at least one manifest file or directory (or - for standard input)"))
	}
	fail, err := parseFailOn(f.failOn)
	if err != nil {
		return err
	}
	format, err := g.pickFormat("audit calico", report.ReportFormats(report.KindAudit), report.FormatTable)
	if err != nil {
		return err
	}
	if f.trustedCIDR != "" {
		if _, err := netip.ParsePrefix(f.trustedCIDR); err != nil {
			return badInput(fmt.Errorf("--trusted-cidr %q: %w", f.trustedCIDR, err))
		}
	}
	if f.underlayMTU < 576 || f.underlayMTU > 65535 {
		return badInput(fmt.Errorf("--underlay-mtu %d: want 576 to 65535", f.underlayMTU))
	}
	if _, err := calico.Select(calico.Checks(), f.checks, f.skip); err != nil {
		return badInput(err)
	}
	res, lerr := load.Load(ctx, paths, os.Stdin, load.Options{})
	if lerr != nil {
		if ctx.Err() != nil {
			return lerr
		}
		return badInput(firstOf(lerr))
	}
	for _, w := range res.Warnings {
		g.logger.Warn(w.Error())
	}
	rep, err := calico.Audit(ctx, res.Objects, calico.Config{
		Include: f.checks, Exclude: f.skip, UnderlayMTU: f.underlayMTU, TrustedCIDR: f.trustedCIDR,
		Inputs: res.Files, Logger: g.logger, Tool: model.Tool{Name: "lockdown", Version: Version},
	})
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return badInput(firstOf(err))
	}
	return g.emitReportWith(rep, format, fail, report.Options{ShowPassed: f.showPassed})
}

// firstOf words a list of input errors as its first and how many more.
func firstOf(err error) error {
	var list *load.Errors
	if errors.As(err, &list) && list.Len() > 1 && len(list.Errs) > 0 {
		return fmt.Errorf("%w (and %d more)", list.Errs[0], list.Len()-1)
	}
	return err
}
