package calico

import (
	"fmt"
	"net/netip"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/netpol/calicov3"
)

const kindPool = calicov3.KindIPPool

// encapsulation names how the pool's traffic crosses nodes.
func (p *pool) encapsulation() string {
	ipip, vxlan := modeOf(p.spec.IPIPMode), modeOf(p.spec.VXLANMode)
	switch {
	case ipip != calicov3.EncapNever && vxlan != calicov3.EncapNever:
		return "IPIP " + ipip + " and VXLAN " + vxlan
	case ipip != calicov3.EncapNever:
		return "IPIP " + ipip
	case vxlan != calicov3.EncapNever:
		return "VXLAN " + vxlan
	}
	return "no encapsulation"
}

// modeOf is the mode as written, "Never" when unset.
func modeOf(s string) string {
	if s == "" {
		return calicov3.EncapNever
	}
	return s
}

func (p *pool) prefix() (netip.Prefix, bool) {
	pr, err := netip.ParsePrefix(p.spec.CIDR)
	return pr, err == nil
}

func (p *pool) family() int {
	if pr, ok := p.prefix(); ok && pr.Addr().Is6() {
		return 6
	}
	return 4
}

// noPools is the SKIP result of pool checks without pools.
func noPools() []Result {
	return []Result{skip(ScopeIPPool, "no IPPool in the input (add `calicoctl get ippool -o yaml`)")}
}

// checkPoolEncryption: pod traffic from the pool is encrypted between
// nodes (WireGuard on for its family); else how it crosses the network.
func checkPoolEncryption(w *world) []Result {
	if len(w.pools) == 0 {
		return noPools()
	}
	var out []Result
	for _, p := range w.pools {
		subj := p.obj.Name
		if p.spec.Disabled {
			out = append(out, info(subj, "pool disabled: no new addresses come from it"))
			continue
		}
		if !w.hasFelix {
			out = append(out, skip(subj, "no FelixConfiguration in the input: whether WireGuard encrypts this pool's traffic is unknown"))
			continue
		}
		fm := fam4
		if p.family() == 6 {
			fm = fam6
		}
		if w.wgOn(fm, "") {
			out = append(out, pass(subj, "%s (%s): WireGuard is on for IPv%d, so pod traffic between nodes is encrypted", p.spec.CIDR, p.encapsulation(), fm.v))
			continue
		}
		var how string
		ipip, vxlan := modeOf(p.spec.IPIPMode), modeOf(p.spec.VXLANMode)
		switch {
		case ipip == calicov3.EncapAlways:
			how = "IP-in-IP encapsulated (IP protocol 4) to every other node"
		case ipip == calicov3.EncapCrossSubnet:
			how = "IP-in-IP encapsulated between subnets and routed natively within one"
		case vxlan == calicov3.EncapAlways:
			how = fmt.Sprintf("VXLAN encapsulated (UDP %d) to every other node", w.vxlanPort())
		case vxlan == calicov3.EncapCrossSubnet:
			how = fmt.Sprintf("VXLAN encapsulated (UDP %d) between subnets and routed natively within one", w.vxlanPort())
		default:
			how = "routed natively, as the pods sent it"
		}
		fix := mergeFix(kindFelix, w.def.name(), "", map[string]any{fm.wgField: true})
		fix.Note = fmt.Sprintf("Encapsulation is not encryption: enable WireGuard for IPv%d in Felix:", fm.v)
		out = append(out, fail(subj, fix, "%s (%s): WireGuard is off for IPv%d, so pod traffic between nodes is %s: readable by anyone on the network path",
			p.spec.CIDR, p.encapsulation(), fm.v, how).at(p.obj.At("spec", "cidr")))
	}
	return out
}

// vxlanPort is the effective VXLAN port.
func (w *world) vxlanPort() int {
	if p := w.def.spec.VXLANPort; p != nil {
		return *p
	}
	return defVXLANPort
}

