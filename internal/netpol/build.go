package netpol

import (
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/lockdown-sec/lockdown/internal/netpol/calicov3"
	"github.com/lockdown-sec/lockdown/internal/netpol/load"
	"github.com/lockdown-sec/lockdown/internal/netpol/selector"
)

// BuildError lists every problem found while normalising the input (at
// most load.MaxErrors; More counts the rest). It is the loader's error list,
// so the two can be merged.
type BuildError = load.Errors

type builder struct {
	cfg  *Config
	errs load.Errors
	sas  map[string]map[string]string // ns/name → labels
	// serviceRefs are the services matches of rules, checked at the end.
	serviceRefs []serviceUse
	// seen detects duplicate resources.
	seen map[string]load.Source
}

func (b *builder) fail(err error) { b.errs.Add(err) }

func (b *builder) warn(src load.Source, format string, args ...any) {
	b.cfg.Warnings = append(b.cfg.Warnings, Warning{Source: src, Message: fmt.Sprintf(format, args...)})
}

// Build normalises loaded objects (policies, tiers, network sets, profiles,
// namespaces, service accounts, pods, host endpoints) plus endpoints found
// elsewhere (containers from Docker) into a Config. Every problem is
// reported with its file and line; the error is a *BuildError.
func Build(objs []*load.Object, extra []*Endpoint) (*Config, error) {
	b := &builder{
		cfg: &Config{
			Profiles:   map[string]*Profile{},
			Namespaces: map[string]*Namespace{},
			Services:   map[string]*Service{},
		},
		sas:  map[string]map[string]string{},
		seen: map[string]load.Source{},
	}
	// Pass 1: things other objects refer to.
	for _, o := range objs {
		if prev, dup := b.seen[o.ID()]; dup {
			b.fail(load.Errorf(o.Source, "%s: duplicate (first defined at %s)", o.ID(), prev))
			continue
		}
		b.seen[o.ID()] = o.Source
		switch v := o.Obj.(type) {
		case *corev1.Namespace:
			b.cfg.Namespaces[o.Name] = &Namespace{Name: o.Name, Labels: maps.Clone(v.Labels), Source: o.Source}
		case *corev1.ServiceAccount:
			b.sas[o.Namespace+"/"+o.Name] = v.Labels
		case *corev1.Service:
			b.service(o, v)
		case *calicov3.Tier:
			b.tier(o, v)
		case *calicov3.Profile:
			b.profile(o, v)
		}
	}
	if b.cfg.TierOf(calicov3.DefaultTierName) == nil && !b.hasTier(calicov3.DefaultTierName) {
		order := float64(DefaultTierOrder)
		b.cfg.Tiers = append(b.cfg.Tiers, &Tier{Name: calicov3.DefaultTierName, Order: &order, DefaultAction: ActionDeny})
	}
	// Pass 2: policies, sets, endpoints.
	for _, o := range objs {
		switch v := o.Obj.(type) {
		case *calicov3.NetworkPolicy:
			b.calicoPolicy(o, policySpec{kind: o.Kind, ns: o.Namespace, tier: v.Spec.Tier, order: v.Spec.Order,
				ingress: v.Spec.Ingress, egress: v.Spec.Egress, selector: v.Spec.Selector, types: v.Spec.Types,
				saSelector: v.Spec.ServiceAccountSelector})
		case *calicov3.StagedNetworkPolicy:
			b.calicoPolicy(o, policySpec{kind: o.Kind, ns: o.Namespace, tier: v.Spec.Tier, order: v.Spec.Order,
				ingress: v.Spec.Ingress, egress: v.Spec.Egress, selector: v.Spec.Selector, types: v.Spec.Types,
				saSelector: v.Spec.ServiceAccountSelector, staged: true, stagedAction: string(v.Spec.StagedAction)})
		case *calicov3.GlobalNetworkPolicy:
			b.calicoPolicy(o, policySpec{kind: o.Kind, tier: v.Spec.Tier, order: v.Spec.Order,
				ingress: v.Spec.Ingress, egress: v.Spec.Egress, selector: v.Spec.Selector, types: v.Spec.Types,
				saSelector: v.Spec.ServiceAccountSelector, nsSelector: v.Spec.NamespaceSelector,
				doNotTrack: v.Spec.DoNotTrack, preDNAT: v.Spec.PreDNAT, applyOnForward: v.Spec.ApplyOnForward})
		case *calicov3.StagedGlobalNetworkPolicy:
			b.calicoPolicy(o, policySpec{kind: o.Kind, tier: v.Spec.Tier, order: v.Spec.Order,
				ingress: v.Spec.Ingress, egress: v.Spec.Egress, selector: v.Spec.Selector, types: v.Spec.Types,
				saSelector: v.Spec.ServiceAccountSelector, nsSelector: v.Spec.NamespaceSelector,
				doNotTrack: v.Spec.DoNotTrack, preDNAT: v.Spec.PreDNAT, applyOnForward: v.Spec.ApplyOnForward,
				staged: true, stagedAction: string(v.Spec.StagedAction)})
		case *networkingv1.NetworkPolicy:
			b.k8sPolicy(o, v)
		case *calicov3.NetworkSet:
			b.networkSet(o, o.Namespace, v.Labels, v.Spec.Nets)
		case *calicov3.GlobalNetworkSet:
			b.networkSet(o, "", v.Labels, v.Spec.Nets)
		case *corev1.Pod:
			b.pod(o, v)
		case *calicov3.HostEndpoint:
			b.hostEndpoint(o, v)
		}
	}
	for _, e := range extra {
		ep := *e
		ep.OwnLabels = maps.Clone(e.OwnLabels)
		ep.Labels = nil
		b.addEndpoint(&ep)
	}
	// Tiers referenced but not defined: Calico would reject the policy; we
	// evaluate it in a tier ordered last and report it.
	for _, p := range slices.Concat(b.cfg.Policies, b.cfg.Untracked, b.cfg.PreDNAT, b.cfg.Staged) {
		if !b.hasTier(p.Tier) {
			b.cfg.Tiers = append(b.cfg.Tiers, &Tier{Name: p.Tier, DefaultAction: ActionDeny, Missing: true, Source: p.Source})
			b.warn(p.Source, "policy %s: tier %q is not defined (evaluated last, with defaultAction Deny)", p.ID(), p.Tier)
		}
	}
	// Implicit profiles endpoints refer to.
	for _, e := range b.cfg.Endpoints {
		for _, name := range e.Profiles {
			if _, ok := b.cfg.Profiles[name]; ok {
				continue
			}
			if p := b.cfg.profile(name); p != nil {
				b.cfg.Profiles[name] = p
			} else {
				b.warn(e.Source, "endpoint %s: profile %q is not defined", e.ID(), name)
			}
		}
	}
	b.checkServiceRefs()
	if b.errs.Len() > 0 {
		return nil, &b.errs
	}
	b.cfg.sortConfig()
	return b.cfg, nil
}

