package netpol

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/check"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/netpol/selector"
)

// Lint rule IDs.
const (
	LintShadowedRule     = "NETPOL-SHADOWED-RULE"
	LintAllowWorld       = "NETPOL-ALLOW-WORLD"
	LintSelectsNothing   = "NETPOL-SELECTS-NOTHING"
	LintNoDefaultDeny    = "NETPOL-NO-DEFAULT-DENY"
	LintMissingTier      = "NETPOL-MISSING-TIER"
	LintDanglingSelector = "NETPOL-MISSING-NETWORKSET"
	LintAllowDenyOverlap = "NETPOL-ALLOW-DENY-CONFLICT"
)

// LintScope is the check.Info scope of every lint rule.
const LintScope = "policy"

// LintRule is one lint rule: its description and the function that finds
// its problems. Rules that need workloads (selects nothing, default deny,
// dangling selectors) run only when the config has endpoints.
type LintRule struct {
	Info           check.Info
	run            func(l *linter)
	needsEndpoints bool
}

// LintRules lists every lint rule, explicitly, in the order they run.
func LintRules() []LintRule {
	info := func(id, title string, sev model.Severity, rationale, fix string, tags ...string) check.Info {
		return check.Info{ID: id, Title: title, Severity: sev, Scope: LintScope, Tags: tags, Rationale: rationale, Remediation: fix}
	}
	return []LintRule{
		{Info: info(LintMissingTier, "Policies refer only to defined tiers", model.SeverityHigh,
			"Calico rejects a policy whose tier does not exist: the policy is not enforced.",
			"create the Tier (projectcalico.org/v3) or move the policy to an existing tier", "tiers"),
			run: (*linter).missingTiers},
		{Info: info(LintShadowedRule, "Every rule can be reached", model.SeverityLow,
			"A rule that an earlier rule always decides first never takes effect: it misleads readers and hides mistakes.",
			"remove the rule, or move it before the rule that shadows it", "rules"),
			run: (*linter).reportShadowed},
		{Info: info(LintAllowWorld, "No rule allows traffic from or to anywhere", model.SeverityHigh,
			"An Allow from 0.0.0.0/0 (or without a source) opens the workloads to every address, the internet included.",
			"allow only the networks and ports that need access (nets, a NetworkSet, ports)", "exposure"),
			run: (*linter).allowWorld},
		{Info: info(LintSelectsNothing, "Every policy selects an endpoint", model.SeverityLow,
			"A policy that selects nothing protects nothing: usually a wrong label or namespace.",
			"check the selector's labels and the policy's namespace", "selectors"),
			run: (*linter).selectsNothing, needsEndpoints: true},
		{Info: info(LintNoDefaultDeny, "Every namespace has default-deny policies", model.SeverityMedium,
			"Endpoints selected by no policy in a direction allow all traffic in that direction.",
			"add a default-deny policy for the namespace (a NetworkPolicy with podSelector: {} and the policyTypes)", "default-deny"),
			run: (*linter).noDefaultDeny, needsEndpoints: true},
		{Info: info(LintDanglingSelector, "Rule selectors match an endpoint or network set", model.SeverityMedium,
			"A rule selector that matches nothing is usually a reference to a NetworkSet that does not exist: the rule does nothing.",
			"create the NetworkSet / GlobalNetworkSet (or workloads) it refers to, or fix the labels", "selectors"),
			run: (*linter).danglingSelectors, needsEndpoints: true},
		{Info: info(LintAllowDenyOverlap, "No Allow and Deny rules cover the same traffic", model.SeverityMedium,
			"When an Allow and a Deny match the same traffic in one tier, only the first decides: one of them is a mistake.",
			"decide which verdict is intended and remove the other rule, or give the policies distinct selectors", "rules"),
			run: (*linter).conflicts},
	}
}

// LintInfos returns the Info of every lint rule.
func LintInfos() []check.Info {
	rules := LintRules()
	out := make([]check.Info, len(rules))
	for i, r := range rules {
		out[i] = r.Info
	}
	return out
}

