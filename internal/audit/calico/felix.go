package calico

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/netpol/calicov3"
)

const kindFelix = calicov3.KindFelixConfiguration

// Calico's defaults for the Felix settings checked here.
const (
	defWGIface      = "wireguard.cali"
	defWGIfaceV6    = "wg-v6.cali"
	defWGPort       = 51820
	defWGPortV6     = 51821
	defWGRulePrio   = 99
	defVXLANPort    = 4789
	defIfacePrefix  = "cali"
	defLogSeverity  = "Info"
	defLogFilePath  = "/var/log/calico/felix.log"
	goldmaneServer  = "goldmane.calico-system.svc:7443"
	trustedCIDRHole = "TRUSTED-CIDR"
)

// Calico's default failsafe ports.
var (
	defFailsafeIn = []calicov3.ProtoPort{
		{Protocol: "tcp", Port: 22}, {Protocol: "udp", Port: 68}, {Protocol: "tcp", Port: 179},
		{Protocol: "tcp", Port: 2379}, {Protocol: "tcp", Port: 2380}, {Protocol: "tcp", Port: 5473},
		{Protocol: "tcp", Port: 6443}, {Protocol: "tcp", Port: 6666}, {Protocol: "tcp", Port: 6667},
	}
	defFailsafeOut = []calicov3.ProtoPort{
		{Protocol: "udp", Port: 53}, {Protocol: "udp", Port: 67}, {Protocol: "tcp", Port: 179},
		{Protocol: "tcp", Port: 2379}, {Protocol: "tcp", Port: 2380}, {Protocol: "tcp", Port: 5473},
		{Protocol: "tcp", Port: 6443}, {Protocol: "tcp", Port: 6666}, {Protocol: "tcp", Port: 6667},
	}
)

// family is an IP version's settings: 4 or 6.
type family struct {
	v       int
	wgField string
}

var (
	fam4 = family{v: 4, wgField: "wireguardEnabled"}
	fam6 = family{v: 6, wgField: "wireguardEnabledV6"}
)

func (fm family) wg(s *calicov3.FelixConfigurationSpec) *bool {
	if fm.v == 6 {
		return s.WireguardEnabledV6
	}
	return s.WireguardEnabled
}

// wgOn reports whether WireGuard is on for the family on a node ("" for
// the default): the node's override, else the default's, else false.
func (w *world) wgOn(fm family, nodeName string) bool {
	if f := w.felixFor(nodeName); f != nil && fm.wg(f.spec) != nil {
		return *fm.wg(f.spec)
	}
	return boolOr(fm.wg(w.def.spec), false)
}

// checkWireguard: WireGuard on for the family, in the default and in every
// node override that sets it.
func checkWireguard(fm family) func(w *world) []Result {
	return func(w *world) []Result {
		if !w.hasFelix {
			return noFelix()
		}
		pools := w.poolsOf(fm.v)
		var out []Result
		for _, f := range w.felix {
			p := fm.wg(f.spec)
			if f.node != "" && p == nil {
				continue
			}
			subj := f.name()
			if p != nil && *p {
				out = append(out, pass(subj, "%s", f.where(fm.wgField, true, true, "false")).at(f.at(fm.wgField)))
				continue
			}
			if f.node == "" && len(pools) == 0 && (fm.v == 6 || len(w.pools) > 0) {
				out = append(out, info(subj, "%s; no enabled IPv%d IP pool in the input: no IPv%d pod traffic to encrypt",
					f.where(fm.wgField, p != nil, false, "false"), fm.v, fm.v).at(f.at(fm.wgField)))
				continue
			}
			what := fmt.Sprintf("IPv%d pod traffic between nodes crosses the network unencrypted", fm.v)
			if len(pools) > 0 {
				what += ": " + describePools(pools)
			}
			if f.node != "" {
				what = fmt.Sprintf("node %s overrides the default: its IPv%d pod traffic to other nodes is unencrypted", f.node, fm.v)
			}
			fix := mergeFix(kindFelix, subj, "", map[string]any{fm.wgField: true})
			fix.Note = fmt.Sprintf("Enable WireGuard for IPv%d (every node needs WireGuard in its kernel: Linux 5.6+ or the wireguard module):", fm.v)
			out = append(out, fail(subj, fix, "%s; %s", f.where(fm.wgField, p != nil, false, "false"), what).at(f.at(fm.wgField)))
		}
		return out
	}
}

