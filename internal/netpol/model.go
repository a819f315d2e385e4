// Package netpol is Lockdown's network policy engine. It takes Calico v3 and
// Kubernetes NetworkPolicy resources (package calicov3 and k8s.io/api, read
// by package load) to one normalised form (Policy, Rule, EntityMatch: the
// same for both APIs, with Calico's selector rewrites applied), and answers
// "what can talk to what, and why" with Calico's semantics:
//
//   - Evaluate / Explain: a simple reference evaluator that walks tiers,
//     policies and rules for one flow;
//   - Compile / Engine.Matrix: a compiled evaluator that groups endpoints no
//     policy can tell apart and caches verdicts per group, for all pairs;
//   - Lint, Diff: findings and changes built on the two.
//
// Rule matching is kept as (source set, destination set, protocol, ports)
// terms so a later compiler can turn it into nftables rules.
package netpol

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/netpol/calicov3"
	"github.com/lockdown-sec/lockdown/internal/netpol/load"
	"github.com/lockdown-sec/lockdown/internal/netpol/selector"
)

// Action is what a rule does with a flow it matches.
type Action uint8

const (
	ActionAllow Action = iota + 1
	ActionDeny
	ActionPass
	ActionLog
)

func (a Action) String() string {
	switch a {
	case ActionAllow:
		return "Allow"
	case ActionDeny:
		return "Deny"
	case ActionPass:
		return "Pass"
	case ActionLog:
		return "Log"
	}
	return "?"
}

// MarshalText writes the action name.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// Direction is ingress (traffic to the endpoint) or egress (from it).
type Direction uint8

const (
	Ingress Direction = iota
	Egress
)

func (d Direction) String() string {
	if d == Egress {
		return "egress"
	}
	return "ingress"
}

// MarshalText writes the direction name.
func (d Direction) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// PortMatch is a port range (Lo..Hi) or a named port (Name set).
type PortMatch struct {
	Lo, Hi uint16
	Name   string
}

func (p PortMatch) String() string {
	switch {
	case p.Name != "":
		return p.Name
	case p.Lo == p.Hi:
		return strconv.Itoa(int(p.Lo))
	}
	return fmt.Sprintf("%d:%d", p.Lo, p.Hi)
}

// ICMPMatch matches an ICMP type and, optionally, code.
type ICMPMatch struct {
	Type int
	Code *int
}

func (m ICMPMatch) matches(typ, code int) bool {
	return typ == m.Type && (m.Code == nil || *m.Code == code)
}

// EntityMatch is the source or destination side of a rule. Every set field
// must match. Selector is the full Calico selector (rule selector, namespace
// selector, service accounts and the policy's namespace combined); the
// selected set is the endpoints it matches plus the nets of the network sets
// it matches.
type EntityMatch struct {
	Selector    *selector.Selector `json:"-"`
	NotSelector *selector.Selector `json:"-"`
	Nets        []netip.Prefix
	NotNets     []netip.Prefix
	Ports       []PortMatch
	NotPorts    []PortMatch
	// Services is the "namespace/name" of the Kubernetes Service the side
	// names (Config.Services; a Service that is not among the inputs
	// matches nothing). The peer must be one of its endpoints and, on the
	// destination side, the port one it forwards to.
	Services string
}

// IsEmpty reports whether the side matches everything.
func (e *EntityMatch) IsEmpty() bool {
	return e.Selector == nil && e.NotSelector == nil && len(e.Nets) == 0 && len(e.NotNets) == 0 &&
		len(e.Ports) == 0 && len(e.NotPorts) == 0 && e.Services == ""
}

// Rule is one normalised rule.
type Rule struct {
	Action      Action
	IPVersion   int       // 0 (any), 4 or 6
	Protocol    *Protocol // nil: any
	NotProtocol *Protocol
	ICMP        *ICMPMatch
	NotICMP     *ICMPMatch
	Src, Dst    EntityMatch
	HTTP        bool // has an HTTP match (application layer; not evaluated)

	Index  int         // position in the policy's list for its direction
	Source load.Source // file:line of the rule
}

// Policy is a Calico NetworkPolicy, GlobalNetworkPolicy (or their staged
// variants) or a Kubernetes NetworkPolicy as Calico renders it.
type Policy struct {
	Kind      string // calicov3 kind, or KindK8sNetworkPolicy
	Namespace string // "" for global policies
	Name      string // as written
	// Key is Calico's internal name, used to break order ties:
	// "namespace/name" or "name"; Kubernetes policies "namespace/knp.default.name".
	Key      string
	Tier     string
	Order    *float64
	Selector *selector.Selector // full applicability selector
	Ingress  []Rule
	Egress   []Rule
	// ApplyIngress / ApplyEgress: the policy's types.
	ApplyIngress, ApplyEgress bool
	Staged                    bool
	DoNotTrack, PreDNAT       bool
	ApplyOnForward            bool
	Source                    load.Source

	idx int // position in Config.Policies
}

