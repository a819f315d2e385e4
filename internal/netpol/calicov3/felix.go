package calicov3

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The cluster configuration kinds read by `lockdown audit calico`: Felix
// (the per-node agent), IP pools, BGP and Calico's node resources. Calico
// adds fields to them in most releases, so their specs are read leniently:
// a field Lockdown does not know is kept by name in Unknown (and reported
// as not checked) instead of failing the document. Type errors in known
// fields are still errors.

// Kinds of cluster configuration.
const (
	KindFelixConfiguration = "FelixConfiguration"
	KindIPPool             = "IPPool"
	KindBGPConfiguration   = "BGPConfiguration"
	KindBGPPeer            = "BGPPeer"
	KindNode               = "Node"
)

// CRDAPIVersion is the apiVersion of the same kinds as `kubectl get` shows
// them on clusters without Calico's API server; their specs are the same.
const CRDAPIVersion = "crd.projectcalico.org/v1"

// FelixConfiguration configures Felix: "default" for every node,
// "node.<name>" for one node (its fields override the default's).
type FelixConfiguration struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              FelixConfigurationSpec `json:"spec,omitempty"`
}

// FelixConfigurationSpec holds the Felix settings the audit checks. Unset
// fields are nil or empty: Calico's default applies.
type FelixConfigurationSpec struct {
	WireguardEnabled               *bool  `json:"wireguardEnabled,omitempty"`
	WireguardEnabledV6             *bool  `json:"wireguardEnabledV6,omitempty"`
	WireguardInterfaceName         string `json:"wireguardInterfaceName,omitempty"`
	WireguardInterfaceNameV6       string `json:"wireguardInterfaceNameV6,omitempty"`
	WireguardListeningPort         *int   `json:"wireguardListeningPort,omitempty"`
	WireguardListeningPortV6       *int   `json:"wireguardListeningPortV6,omitempty"`
	WireguardMTU                   *int   `json:"wireguardMTU,omitempty"`
	WireguardMTUV6                 *int   `json:"wireguardMTUV6,omitempty"`
	WireguardRoutingRulePriority   *int   `json:"wireguardRoutingRulePriority,omitempty"`
	WireguardHostEncryptionEnabled *bool  `json:"wireguardHostEncryptionEnabled,omitempty"`
	WireguardKeepAlive             string `json:"wireguardKeepAlive,omitempty"`
	WireguardThreadingEnabled      *bool  `json:"wireguardThreadingEnabled,omitempty"`

	BPFEnabled                         *bool  `json:"bpfEnabled,omitempty"`
	BPFDisableUnprivileged             *bool  `json:"bpfDisableUnprivileged,omitempty"`
	BPFLogLevel                        string `json:"bpfLogLevel,omitempty"`
	BPFExternalServiceMode             string `json:"bpfExternalServiceMode,omitempty"`
	BPFConnectTimeLoadBalancingEnabled *bool  `json:"bpfConnectTimeLoadBalancingEnabled,omitempty"`
	BPFConnectTimeLoadBalancing        string `json:"bpfConnectTimeLoadBalancing,omitempty"`
	BPFKubeProxyIptablesCleanupEnabled *bool  `json:"bpfKubeProxyIptablesCleanupEnabled,omitempty"`

	FailsafeInboundHostPorts  *[]ProtoPort `json:"failsafeInboundHostPorts,omitempty"`
	FailsafeOutboundHostPorts *[]ProtoPort `json:"failsafeOutboundHostPorts,omitempty"`

	DefaultEndpointToHostAction    string  `json:"defaultEndpointToHostAction,omitempty"`
	ChainInsertMode                string  `json:"chainInsertMode,omitempty"`
	InterfacePrefix                string  `json:"interfacePrefix,omitempty"`
	WorkloadSourceSpoofing         string  `json:"workloadSourceSpoofing,omitempty"`
	AllowVXLANPacketsFromWorkloads *bool   `json:"allowVXLANPacketsFromWorkloads,omitempty"`
	AllowIPIPPacketsFromWorkloads  *bool   `json:"allowIPIPPacketsFromWorkloads,omitempty"`
	DebugPort                      *int    `json:"debugPort,omitempty"`
	DebugHost                      *string `json:"debugHost,omitempty"`
	IPv6Support                    *bool   `json:"ipv6Support,omitempty"`
	IPIPMTU                        *int    `json:"ipipMTU,omitempty"`
	VXLANMTU                       *int    `json:"vxlanMTU,omitempty"`
	VXLANMTUV6                     *int    `json:"vxlanMTUV6,omitempty"`
	VXLANPort                      *int    `json:"vxlanPort,omitempty"`

	LogFilePath       string `json:"logFilePath,omitempty"`
	LogSeverityScreen string `json:"logSeverityScreen,omitempty"`
	LogSeverityFile   string `json:"logSeverityFile,omitempty"`
	LogSeveritySys    string `json:"logSeveritySys,omitempty"`

	// Flow logs: Calico Open Source (3.30+) sends them to Goldmane;
	// Calico Enterprise writes them to files.
	FlowLogsGoldmaneServer string `json:"flowLogsGoldmaneServer,omitempty"`
	FlowLogsFlushInterval  string `json:"flowLogsFlushInterval,omitempty"`
	FlowLogsFileEnabled    *bool  `json:"flowLogsFileEnabled,omitempty"`

	// Unknown lists the spec fields present in the input that are not
	// above, in input order: read, not checked.
	Unknown []string `json:"-"`
}