func (b *builder) hasTier(name string) bool {
	for _, t := range b.cfg.Tiers {
		if t.Name == name {
			return true
		}
	}
	return false
}

func (b *builder) tier(o *load.Object, v *calicov3.Tier) {
	t := &Tier{Name: o.Name, Order: v.Spec.Order, DefaultAction: ActionDeny, Source: o.Source}
	if v.Spec.DefaultAction != nil {
		switch *v.Spec.DefaultAction {
		case calicov3.Deny:
		case calicov3.Pass:
			t.DefaultAction = ActionPass
		default:
			b.fail(o.Errorf([]any{"spec", "defaultAction"}, "want Deny or Pass, got %q", *v.Spec.DefaultAction))
		}
	}
	if o.Name == calicov3.DefaultTierName && t.Order == nil {
		order := float64(DefaultTierOrder)
		t.Order = &order
	}
	b.cfg.Tiers = append(b.cfg.Tiers, t)
}

func (b *builder) profile(o *load.Object, v *calicov3.Profile) {
	p := &Profile{Name: o.Name, LabelsToApply: v.Spec.LabelsToApply, Source: o.Source}
	for i, r := range v.Spec.Ingress {
		if nr, ok := b.rule(o, []any{"spec", "ingress", i}, r, "", i); ok {
			p.Ingress = append(p.Ingress, nr)
		}
	}
	for i, r := range v.Spec.Egress {
		if nr, ok := b.rule(o, []any{"spec", "egress", i}, r, "", i); ok {
			p.Egress = append(p.Egress, nr)
		}
	}
	b.cfg.Profiles[o.Name] = p
}

type policySpec struct {
	kind, ns, tier      string
	order               *float64
	ingress, egress     []calicov3.Rule
	selector            string
	types               []calicov3.PolicyType
	saSelector          string
	nsSelector          string
	doNotTrack, preDNAT bool
	applyOnForward      bool
	staged              bool
	stagedAction        string
}

var (
	hasNamespace = selector.Has(calicov3.LabelNamespace)
	notNamespace = selector.Not(selector.Has(calicov3.LabelNamespace))
	hasSA        = selector.Has(calicov3.LabelServiceAccount)
)

// parseSel parses a selector field; "" gives nil (unset).
func (b *builder) parseSel(o *load.Object, path []any, s string) (*selector.Selector, bool) {
	if strings.TrimSpace(s) == "" {
		return nil, true
	}
	sel, err := selector.Parse(s)
	if err != nil {
		b.fail(o.Errorf(path, "%v", err))
		return nil, false
	}
	return sel, true
}

