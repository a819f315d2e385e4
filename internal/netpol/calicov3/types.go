// Package calicov3 holds the user-facing Calico projectcalico.org/v3
// resources that Lockdown reads: the fields Calico documents for each kind,
// with Calico's JSON names. These are input types only; the policy engine
// works on the normalised form in package netpol.
//
// projectcalico/api is not available to this module, so the types are
// written here. Values that Calico accepts as "number or string" (ports,
// protocols) are kept as written and checked when normalised, so errors can
// name the line they came from.
package calicov3

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Group is the API group and version of every kind here.
const (
	Group      = "projectcalico.org"
	APIVersion = "projectcalico.org/v3"
)

// Kinds.
const (
	KindNetworkPolicy             = "NetworkPolicy"
	KindGlobalNetworkPolicy       = "GlobalNetworkPolicy"
	KindStagedNetworkPolicy       = "StagedNetworkPolicy"
	KindStagedGlobalNetworkPolicy = "StagedGlobalNetworkPolicy"
	KindNetworkSet                = "NetworkSet"
	KindGlobalNetworkSet          = "GlobalNetworkSet"
	KindTier                      = "Tier"
	KindHostEndpoint              = "HostEndpoint"
	KindProfile                   = "Profile"
)

// Automatic labels Calico attaches to endpoints and the prefixes it uses for
// namespace and service account labels.
const (
	LabelNamespace      = "projectcalico.org/namespace"
	LabelName           = "projectcalico.org/name"
	LabelOrchestrator   = "projectcalico.org/orchestrator"
	LabelServiceAccount = "projectcalico.org/serviceaccount"
	NamespaceLabelPref  = "pcns."
	SALabelPrefix       = "pcsa."
	OrchestratorK8s     = "k8s"
	DefaultTierName     = "default"
)

// Action is a rule action.
type Action string

const (
	Allow Action = "Allow"
	Deny  Action = "Deny"
	Log   Action = "Log"
	Pass  Action = "Pass"
)

// PolicyType is a direction a policy applies to.
type PolicyType string

const (
	PolicyTypeIngress PolicyType = "Ingress"
	PolicyTypeEgress  PolicyType = "Egress"
)

// NetworkPolicy is a namespaced Calico policy.
type NetworkPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              NetworkPolicySpec `json:"spec,omitempty"`
}

// NetworkPolicySpec is the body of a NetworkPolicy.
type NetworkPolicySpec struct {
	Tier                   string       `json:"tier,omitempty"`
	Order                  *float64     `json:"order,omitempty"`
	Ingress                []Rule       `json:"ingress,omitempty"`
	Egress                 []Rule       `json:"egress,omitempty"`
	Selector               string       `json:"selector,omitempty"`
	Types                  []PolicyType `json:"types,omitempty"`
	ServiceAccountSelector string       `json:"serviceAccountSelector,omitempty"`
	PerformanceHints       []string     `json:"performanceHints,omitempty"`
}

// GlobalNetworkPolicy is a cluster-wide Calico policy.
type GlobalNetworkPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              GlobalNetworkPolicySpec `json:"spec,omitempty"`
}

// GlobalNetworkPolicySpec is the body of a GlobalNetworkPolicy.
type GlobalNetworkPolicySpec struct {
	Tier                   string       `json:"tier,omitempty"`
	Order                  *float64     `json:"order,omitempty"`
	Ingress                []Rule       `json:"ingress,omitempty"`
	Egress                 []Rule       `json:"egress,omitempty"`
	Selector               string       `json:"selector,omitempty"`
	Types                  []PolicyType `json:"types,omitempty"`
	DoNotTrack             bool         `json:"doNotTrack,omitempty"`
	PreDNAT                bool         `json:"preDNAT,omitempty"`
	ApplyOnForward         bool         `json:"applyOnForward,omitempty"`
	ServiceAccountSelector string       `json:"serviceAccountSelector,omitempty"`
	NamespaceSelector      string       `json:"namespaceSelector,omitempty"`
	PerformanceHints       []string     `json:"performanceHints,omitempty"`
}