// UnmarshalJSON reads the known fields and records the others in Unknown.
func (s *FelixConfigurationSpec) UnmarshalJSON(b []byte) error {
	type plain FelixConfigurationSpec
	return decodeLenient(b, (*plain)(s), &s.Unknown)
}

// ProtoPort is a failsafe port: protocol (tcp, udp, sctp; tcp when empty),
// port and an optional source (inbound) or destination (outbound) CIDR.
type ProtoPort struct {
	Protocol string `json:"protocol,omitempty"`
	Port     int    `json:"port"`
	Net      string `json:"net,omitempty"`
}

// String is "tcp:22" or "tcp:22 from 10.0.0.0/8".
func (p ProtoPort) String() string {
	proto := strings.ToLower(p.Protocol)
	if proto == "" {
		proto = "tcp"
	}
	s := fmt.Sprintf("%s:%d", proto, p.Port)
	if p.Net != "" {
		s += " " + p.Net
	}
	return s
}

// IPPool is a range pod addresses are assigned from, with how traffic from
// it is routed between nodes.
type IPPool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              IPPoolSpec `json:"spec,omitempty"`
}

// Encapsulation modes of an IP pool.
const (
	EncapAlways      = "Always"
	EncapCrossSubnet = "CrossSubnet"
	EncapNever       = "Never"
)

// IPPoolSpec is the body of an IPPool.
type IPPoolSpec struct {
	CIDR             string   `json:"cidr"`
	IPIPMode         string   `json:"ipipMode,omitempty"`
	VXLANMode        string   `json:"vxlanMode,omitempty"`
	NATOutgoing      bool     `json:"natOutgoing,omitempty"`
	Disabled         bool     `json:"disabled,omitempty"`
	DisableBGPExport bool     `json:"disableBGPExport,omitempty"`
	BlockSize        int      `json:"blockSize,omitempty"`
	NodeSelector     string   `json:"nodeSelector,omitempty"`
	AllowedUses      []string `json:"allowedUses,omitempty"`
	AssignmentMode   string   `json:"assignmentMode,omitempty"`

	Unknown []string `json:"-"`
}

// UnmarshalJSON reads the known fields and records the others in Unknown.
func (s *IPPoolSpec) UnmarshalJSON(b []byte) error {
	type plain IPPoolSpec
	return decodeLenient(b, (*plain)(s), &s.Unknown)
}

// SecretKeyRef names a key of a Kubernetes Secret.
type SecretKeyRef struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// BGPPassword is a BGP session password (TCP MD5) from a Secret.
type BGPPassword struct {
	SecretKeyRef *SecretKeyRef `json:"secretKeyRef,omitempty"`
}

// BGPConfiguration configures BGP: "default" for every node.
type BGPConfiguration struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              BGPConfigurationSpec `json:"spec,omitempty"`
}

// BGPConfigurationSpec holds the BGP settings the audit checks.
type BGPConfigurationSpec struct {
	NodeToNodeMeshEnabled *bool        `json:"nodeToNodeMeshEnabled,omitempty"`
	ASNumber              *uint32      `json:"asNumber,omitempty"`
	NodeMeshPassword      *BGPPassword `json:"nodeMeshPassword,omitempty"`
	LogSeverityScreen     string       `json:"logSeverityScreen,omitempty"`

	Unknown []string `json:"-"`
}

// UnmarshalJSON reads the known fields and records the others in Unknown.
func (s *BGPConfigurationSpec) UnmarshalJSON(b []byte) error {
	type plain BGPConfigurationSpec
	return decodeLenient(b, (*plain)(s), &s.Unknown)
}