// checkPoolEncap: the encapsulation modes are values Calico accepts, not
// both on, and IPIP only on IPv4.
func checkPoolEncap(w *world) []Result {
	if len(w.pools) == 0 {
		return noPools()
	}
	var out []Result
	valid := func(s string) bool {
		return s == "" || s == calicov3.EncapAlways || s == calicov3.EncapCrossSubnet || s == calicov3.EncapNever
	}
	for _, p := range w.pools {
		subj := p.obj.Name
		ipip, vxlan := modeOf(p.spec.IPIPMode), modeOf(p.spec.VXLANMode)
		switch {
		case !valid(p.spec.IPIPMode):
			out = append(out, fail(subj, mergeFix(kindPool, subj, "", map[string]any{"ipipMode": calicov3.EncapNever}),
				"ipipMode %q is not Always, CrossSubnet or Never", p.spec.IPIPMode).at(p.obj.At("spec", "ipipMode")))
		case !valid(p.spec.VXLANMode):
			out = append(out, fail(subj, mergeFix(kindPool, subj, "", map[string]any{"vxlanMode": calicov3.EncapNever}),
				"vxlanMode %q is not Always, CrossSubnet or Never", p.spec.VXLANMode).at(p.obj.At("spec", "vxlanMode")))
		case ipip != calicov3.EncapNever && p.family() == 6:
			patch := map[string]any{"ipipMode": calicov3.EncapNever}
			if vxlan == calicov3.EncapNever {
				patch["vxlanMode"] = ipip
			}
			fix := mergeFix(kindPool, subj, "", patch)
			fix.Note = "IP-in-IP carries only IPv4: use VXLAN for the IPv6 pool:"
			out = append(out, fail(subj, fix, "ipipMode %s on the IPv6 pool %s: Calico's IP-in-IP tunnel carries only IPv4", ipip, p.spec.CIDR).at(p.obj.At("spec", "ipipMode")))
		case ipip != calicov3.EncapNever && vxlan != calicov3.EncapNever:
			fix := mergeFix(kindPool, subj, "", map[string]any{"ipipMode": calicov3.EncapNever})
			fix.Note = "Keep one encapsulation (VXLAN also works where the network drops IP protocol 4):"
			out = append(out, fail(subj, fix, "ipipMode %s and vxlanMode %s: Calico refuses a pool with both", ipip, vxlan).at(p.obj.At("spec", "ipipMode")))
		default:
			out = append(out, pass(subj, "%s", p.encapsulation()))
		}
	}
	return out
}

// checkPoolNAT: encapsulated pools masquerade traffic leaving the pools
// (Calico's documented recommendation, else routing is asymmetric).
func checkPoolNAT(w *world) []Result {
	if len(w.pools) == 0 {
		return noPools()
	}
	var out []Result
	for _, p := range w.pools {
		subj := p.obj.Name
		encap := p.encapsulation() != "no encapsulation"
		switch {
		case p.spec.NATOutgoing:
			out = append(out, info(subj, "natOutgoing: true: traffic to destinations outside the pools leaves with the node's address, so outside firewalls cannot tell pods apart (egress control belongs in Calico policy)").at(p.obj.At("spec", "natOutgoing")))
		case encap:
			fix := mergeFix(kindPool, subj, "", map[string]any{"natOutgoing": true})
			out = append(out, warn(subj, fix, "natOutgoing is off on an encapsulated pool (%s): replies from hosts outside the pools return asymmetrically and reverse-path checks drop them", p.encapsulation()).at(p.obj.At("spec", "cidr")))
		default:
			out = append(out, pass(subj, "natOutgoing off, natively routed: pod addresses are visible to the network, which must route them"))
		}
	}
	return out
}

var linkLocal = []netip.Prefix{netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("fe80::/10")}