// KindK8sNetworkPolicy marks a networking.k8s.io/v1 NetworkPolicy.
const KindK8sNetworkPolicy = "KubernetesNetworkPolicy"

// ID is "namespace/name" or "name".
func (p *Policy) ID() string {
	if p.Namespace != "" {
		return p.Namespace + "/" + p.Name
	}
	return p.Name
}

// Rules returns the rules for a direction.
func (p *Policy) Rules(d Direction) []Rule {
	if d == Egress {
		return p.Egress
	}
	return p.Ingress
}

// Applies reports whether the policy has the direction in its types.
func (p *Policy) Applies(d Direction) bool {
	if d == Egress {
		return p.ApplyEgress
	}
	return p.ApplyIngress
}

// Tier groups policies; tiers run in order.
type Tier struct {
	Name          string
	Order         *float64
	DefaultAction Action // ActionDeny or ActionPass
	Missing       bool   // referenced by a policy but not defined
	Source        load.Source
}

// DefaultTierOrder is the order of Calico's built-in default tier.
const DefaultTierOrder = 1_000_000

// Profile holds rules applied after all tiers, and labels for endpoints.
type Profile struct {
	Name          string
	Ingress       []Rule
	Egress        []Rule
	LabelsToApply map[string]string
	BuiltIn       bool
	Source        load.Source
}

// Rules returns the rules for a direction.
func (p *Profile) Rules(d Direction) []Rule {
	if d == Egress {
		return p.Egress
	}
	return p.Ingress
}

// NetworkSet is a (Global)NetworkSet: labels and nets.
type NetworkSet struct {
	Namespace string // "" for GlobalNetworkSet
	Name      string
	Labels    map[string]string // effective labels (with namespace labels)
	Nets      []netip.Prefix
	Source    load.Source
}

// ID is "namespace/name" or "name".
func (n *NetworkSet) ID() string {
	if n.Namespace != "" {
		return n.Namespace + "/" + n.Name
	}
	return n.Name
}

// Contains reports whether ip is in one of the set's nets.
func (n *NetworkSet) Contains(ip netip.Addr) bool {
	return ip.IsValid() && containsAddr(n.Nets, ip)
}

func containsAddr(nets []netip.Prefix, ip netip.Addr) bool {
	for _, p := range nets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Endpoint kinds.
const (
	EndpointPod       = "pod"
	EndpointHost      = "hostendpoint"
	EndpointContainer = "container"
)

// NamedPort is a port an endpoint declares (container port, host endpoint
// port, published port).
type NamedPort struct {
	Name     string   `json:"name,omitempty"`
	Protocol Protocol `json:"-"`
	Port     uint16   `json:"port"`
}

// Endpoint is a workload (pod, container) or host endpoint.
type Endpoint struct {
	Kind      string
	Namespace string // "" for host endpoints
	Name      string
	// Labels are the effective labels Calico evaluates: the endpoint's own,
	// projectcalico.org/namespace, …/orchestrator, …/serviceaccount, and the
	// namespace and service account labels under the pcns. and pcsa.
	// prefixes.
	Labels         map[string]string
	OwnLabels      map[string]string
	IPs            []netip.Addr
	Ports          []NamedPort
	ServiceAccount string
	Profiles       []string
	Networks       []string // Docker networks
	Source         load.Source
}

// ID is "namespace/name" or "name".
func (e *Endpoint) ID() string {
	if e.Namespace != "" {
		return e.Namespace + "/" + e.Name
	}
	return e.Name
}

// Addr returns the endpoint's first address of the family (4 or 6).
func (e *Endpoint) Addr(family int) netip.Addr {
	for _, ip := range e.IPs {
		if family == 6 && ip.Is6() && !ip.Is4In6() || family != 6 && (ip.Is4() || ip.Is4In6()) {
			return ip.Unmap()
		}
	}
	return netip.Addr{}
}

// NamedPort resolves a named port for a protocol.
func (e *Endpoint) NamedPort(name string, proto Protocol) (uint16, bool) {
	if e == nil {
		return 0, false
	}
	for _, p := range e.Ports {
		if p.Name == name && p.Protocol == proto {
			return p.Port, true
		}
	}
	return 0, false
}

// Namespace is a Kubernetes namespace with its labels.
type Namespace struct {
	Name   string
	Labels map[string]string
	Source load.Source
}

// Warning is a problem that does not stop evaluation.
type Warning struct {
	Source  load.Source `json:"source"`
	Message string      `json:"message"`
}

func (w Warning) String() string { return w.Source.String() + ": " + w.Message }

// Config is the normalised world: tiers, policies, network sets, profiles
// and endpoints, sorted for evaluation.
type Config struct {
	Tiers    []*Tier   // sorted by order, unset last, ties by name
	Policies []*Policy // enforced policies, sorted by tier then order then key
	// Untracked (doNotTrack) and PreDNAT policies act on host endpoints
	// before the normal policies, sorted as Policies.
	Untracked  []*Policy
	PreDNAT    []*Policy
	Staged     []*Policy // staged policies: parsed and reported, never enforced
	Services   map[string]*Service
	Sets       []*NetworkSet
	Profiles   map[string]*Profile
	Namespaces map[string]*Namespace
	Endpoints  []*Endpoint
	Warnings   []Warning

	tierIndex map[string]int
	byTier    [][]*Policy    // enforced normal policies per tier, aligned with Tiers
	byStage   [3][][]*Policy // the same per stage (byStage[StageNormal] is byTier)
}

// Stage is when a policy acts on a packet: untracked (doNotTrack) policies
// first, before connection tracking; then preDNAT policies on host
// endpoint ingress, before Docker's DNAT; then the normal policies.
type Stage uint8

const (
	StageNormal Stage = iota
	StageUntracked
	StagePreDNAT
)

func (s Stage) String() string {
	switch s {
	case StageUntracked:
		return "untracked"
	case StagePreDNAT:
		return "preDNAT"
	}
	return "normal"
}

// StagePolicies returns the enforced policies of a stage, in order.
func (c *Config) StagePolicies(s Stage) []*Policy {
	switch s {
	case StageUntracked:
		return c.Untracked
	case StagePreDNAT:
		return c.PreDNAT
	}
	return c.Policies
}

// TierPolicies returns the policies of a stage in tier ti (an index into
// Tiers), in order.
func (c *Config) TierPolicies(s Stage, ti int) []*Policy { return c.byStage[s][ti] }

// TierOf returns the tier named name (nil if none).
func (c *Config) TierOf(name string) *Tier {
	if i, ok := c.tierIndex[name]; ok {
		return c.Tiers[i]
	}
	return nil
}

func cmpOrder(a, b *float64) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return cmp.Compare(*a, *b)
}