// poolsOf returns the enabled pools of an IP version.
func (w *world) poolsOf(v int) []*pool {
	var out []*pool
	for _, p := range w.pools {
		if pr, err := netip.ParsePrefix(p.spec.CIDR); err == nil && !p.spec.Disabled && (pr.Addr().Is4() == (v == 4)) {
			out = append(out, p)
		}
	}
	return out
}

// describePools is "pool a 10.0.0.0/16 (VXLAN CrossSubnet), pool b …".
func describePools(ps []*pool) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprintf("pool %s %s (%s)", p.obj.Name, p.spec.CIDR, p.encapsulation())
	}
	return strings.Join(parts, ", ")
}

// tunnelMTU is one MTU setting and its encapsulation overhead.
type tunnelMTU struct {
	field    string
	get      func(*calicov3.FelixConfigurationSpec) *int
	overhead int
	min      int
	what     string
}

var tunnelMTUs = []tunnelMTU{
	{"wireguardMTU", func(s *calicov3.FelixConfigurationSpec) *int { return s.WireguardMTU }, 60, 576, "WireGuard over IPv4"},
	{"wireguardMTUV6", func(s *calicov3.FelixConfigurationSpec) *int { return s.WireguardMTUV6 }, 80, 1280, "WireGuard over IPv6"},
	{"ipipMTU", func(s *calicov3.FelixConfigurationSpec) *int { return s.IPIPMTU }, 20, 576, "IP-in-IP"},
	{"vxlanMTU", func(s *calicov3.FelixConfigurationSpec) *int { return s.VXLANMTU }, 50, 576, "VXLAN over IPv4"},
	{"vxlanMTUV6", func(s *calicov3.FelixConfigurationSpec) *int { return s.VXLANMTUV6 }, 70, 1280, "VXLAN over IPv6"},
}

// checkMTU: every tunnel MTU that is set fits the underlay minus the
// tunnel's overhead and is at least the family's minimum.
func checkMTU(w *world) []Result {
	if !w.hasFelix {
		return noFelix()
	}
	var out []Result
	for _, f := range w.felix {
		var bad, good []string
		patch := map[string]any{}
		first := ""
		for _, t := range tunnelMTUs {
			p := t.get(f.spec)
			if p == nil || *p == 0 {
				continue
			}
			limit := w.underlayMTU - t.overhead
			switch {
			case *p > limit:
				bad = append(bad, fmt.Sprintf("%s: %d (%s) exceeds the underlay MTU %d minus %s's %d-byte overhead = %d: larger packets are fragmented or dropped",
					t.field, *p, f.at(t.field), w.underlayMTU, t.what, t.overhead, limit))
			case *p < t.min:
				bad = append(bad, fmt.Sprintf("%s: %d (%s) is below the minimum %d", t.field, *p, f.at(t.field), t.min))
			default:
				good = append(good, fmt.Sprintf("%s: %d", t.field, *p))
				continue
			}
			patch[t.field] = nil
			if first == "" {
				first = t.field
			}
		}
		if f.node != "" && len(bad)+len(good) == 0 {
			continue
		}
		subj := f.name()
		if len(bad) > 0 {
			fix := mergeFix(kindFelix, subj, "", patch)
			fix.Note = fmt.Sprintf("Remove the setting so Felix detects the MTU from the underlay (or set it to at most the underlay MTU %d minus the overhead):", w.underlayMTU)
			out = append(out, fail(subj, fix, "%s", strings.Join(bad, "; ")).at(f.at(first)))
			continue
		}
		if len(good) == 0 {
			out = append(out, pass(subj, "no tunnel MTU set: Felix detects them from the underlay (underlay MTU assumed %d)", w.underlayMTU))
			continue
		}
		out = append(out, pass(subj, "%s fit the underlay MTU %d", strings.Join(good, ", "), w.underlayMTU))
	}
	return out
}