func (b *builder) calicoPolicy(o *load.Object, s policySpec) {
	p := &Policy{
		Kind: s.kind, Namespace: s.ns, Name: o.Name, Tier: s.tier, Order: s.order,
		Staged: s.staged, DoNotTrack: s.doNotTrack, PreDNAT: s.preDNAT, ApplyOnForward: s.applyOnForward,
		Source: o.Source,
	}
	if p.Tier == "" {
		p.Tier = calicov3.DefaultTierName
	}
	p.Key = o.Name
	if s.ns != "" {
		p.Key = s.ns + "/" + o.Name
		p.ApplyOnForward = true
	}
	ok := true
	sel, good := b.parseSel(o, []any{"spec", "selector"}, s.selector)
	ok = ok && good
	saSel, good := b.parseSel(o, []any{"spec", "serviceAccountSelector"}, s.saSelector)
	ok = ok && good
	nsSel, good := b.parseSel(o, []any{"spec", "namespaceSelector"}, s.nsSelector)
	ok = ok && good
	if s.staged {
		switch s.stagedAction {
		case "", "Set", "Delete", "Learn", "Ignore":
		default:
			b.fail(o.Errorf([]any{"spec", "stagedAction"}, "want Set, Delete, Learn or Ignore, got %q", s.stagedAction))
		}
	}
	if ok {
		if s.ns != "" {
			// Namespaced: (selector) && projectcalico.org/namespace == 'ns', then the SA selector.
			p.Selector = selector.And(sel, selector.Eq(calicov3.LabelNamespace, s.ns))
			if saSel != nil {
				p.Selector = selector.And(p.Selector, saSel.WithPrefix(calicov3.SALabelPrefix))
			}
		} else {
			combined := sel
			if nsSel != nil {
				// Calico rewrites all() in the whole combined selector.
				if combined != nil {
					combined = combined.Replace(hasNamespace, nil)
				}
				combined = selector.And(combined, nsSel.WithPrefix(calicov3.NamespaceLabelPref).Replace(hasNamespace, nil))
			}
			if saSel != nil {
				if combined != nil {
					combined = combined.Replace(hasSA, nil)
				}
				combined = selector.And(combined, saSel.WithPrefix(calicov3.SALabelPrefix).Replace(hasSA, nil))
			}
			if combined == nil {
				combined = selector.All()
			}
			p.Selector = combined
		}
	}
	// Types, defaulted as Calico documents.
	if len(s.types) == 0 {
		p.ApplyIngress = len(s.ingress) > 0 || len(s.egress) == 0
		p.ApplyEgress = len(s.egress) > 0
	}
	for i, t := range s.types {
		switch t {
		case calicov3.PolicyTypeIngress:
			p.ApplyIngress = true
		case calicov3.PolicyTypeEgress:
			p.ApplyEgress = true
		default:
			b.fail(o.Errorf([]any{"spec", "types", i}, "want Ingress or Egress, got %q", t))
		}
	}
	if len(s.types) > 0 {
		if len(s.ingress) > 0 && !p.ApplyIngress {
			b.warn(o.At("spec", "ingress"), "%s: ingress rules are ignored: types does not include Ingress", o.ID())
		}
		if len(s.egress) > 0 && !p.ApplyEgress {
			b.warn(o.At("spec", "egress"), "%s: egress rules are ignored: types does not include Egress", o.ID())
		}
	}
	if s.preDNAT && s.doNotTrack {
		b.fail(o.Errorf([]any{"spec", "preDNAT"}, "preDNAT and doNotTrack cannot both be true"))
	}
	if (s.preDNAT || s.doNotTrack) && !s.applyOnForward {
		b.fail(o.Errorf([]any{"spec", "applyOnForward"}, "applyOnForward must be true when preDNAT or doNotTrack is set"))
	}
	if s.preDNAT && (len(s.egress) > 0 || p.ApplyEgress) {
		b.fail(o.Errorf([]any{"spec", "egress"}, "a preDNAT policy cannot have egress rules or the Egress type"))
	}
	for i, r := range s.ingress {
		if nr, ok := b.rule(o, []any{"spec", "ingress", i}, r, s.ns, i); ok {
			p.Ingress = append(p.Ingress, nr)
		}
	}
	for i, r := range s.egress {
		if nr, ok := b.rule(o, []any{"spec", "egress", i}, r, s.ns, i); ok {
			p.Egress = append(p.Egress, nr)
		}
	}
	switch {
	case p.Staged:
		b.cfg.Staged = append(b.cfg.Staged, p)
	case p.DoNotTrack:
		b.cfg.Untracked = append(b.cfg.Untracked, p)
	case p.PreDNAT:
		b.cfg.PreDNAT = append(b.cfg.PreDNAT, p)
	default:
		b.cfg.Policies = append(b.cfg.Policies, p)
	}
}

var actions = map[calicov3.Action]Action{
	calicov3.Allow: ActionAllow, calicov3.Deny: ActionDeny, calicov3.Pass: ActionPass, calicov3.Log: ActionLog,
}

