package calico

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/netpol"
	"github.com/lockdown-sec/lockdown/internal/netpol/calicov3"
	"github.com/lockdown-sec/lockdown/internal/netpol/load"
)

// probeName names the stand-in endpoint added to every namespace: a pod
// with no labels of its own, which a policy covers only when it covers
// every pod of the namespace.
const probeName = "lockdown-probe (any pod)"

// systemNamespaces are the namespaces Calico's documented cluster-wide
// default deny leaves out.
var systemNamespaces = []string{"kube-system", "kube-public", "kube-node-lease", "calico-system", "calico-apiserver", "tigera-operator"}

// namespacesOf lists the namespaces the input knows: Namespace objects and
// the namespaces of namespaced resources.
func namespacesOf(objs []*load.Object) []string {
	seen := map[string]bool{}
	for _, o := range objs {
		switch {
		case o.Kind == "Namespace":
			if _, ok := o.Obj.(*corev1.Namespace); ok {
				seen[o.Name] = true
			}
		case o.Namespace != "":
			seen[o.Namespace] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// probes returns one stand-in endpoint per namespace.
func probes(namespaces []string) []*netpol.Endpoint {
	out := make([]*netpol.Endpoint, len(namespaces))
	for i, ns := range namespaces {
		out[i] = &netpol.Endpoint{Kind: netpol.EndpointPod, Namespace: ns, Name: probeName, ServiceAccount: "default"}
	}
	return out
}

// namespaceWide reports whether a policy's selector reads only
// namespace-level labels: then it selects every pod of a namespace or
// none of them.
func namespaceWide(p *netpol.Policy) bool {
	for _, k := range p.Selector.LabelKeys() {
		if k != calicov3.LabelNamespace && k != calicov3.LabelOrchestrator && !strings.HasPrefix(k, calicov3.NamespaceLabelPref) {
			return false
		}
	}
	return true
}

// allowsEverything reports whether a rule matches all traffic.
func allowsEverything(r *netpol.Rule) bool {
	return r.Action == netpol.ActionAllow && r.IPVersion == 0 && r.Protocol == nil && r.NotProtocol == nil &&
		r.ICMP == nil && r.NotICMP == nil && !r.HTTP && r.Src.IsEmpty() && r.Dst.IsEmpty()
}

// denies reports whether p is a default deny for direction d: it applies
// in d, allows not everything, and its tier denies what it does not allow.
func (w *world) denies(p *netpol.Policy, d netpol.Direction) bool {
	if !p.Applies(d) {
		return false
	}
	for i := range p.Rules(d) {
		if allowsEverything(&p.Rules(d)[i]) {
			return false
		}
	}
	t := w.pol.TierOf(p.Tier)
	return t == nil || t.DefaultAction == netpol.ActionDeny
}

// checkDefaultDeny: every namespace has a policy that selects all its pods
// for ingress and for egress, so what no rule allows is denied.
func checkDefaultDeny(w *world) []Result {
	namespaces := namespacesOf(w.objs)
	if len(namespaces) == 0 {
		return []Result{skip(ScopePolicy, "no namespace in the input (add `kubectl get namespaces -o yaml` and the policies)")}
	}
	// The policies that can deny for a whole namespace, per direction.
	var wide [2][]*netpol.Policy
	for _, p := range w.pol.Policies {
		if !namespaceWide(p) {
			continue
		}
		for _, d := range []netpol.Direction{netpol.Ingress, netpol.Egress} {
			if w.denies(p, d) {
				wide[d] = append(wide[d], p)
			}
		}
	}
	probes := map[string]*netpol.Endpoint{}
	for _, e := range w.pol.Endpoints {
		if e.Name == probeName {
			probes[e.Namespace] = e
		}
	}
	var out []Result
	for _, ns := range namespaces {
		probe := probes[ns]
		if probe == nil {
			continue
		}
		var missing []string
		var by []string
		for _, d := range []netpol.Direction{netpol.Ingress, netpol.Egress} {
			found := ""
			for _, p := range wide[d] {
				if p.Selector.Matches(probe.Labels) {
					found = fmt.Sprintf("%s %s %s", d, p.Kind, p.ID())
					break
				}
			}
			if found == "" {
				missing = append(missing, d.String())
			} else {
				by = append(by, found)
			}
		}
		loc := ""
		if n, ok := w.pol.Namespaces[ns]; ok {
			loc = n.Source.String()
		}
		if len(missing) == 0 {
			out = append(out, Result{Status: model.StatusPass, Subject: ns, Evidence: "default deny by " + strings.Join(by, "; "), Location: loc})
			continue
		}
		ev := fmt.Sprintf("no policy selects every pod of namespace %s for %s with a deny for what it does not allow: such traffic is allowed (Calico's kns.%s profile)",
			ns, strings.Join(missing, " and "), ns)
		if slices.Contains(systemNamespaces, ns) {
			out = append(out, Result{Status: model.StatusInfo, Subject: ns, Location: loc,
				Evidence: ev + "; a system namespace, which Calico's documented default deny leaves out"})
			continue
		}
		r := Result{Status: model.StatusFail, Subject: ns, Location: loc, Evidence: ev, Fix: defaultDenyFix(ns, missing)}
		if !slices.Contains(missing, "ingress") {
			r.Severity = model.SeverityLow
		}
		out = append(out, r)
	}
	return out
}

// defaultDenyFix is a namespace default deny for the missing directions;
// an egress deny keeps DNS to kube-dns open, as Calico's guide does.
func defaultDenyFix(ns string, missing []string) *Fix {
	spec := map[string]any{"selector": "all()"}
	var types []string
	for _, d := range missing {
		types = append(types, strings.ToUpper(d[:1])+d[1:])
	}
	spec["types"] = types
	if slices.Contains(missing, "egress") {
		var egress []any
		for _, proto := range []string{"UDP", "TCP"} {
			egress = append(egress, map[string]any{
				"action": "Allow", "protocol": proto,
				"destination": map[string]any{
					"namespaceSelector": "projectcalico.org/name == 'kube-system'",
					"selector":          "k8s-app == 'kube-dns'",
					"ports":             []int{53},
				},
			})
		}
		spec["egress"] = egress
	}
	return &Fix{
		Note:     "Deny what no policy allows (then allow each needed flow with its own policy; egress keeps DNS open):",
		Manifest: manifest(calicov3.KindNetworkPolicy, "default-deny", ns, spec),
	}
}

// checkGlobalEgress: no GlobalNetworkPolicy allows egress to anywhere.
func checkGlobalEgress(w *world) []Result {
	var out []Result
	for _, p := range w.pol.Policies {
		if p.Kind != calicov3.KindGlobalNetworkPolicy {
			continue
		}
		if !p.ApplyEgress {
			out = append(out, pass(p.ID(), "no egress rules (types: Ingress)"))
			continue
		}
		var open []*netpol.Rule
		restricted := true
		for i := range p.Egress {
			r := &p.Egress[i]
			if r.Action != netpol.ActionAllow || !openDestination(&r.Dst) {
				continue
			}
			open = append(open, r)
			if r.Protocol == nil && len(r.Dst.Ports) == 0 {
				restricted = false
			}
		}
		if len(open) == 0 {
			out = append(out, pass(p.ID(), "every egress Allow rule names its destinations"))
			continue
		}
		var idx []string
		var ops []map[string]any
		for _, r := range slices.Backward(open) {
			path := fmt.Sprintf("/spec/egress/%d", r.Index)
			ops = append(ops, map[string]any{"op": "test", "path": path + "/action", "value": "Allow"},
				map[string]any{"op": "remove", "path": path})
		}
		for _, r := range open {
			idx = append(idx, fmt.Sprintf("egress rule %d (%s)", r.Index, r.Source))
		}
		fix := jsonPatchFix(calicov3.KindGlobalNetworkPolicy, p.Name, "", ops...)
		fix.Note = "Remove the allow-everywhere rules, then allow each destination the selected endpoints need (nets, a GlobalNetworkSet, selectors):"
		r := fail(p.ID(), fix, "%s allow%s egress to any destination from every endpoint matching %s",
			strings.Join(idx, ", "), map[bool]string{true: "", false: "s"}[len(open) > 1], p.Selector).at(open[0].Source)
		if restricted {
			r.Severity = model.SeverityLow
			r.Evidence += " (limited to a protocol or ports)"
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return []Result{info(ScopePolicy, "no enforced GlobalNetworkPolicy in the input")}
	}
	return out
}

// openDestination reports whether an egress destination matches every
// address: no selector, service or network other than 0.0.0.0/0 or ::/0.
func openDestination(e *netpol.EntityMatch) bool {
	if e.Selector != nil || e.Services != "" {
		return false
	}
	for _, n := range e.Nets {
		if n.Bits() != 0 {
			return false
		}
	}
	return true
}

// checkHostEndpoints: every host endpoint is selected by a policy.
func checkHostEndpoints(w *world) []Result {
	var out []Result
	for _, e := range w.pol.Endpoints {
		if e.Kind != netpol.EndpointHost {
			continue
		}
		var by []string
		for _, p := range w.pol.Policies {
			if p.Selector.Matches(e.Labels) {
				by = append(by, p.ID())
			}
		}
		if len(by) > 0 {
			out = append(out, pass(e.Name, "selected by %s", strings.Join(by, ", ")).at(e.Source))
			continue
		}
		fix := hostEndpointFix(e)
		for _, name := range e.Profiles {
			if pr := w.pol.Profiles[name]; pr != nil && profileAllowsAll(pr) {
				out = append(out, fail(e.Name, fix, "no policy selects host endpoint %s and its profile %s allows all traffic: the host is unprotected", e.Name, name).at(e.Source).sev(model.SeverityHigh))
				goto next
			}
		}
		out = append(out, fail(e.Name, fix, "no policy selects host endpoint %s: Calico drops its traffic except the failsafe ports (LD-CAL-120), so its protection is whatever the failsafe defaults leave open", e.Name).at(e.Source))
	next:
	}
	if len(out) == 0 {
		return []Result{info(ScopePolicy, "no HostEndpoint in the input")}
	}
	return out
}

func profileAllowsAll(p *netpol.Profile) bool {
	for _, d := range []netpol.Direction{netpol.Ingress, netpol.Egress} {
		for i := range p.Rules(d) {
			if allowsEverything(&p.Rules(d)[i]) {
				return true
			}
		}
	}
	return false
}

// hostEndpointFix is a GlobalNetworkPolicy selecting the host endpoint by
// its labels (a label is added when it has none) that lets in its declared
// ports.
func hostEndpointFix(e *netpol.Endpoint) *Fix {
	fix := &Fix{Note: "Write the policy that protects the host explicitly (add egress rules before you add Egress to types):"}
	var sel []string
	for _, k := range slices.Sorted(maps.Keys(e.OwnLabels)) {
		sel = append(sel, fmt.Sprintf("%s == '%s'", k, e.OwnLabels[k]))
	}
	if len(sel) == 0 {
		sel = []string{fmt.Sprintf("host-endpoint == '%s'", e.Name)}
		fix.Note = "Label the host endpoint, then write the policy that protects it (add egress rules before you add Egress to types):"
		fix.Patch = &Patch{Ref: Ref{calicov3.KindHostEndpoint, e.Name, ""}, Type: MergePatch,
			Body: compactJSON(map[string]any{"metadata": map[string]any{"labels": map[string]any{"host-endpoint": e.Name}}})}
	}
	spec := map[string]any{"selector": strings.Join(sel, " && "), "types": []string{"Ingress"}}
	var ingress []any
	byProto := map[netpol.Protocol][]string{}
	for _, p := range e.Ports {
		name := p.Name
		if name == "" {
			name = fmt.Sprint(p.Port)
		}
		byProto[p.Protocol] = append(byProto[p.Protocol], name)
	}
	for _, proto := range slices.Sorted(maps.Keys(byProto)) {
		ingress = append(ingress, map[string]any{"action": "Allow", "protocol": netpol.ProtoName(proto), "destination": map[string]any{"ports": byProto[proto]}})
	}
	if len(ingress) > 0 {
		spec["ingress"] = ingress
	}
	fix.Manifest = manifest(calicov3.KindGlobalNetworkPolicy, "host-"+e.Name, "", spec)
	return fix
}

// stagedTwin is the enforced kind of a staged kind.
var stagedTwin = map[string]string{
	calicov3.KindStagedNetworkPolicy:       calicov3.KindNetworkPolicy,
	calicov3.KindStagedGlobalNetworkPolicy: calicov3.KindGlobalNetworkPolicy,
}

// checkStaged: staged policies were promoted (their enforced twin has the
// same spec) or their staged deletion applied.
func checkStaged(w *world) []Result {
	var out []Result
	for _, o := range w.objs {
		twinKind, ok := stagedTwin[o.Kind]
		if !ok {
			continue
		}
		spec, action := stagedSpec(o)
		var twin *load.Object
		for _, t := range w.objs {
			if t.Kind == twinKind && t.Name == o.Name && t.Namespace == o.Namespace && t.APIVersion == calicov3.APIVersion {
				twin = t
				break
			}
		}
		subj := o.Namespace + "/" + o.Name
		if o.Namespace == "" {
			subj = o.Name
		}
		switch action {
		case "", "Set":
			promote := &Fix{Note: "Promote it: enforce the staged spec (then delete the staged policy):", Manifest: manifest(twinKind, o.Name, o.Namespace, spec)}
			switch {
			case twin == nil:
				out = append(out, fail(subj, promote, "%s %s was never promoted: no %s of that name enforces it, it only reports what it would do", o.Kind, subj, twinKind).at(o.Source))
			case !reflect.DeepEqual(spec, specOf(twin)):
				out = append(out, warn(subj, promote, "%s %s differs from the enforced %s (%s): the staged change was not promoted", o.Kind, subj, twinKind, twin.Source).at(o.Source))
			default:
				out = append(out, pass(subj, "promoted: %s (%s) enforces the same spec", twinKind, twin.Source))
			}
		case "Delete":
			if twin == nil {
				out = append(out, pass(subj, "staged deletion applied: no %s of that name", twinKind))
				continue
			}
			out = append(out, warn(subj, &Fix{Note: "Apply the staged deletion:", Delete: &Ref{twinKind, o.Name, o.Namespace}},
				"%s %s stages deleting %s (%s), which is still enforced", o.Kind, subj, twinKind, twin.Source).at(o.Source))
		default:
			out = append(out, info(subj, "stagedAction %s: nothing to promote", action).at(o.Source))
		}
	}
	if len(out) == 0 {
		return []Result{info(ScopePolicy, "no staged policy in the input")}
	}
	return out
}

// stagedSpec returns a staged policy's spec as JSON values without
// stagedAction, and the action.
func stagedSpec(o *load.Object) (map[string]any, string) {
	m := specOf(o)
	action, _ := m["stagedAction"].(string)
	delete(m, "stagedAction")
	return m, action
}

// specOf returns an object's spec as JSON values.
func specOf(o *load.Object) map[string]any {
	var spec any
	switch v := o.Obj.(type) {
	case *calicov3.StagedNetworkPolicy:
		spec = v.Spec
	case *calicov3.StagedGlobalNetworkPolicy:
		spec = v.Spec
	case *calicov3.NetworkPolicy:
		spec = v.Spec
	case *calicov3.GlobalNetworkPolicy:
		spec = v.Spec
	}
	b, err := json.Marshal(spec)
	m := map[string]any{}
	if err == nil {
		_ = json.Unmarshal(b, &m)
	}
	return m
}