// BGPPeer is a BGP session with a router or another node.
type BGPPeer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              BGPPeerSpec `json:"spec,omitempty"`
}

// BGPPeerSpec holds the peer settings the audit checks.
type BGPPeerSpec struct {
	Node         string       `json:"node,omitempty"`
	PeerIP       string       `json:"peerIP,omitempty"`
	ASNumber     *uint32      `json:"asNumber,omitempty"`
	NodeSelector string       `json:"nodeSelector,omitempty"`
	PeerSelector string       `json:"peerSelector,omitempty"`
	Password     *BGPPassword `json:"password,omitempty"`

	Unknown []string `json:"-"`
}

// UnmarshalJSON reads the known fields and records the others in Unknown.
func (s *BGPPeerSpec) UnmarshalJSON(b []byte) error {
	type plain BGPPeerSpec
	return decodeLenient(b, (*plain)(s), &s.Unknown)
}

// Node is Calico's view of a node (`calicoctl get node -o yaml`): its
// addresses, tunnel addresses and the WireGuard keys it published.
type Node struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              NodeSpec   `json:"spec,omitempty"`
	Status            NodeStatus `json:"status,omitempty"`
}

// NodeSpec holds the node's addresses.
type NodeSpec struct {
	BGP                 *NodeBGPSpec       `json:"bgp,omitempty"`
	IPv4VXLANTunnelAddr string             `json:"ipv4VXLANTunnelAddr,omitempty"`
	IPv6VXLANTunnelAddr string             `json:"ipv6VXLANTunnelAddr,omitempty"`
	Wireguard           *NodeWireguardSpec `json:"wireguard,omitempty"`
	Addresses           []NodeAddress      `json:"addresses,omitempty"`

	Unknown []string `json:"-"`
}

// UnmarshalJSON reads the known fields and records the others in Unknown.
func (s *NodeSpec) UnmarshalJSON(b []byte) error {
	type plain NodeSpec
	return decodeLenient(b, (*plain)(s), &s.Unknown)
}

// NodeBGPSpec holds the node's BGP addresses (CIDR notation: address and
// subnet).
type NodeBGPSpec struct {
	IPv4Address        string `json:"ipv4Address,omitempty"`
	IPv6Address        string `json:"ipv6Address,omitempty"`
	IPv4IPIPTunnelAddr string `json:"ipv4IPIPTunnelAddr,omitempty"`
	ASNumber           *int64 `json:"asNumber,omitempty"`
	RouteReflectorID   string `json:"routeReflectorClusterID,omitempty"`
}

// NodeWireguardSpec holds the WireGuard interface addresses.
type NodeWireguardSpec struct {
	InterfaceIPv4Address string `json:"interfaceIPv4Address,omitempty"`
	InterfaceIPv6Address string `json:"interfaceIPv6Address,omitempty"`
}

// NodeAddress is one address of a node.
type NodeAddress struct {
	Address string `json:"address"`
	Type    string `json:"type,omitempty"`
}

// NodeStatus holds what the node published.
type NodeStatus struct {
	WireguardPublicKey   string `json:"wireguardPublicKey,omitempty"`
	WireguardPublicKeyV6 string `json:"wireguardPublicKeyV6,omitempty"`

	Unknown []string `json:"-"`
}

// UnmarshalJSON reads the known fields and records the others in Unknown.
func (s *NodeStatus) UnmarshalJSON(b []byte) error {
	type plain NodeStatus
	return decodeLenient(b, (*plain)(s), &s.Unknown)
}

// decodeLenient decodes b into v (a pointer to a struct without custom
// decoding) and lists in unknown, in input order, the object's keys that
// are not fields of v. Keys match exactly, as in Calico's API: a key in
// another case is unknown, not decoded.
func decodeLenient(b []byte, v any, unknown *[]string) error {
	*unknown = nil
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return err
	}
	known := jsonFields(reflect.TypeOf(v).Elem())
	keep := make(map[string]json.RawMessage, len(fields))
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil { // {
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
		if known[key] {
			keep[key] = fields[key]
		} else if !slices.Contains(*unknown, key) {
			*unknown = append(*unknown, key)
		}
	}
	kb, err := json.Marshal(keep)
	if err != nil {
		return err
	}
	return json.Unmarshal(kb, v)
}

var fieldCache sync.Map // reflect.Type → map[string]bool

// jsonFields returns the JSON names of t's fields.
func jsonFields(t reflect.Type) map[string]bool {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]bool)
	}
	m := map[string]bool{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			m[name] = true
		}
	}
	fieldCache.Store(t, m)
	return m
}