// validIfaceName reports why a Linux interface name is invalid ("" when
// it is valid).
func validIfaceName(s string) string {
	switch {
	case s == "" || s == "." || s == "..":
		return "is not a valid interface name"
	case len(s) > 15:
		return fmt.Sprintf("is %d bytes long; Linux allows at most 15", len(s))
	case strings.ContainsAny(s, "/: \t\n"):
		return "contains '/', ':' or whitespace, which Linux refuses in interface names"
	}
	return ""
}

// checkWGInterface: WireGuard interface names and ports are valid, distinct,
// not taken for workload interfaces and not the VXLAN port.
func checkWGInterface(w *world) []Result {
	if !w.hasFelix {
		return noFelix()
	}
	var out []Result
	for _, f := range w.felix {
		s := f.spec
		sets := s.WireguardInterfaceName != "" || s.WireguardInterfaceNameV6 != "" || s.WireguardListeningPort != nil ||
			s.WireguardListeningPortV6 != nil || s.WireguardRoutingRulePriority != nil || s.InterfacePrefix != "" || s.VXLANPort != nil
		if f.node != "" && !sets {
			continue
		}
		// Effective values: this config, else the default, else Calico's.
		d := w.def.spec
		str := func(get func(*calicov3.FelixConfigurationSpec) string, def string) string {
			if v := get(s); v != "" {
				return v
			}
			if v := get(d); v != "" {
				return v
			}
			return def
		}
		num := func(get func(*calicov3.FelixConfigurationSpec) *int, def int) int {
			if v := get(s); v != nil {
				return *v
			}
			if v := get(d); v != nil {
				return *v
			}
			return def
		}
		name4 := str(func(s *calicov3.FelixConfigurationSpec) string { return s.WireguardInterfaceName }, defWGIface)
		name6 := str(func(s *calicov3.FelixConfigurationSpec) string { return s.WireguardInterfaceNameV6 }, defWGIfaceV6)
		prefixes := str(func(s *calicov3.FelixConfigurationSpec) string { return s.InterfacePrefix }, defIfacePrefix)
		port4 := num(func(s *calicov3.FelixConfigurationSpec) *int { return s.WireguardListeningPort }, defWGPort)
		port6 := num(func(s *calicov3.FelixConfigurationSpec) *int { return s.WireguardListeningPortV6 }, defWGPortV6)
		vxlan := num(func(s *calicov3.FelixConfigurationSpec) *int { return s.VXLANPort }, defVXLANPort)
		prio := num(func(s *calicov3.FelixConfigurationSpec) *int { return s.WireguardRoutingRulePriority }, defWGRulePrio)

		var bad []string
		patch := map[string]any{}
		first := ""
		flag := func(field string, safe any, format string, args ...any) {
			bad = append(bad, fmt.Sprintf(format, args...))
			patch[field] = safe
			if first == "" {
				first = field
			}
		}
		for _, n := range []struct {
			field, name, def string
		}{{"wireguardInterfaceName", name4, defWGIface}, {"wireguardInterfaceNameV6", name6, defWGIfaceV6}} {
			if why := validIfaceName(n.name); why != "" {
				flag(n.field, n.def, "%s %q %s", n.field, n.name, why)
				continue
			}
			for _, p := range strings.Split(prefixes, ",") {
				if p = strings.TrimSpace(p); p != "" && strings.HasPrefix(n.name, p) {
					flag(n.field, n.def, "%s %q starts with the workload interface prefix %q: Felix would treat the tunnel as a pod's interface", n.field, n.name, p)
					break
				}
			}
		}
		if name4 == name6 && validIfaceName(name4) == "" {
			flag("wireguardInterfaceNameV6", defWGIfaceV6, "wireguardInterfaceName and wireguardInterfaceNameV6 are both %q: the IPv4 and IPv6 tunnels need their own interfaces", name4)
		}
		for _, p := range []struct {
			field string
			port  int
			def   int
		}{{"wireguardListeningPort", port4, defWGPort}, {"wireguardListeningPortV6", port6, defWGPortV6}} {
			switch {
			case p.port < 1 || p.port > 65535:
				flag(p.field, p.def, "%s %d is not a port (1-65535)", p.field, p.port)
			case p.port == vxlan:
				flag(p.field, p.def, "%s %d is also the VXLAN port: the WireGuard and VXLAN sockets collide", p.field, p.port)
			}
		}
		if port4 == port6 {
			flag("wireguardListeningPortV6", defWGPortV6, "wireguardListeningPort and wireguardListeningPortV6 are both %d: each WireGuard interface needs its own UDP port", port4)
		}
		if prio < 1 || prio > 32765 {
			flag("wireguardRoutingRulePriority", defWGRulePrio, "wireguardRoutingRulePriority %d is outside 1-32765", prio)
		}
		subj := f.name()
		if len(bad) > 0 {
			fix := mergeFix(kindFelix, subj, "", patch)
			fix.Note = "Set Calico's defaults for the fields in conflict:"
			out = append(out, fail(subj, fix, "%s", strings.Join(bad, "; ")).at(f.at(first)))
			continue
		}
		out = append(out, pass(subj, "interfaces %s and %s, UDP ports %d and %d (VXLAN %d), routing rule priority %d", name4, name6, port4, port6, vxlan, prio))
	}
	return out
}