// StagedAction says what a staged policy would do to its enforced twin.
type StagedAction string

// StagedNetworkPolicy is a NetworkPolicy that is reported, never enforced.
type StagedNetworkPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              StagedNetworkPolicySpec `json:"spec,omitempty"`
}

// StagedNetworkPolicySpec is NetworkPolicySpec plus stagedAction.
type StagedNetworkPolicySpec struct {
	StagedAction           StagedAction `json:"stagedAction,omitempty"`
	Tier                   string       `json:"tier,omitempty"`
	Order                  *float64     `json:"order,omitempty"`
	Ingress                []Rule       `json:"ingress,omitempty"`
	Egress                 []Rule       `json:"egress,omitempty"`
	Selector               string       `json:"selector,omitempty"`
	Types                  []PolicyType `json:"types,omitempty"`
	ServiceAccountSelector string       `json:"serviceAccountSelector,omitempty"`
	PerformanceHints       []string     `json:"performanceHints,omitempty"`
}

// StagedGlobalNetworkPolicy is a GlobalNetworkPolicy that is reported, never
// enforced.
type StagedGlobalNetworkPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              StagedGlobalNetworkPolicySpec `json:"spec,omitempty"`
}

// StagedGlobalNetworkPolicySpec is GlobalNetworkPolicySpec plus stagedAction.
type StagedGlobalNetworkPolicySpec struct {
	StagedAction           StagedAction `json:"stagedAction,omitempty"`
	Tier                   string       `json:"tier,omitempty"`
	Order                  *float64     `json:"order,omitempty"`
	Ingress                []Rule       `json:"ingress,omitempty"`
	Egress                 []Rule       `json:"egress,omitempty"`
	Selector               string       `json:"selector,omitempty"`
	Types                  []PolicyType `json:"types,omitempty"`
	DoNotTrack             bool         `json:"doNotTrack,omitempty"`
	PreDNAT                bool         `json:"preDNAT,omitempty"`
	ApplyOnForward         bool         `json:"applyOnForward,omitempty"`
	ServiceAccountSelector string       `json:"serviceAccountSelector,omitempty"`
	NamespaceSelector      string       `json:"namespaceSelector,omitempty"`
	PerformanceHints       []string     `json:"performanceHints,omitempty"`
}

// Rule is one policy or profile rule.
type Rule struct {
	Action      Action        `json:"action"`
	IPVersion   *int          `json:"ipVersion,omitempty"`
	Protocol    *Protocol     `json:"protocol,omitempty"`
	ICMP        *ICMPFields   `json:"icmp,omitempty"`
	NotProtocol *Protocol     `json:"notProtocol,omitempty"`
	NotICMP     *ICMPFields   `json:"notICMP,omitempty"`
	Source      EntityRule    `json:"source,omitempty"`
	Destination EntityRule    `json:"destination,omitempty"`
	HTTP        *HTTPMatch    `json:"http,omitempty"`
	Metadata    *RuleMetadata `json:"metadata,omitempty"`
}

// ICMPFields matches an ICMP type and, optionally, code.
type ICMPFields struct {
	Type *int `json:"type,omitempty"`
	Code *int `json:"code,omitempty"`
}

// EntityRule matches the source or destination of a flow.
type EntityRule struct {
	Nets              []string             `json:"nets,omitempty"`
	Selector          string               `json:"selector,omitempty"`
	NamespaceSelector string               `json:"namespaceSelector,omitempty"`
	Services          *ServiceMatch        `json:"services,omitempty"`
	Ports             []Port               `json:"ports,omitempty"`
	NotNets           []string             `json:"notNets,omitempty"`
	NotSelector       string               `json:"notSelector,omitempty"`
	NotPorts          []Port               `json:"notPorts,omitempty"`
	ServiceAccounts   *ServiceAccountMatch `json:"serviceAccounts,omitempty"`
}