// checkPoolOverlap: pool CIDRs are valid networks that overlap neither
// each other nor link-local space.
func checkPoolOverlap(w *world) []Result {
	if len(w.pools) == 0 {
		return noPools()
	}
	var out []Result
	for i, p := range w.pools {
		subj := p.obj.Name
		pr, ok := p.prefix()
		at := p.obj.At("spec", "cidr")
		if !ok {
			out = append(out, fail(subj, &Fix{Note: "The CIDR of a pool cannot be changed: create a pool with a valid CIDR, migrate the workloads, delete this one."},
				"cidr %q is not a CIDR", p.spec.CIDR).at(at))
			continue
		}
		if pr.Masked() != pr {
			out = append(out, fail(subj, &Fix{Note: fmt.Sprintf("Write the network address: cidr %s (recreate the pool; a pool's CIDR cannot be changed).", pr.Masked())},
				"cidr %s has host bits set (network %s)", p.spec.CIDR, pr.Masked()).at(at))
			continue
		}
		var clash []string
		for _, ll := range linkLocal {
			if ll.Overlaps(pr) {
				clash = append(clash, "link-local "+ll.String())
			}
		}
		for j, q := range w.pools {
			if qp, ok := q.prefix(); ok && j != i && qp.Overlaps(pr) {
				clash = append(clash, fmt.Sprintf("pool %s %s (%s)", q.obj.Name, q.spec.CIDR, q.obj.At("spec", "cidr")))
			}
		}
		if len(clash) == 0 {
			out = append(out, pass(subj, "%s overlaps no other pool and no link-local range", pr))
			continue
		}
		fix := &Fix{Note: "Move this pool's workloads to a pool of their own range (Calico's \"migrate pools\" guide), then delete it:",
			Delete: &Ref{kindPool, subj, ""}}
		out = append(out, fail(subj, fix, "%s overlaps %s: Calico refuses overlapping and link-local pools, and overlapping pools hand out an address twice", pr, strings.Join(clash, ", ")).at(at))
	}
	return out
}

// checkPoolBlocks: the block size is in Calico's range, the pool holds at
// least one block, and (when nodes are known) a block per node.
func checkPoolBlocks(w *world) []Result {
	if len(w.pools) == 0 {
		return noPools()
	}
	var out []Result
	for _, p := range w.pools {
		subj := p.obj.Name
		pr, ok := p.prefix()
		if !ok {
			out = append(out, skip(subj, "cidr %q is not a CIDR (LD-CAL-204)", p.spec.CIDR))
			continue
		}
		lo, hi, def := 20, 32, 26
		if pr.Addr().Is6() {
			lo, hi, def = 116, 128, 122
		}
		bs := p.spec.BlockSize
		set := bs != 0
		if !set {
			bs = def
		}
		at := p.obj.At("spec", "blockSize")
		recreate := func(size int) *Fix {
			spec := map[string]any{"cidr": p.spec.CIDR, "blockSize": size}
			if p.spec.IPIPMode != "" {
				spec["ipipMode"] = p.spec.IPIPMode
			}
			if p.spec.VXLANMode != "" {
				spec["vxlanMode"] = p.spec.VXLANMode
			}
			if p.spec.NATOutgoing {
				spec["natOutgoing"] = true
			}
			if p.spec.NodeSelector != "" {
				spec["nodeSelector"] = p.spec.NodeSelector
			}
			return &Fix{
				Note:     "blockSize is fixed when a pool is created: move the pool's workloads to a temporary pool (Calico's \"migrate pools\" guide), then replace the pool:",
				Delete:   &Ref{kindPool, subj, ""},
				Manifest: manifest(kindPool, subj, "", spec),
			}
		}
		switch {
		case bs < lo || bs > hi:
			out = append(out, fail(subj, recreate(def), "blockSize %d is outside %d-%d for IPv%d pools", bs, lo, hi, p.family()).at(at))
			continue
		case pr.Bits() > bs:
			out = append(out, fail(subj, recreate(min(hi, pr.Bits()+bitsFor(max(len(w.nodes), 1)))), "the pool %s is smaller than one /%d block: no block can be allocated", pr, bs).at(at))
			continue
		}
		blocks := 1 << min(bs-pr.Bits(), 30)
		if n := len(w.nodes); n > 0 && blocks < n && !p.spec.Disabled {
			out = append(out, warn(subj, recreate(min(hi, pr.Bits()+bitsFor(n))),
				"%s holds %d blocks of /%d for %d nodes: nodes without a block borrow addresses from others, adding a route per pod", pr, blocks, bs, n).at(at).sev(model.SeverityLow))
			continue
		}
		out = append(out, pass(subj, "%d blocks of /%d in %s", blocks, bs, pr))
	}
	return out
}