// Lint checks the policies with every rule. Every result is a
// model.Finding of kind policy-lint, scope "policy", with the policy (or
// namespace) as subject and file:line as location.
func Lint(cfg *Config) []model.Finding { return RunLint(cfg, LintRules()) }

// RunLint checks the policies with the given rules (see LintRules and
// check.Select).
func RunLint(cfg *Config, rules []LintRule) []model.Finding {
	l := &linter{cfg: cfg}
	for _, r := range rules {
		if r.needsEndpoints && len(cfg.Endpoints) == 0 {
			continue
		}
		l.rule = r.Info
		r.run(l)
	}
	return l.out
}

// linter holds the indexes that keep lint near-linear in the number of
// policies and endpoints: endpoints are grouped into classes of identical
// labels, selectors are evaluated once per distinct selector against the
// classes (narrowed by a required key == value when they have one), and
// earlier policies are found by the conjuncts of their selectors.
type linter struct {
	cfg  *Config
	rule check.Info
	out  []model.Finding

	shadowedRules map[*Rule]bool
	shadowDone    bool
	shadowFinds   []model.Finding

	classes  []selector.Labels   // distinct endpoint label sets
	classOf  map[*Endpoint]int   // endpoint → its class
	byEq     map[[2]string][]int // label key and value → classes that have it
	matching map[string][]int    // selector string → classes it matches, ascending
	conj     map[*selector.Selector][]string
	scratch  []*Policy
}

func (l *linter) add(f model.Finding) {
	f.Kind = model.KindPolicyLint
	f.Scope = LintScope
	f.Status = model.StatusWarn
	if f.Rationale == "" {
		f.Rationale = l.rule.Rationale
	}
	l.out = append(l.out, f)
}

// endpointClasses groups the endpoints by their labels (once).
func (l *linter) endpointClasses() {
	if l.byEq != nil {
		return
	}
	l.byEq = map[[2]string][]int{}
	l.matching = map[string][]int{}
	l.classOf = make(map[*Endpoint]int, len(l.cfg.Endpoints))
	index := map[string]int{}
	var key strings.Builder
	for _, e := range l.cfg.Endpoints {
		keys := make([]string, 0, len(e.Labels))
		for k := range e.Labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		key.Reset()
		for _, k := range keys {
			key.WriteString(k)
			key.WriteByte(0)
			key.WriteString(e.Labels[k])
			key.WriteByte(0)
		}
		i, ok := index[key.String()]
		if !ok {
			i = len(l.classes)
			index[key.String()] = i
			l.classes = append(l.classes, e.Labels)
			for k, v := range e.Labels {
				l.byEq[[2]string{k, v}] = append(l.byEq[[2]string{k, v}], i)
			}
		}
		l.classOf[e] = i
	}
}

// matches returns the endpoint classes s matches, ascending (memoized by
// the selector's canonical string).
func (l *linter) matches(s *selector.Selector) []int {
	l.endpointClasses()
	key := s.String()
	if m, ok := l.matching[key]; ok {
		return m
	}
	m := []int{}
	if k, v, ok := s.RequiredEq(l.byEq); ok {
		for _, i := range l.byEq[[2]string{k, v}] {
			if s.Matches(l.classes[i]) {
				m = append(m, i)
			}
		}
	} else {
		for i, labels := range l.classes {
			if s.Matches(labels) {
				m = append(m, i)
			}
		}
	}
	l.matching[key] = m
	return m
}

// conjuncts returns s's conjuncts (memoized per selector).
func (l *linter) conjuncts(s *selector.Selector) []string {
	if l.conj == nil {
		l.conj = map[*selector.Selector][]string{}
	}
	c, ok := l.conj[s]
	if !ok {
		c = s.Conjuncts()
		l.conj[s] = c
	}
	return c
}

// covers reports whether a provably matches everything b matches: a's
// conjuncts are a subset of b's.
func (l *linter) covers(a, b *selector.Selector) bool {
	if a == nil || a.IsAll() {
		return true
	}
	if b == nil {
		return false
	}
	cb := l.conjuncts(b)
	for _, c := range l.conjuncts(a) {
		if _, ok := slices.BinarySearch(cb, c); !ok {
			return false
		}
	}
	return true
}