// ServiceAccountMatch matches endpoints by service account name and labels.
type ServiceAccountMatch struct {
	Names    []string `json:"names,omitempty"`
	Selector string   `json:"selector,omitempty"`
}

// ServiceMatch names a Kubernetes Service.
type ServiceMatch struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// HTTPMatch is an application-layer match (enforced by Calico's L7 proxy).
type HTTPMatch struct {
	Methods []string   `json:"methods,omitempty"`
	Paths   []HTTPPath `json:"paths,omitempty"`
}

// HTTPPath is one path match.
type HTTPPath struct {
	Exact  string `json:"exact,omitempty"`
	Prefix string `json:"prefix,omitempty"`
}

// RuleMetadata carries annotations of a rule.
type RuleMetadata struct {
	Annotations map[string]string `json:"annotations,omitempty"`
}

// NetworkSet is a namespaced, labelled set of CIDRs.
type NetworkSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              NetworkSetSpec `json:"spec,omitempty"`
}

// NetworkSetSpec lists the nets.
type NetworkSetSpec struct {
	Nets []string `json:"nets,omitempty"`
}

// GlobalNetworkSet is a cluster-wide, labelled set of CIDRs.
type GlobalNetworkSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              GlobalNetworkSetSpec `json:"spec,omitempty"`
}

// GlobalNetworkSetSpec lists the nets.
type GlobalNetworkSetSpec struct {
	Nets []string `json:"nets,omitempty"`
}

// Tier orders groups of policies.
type Tier struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              TierSpec `json:"spec,omitempty"`
}

// TierSpec: order (lower first; unset last) and the action when no policy
// in the tier decides (Deny, the default, or Pass).
type TierSpec struct {
	Order         *float64 `json:"order,omitempty"`
	DefaultAction *Action  `json:"defaultAction,omitempty"`
}

// HostEndpoint is a host interface protected by policy.
type HostEndpoint struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              HostEndpointSpec `json:"spec,omitempty"`
}

// HostEndpointSpec describes the interface and its addresses.
type HostEndpointSpec struct {
	Node          string         `json:"node,omitempty"`
	InterfaceName string         `json:"interfaceName,omitempty"`
	ExpectedIPs   []string       `json:"expectedIPs,omitempty"`
	Profiles      []string       `json:"profiles,omitempty"`
	Ports         []EndpointPort `json:"ports,omitempty"`
}

// EndpointPort is a named port of a host endpoint.
type EndpointPort struct {
	Name     string   `json:"name"`
	Protocol Protocol `json:"protocol"`
	Port     int64    `json:"port"`
}

// Profile holds rules applied after policies, and labels for its endpoints.
type Profile struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ProfileSpec `json:"spec,omitempty"`
}

// ProfileSpec is the body of a Profile.
type ProfileSpec struct {
	Ingress       []Rule            `json:"ingress,omitempty"`
	Egress        []Rule            `json:"egress,omitempty"`
	LabelsToApply map[string]string `json:"labelsToApply,omitempty"`
}

// NumOrString is a value Calico accepts as a number or a string (ports,
// protocols). It keeps what was written.
type NumOrString struct {
	IsNum bool
	Num   int64
	Str   string
}

// UnmarshalJSON accepts a JSON number or string.
func (v *NumOrString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		*v = NumOrString{}
		return json.Unmarshal(b, &v.Str)
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("want an integer or a string, got %s", b)
	}
	*v = NumOrString{IsNum: true, Num: n}
	return nil
}

// MarshalJSON writes the value as it was read.
func (v NumOrString) MarshalJSON() ([]byte, error) {
	if v.IsNum {
		return []byte(strconv.FormatInt(v.Num, 10)), nil
	}
	return json.Marshal(v.Str)
}

func (v NumOrString) String() string {
	if v.IsNum {
		return strconv.FormatInt(v.Num, 10)
	}
	return v.Str
}

// Protocol is a protocol name (TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite) or
// number 1-255.
type Protocol = NumOrString

// Port is a port number, a range "from:to", or a named port.
type Port = NumOrString
