// Package calico audits a Calico cluster's configuration offline, from the
// manifests `calicoctl get … -o yaml` prints: Felix (WireGuard encryption,
// MTU, eBPF, failsafe ports, host access, logs, flow logs), IP pools
// (encapsulation without encryption, NAT, overlaps, blocks), BGP passwords,
// the WireGuard keys nodes published, and policy posture from the netpol
// engine (namespaces without default deny, global policies that allow all
// egress, host endpoints without policy, staged policies never promoted).
//
// Every result is a model.Finding of kind posture, like `audit docker`'s;
// each FAIL and WARN carries the exact patch that fixes it: a `calicoctl
// patch` command (JSON merge patch or JSON patch) or a manifest to apply.
// Checks are listed explicitly in checks.go.
package calico

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	chk "github.com/lockdown-sec/lockdown/internal/check"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/netpol"
	"github.com/lockdown-sec/lockdown/internal/netpol/calicov3"
	"github.com/lockdown-sec/lockdown/internal/netpol/load"
)

// Scopes group the checks and findings.
const (
	ScopeFelix  = "felix"
	ScopeIPPool = "ippool"
	ScopeNode   = "node"
	ScopeBGP    = "bgp"
	ScopePolicy = "policy"
)

// DefaultUnderlayMTU is the MTU of the nodes' network when Config leaves it
// unset.
const DefaultUnderlayMTU = 1500

// Config configures an audit. The zero value runs every check.
type Config struct {
	// Include / Exclude select checks by ID, scope, tag (see check.Select).
	Include, Exclude []string
	// UnderlayMTU is the MTU of the network between the nodes, against
	// which tunnel MTUs are checked; 0 means DefaultUnderlayMTU.
	UnderlayMTU int
	// TrustedCIDR is the management network put into the failsafe port
	// patches; "" leaves a placeholder to replace.
	TrustedCIDR string
	// Inputs names what was read, for the report's target.
	Inputs []string
	Logger *slog.Logger
	// Now stamps the report; nil: time.Now.
	Now  func() time.Time
	Tool model.Tool
}

// Check is one configuration check.
type Check struct {
	info chk.Info
	run  func(w *world) []Result
}

// Info describes the check.
func (c Check) Info() chk.Info { return c.info }

// Result is what one check saw on one subject.
type Result struct {
	Status   string // model.StatusPass, StatusFail, StatusWarn, StatusInfo, StatusSkip
	Subject  string // "default", "node.worker-1", a pool, node, namespace or policy
	Evidence string
	Location string // file:line
	// Severity overrides the check's when set.
	Severity model.Severity
	// Fix is the change that makes the check pass (FAIL and WARN only).
	Fix *Fix
}

// Select returns the checks matching include (all when empty) and not
// exclude.
func Select(checks []Check, include, exclude []string) ([]Check, error) {
	return chk.Select(checks, Check.Info, include, exclude)
}

// Validate reports duplicate IDs, unknown scopes and untitled checks.
func Validate(checks []Check) error {
	infos := make([]chk.Info, len(checks))
	for i, c := range checks {
		infos[i] = c.info
	}
	return chk.Validate(infos, ScopeFelix, ScopeIPPool, ScopeNode, ScopeBGP, ScopePolicy)
}