func ruleName(p *Policy, d Direction, r *Rule) string {
	return fmt.Sprintf("%s rule %d", d, r.Index)
}

func (l *linter) missingTiers() {
	for _, p := range append(slices.Clone(l.cfg.Policies), l.cfg.Staged...) {
		if t := l.cfg.TierOf(p.Tier); t != nil && t.Missing {
			l.add(model.Finding{
				RuleID: LintMissingTier, Severity: model.SeverityHigh, Subject: p.ID(),
				Title:       fmt.Sprintf("policy refers to tier %q, which is not defined", p.Tier),
				Evidence:    fmt.Sprintf("%s %s: tier %q", p.Kind, p.ID(), p.Tier),
				Location:    p.Source.String(),
				Remediation: fmt.Sprintf("create the Tier %q (projectcalico.org/v3) or move the policy to an existing tier; Calico rejects policies in missing tiers", p.Tier),
			})
		}
	}
}

// reportShadowed reports the shadowed rules.
func (l *linter) reportShadowed() {
	l.shadowed()
	for _, f := range l.shadowFinds {
		l.add(f)
	}
}

// shadowed finds (once) the rules that an earlier rule always decides
// first: in the same policy, or in an earlier policy of the same tier that
// applies to every endpoint the later one applies to. Earlier policies are
// found through the conjuncts of their selectors: one covers p only if all
// its conjuncts are p's, so it is filed under its first conjunct (or with
// the all() policies) and looked up by each of p's.
func (l *linter) shadowed() {
	if l.shadowDone {
		return
	}
	l.shadowDone = true
	l.shadowedRules = map[*Rule]bool{}
	for ti := range l.cfg.Tiers {
		pols := l.cfg.byTier[ti]
		var everything []int          // earlier policies with an all() selector
		byFirst := map[string][]int{} // earlier policies by their first conjunct
		for pi, p := range pols {
			cands := slices.Clone(everything)
			for _, c := range l.conjuncts(p.Selector) {
				cands = append(cands, byFirst[c]...)
			}
			slices.Sort(cands)
			cands = slices.Compact(cands)
			for _, d := range []Direction{Ingress, Egress} {
				if p.Applies(d) {
					l.shadowedIn(p, d, pols, cands)
				}
			}
			if cs := l.conjuncts(p.Selector); len(cs) == 0 {
				everything = append(everything, pi)
			} else {
				byFirst[cs[0]] = append(byFirst[cs[0]], pi)
			}
		}
	}
}

// shadowedIn finds the shadowed rules of p in direction d; cands are the
// indexes in pols of the earlier policies that may cover p, ascending.
func (l *linter) shadowedIn(p *Policy, d Direction, pols []*Policy, cands []int) {
	// The earlier policies for d that apply to all of p's endpoints.
	covering := l.scratch[:0]
	for _, qi := range cands {
		if q := pols[qi]; q.Applies(d) && l.covers(q.Selector, p.Selector) {
			covering = append(covering, q)
		}
	}
	l.scratch = covering
	rules := p.Rules(d)
	for j := range rules {
		rj := &rules[j]
		var by string
		var bySrc *Rule
		samePolicy := false
		for i := range j {
			ri := &rules[i]
			if ri.Action != ActionLog && l.subsumes(ri, rj) {
				by, bySrc, samePolicy = fmt.Sprintf("%s rule %d (%s) of the same policy", d, ri.Index, ri.Action), ri, true
				break
			}
		}
		for _, q := range covering {
			if by != "" {
				break
			}
			for i := range q.Rules(d) {
				ri := &q.Rules(d)[i]
				if ri.Action != ActionLog && l.subsumes(ri, rj) {
					by, bySrc = fmt.Sprintf("%s rule %d (%s) of policy %s, evaluated earlier in tier %s", d, ri.Index, ri.Action, q.ID(), p.Tier), ri
					break
				}
			}
		}
		if by == "" {
			continue
		}
		l.shadowedRules[rj] = true
		title := fmt.Sprintf("%s is never reached", ruleName(p, d, rj))
		if samePolicy && p.Kind == KindK8sNetworkPolicy && bySrc.Index == rj.Index {
			// Both parts come from one Kubernetes rule: one of its peer
			// and port combinations is redundant.
			title = fmt.Sprintf("part of %s (a peer and port combination) is never reached", ruleName(p, d, rj))
		}
		l.shadowFinds = append(l.shadowFinds, model.Finding{
			RuleID: LintShadowedRule, Severity: model.SeverityLow, Subject: p.ID(),
			Title:       title,
			Evidence:    fmt.Sprintf("%s %s is shadowed by %s at %s", ruleName(p, d, rj), rj.Action, by, bySrc.Source),
			Location:    rj.Source.String(),
			Remediation: "remove the rule, or move it before the rule that shadows it",
		})
	}
}