// rule normalises one Calico rule; ns is the policy's namespace ("" global).
func (b *builder) rule(o *load.Object, path []any, r calicov3.Rule, ns string, idx int) (Rule, bool) {
	at := func(p ...any) []any { return append(append([]any{}, path...), p...) }
	nerr := b.errs.Len()
	out := Rule{Index: idx, Source: o.At(path...), HTTP: r.HTTP != nil}
	if r.Action == "" {
		b.fail(o.Errorf(at("action"), "action is required (Allow, Deny, Log or Pass)"))
	} else if a, ok := actions[r.Action]; ok {
		out.Action = a
	} else {
		b.fail(o.Errorf(at("action"), "want Allow, Deny, Log or Pass, got %q", r.Action))
	}
	if r.IPVersion != nil {
		if *r.IPVersion != 4 && *r.IPVersion != 6 {
			b.fail(o.Errorf(at("ipVersion"), "want 4 or 6, got %d", *r.IPVersion))
		} else {
			out.IPVersion = *r.IPVersion
		}
	}
	proto := func(field string, v *calicov3.Protocol) *Protocol {
		if v == nil {
			return nil
		}
		n, err := protocolOf(*v)
		if err != nil {
			b.fail(o.Errorf(at(field), "%v", err))
			return nil
		}
		return &n
	}
	out.Protocol = proto("protocol", r.Protocol)
	out.NotProtocol = proto("notProtocol", r.NotProtocol)
	icmp := func(field string, v *calicov3.ICMPFields) *ICMPMatch {
		if v == nil {
			return nil
		}
		if out.Protocol == nil || (*out.Protocol != ProtoICMP && *out.Protocol != ProtoICMPv6) {
			b.fail(o.Errorf(at(field), "%s needs protocol ICMP or ICMPv6", field))
			return nil
		}
		if v.Type == nil {
			if v.Code != nil {
				b.fail(o.Errorf(at(field, "code"), "an ICMP code needs a type"))
			}
			return nil
		}
		m, err := newICMPMatch(*v.Type, v.Code)
		if err != nil {
			b.fail(o.Errorf(at(field), "%v", err))
			return nil
		}
		return &m
	}
	out.ICMP = icmp("icmp", r.ICMP)
	out.NotICMP = icmp("notICMP", r.NotICMP)
	if out.Protocol != nil && out.IPVersion != 0 {
		if *out.Protocol == ProtoICMP && out.IPVersion == 6 || *out.Protocol == ProtoICMPv6 && out.IPVersion == 4 {
			b.fail(o.Errorf(at("ipVersion"), "ipVersion %d conflicts with protocol %s", out.IPVersion, ProtoName(*out.Protocol)))
		}
	}
	out.Src = b.entity(o, at("source"), r.Source, ns, out.Protocol, out.IPVersion, false)
	out.Dst = b.entity(o, at("destination"), r.Destination, ns, out.Protocol, out.IPVersion, true)
	if r.HTTP != nil {
		b.warn(out.Source, "%s: HTTP match is enforced by Calico's application layer and is not evaluated here; the rule is evaluated without it", o.ID())
	}
	return out, b.errs.Len() == nerr
}

var portNameRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`) })

// parsePort reads a Calico port: number, "lo:hi" or a name.
func parsePort(v calicov3.Port) (PortMatch, error) {
	if v.IsNum {
		if v.Num < 0 || v.Num > 65535 {
			return PortMatch{}, fmt.Errorf("port %d out of range 0-65535", v.Num)
		}
		return PortMatch{Lo: uint16(v.Num), Hi: uint16(v.Num)}, nil
	}
	s := strings.TrimSpace(v.Str)
	if lo, hi, ok := strings.Cut(s, ":"); ok {
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil {
			return PortMatch{}, fmt.Errorf("invalid port range %q (want FROM:TO)", s)
		}
		if l < 0 || l > 65535 || h < 0 || h > 65535 {
			return PortMatch{}, fmt.Errorf("port range %q out of range 0-65535", s)
		}
		if l > h {
			return PortMatch{}, fmt.Errorf("port range %q: start is after end", s)
		}
		return PortMatch{Lo: uint16(l), Hi: uint16(h)}, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		return parsePort(calicov3.Port{IsNum: true, Num: int64(n)})
	}
	if s == "" || len(s) > 63 || !portNameRe().MatchString(s) {
		return PortMatch{}, fmt.Errorf("invalid port %q (want a number, FROM:TO or a port name)", s)
	}
	return PortMatch{Name: s}, nil
}

// parseNet reads a CIDR or a single address, masked.
func parseNet(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", s)
		}
		return p.Masked(), nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", s)
	}
	ip = ip.Unmap()
	return netip.PrefixFrom(ip, ip.BitLen()), nil
}

func (b *builder) entity(o *load.Object, path []any, e calicov3.EntityRule, ns string, proto *Protocol, ipVersion int, dst bool) EntityMatch {
	at := func(p ...any) []any { return append(append([]any{}, path...), p...) }
	var out EntityMatch
	nets := func(field string, in []string) []netip.Prefix {
		var ps []netip.Prefix
		for i, s := range in {
			p, err := parseNet(s)
			if err != nil {
				b.fail(o.Errorf(at(field, i), "%v", err))
				continue
			}
			if ipVersion == 4 && !p.Addr().Is4() || ipVersion == 6 && p.Addr().Is4() {
				b.fail(o.Errorf(at(field, i), "%s does not match ipVersion %d", s, ipVersion))
				continue
			}
			ps = append(ps, p)
		}
		return ps
	}
	out.Nets = nets("nets", e.Nets)
	out.NotNets = nets("notNets", e.NotNets)
	ports := func(field string, in []calicov3.Port) []PortMatch {
		if len(in) > 0 && (proto == nil || !protoHasPorts(*proto)) {
			b.fail(o.Errorf(at(field), "%s need protocol TCP, UDP, SCTP or UDPLite", field))
			return nil
		}
		var ps []PortMatch
		for i, v := range in {
			pm, err := parsePort(v)
			if err != nil {
				b.fail(o.Errorf(at(field, i), "%v", err))
				continue
			}
			ps = append(ps, pm)
		}
		return ps
	}
	out.Ports = ports("ports", e.Ports)
	out.NotPorts = ports("notPorts", e.NotPorts)
	sel, ok1 := b.parseSel(o, at("selector"), e.Selector)
	notSel, ok2 := b.parseSel(o, at("notSelector"), e.NotSelector)
	nsSel, ok3 := b.parseSel(o, at("namespaceSelector"), e.NamespaceSelector)
	var saSel *selector.Selector
	ok4 := true
	if e.ServiceAccounts != nil {
		var s *selector.Selector
		s, ok4 = b.parseSel(o, at("serviceAccounts", "selector"), e.ServiceAccounts.Selector)
		if s != nil {
			saSel = s.WithPrefix(calicov3.SALabelPrefix)
		}
		if len(e.ServiceAccounts.Names) > 0 {
			saSel = selector.And(saSel, selector.In(calicov3.LabelServiceAccount, e.ServiceAccounts.Names...))
		}
	}
	if e.Services != nil {
		out.Services = b.serviceRef(o, at("services"), e, ns, dst)
	}
	if ok1 && ok2 && ok3 && ok4 {
		out.Selector = entitySelector(nsSel, sel, saSel, notSel != nil, ns)
		out.NotSelector = notSel
	}
	return out
}

// entitySelector combines an entity rule's selectors as Calico does
// (libcalico-go getEndpointSelector). nil means "no selector".
func entitySelector(nsSel, sel, saSel *selector.Selector, hasNotSel bool, policyNS string) *selector.Selector {
	var nsPart *selector.Selector
	if nsSel != nil {
		nsPart = nsSel.WithPrefix(calicov3.NamespaceLabelPref).Replace(hasNamespace, notNamespace)
	} else if policyNS != "" {
		nsPart = selector.Eq(calicov3.LabelNamespace, policyNS)
	}
	var s *selector.Selector
	if saSel != nil || sel != nil {
		s = selector.And(saSel, sel)
	}
	if nsPart != nil && (s != nil || hasNotSel || nsSel != nil) {
		s = selector.And(nsPart, s)
	}
	return s
}

func (b *builder) networkSet(o *load.Object, ns string, labels map[string]string, nets []string) {
	set := &NetworkSet{Namespace: ns, Name: o.Name, Source: o.Source, Labels: maps.Clone(labels)}
	if set.Labels == nil {
		set.Labels = map[string]string{}
	}
	for i, s := range nets {
		p, err := parseNet(s)
		if err != nil {
			b.fail(o.Errorf([]any{"spec", "nets", i}, "%v", err))
			continue
		}
		set.Nets = append(set.Nets, p)
	}
	if ns != "" {
		set.Labels[calicov3.LabelNamespace] = ns
		maps.Copy(set.Labels, b.namespaceLabels(ns))
	}
	b.cfg.Sets = append(b.cfg.Sets, set)
}

// namespaceLabels returns the pcns.-prefixed labels of a namespace
// (its own labels, kubernetes.io/metadata.name and projectcalico.org/name).
func (b *builder) namespaceLabels(ns string) map[string]string {
	out := map[string]string{
		calicov3.NamespaceLabelPref + calicov3.LabelName:            ns,
		calicov3.NamespaceLabelPref + "kubernetes.io/metadata.name": ns,
	}
	if n, ok := b.cfg.Namespaces[ns]; ok {
		for k, v := range n.Labels {
			out[calicov3.NamespaceLabelPref+k] = v
		}
	}
	return out
}

func (b *builder) pod(o *load.Object, v *corev1.Pod) {
	if v.Spec.HostNetwork {
		b.warn(o.Source, "%s: host-network pod is host traffic, not a workload endpoint: skipped", o.ID())
		return
	}
	if v.Status.Phase == corev1.PodSucceeded || v.Status.Phase == corev1.PodFailed {
		b.warn(o.Source, "%s: pod has finished (%s): skipped", o.ID(), v.Status.Phase)
		return
	}
	sa := v.Spec.ServiceAccountName
	if sa == "" {
		sa = v.Spec.DeprecatedServiceAccount
	}
	if sa == "" {
		sa = "default"
	}
	e := &Endpoint{
		Kind: EndpointPod, Namespace: o.Namespace, Name: o.Name, OwnLabels: maps.Clone(v.Labels),
		ServiceAccount: sa, Source: o.Source,
		Profiles: []string{"kns." + o.Namespace, "ksa." + o.Namespace + "." + sa},
	}
	addIP := func(path []any, s string) {
		if s == "" {
			return
		}
		ip, err := netip.ParseAddr(s)
		if err != nil {
			b.fail(o.Errorf(path, "invalid IP %q", s))
			return
		}
		ip = ip.Unmap()
		for _, have := range e.IPs {
			if have == ip {
				return
			}
		}
		e.IPs = append(e.IPs, ip)
	}
	addIP([]any{"status", "podIP"}, v.Status.PodIP)
	for i, pip := range v.Status.PodIPs {
		addIP([]any{"status", "podIPs", i, "ip"}, pip.IP)
	}
	for ci, c := range v.Spec.Containers {
		for pi, cp := range c.Ports {
			path := []any{"spec", "containers", ci, "ports", pi}
			if cp.ContainerPort < 1 || cp.ContainerPort > 65535 {
				b.fail(o.Errorf(append(path, "containerPort"), "port %d out of range 1-65535", cp.ContainerPort))
				continue
			}
			proto, err := k8sProtocol(cp.Protocol)
			if err != nil {
				b.fail(o.Errorf(append(path, "protocol"), "%v", err))
				continue
			}
			e.Ports = append(e.Ports, NamedPort{Name: cp.Name, Protocol: proto, Port: uint16(cp.ContainerPort)})
		}
	}
	b.addEndpoint(e)
}

func (b *builder) hostEndpoint(o *load.Object, v *calicov3.HostEndpoint) {
	e := &Endpoint{Kind: EndpointHost, Name: o.Name, OwnLabels: maps.Clone(v.Labels), Profiles: v.Spec.Profiles, Source: o.Source}
	if v.Spec.InterfaceName == "" && len(v.Spec.ExpectedIPs) == 0 {
		b.fail(o.Errorf([]any{"spec"}, "a host endpoint needs interfaceName or expectedIPs"))
	}
	for i, s := range v.Spec.ExpectedIPs {
		ip, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			b.fail(o.Errorf([]any{"spec", "expectedIPs", i}, "invalid IP %q", s))
			continue
		}
		e.IPs = append(e.IPs, ip.Unmap())
	}
	for i, p := range v.Spec.Ports {
		path := []any{"spec", "ports", i}
		if !portNameRe().MatchString(p.Name) {
			b.fail(o.Errorf(append(path, "name"), "invalid port name %q", p.Name))
			continue
		}
		if p.Port < 1 || p.Port > 65535 {
			b.fail(o.Errorf(append(path, "port"), "port %d out of range 1-65535", p.Port))
			continue
		}
		proto, err := protocolOf(p.Protocol)
		if err != nil {
			b.fail(o.Errorf(append(path, "protocol"), "%v", err))
			continue
		}
		if !protoHasPorts(proto) {
			b.fail(o.Errorf(append(path, "protocol"), "want TCP, UDP, SCTP or UDPLite"))
			continue
		}
		e.Ports = append(e.Ports, NamedPort{Name: p.Name, Protocol: proto, Port: uint16(p.Port)})
	}
	b.addEndpoint(e)
}

// addEndpoint fills in the effective labels Calico evaluates.
func (b *builder) addEndpoint(e *Endpoint) {
	labels := map[string]string{}
	// Profile labels first; the endpoint's own labels win.
	for _, name := range e.Profiles {
		if p, ok := b.cfg.Profiles[name]; ok {
			maps.Copy(labels, p.LabelsToApply)
		}
	}
	if e.Namespace != "" {
		maps.Copy(labels, b.namespaceLabels(e.Namespace))
		if e.Kind == EndpointPod || e.ServiceAccount != "" {
			sa := e.ServiceAccount
			labels[calicov3.SALabelPrefix+calicov3.LabelName] = sa
			for k, v := range b.sas[e.Namespace+"/"+sa] {
				labels[calicov3.SALabelPrefix+k] = v
			}
			labels[calicov3.LabelServiceAccount] = sa
		}
		labels[calicov3.LabelNamespace] = e.Namespace
	}
	if e.Kind == EndpointPod {
		labels[calicov3.LabelOrchestrator] = calicov3.OrchestratorK8s
	}
	maps.Copy(labels, e.OwnLabels)
	e.Labels = labels
	b.cfg.Endpoints = append(b.cfg.Endpoints, e)
}

// ---- Kubernetes NetworkPolicy, rendered as Calico renders it.

func (b *builder) k8sPolicy(o *load.Object, v *networkingv1.NetworkPolicy) {
	order := 1000.0
	p := &Policy{
		Kind: KindK8sNetworkPolicy, Namespace: o.Namespace, Name: o.Name,
		Key: o.Namespace + "/knp.default." + o.Name, Tier: calicov3.DefaultTierName, Order: &order,
		ApplyOnForward: true, Source: o.Source,
	}
	podSel, ok := b.k8sSelector(o, []any{"spec", "podSelector"}, &v.Spec.PodSelector, true)
	if ok {
		p.Selector = selector.And(podSel, selector.Eq(calicov3.LabelNamespace, o.Namespace))
	}
	for i, t := range v.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			p.ApplyIngress = true
		case networkingv1.PolicyTypeEgress:
			p.ApplyEgress = true
		default:
			b.fail(o.Errorf([]any{"spec", "policyTypes", i}, "want Ingress or Egress, got %q", t))
		}
	}
	if len(v.Spec.PolicyTypes) == 0 {
		// The API server's defaulting: Ingress always, Egress when egress rules exist.
		p.ApplyIngress = true
		p.ApplyEgress = len(v.Spec.Egress) > 0
	}
	// One Kubernetes rule becomes one Calico rule per port and peer; each
	// keeps the index of the rule it came from, as the user wrote it.
	for i, r := range v.Spec.Ingress {
		for _, nr := range b.k8sRules(o, []any{"spec", "ingress", i}, r.From, r.Ports, true, "from") {
			nr.Index = i
			p.Ingress = append(p.Ingress, nr)
		}
	}
	for i, r := range v.Spec.Egress {
		for _, nr := range b.k8sRules(o, []any{"spec", "egress", i}, r.To, r.Ports, false, "to") {
			nr.Index = i
			p.Egress = append(p.Egress, nr)
		}
	}
	b.cfg.Policies = append(b.cfg.Policies, p)
}

// k8sSelector converts a label selector; pod selectors get
// projectcalico.org/orchestrator == 'k8s' as Calico adds it.
func (b *builder) k8sSelector(o *load.Object, path []any, ls *metav1.LabelSelector, pod bool) (*selector.Selector, bool) {
	var parts []*selector.Selector
	if pod {
		parts = append(parts, selector.Eq(calicov3.LabelOrchestrator, calicov3.OrchestratorK8s))
	}
	if ls == nil {
		return selector.And(parts...), true
	}
	keys := make([]string, 0, len(ls.MatchLabels))
	for k := range ls.MatchLabels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !validLabelKey(k) {
			b.fail(o.Errorf(append(path, "matchLabels", k), "invalid label key %q", k))
			return nil, false
		}
		parts = append(parts, selector.Eq(k, ls.MatchLabels[k]))
	}
	for i, e := range ls.MatchExpressions {
		ep := append(append([]any{}, path...), "matchExpressions", i)
		if !validLabelKey(e.Key) {
			b.fail(o.Errorf(append(ep, "key"), "invalid label key %q", e.Key))
			return nil, false
		}
		switch e.Operator {
		case metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn:
			if len(e.Values) == 0 {
				b.fail(o.Errorf(append(ep, "values"), "operator %s needs values", e.Operator))
				return nil, false
			}
			if e.Operator == metav1.LabelSelectorOpIn {
				parts = append(parts, selector.In(e.Key, e.Values...))
			} else {
				parts = append(parts, selector.NotIn(e.Key, e.Values...))
			}
		case metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist:
			if len(e.Values) > 0 {
				b.fail(o.Errorf(append(ep, "values"), "operator %s takes no values", e.Operator))
				return nil, false
			}
			if e.Operator == metav1.LabelSelectorOpExists {
				parts = append(parts, selector.Has(e.Key))
			} else {
				parts = append(parts, selector.Not(selector.Has(e.Key)))
			}
		default:
			b.fail(o.Errorf(append(ep, "operator"), "want In, NotIn, Exists or DoesNotExist, got %q", e.Operator))
			return nil, false
		}
	}
	return selector.And(parts...), true
}

var labelKeyRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
})

func validLabelKey(k string) bool { return len(k) <= 316 && labelKeyRe().MatchString(k) }

func (b *builder) k8sRules(o *load.Object, path []any, peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort, ingress bool, peerField string) []Rule {
	at := func(p ...any) []any { return append(append([]any{}, path...), p...) }
	src := o.At(path...)
	type portSpec struct {
		proto *Protocol
		ports []PortMatch
	}
	var pspecs []portSpec
	for i, pp := range ports {
		ps := portSpec{}
		proto := ProtoTCP
		if pp.Protocol != nil {
			p, err := k8sProtocol(*pp.Protocol)
			if err != nil {
				b.fail(o.Errorf(at("ports", i, "protocol"), "%v", err))
				continue
			}
			proto = p
		}
		ps.proto = &proto // the API server defaults the protocol to TCP
		if pp.Port != nil {
			var pm PortMatch
			if pp.Port.Type == intstr.Int {
				n := int(pp.Port.IntVal)
				if n < 1 || n > 65535 {
					b.fail(o.Errorf(at("ports", i, "port"), "port %d out of range 1-65535", n))
					continue
				}
				pm = PortMatch{Lo: uint16(n), Hi: uint16(n)}
			} else {
				name := pp.Port.StrVal
				if len(name) > 15 || !portNameRe().MatchString(name) || !strings.ContainsAny(name, "abcdefghijklmnopqrstuvwxyz") {
					b.fail(o.Errorf(at("ports", i, "port"), "invalid port name %q", name))
					continue
				}
				pm = PortMatch{Name: name}
			}
			if pp.EndPort != nil {
				if pm.Name != "" {
					b.fail(o.Errorf(at("ports", i, "endPort"), "endPort needs a numeric port"))
					continue
				}
				if *pp.EndPort < int32(pm.Lo) || *pp.EndPort > 65535 {
					b.fail(o.Errorf(at("ports", i, "endPort"), "endPort %d must be between port %d and 65535", *pp.EndPort, pm.Lo))
					continue
				}
				pm.Hi = uint16(*pp.EndPort)
			}
			ps.ports = []PortMatch{pm}
		} else if pp.EndPort != nil {
			b.fail(o.Errorf(at("ports", i, "endPort"), "endPort needs port"))
			continue
		}
		pspecs = append(pspecs, ps)
	}
	if len(pspecs) == 0 {
		pspecs = []portSpec{{}}
	}
	type peerSpec struct{ e EntityMatch }
	var pe []peerSpec
	for i, peer := range peers {
		pp := at(peerField, i)
		var e EntityMatch
		if peer.IPBlock != nil {
			if peer.PodSelector != nil || peer.NamespaceSelector != nil {
				b.fail(o.Errorf(pp, "ipBlock cannot be combined with podSelector or namespaceSelector"))
				continue
			}
			cidr, err := netip.ParsePrefix(strings.TrimSpace(peer.IPBlock.CIDR))
			if err != nil {
				b.fail(o.Errorf(append(pp, "ipBlock", "cidr"), "invalid CIDR %q", peer.IPBlock.CIDR))
				continue
			}
			cidr = cidr.Masked()
			e.Nets = []netip.Prefix{cidr}
			bad := false
			for j, ex := range peer.IPBlock.Except {
				xp, err := netip.ParsePrefix(strings.TrimSpace(ex))
				if err != nil {
					b.fail(o.Errorf(append(pp, "ipBlock", "except", j), "invalid CIDR %q", ex))
					bad = true
					continue
				}
				xp = xp.Masked()
				if xp.Addr().Is4() != cidr.Addr().Is4() || xp.Bits() <= cidr.Bits() || !cidr.Contains(xp.Addr()) {
					b.fail(o.Errorf(append(pp, "ipBlock", "except", j), "%s must be a strict subset of cidr %s", ex, cidr))
					bad = true
					continue
				}
				e.NotNets = append(e.NotNets, xp)
			}
			if bad {
				continue
			}
		} else {
			if peer.PodSelector == nil && peer.NamespaceSelector == nil {
				b.fail(o.Errorf(pp, "a peer needs podSelector, namespaceSelector or ipBlock"))
				continue
			}
			podSel, ok1 := b.k8sSelector(o, append(pp, "podSelector"), peer.PodSelector, true)
			var nsSel *selector.Selector
			ok2 := true
			if peer.NamespaceSelector != nil {
				nsSel, ok2 = b.k8sSelector(o, append(pp, "namespaceSelector"), peer.NamespaceSelector, false)
				// An empty namespace selector selects every namespace: all().
			}
			if !ok1 || !ok2 {
				continue
			}
			e.Selector = entitySelector(nsSel, podSel, nil, false, o.Namespace)
		}
		pe = append(pe, peerSpec{e})
	}
	if len(peers) == 0 {
		pe = []peerSpec{{}}
	} else if len(pe) == 0 {
		return nil
	}
	var rules []Rule
	for _, ps := range pspecs {
		for _, p := range pe {
			r := Rule{Action: ActionAllow, Protocol: ps.proto, Source: src}
			e := p.e
			if ingress {
				r.Src = e
				r.Dst = EntityMatch{Ports: ps.ports}
			} else {
				e.Ports = ps.ports
				r.Dst = e
			}
			rules = append(rules, r)
		}
	}
	return rules
}