// sortConfig orders tiers and policies as Calico does.
func (c *Config) sortConfig() {
	slices.SortStableFunc(c.Tiers, func(a, b *Tier) int {
		if r := cmpOrder(a.Order, b.Order); r != 0 {
			return r
		}
		return strings.Compare(a.Name, b.Name)
	})
	c.tierIndex = make(map[string]int, len(c.Tiers))
	for i, t := range c.Tiers {
		c.tierIndex[t.Name] = i
	}
	byPolicy := func(a, b *Policy) int {
		if r := cmp.Compare(c.tierIndex[a.Tier], c.tierIndex[b.Tier]); r != 0 {
			return r
		}
		if r := cmpOrder(a.Order, b.Order); r != 0 {
			return r
		}
		return strings.Compare(a.Key, b.Key)
	}
	slices.SortStableFunc(c.Staged, byPolicy)
	for st := range c.byStage {
		pols := c.StagePolicies(Stage(st))
		slices.SortStableFunc(pols, byPolicy)
		c.byStage[st] = make([][]*Policy, len(c.Tiers))
		for i, p := range pols {
			p.idx = i
			i := c.tierIndex[p.Tier]
			c.byStage[st][i] = append(c.byStage[st][i], p)
		}
	}
	c.byTier = c.byStage[StageNormal]
	slices.SortStableFunc(c.Endpoints, func(a, b *Endpoint) int { return strings.Compare(a.ID(), b.ID()) })
}

// Endpoint finds an endpoint by "namespace/name", bare name (if unique), or IP.
func (c *Config) Endpoint(ref string) (*Endpoint, error) {
	if ip, err := netip.ParseAddr(ref); err == nil {
		ip = ip.Unmap()
		for _, e := range c.Endpoints {
			if slices.Contains(e.IPs, ip) {
				return e, nil
			}
		}
		return nil, nil
	}
	var found []*Endpoint
	for _, e := range c.Endpoints {
		if e.ID() == ref {
			return e, nil
		}
		if e.Name == ref {
			found = append(found, e)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no endpoint %q (want namespace/pod, a container or host endpoint name, or an IP)", ref)
	case 1:
		return found[0], nil
	}
	ids := make([]string, len(found))
	for i, e := range found {
		ids[i] = e.ID()
	}
	return nil, fmt.Errorf("endpoint %q is ambiguous: %s", ref, strings.Join(ids, ", "))
}

// builtinAllow is Calico's projectcalico-default-allow profile.
const builtinAllowProfile = "projectcalico-default-allow"

func allowAllProfile(name string) *Profile {
	return &Profile{
		Name:    name,
		Ingress: []Rule{{Action: ActionAllow}},
		Egress:  []Rule{{Action: ActionAllow}},
		BuiltIn: true,
	}
}

// profile returns the profile named name, including Calico's implicit ones
// (kns.<namespace> allows all, ksa.<ns>.<sa> has no rules).
func (c *Config) profile(name string) *Profile {
	if p, ok := c.Profiles[name]; ok {
		return p
	}
	switch {
	case name == builtinAllowProfile, strings.HasPrefix(name, "kns."):
		return allowAllProfile(name)
	case strings.HasPrefix(name, "ksa."):
		return &Profile{Name: name, BuiltIn: true}
	}
	return nil
}

var _ = calicov3.APIVersion