// bitsFor is the number of bits that count n values.
func bitsFor(n int) int {
	b := 0
	for 1<<b < n {
		b++
	}
	return b
}

// manifest renders a projectcalico.org/v3 resource as YAML.
func manifest(kind, name, namespace string, spec any) string {
	md := map[string]any{"name": name}
	if namespace != "" {
		md["namespace"] = namespace
	}
	b, err := yaml.Marshal(map[string]any{"apiVersion": calicov3.APIVersion, "kind": kind, "metadata": md, "spec": spec})
	if err != nil {
		return fmt.Sprintf("# cannot render the manifest: %v\n", err)
	}
	return string(b)
}

// ---- BGP

// checkBGPMesh: the node-to-node BGP mesh authenticates its sessions.
func checkBGPMesh(w *world) []Result {
	if len(w.bgp) == 0 {
		return []Result{skip(ScopeBGP, "no BGPConfiguration in the input (add `calicoctl get bgpconfiguration -o yaml`)")}
	}
	var out []Result
	for _, o := range w.bgp {
		s := &o.Obj.(*calicov3.BGPConfiguration).Spec
		if o.Name != "default" {
			continue // node.<name> configurations cannot set the mesh
		}
		switch {
		case !boolOr(s.NodeToNodeMeshEnabled, true):
			out = append(out, info(o.Name, "nodeToNodeMeshEnabled: false: nodes peer through BGPPeers (LD-CAL-302)").at(o.At("spec", "nodeToNodeMeshEnabled")))
		case s.NodeMeshPassword != nil && s.NodeMeshPassword.SecretKeyRef != nil:
			out = append(out, pass(o.Name, "node-to-node mesh sessions use the password in secret %s key %s", s.NodeMeshPassword.SecretKeyRef.Name, s.NodeMeshPassword.SecretKeyRef.Key))
		default:
			fix := mergeFix(calicov3.KindBGPConfiguration, o.Name, "", map[string]any{"nodeMeshPassword": map[string]any{"secretKeyRef": map[string]any{"name": "bgp-secrets", "key": "mesh-password"}}})
			fix.Note = "Create the Secret bgp-secrets (key mesh-password) in calico-node's namespace and let calico-node read it (a Role and RoleBinding, per Calico's BGP password guide), then:"
			out = append(out, warn(o.Name, fix, "the node-to-node BGP mesh is on without nodeMeshPassword: anything that reaches TCP 179 on a node can open a session and announce routes for pod addresses").at(o.At("spec")))
		}
	}
	if len(out) == 0 {
		return []Result{skip(ScopeBGP, "no BGPConfiguration named default in the input")}
	}
	return out
}

// checkBGPPeers: every explicit BGP peering authenticates its session.
func checkBGPPeers(w *world) []Result {
	if len(w.peers) == 0 {
		return []Result{skip(ScopeBGP, "no BGPPeer in the input (add `calicoctl get bgppeer -o yaml`)")}
	}
	var out []Result
	for _, o := range w.peers {
		s := &o.Obj.(*calicov3.BGPPeer).Spec
		peer := s.PeerIP
		if peer == "" {
			peer = "nodes matching " + s.PeerSelector
		}
		if s.Password != nil && s.Password.SecretKeyRef != nil {
			out = append(out, pass(o.Name, "session with %s uses the password in secret %s key %s", peer, s.Password.SecretKeyRef.Name, s.Password.SecretKeyRef.Key))
			continue
		}
		fix := mergeFix(calicov3.KindBGPPeer, o.Name, "", map[string]any{"password": map[string]any{"secretKeyRef": map[string]any{"name": "bgp-secrets", "key": o.Name + "-password"}}})
		fix.Note = fmt.Sprintf("Put the peer's password in the Secret bgp-secrets (key %s-password) that calico-node may read, configure the same password on the peer, then:", o.Name)
		out = append(out, fail(o.Name, fix, "BGP session with %s has no password: a spoofed peer can announce routes that pull pod traffic away", peer).at(o.At("spec")))
	}
	return out
}