// Audit runs the checks on the loaded objects. Policies that the netpol
// engine cannot build are bad input: the error lists them (an
// *load.Errors).
func Audit(ctx context.Context, objs []*load.Object, cfg Config) (*model.Report, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	checks := Checks()
	if err := Validate(checks); err != nil {
		return nil, err
	}
	checks, err := Select(checks, cfg.Include, cfg.Exclude)
	if err != nil {
		return nil, err
	}
	w, err := newWorld(objs, cfg)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	rep := &model.Report{
		Kind:      "audit",
		Tool:      cfg.Tool,
		CreatedAt: now().UTC(),
		Target:    &model.Target{Input: strings.Join(cfg.Inputs, " "), Kind: "calico-manifests"},
		Meta:      map[string]string{},
	}
	for _, wn := range w.warnings {
		rep.Warnings = append(rep.Warnings, wn)
		log.Warn(wn.Message, "file", wn.Path)
	}
	for _, c := range checks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, r := range c.run(w) {
			rep.Findings = append(rep.Findings, finding(c.info, r))
		}
	}
	rep.Meta["felixConfigurations"] = strconv.Itoa(len(w.felix))
	rep.Meta["ipPools"] = strconv.Itoa(len(w.pools))
	rep.Meta["nodes"] = strconv.Itoa(len(w.nodes))
	rep.Meta["policies"] = strconv.Itoa(len(w.pol.Policies) + len(w.pol.Staged))
	rep.Meta["underlayMTU"] = strconv.Itoa(w.underlayMTU)
	if s, ok := chk.Score(rep.Findings); ok {
		rep.Meta["score"] = strconv.Itoa(s)
	}
	return rep, nil
}

func finding(in chk.Info, r Result) model.Finding {
	f := model.Finding{
		Kind: model.KindPosture, RuleID: in.ID, Title: in.Title, Severity: in.Severity,
		Status: cmp.Or(r.Status, model.StatusSkip), Subject: r.Subject, Scope: in.Scope,
		Evidence: r.Evidence, Location: r.Location, Rationale: in.Rationale,
		Remediation: in.Remediation,
	}
	if r.Severity != model.SeverityUnknown {
		f.Severity = r.Severity
	}
	if r.Fix != nil && (f.Status == model.StatusFail || f.Status == model.StatusWarn) {
		f.Remediation = r.Fix.String()
	}
	if f.Status != model.StatusFail && f.Status != model.StatusWarn {
		f.Remediation = ""
	}
	return f
}

// Result helpers.
func pass(subject, format string, args ...any) Result {
	return Result{Status: model.StatusPass, Subject: subject, Evidence: fmt.Sprintf(format, args...)}
}
func info(subject, format string, args ...any) Result {
	return Result{Status: model.StatusInfo, Subject: subject, Evidence: fmt.Sprintf(format, args...)}
}
func skip(subject, format string, args ...any) Result {
	return Result{Status: model.StatusSkip, Subject: subject, Evidence: fmt.Sprintf(format, args...)}
}
func fail(subject string, fix *Fix, format string, args ...any) Result {
	return Result{Status: model.StatusFail, Subject: subject, Evidence: fmt.Sprintf(format, args...), Fix: fix}
}
func warn(subject string, fix *Fix, format string, args ...any) Result {
	return Result{Status: model.StatusWarn, Subject: subject, Evidence: fmt.Sprintf(format, args...), Fix: fix}
}

// at sets the result's location.
func (r Result) at(src load.Source) Result {
	r.Location = src.String()
	return r
}

// sev sets the result's severity.
func (r Result) sev(s model.Severity) Result {
	r.Severity = s
	return r
}

// ---- the world the checks read

type felixCfg struct {
	obj  *load.Object // nil: not in the input (Calico's defaults)
	spec *calicov3.FelixConfigurationSpec
	node string // "" for the global "default"
}

func (f *felixCfg) name() string {
	if f.obj == nil {
		return "default"
	}
	return f.obj.Name
}

// at is the location of a field of the spec, or of the resource.
func (f *felixCfg) at(field string) load.Source {
	if f.obj == nil {
		return load.Source{}
	}
	return f.obj.At("spec", field)
}

// where describes a field's value for evidence: "wireguardEnabled: false
// (felix.yaml:7)" or "wireguardEnabled not set (Calico's default: false)".
func (f *felixCfg) where(field string, set bool, value any, def string) string {
	if !set {
		return fmt.Sprintf("%s not set (Calico's default: %s)", field, def)
	}
	return fmt.Sprintf("%s: %v (%s)", field, value, f.at(field))
}

type pool struct {
	obj  *load.Object
	spec *calicov3.IPPoolSpec
}

type node struct {
	obj *load.Object
	v   *calicov3.Node
}