// subsumes reports whether rule a provably matches all traffic rule b
// matches (a sufficient, syntactic check).
func (l *linter) subsumes(a, b *Rule) bool {
	if a.HTTP || b.HTTP {
		return false
	}
	if a.IPVersion != 0 && a.IPVersion != b.IPVersion {
		return false
	}
	if a.Protocol != nil && (b.Protocol == nil || *a.Protocol != *b.Protocol) {
		return false
	}
	if a.NotProtocol != nil {
		switch {
		case b.NotProtocol != nil && *b.NotProtocol == *a.NotProtocol:
		case b.Protocol != nil && *b.Protocol != *a.NotProtocol:
		default:
			return false
		}
	}
	if a.ICMP != nil && (b.ICMP == nil || !icmpCovers(a.ICMP, b.ICMP)) {
		return false
	}
	if a.NotICMP != nil && (b.NotICMP == nil || *a.NotICMP != *b.NotICMP) {
		return false
	}
	return l.entityCovers(&a.Src, &b.Src) && l.entityCovers(&a.Dst, &b.Dst)
}

func icmpCovers(a, b *ICMPMatch) bool {
	if a.Type != b.Type {
		return false
	}
	return a.Code == nil || b.Code != nil && *a.Code == *b.Code
}

func (l *linter) entityCovers(a, b *EntityMatch) bool {
	if a.Services != "" || b.Services != "" {
		return a.Services == b.Services && a.IsEmptyBut()
	}
	if a.Selector != nil && !l.covers(a.Selector, b.Selector) {
		return false
	}
	if a.NotSelector != nil && (b.NotSelector == nil || a.NotSelector.String() != b.NotSelector.String()) {
		return false
	}
	if len(a.Nets) > 0 {
		if len(b.Nets) == 0 {
			return false
		}
		for _, n := range b.Nets {
			if !prefixCovered(a.Nets, n) {
				return false
			}
		}
	}
	for _, x := range a.NotNets {
		// b must exclude x too, or never match inside it.
		if prefixCovered(b.NotNets, x) {
			continue
		}
		if len(b.Nets) > 0 && !anyOverlap(b.Nets, x) {
			continue
		}
		return false
	}
	if len(a.Ports) > 0 {
		if len(b.Ports) == 0 {
			return false
		}
		for _, pb := range b.Ports {
			if !portCovered(a.Ports, pb) {
				return false
			}
		}
	}
	for _, x := range a.NotPorts {
		if portCovered(b.NotPorts, x) {
			continue
		}
		if len(b.Ports) > 0 && x.Name == "" && !portsOverlap(b.Ports, x) {
			continue
		}
		return false
	}
	return true
}

// IsEmptyBut reports whether only Services is set.
func (e *EntityMatch) IsEmptyBut() bool {
	c := *e
	c.Services = ""
	return c.IsEmpty()
}