// checkWGNodes: every node on which WireGuard is on published its public
// key, the sign that Felix brought the tunnel up.
func checkWGNodes(w *world) []Result {
	if len(w.nodes) == 0 {
		return []Result{skip(ScopeNode, "no Calico Node in the input (add `calicoctl get node -o yaml`)")}
	}
	if !w.hasFelix {
		return []Result{skip(ScopeNode, "no FelixConfiguration in the input: whether WireGuard should run is unknown")}
	}
	var out []Result
	for _, n := range w.nodes {
		var missing, have []string
		for _, fm := range []family{fam4, fam6} {
			if !w.wgOn(fm, n.obj.Name) {
				continue
			}
			key, field := n.v.Status.WireguardPublicKey, "wireguardPublicKey"
			if fm.v == 6 {
				key, field = n.v.Status.WireguardPublicKeyV6, "wireguardPublicKeyV6"
			}
			if key == "" {
				missing = append(missing, fmt.Sprintf("WireGuard is on for IPv%d but status.%s is empty", fm.v, field))
			} else {
				have = append(have, fmt.Sprintf("IPv%d key %s", fm.v, key))
			}
		}
		switch {
		case len(missing) > 0:
			out = append(out, fail(n.obj.Name, &Fix{Note: fmt.Sprintf(
				"No manifest change fixes this: Felix on %s did not bring WireGuard up. Give the node a kernel with WireGuard (Linux 5.6+ or the wireguard module), then check Felix's log and `calicoctl get node %s -o yaml` until status shows the key.",
				n.obj.Name, n.obj.Name)}, "%s: the node's traffic is not encrypted", strings.Join(missing, "; ")).at(n.obj.At("status")))
		case len(have) > 0:
			out = append(out, pass(n.obj.Name, "%s published", strings.Join(have, ", ")))
		default:
			out = append(out, info(n.obj.Name, "WireGuard is off for this node (see LD-CAL-101/102)"))
		}
	}
	return out
}

// bpfOn reports whether a config runs the eBPF dataplane.
func (w *world) bpfOn(f *felixCfg) bool {
	if f.spec.BPFEnabled != nil {
		return *f.spec.BPFEnabled
	}
	return boolOr(w.def.spec.BPFEnabled, false)
}

// checkBPFUnprivileged: in eBPF mode, unprivileged users cannot load BPF
// programs or read Calico's maps.
func checkBPFUnprivileged(w *world) []Result {
	if !w.hasFelix {
		return noFelix()
	}
	var out []Result
	for _, f := range w.felix {
		if f.node != "" && f.spec.BPFEnabled == nil && f.spec.BPFDisableUnprivileged == nil {
			continue
		}
		subj := f.name()
		if !w.bpfOn(f) {
			out = append(out, info(subj, "eBPF dataplane off (bpfEnabled not true)"))
			continue
		}
		p := f.spec.BPFDisableUnprivileged
		if p == nil && f.node != "" {
			p = w.def.spec.BPFDisableUnprivileged
		}
		if p != nil && !*p {
			fix := mergeFix(kindFelix, subj, "", map[string]any{"bpfDisableUnprivileged": true})
			out = append(out, fail(subj, fix, "bpfDisableUnprivileged: false (%s): any local user may load BPF programs and read or change Calico's policy maps", f.at("bpfDisableUnprivileged")).at(f.at("bpfDisableUnprivileged")))
			continue
		}
		out = append(out, pass(subj, "eBPF dataplane on; %s", f.where("bpfDisableUnprivileged", p != nil, true, "true")))
	}
	return out
}