type world struct {
	felix    []*felixCfg // the default first, then node.<name> by name
	def      *felixCfg   // the default (implicit when not in the input)
	hasFelix bool        // any FelixConfiguration in the input
	pools    []*pool
	nodes    []*node
	bgp      []*load.Object
	peers    []*load.Object
	objs     []*load.Object
	pol      *netpol.Config

	underlayMTU int
	trustedCIDR string
	warnings    []model.Warning
}

func newWorld(objs []*load.Object, cfg Config) (*world, error) {
	w := &world{objs: objs, underlayMTU: cmp.Or(cfg.UnderlayMTU, DefaultUnderlayMTU), trustedCIDR: cfg.TrustedCIDR}
	if w.underlayMTU < 576 || w.underlayMTU > 65535 {
		return nil, fmt.Errorf("underlay MTU %d: want 576 to 65535", w.underlayMTU)
	}
	for _, o := range objs {
		var unknown []string
		switch v := o.Obj.(type) {
		case *calicov3.FelixConfiguration:
			f := &felixCfg{obj: o, spec: &v.Spec}
			if o.Name != "default" {
				n, ok := strings.CutPrefix(o.Name, "node.")
				if !ok {
					w.warn(o.Source, "%s: Felix reads only \"default\" and \"node.<name>\": not checked", o.ID())
					continue
				}
				f.node = n
			}
			w.felix = append(w.felix, f)
			unknown = v.Spec.Unknown
		case *calicov3.IPPool:
			w.pools = append(w.pools, &pool{obj: o, spec: &v.Spec})
			unknown = v.Spec.Unknown
		case *calicov3.Node:
			w.nodes = append(w.nodes, &node{obj: o, v: v})
		case *calicov3.BGPConfiguration:
			w.bgp = append(w.bgp, o)
			unknown = v.Spec.Unknown
		case *calicov3.BGPPeer:
			w.peers = append(w.peers, o)
			unknown = v.Spec.Unknown
		}
		if len(unknown) > 0 {
			w.warn(o.At("spec", unknown[0]), "%s: spec fields not checked (unknown to Lockdown): %s", o.ID(), strings.Join(unknown, ", "))
		}
	}
	w.hasFelix = len(w.felix) > 0
	slices.SortStableFunc(w.felix, func(a, b *felixCfg) int {
		return strings.Compare(a.node, b.node) // "" (the default) first
	})
	if len(w.felix) == 0 || w.felix[0].node != "" {
		w.felix = append([]*felixCfg{{spec: &calicov3.FelixConfigurationSpec{}}}, w.felix...)
	}
	w.def = w.felix[0]
	slices.SortStableFunc(w.pools, func(a, b *pool) int { return strings.Compare(a.obj.Name, b.obj.Name) })
	slices.SortStableFunc(w.nodes, func(a, b *node) int { return strings.Compare(a.obj.Name, b.obj.Name) })
	// One stand-in pod per namespace shows which policies cover a whole
	// namespace.
	pol, err := netpol.Build(objs, probes(namespacesOf(objs)))
	if err != nil {
		return nil, err
	}
	for _, wn := range pol.Warnings {
		w.warnings = append(w.warnings, model.Warning{Path: wn.Source.String(), Message: wn.Message})
	}
	w.pol = pol
	return w, nil
}

func (w *world) warn(src load.Source, format string, args ...any) {
	w.warnings = append(w.warnings, model.Warning{Path: src.String(), Message: fmt.Sprintf(format, args...)})
}

// felixFor returns the node-specific FelixConfiguration of a node, or nil.
func (w *world) felixFor(nodeName string) *felixCfg {
	for _, f := range w.felix {
		if f.node == nodeName && nodeName != "" {
			return f
		}
	}
	return nil
}

// noFelix is the SKIP result of Felix checks when the input has no
// FelixConfiguration.
func noFelix() []Result {
	return []Result{skip(ScopeFelix, "no FelixConfiguration in the input (add `calicoctl get felixconfiguration -o yaml`)")}
}

// boolOr returns *p, or def when p is nil.
func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}