func prefixCovered(nets []netip.Prefix, p netip.Prefix) bool {
	for _, n := range nets {
		if n.Bits() <= p.Bits() && n.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

func anyOverlap(nets []netip.Prefix, p netip.Prefix) bool {
	for _, n := range nets {
		if n.Overlaps(p) {
			return true
		}
	}
	return false
}

func portCovered(ps []PortMatch, p PortMatch) bool {
	for _, a := range ps {
		if p.Name != "" {
			if a.Name == p.Name {
				return true
			}
			continue
		}
		if a.Name == "" && a.Lo <= p.Lo && p.Hi <= a.Hi {
			return true
		}
	}
	return false
}

func portsOverlap(ps []PortMatch, p PortMatch) bool {
	for _, a := range ps {
		if a.Name != "" || a.Lo <= p.Hi && p.Lo <= a.Hi {
			return true
		}
	}
	return false
}

func isWorld(p netip.Prefix) bool { return p.Bits() == 0 }

// openSource reports whether a rule side matches every external address:
// no selector, nets or service limit it (notNets and notSelector only carve
// exceptions out of it).
func openSource(e *EntityMatch) bool {
	return e.Selector == nil && len(e.Nets) == 0 && e.Services == ""
}

func (l *linter) allowWorld() {
	for _, p := range l.cfg.Policies {
		for _, d := range []Direction{Ingress, Egress} {
			if !p.Applies(d) {
				continue
			}
			for i := range p.Rules(d) {
				r := &p.Rules(d)[i]
				if r.Action != ActionAllow {
					continue
				}
				side := &r.Src
				if d == Egress {
					side = &r.Dst
				}
				var world []string
				for _, n := range side.Nets {
					if isWorld(n) {
						world = append(world, n.String())
					}
				}
				if d == Ingress && openSource(side) {
					// No source restriction (a Kubernetes "from" left out, a
					// Calico rule without source): every address matches.
					if r.IPVersion != 6 {
						world = append(world, "0.0.0.0/0")
					}
					if r.IPVersion != 4 {
						world = append(world, "::/0")
					}
				}
				if len(world) == 0 {
					continue
				}
				restricted := r.Protocol != nil || len(r.Dst.Ports) > 0 || len(side.NotNets) > 0
				sev := model.SeverityHigh
				switch {
				case d == Ingress && restricted, d == Egress && !restricted:
					sev = model.SeverityMedium
				case d == Egress:
					sev = model.SeverityLow
				}
				what := "from anywhere"
				if d == Egress {
					what = "to anywhere"
				}
				scope := "on every port and protocol"
				if restricted {
					scope = "with restrictions: " + ruleText(r)
				}
				l.add(model.Finding{
					RuleID: LintAllowWorld, Severity: sev, Subject: p.ID(),
					Title:       fmt.Sprintf("%s allows %s (%s) %s", ruleName(p, d, r), what, strings.Join(world, ", "), scope),
					Evidence:    fmt.Sprintf("%s %s %s rule %d: Allow %s", p.Kind, p.ID(), d, r.Index, ruleText(r)),
					Location:    r.Source.String(),
					Remediation: "allow only the networks and ports that need access (nets, a NetworkSet, ports)",
				})
			}
		}
	}
}

// ruleText is a short description of what a rule matches.
func ruleText(r *Rule) string {
	var parts []string
	if r.Protocol != nil {
		parts = append(parts, "protocol "+ProtoName(*r.Protocol))
	}
	if r.NotProtocol != nil {
		parts = append(parts, "notProtocol "+ProtoName(*r.NotProtocol))
	}
	side := func(name string, e *EntityMatch) {
		if e.Selector != nil {
			parts = append(parts, name+" selector "+e.Selector.String())
		}
		if e.NotSelector != nil {
			parts = append(parts, name+" notSelector "+e.NotSelector.String())
		}
		if len(e.Nets) > 0 {
			parts = append(parts, name+" nets "+prefixes(e.Nets))
		}
		if len(e.NotNets) > 0 {
			parts = append(parts, name+" notNets "+prefixes(e.NotNets))
		}
		if len(e.Ports) > 0 {
			parts = append(parts, name+" ports "+portList(e.Ports))
		}
		if len(e.NotPorts) > 0 {
			parts = append(parts, name+" notPorts "+portList(e.NotPorts))
		}
	}
	side("source", &r.Src)
	side("destination", &r.Dst)
	if len(parts) == 0 {
		return "all traffic"
	}
	return strings.Join(parts, ", ")
}

func prefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func portList(ps []PortMatch) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func (l *linter) selectsNothing() {
	for _, p := range l.cfg.Policies {
		if len(l.matches(p.Selector)) == 0 {
			l.add(model.Finding{
				RuleID: LintSelectsNothing, Severity: model.SeverityLow, Subject: p.ID(),
				Title:       "policy selects no endpoint",
				Evidence:    fmt.Sprintf("%s %s: selector %s matches none of %d endpoints", p.Kind, p.ID(), p.Selector, len(l.cfg.Endpoints)),
				Location:    p.Source.String(),
				Remediation: "check the selector's labels and the policy's namespace",
			})
		}
	}
}

func (l *linter) noDefaultDeny() {
	type nsInfo struct {
		total     int
		uncovered [2][]string
	}
	// covered[d][class]: some policy for direction d selects the class.
	l.endpointClasses()
	var covered [2][]bool
	for _, d := range []Direction{Ingress, Egress} {
		covered[d] = make([]bool, len(l.classes))
		for _, p := range l.cfg.Policies {
			if p.Applies(d) {
				for _, c := range l.matches(p.Selector) {
					covered[d][c] = true
				}
			}
		}
	}
	byNS := map[string]*nsInfo{}
	var names []string
	for _, e := range l.cfg.Endpoints {
		if e.Namespace == "" {
			continue
		}
		in, ok := byNS[e.Namespace]
		if !ok {
			in = &nsInfo{}
			byNS[e.Namespace] = in
			names = append(names, e.Namespace)
		}
		in.total++
		for _, d := range []Direction{Ingress, Egress} {
			if !covered[d][l.classOf[e]] {
				in.uncovered[d] = append(in.uncovered[d], e.Name)
			}
		}
	}
	slices.Sort(names)
	for _, ns := range names {
		in := byNS[ns]
		for _, d := range []Direction{Ingress, Egress} {
			u := in.uncovered[d]
			if len(u) == 0 {
				continue
			}
			sev := model.SeverityMedium
			if d == Egress {
				sev = model.SeverityLow
			}
			loc := ""
			if n, ok := l.cfg.Namespaces[ns]; ok {
				loc = n.Source.String()
			}
			sample := u
			if len(sample) > 5 {
				sample = append(slices.Clone(sample[:5]), "…")
			}
			l.add(model.Finding{
				RuleID: LintNoDefaultDeny, Severity: sev, Subject: ns,
				Title:    fmt.Sprintf("namespace %s has workloads with no default-deny %s policy", ns, d),
				Evidence: fmt.Sprintf("%d of %d endpoints are selected by no %s policy, so all their %s traffic is allowed: %s", len(u), in.total, d, d, strings.Join(sample, ", ")),
				Location: loc,
				Remediation: fmt.Sprintf("add a default-deny policy for the namespace, e.g. a NetworkPolicy with podSelector: {} and policyTypes: [%s]",
					map[Direction]string{Ingress: "Ingress", Egress: "Egress"}[d]),
			})
		}
	}
}

// danglingSelectors reports rule selectors that match no endpoint and no
// network set: usually a reference to a NetworkSet that does not exist.
func (l *linter) danglingSelectors() {
	cache := map[string]bool{}
	matches := func(s *selector.Selector) bool {
		key := s.String()
		if v, ok := cache[key]; ok {
			return v
		}
		v := len(l.matches(s)) > 0
		for _, ns := range l.cfg.Sets {
			if !v && s.Matches(ns.Labels) {
				v = true
			}
		}
		cache[key] = v
		return v
	}
	for _, p := range l.cfg.Policies {
		for _, d := range []Direction{Ingress, Egress} {
			if !p.Applies(d) {
				continue
			}
			for i := range p.Rules(d) {
				r := &p.Rules(d)[i]
				for _, side := range []struct {
					name string
					e    *EntityMatch
				}{{"source", &r.Src}, {"destination", &r.Dst}} {
					if side.e.Selector == nil || matches(side.e.Selector) {
						continue
					}
					l.add(model.Finding{
						RuleID: LintDanglingSelector, Severity: model.SeverityMedium, Subject: p.ID(),
						Title:       fmt.Sprintf("%s %s selector matches no endpoint or network set", ruleName(p, d, r), side.name),
						Evidence:    fmt.Sprintf("%s %s %s rule %d: %s selector %s", p.Kind, p.ID(), d, r.Index, side.name, side.e.Selector),
						Location:    r.Source.String(),
						Remediation: "create the NetworkSet / GlobalNetworkSet (or workloads) it refers to, or fix the labels",
					})
				}
			}
		}
	}
}

// matchKey describes everything a rule matches, without its action.
func matchKey(r *Rule) string {
	c := *r
	c.Action, c.Index = 0, 0
	var b strings.Builder
	fmt.Fprintf(&b, "%d|", c.IPVersion)
	if c.Protocol != nil {
		fmt.Fprintf(&b, "p%d", *c.Protocol)
	}
	if c.NotProtocol != nil {
		fmt.Fprintf(&b, "!p%d", *c.NotProtocol)
	}
	icmp := func(prefix string, m *ICMPMatch) {
		if m == nil {
			return
		}
		fmt.Fprintf(&b, "%si%d", prefix, m.Type)
		if m.Code != nil {
			fmt.Fprintf(&b, "/%d", *m.Code)
		}
	}
	icmp("", c.ICMP)
	icmp("!", c.NotICMP)
	fmt.Fprintf(&b, "|s%q|d%q|h%v", c.Src.Services, c.Dst.Services, c.HTTP)
	b.WriteString("|" + ruleText(r))
	return b.String()
}

// conflicts finds an Allow and a Deny rule with identical matches in one
// tier and direction, in policies that select a common endpoint (or the same
// selector when there are no endpoints): only the first one ever decides.
func (l *linter) conflicts() {
	l.shadowed()
	shadowed := l.shadowedRules
	type entry struct {
		p *Policy
		r *Rule
	}
	overlap := func(a, b *Policy) bool {
		if len(l.cfg.Endpoints) == 0 {
			return a.Selector.String() == b.Selector.String()
		}
		ma, mb := l.matches(a.Selector), l.matches(b.Selector)
		for i, j := 0, 0; i < len(ma) && j < len(mb); {
			switch {
			case ma[i] == mb[j]:
				return true
			case ma[i] < mb[j]:
				i++
			default:
				j++
			}
		}
		return false
	}
	for ti, tier := range l.cfg.Tiers {
		for _, d := range []Direction{Ingress, Egress} {
			groups := map[string][]entry{}
			var keys []string
			for _, p := range l.cfg.byTier[ti] {
				if !p.Applies(d) {
					continue
				}
				for i := range p.Rules(d) {
					r := &p.Rules(d)[i]
					if r.Action != ActionAllow && r.Action != ActionDeny {
						continue
					}
					k := matchKey(r)
					if _, ok := groups[k]; !ok {
						keys = append(keys, k)
					}
					groups[k] = append(groups[k], entry{p, r})
				}
			}
			for _, k := range keys {
				g := groups[k]
				for i := 0; i < len(g); i++ {
					for j := i + 1; j < len(g); j++ {
						a, b := g[i], g[j]
						if a.r.Action == b.r.Action || shadowed[b.r] || !overlap(a.p, b.p) {
							continue
						}
						l.add(model.Finding{
							RuleID: LintAllowDenyOverlap, Severity: model.SeverityMedium, Subject: b.p.ID(),
							Title: fmt.Sprintf("%s and %s cover the same traffic in tier %s", a.r.Action, b.r.Action, tier.Name),
							Evidence: fmt.Sprintf("%s %s rule %d (%s, %s) and %s %s rule %d (%s, %s) both match %s; %s is evaluated first and wins",
								a.p.ID(), d, a.r.Index, a.r.Action, a.r.Source, b.p.ID(), d, b.r.Index, b.r.Action, b.r.Source, ruleText(b.r), a.p.ID()),
							Location:    b.r.Source.String(),
							Remediation: "decide which verdict is intended and remove the other rule, or give the policies distinct selectors",
						})
					}
				}
			}
		}
	}
}