// checkBPFCaveats: eBPF settings that cost performance, break service
// access or need a network that allows them.
func checkBPFCaveats(w *world) []Result {
	if !w.hasFelix {
		return noFelix()
	}
	var out []Result
	for _, f := range w.felix {
		s := f.spec
		if f.node != "" && s.BPFEnabled == nil && s.BPFLogLevel == "" && s.BPFExternalServiceMode == "" &&
			s.BPFConnectTimeLoadBalancingEnabled == nil && s.BPFConnectTimeLoadBalancing == "" && s.BPFKubeProxyIptablesCleanupEnabled == nil {
			continue
		}
		subj := f.name()
		if !w.bpfOn(f) {
			out = append(out, info(subj, "eBPF dataplane off (bpfEnabled not true)"))
			continue
		}
		var bad []string
		patch := map[string]any{}
		first := ""
		flag := func(field string, safe any, format string, args ...any) {
			bad = append(bad, fmt.Sprintf(format, args...))
			patch[field] = safe
			if first == "" {
				first = field
			}
		}
		if strings.EqualFold(s.BPFLogLevel, "Debug") {
			flag("bpfLogLevel", "Off", "bpfLogLevel: Debug (%s): every packet is traced to the kernel trace pipe, which slows the dataplane and exposes packet details", f.at("bpfLogLevel"))
		}
		if strings.EqualFold(s.BPFExternalServiceMode, "DSR") {
			flag("bpfExternalServiceMode", "Tunnel", "bpfExternalServiceMode: DSR (%s): replies leave the backend node directly with the service address, which needs a network without source checks and bypasses the ingress node", f.at("bpfExternalServiceMode"))
		}
		if s.BPFConnectTimeLoadBalancingEnabled != nil && !*s.BPFConnectTimeLoadBalancingEnabled {
			flag("bpfConnectTimeLoadBalancingEnabled", true, "bpfConnectTimeLoadBalancingEnabled: false (%s): the host cannot reach Kubernetes services (meant for debugging only)", f.at("bpfConnectTimeLoadBalancingEnabled"))
		}
		if strings.EqualFold(s.BPFConnectTimeLoadBalancing, "Disabled") {
			flag("bpfConnectTimeLoadBalancing", "TCP", "bpfConnectTimeLoadBalancing: Disabled (%s): host processes reach services only through the slower packet path", f.at("bpfConnectTimeLoadBalancing"))
		}
		if s.BPFKubeProxyIptablesCleanupEnabled != nil && !*s.BPFKubeProxyIptablesCleanupEnabled {
			flag("bpfKubeProxyIptablesCleanupEnabled", true, "bpfKubeProxyIptablesCleanupEnabled: false (%s): kube-proxy's iptables rules stay beside Calico's eBPF service handling; kube-proxy must be disabled in eBPF mode", f.at("bpfKubeProxyIptablesCleanupEnabled"))
		}
		if len(bad) > 0 {
			fix := mergeFix(kindFelix, subj, "", patch)
			fix.Note = "Set the eBPF settings Calico recommends:"
			out = append(out, warn(subj, fix, "%s", strings.Join(bad, "; ")).at(f.at(first)))
			continue
		}
		out = append(out, pass(subj, "eBPF dataplane on with Calico's recommended settings (log level, service mode, connect-time load balancing, kube-proxy cleanup)"))
	}
	return out
}

// checkFailsafe: failsafe host ports accept only the trusted network.
func checkFailsafe(inbound bool) func(w *world) []Result {
	field, defs, dir := "failsafeInboundHostPorts", defFailsafeIn, "from"
	if !inbound {
		field, defs, dir = "failsafeOutboundHostPorts", defFailsafeOut, "to"
	}
	return func(w *world) []Result {
		if !w.hasFelix {
			return noFelix()
		}
		var out []Result
		for _, f := range w.felix {
			p := f.spec.FailsafeInboundHostPorts
			if !inbound {
				p = f.spec.FailsafeOutboundHostPorts
			}
			if f.node != "" && p == nil {
				continue
			}
			ports := defs
			if p != nil {
				ports = *p
			}
			var open []string
			for _, pp := range ports {
				if isAnyNet(pp.Net) {
					open = append(open, calicov3.ProtoPort{Protocol: pp.Protocol, Port: pp.Port}.String())
				}
			}
			subj := f.name()
			if len(open) == 0 {
				if len(ports) == 0 {
					out = append(out, pass(subj, "%s: [] (no failsafe ports)", field).at(f.at(field)))
				} else {
					out = append(out, pass(subj, "%s: every port is limited to a network", field).at(f.at(field)))
				}
				continue
			}
			cidr := w.trustedCIDR
			note := "Limit each failsafe port to the network that needs it (apply only after a host endpoint policy lets that network in, or you may lose access to the host):"
			if cidr == "" {
				cidr = trustedCIDRHole
				note = fmt.Sprintf("Replace %s with your management network (--trusted-cidr fills it in); keep only the ports your datastore needs (etcd 2379/2380 and 6666/6667 only with an etcd datastore):", trustedCIDRHole)
			}
			fixed := make([]map[string]any, len(ports))
			for i, pp := range ports {
				net := pp.Net
				if isAnyNet(net) {
					net = cidr
				}
				fixed[i] = map[string]any{"protocol": strings.ToLower(cmpOr(pp.Protocol, "tcp")), "port": pp.Port, "net": net}
			}
			fix := mergeFix(kindFelix, subj, "", map[string]any{field: fixed})
			fix.Note = note
			what := "set"
			if p == nil {
				what = "not set: Calico's defaults apply, and they"
			}
			out = append(out, fail(subj, fix, "%s %s accept %s %s any address, whatever the host endpoint policy says", field, what, strings.Join(open, ", "), dir).at(f.at(field)))
		}
		return out
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// isAnyNet reports whether a failsafe net matches every address.
func isAnyNet(s string) bool {
	if s == "" {
		return true
	}
	p, err := netip.ParsePrefix(s)
	return err == nil && p.Bits() == 0
}

// checkEndpointToHost: traffic from pods to their own host is dropped
// unless a policy allows it.
func checkEndpointToHost(w *world) []Result {
	return enumCheck(w, "defaultEndpointToHostAction", func(s *calicov3.FelixConfigurationSpec) string { return s.DefaultEndpointToHostAction }, "Drop",
		func(v string) (string, model.Severity, string) {
			switch strings.ToLower(v) {
			case "drop":
				return model.StatusPass, 0, "pods reach their host only where a policy allows it"
			case "accept":
				return model.StatusFail, 0, "every pod can reach every port of its host (kubelet, Felix, node services) after its egress policy"
			case "return":
				return model.StatusWarn, model.SeverityLow, "pod traffic to the host falls through to the host's own INPUT rules, which then decide"
			}
			return model.StatusFail, 0, "not a value Calico accepts (Drop, Return, Accept)"
		})
}

// checkChainInsert: Calico's rules come first in the kernel's chains.
func checkChainInsert(w *world) []Result {
	return enumCheck(w, "chainInsertMode", func(s *calicov3.FelixConfigurationSpec) string { return s.ChainInsertMode }, "Insert",
		func(v string) (string, model.Severity, string) {
			switch strings.ToLower(v) {
			case "insert":
				return model.StatusPass, 0, "Calico's rules run before any other rule in the top-level chains"
			case "append":
				return model.StatusFail, 0, "Calico's rules run after every other rule: an earlier ACCEPT bypasses Calico policy"
			}
			return model.StatusFail, 0, "not a value Calico accepts (Insert, Append)"
		})
}

// checkSourceSpoofing: pods cannot ask to send from addresses not theirs.
func checkSourceSpoofing(w *world) []Result {
	return enumCheck(w, "workloadSourceSpoofing", func(s *calicov3.FelixConfigurationSpec) string { return s.WorkloadSourceSpoofing }, "Disabled",
		func(v string) (string, model.Severity, string) {
			switch strings.ToLower(v) {
			case "disabled":
				return model.StatusPass, 0, "pods send only from their own addresses"
			case "any":
				return model.StatusFail, 0, "any pod may send from any address it lists in its allowedSourcePrefixes annotation, defeating source-based policy"
			}
			return model.StatusFail, 0, "not a value Calico accepts (Disabled, Any)"
		})
}

// enumCheck checks a string setting: judge returns the status, an
// optional severity and what the value means.
func enumCheck(w *world, field string, get func(*calicov3.FelixConfigurationSpec) string, def string,
	judge func(string) (string, model.Severity, string)) []Result {
	if !w.hasFelix {
		return noFelix()
	}
	var out []Result
	for _, f := range w.felix {
		v := get(f.spec)
		if f.node != "" && v == "" {
			continue
		}
		status, sev, why := judge(cmpOr(v, def))
		subj := f.name()
		ev := f.where(field, v != "", v, def) + ": " + why
		r := Result{Status: status, Subject: subj, Evidence: ev, Severity: sev}.at(f.at(field))
		if status != model.StatusPass {
			r.Fix = mergeFix(kindFelix, subj, "", map[string]any{field: def})
		}
		out = append(out, r)
	}
	return out
}

// checkEncapFromWorkloads: Felix drops IPIP and VXLAN packets that pods
// send, which would otherwise skip policy once decapsulated.
func checkEncapFromWorkloads(w *world) []Result {
	if !w.hasFelix {
		return noFelix()
	}
	var out []Result
	for _, f := range w.felix {
		s := f.spec
		if f.node != "" && s.AllowIPIPPacketsFromWorkloads == nil && s.AllowVXLANPacketsFromWorkloads == nil {
			continue
		}
		var bad []string
		patch := map[string]any{}
		first := ""
		for _, x := range []struct {
			field string
			p     *bool
		}{{"allowIPIPPacketsFromWorkloads", s.AllowIPIPPacketsFromWorkloads}, {"allowVXLANPacketsFromWorkloads", s.AllowVXLANPacketsFromWorkloads}} {
			if boolOr(x.p, false) {
				bad = append(bad, fmt.Sprintf("%s: true (%s)", x.field, f.at(x.field)))
				patch[x.field] = false
				if first == "" {
					first = x.field
				}
			}
		}
		subj := f.name()
		if len(bad) > 0 {
			out = append(out, fail(subj, mergeFix(kindFelix, subj, "", patch),
				"%s: pods may send encapsulated packets, which the receiving node decapsulates past the policy that saw only the outer header", strings.Join(bad, ", ")).at(f.at(first)))
			continue
		}
		out = append(out, pass(subj, "IPIP and VXLAN packets from pods are dropped"))
	}
	return out
}

// checkDebugPort: Felix's unauthenticated debug HTTP port (profiles, heap)
// is off, or at least bound to loopback.
func checkDebugPort(w *world) []Result {
	if !w.hasFelix {
		return noFelix()
	}
	var out []Result
	for _, f := range w.felix {
		s := f.spec
		if f.node != "" && s.DebugPort == nil && s.DebugHost == nil {
			continue
		}
		subj := f.name()
		if s.DebugPort == nil || *s.DebugPort == 0 {
			out = append(out, pass(subj, "debugPort not set: Felix's debug HTTP server is off"))
			continue
		}
		host := "localhost"
		if s.DebugHost != nil && *s.DebugHost != "" {
			host = *s.DebugHost
		}
		fix := mergeFix(kindFelix, subj, "", map[string]any{"debugPort": nil})
		fix.Note = "Remove debugPort (turn the debug server off):"
		if isLoopback(host) {
			out = append(out, warn(subj, fix, "debugPort: %d on %s (%s): an unauthenticated profiling server, reachable from the node itself",
				*s.DebugPort, host, f.at("debugPort")).at(f.at("debugPort")).sev(model.SeverityLow))
			continue
		}
		out = append(out, fail(subj, fix, "debugPort: %d on %s (%s): an unauthenticated profiling server (CPU, heap, goroutines) reachable from the network",
			*s.DebugPort, host, f.at("debugPort")).at(f.at("debugPort")))
	}
	return out
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// checkLogs: Felix logs at Info or Warning on at least one sink and at
// Debug on none.
func checkLogs(w *world) []Result {
	if !w.hasFelix {
		return noFelix()
	}
	rank := map[string]int{"debug": 0, "info": 1, "warning": 2, "error": 3, "fatal": 4, "none": 5, "panic": 4, "trace": 0}
	var out []Result
	for _, f := range w.felix {
		s := f.spec
		if f.node != "" && s.LogSeverityScreen == "" && s.LogSeverityFile == "" && s.LogSeveritySys == "" && s.LogFilePath == "" {
			continue
		}
		sinks := []struct {
			field, value string
			off          bool
		}{
			{"logSeverityScreen", cmpOr(s.LogSeverityScreen, defLogSeverity), false},
			{"logSeverityFile", cmpOr(s.LogSeverityFile, defLogSeverity), strings.EqualFold(s.LogFilePath, "none")},
			{"logSeveritySys", cmpOr(s.LogSeveritySys, defLogSeverity), false},
		}
		var bad []string
		patch := map[string]any{}
		first := ""
		warned := false
		for _, k := range sinks {
			r, ok := rank[strings.ToLower(k.value)]
			switch {
			case !ok:
				bad = append(bad, fmt.Sprintf("%s: %q is not a log level", k.field, k.value))
			case r == 0 && !k.off:
				bad = append(bad, fmt.Sprintf("%s: %s (%s): debug logs slow Felix down and record every policy and endpoint update", k.field, k.value, f.at(k.field)))
			default:
				if r <= 2 && !k.off {
					warned = true
				}
				continue
			}
			patch[k.field] = defLogSeverity
			if first == "" {
				first = k.field
			}
		}
		if !warned && len(bad) == 0 {
			bad = append(bad, fmt.Sprintf("no log sink records warnings (screen %s, file %s, syslog %s): Felix's security-relevant warnings are lost",
				sinks[0].value, map[bool]string{true: "off", false: sinks[1].value}[sinks[1].off], sinks[2].value))
			patch["logSeverityScreen"] = defLogSeverity
			first = "logSeverityScreen"
		}
		subj := f.name()
		if len(bad) > 0 {
			out = append(out, warn(subj, mergeFix(kindFelix, subj, "", patch), "%s", strings.Join(bad, "; ")).at(f.at(first)))
			continue
		}
		out = append(out, pass(subj, "log levels: screen %s, file %s, syslog %s", sinks[0].value, map[bool]string{true: "off", false: sinks[1].value}[sinks[1].off], sinks[2].value))
	}
	return out
}

// checkFlowLogs: Felix exports flow logs (Goldmane in Calico Open Source
// 3.30+, files in Calico Enterprise), the record of who talked to whom.
func checkFlowLogs(w *world) []Result {
	if !w.hasFelix {
		return noFelix()
	}
	var out []Result
	for _, f := range w.felix {
		s := f.spec
		if f.node != "" && s.FlowLogsGoldmaneServer == "" && s.FlowLogsFileEnabled == nil {
			continue
		}
		subj := f.name()
		switch {
		case s.FlowLogsGoldmaneServer != "":
			out = append(out, pass(subj, "flowLogsGoldmaneServer: %s", s.FlowLogsGoldmaneServer).at(f.at("flowLogsGoldmaneServer")))
		case boolOr(s.FlowLogsFileEnabled, false):
			out = append(out, pass(subj, "flowLogsFileEnabled: true").at(f.at("flowLogsFileEnabled")))
		default:
			fix := mergeFix(kindFelix, subj, "", map[string]any{"flowLogsGoldmaneServer": goldmaneServer})
			fix.Note = "Calico Open Source 3.30+: run Goldmane and point Felix at it (with the operator, create a Goldmane resource instead: it sets this for Felix); Calico Enterprise: set flowLogsFileEnabled: true."
			out = append(out, warn(subj, fix, "neither flowLogsGoldmaneServer nor flowLogsFileEnabled is set: no flow logs record which connections policy allowed or denied (an operator-managed Goldmane sets the server in Felix's environment, which these manifests do not show)").at(f.at("flowLogsGoldmaneServer")))
		}
	}
	return out
}
