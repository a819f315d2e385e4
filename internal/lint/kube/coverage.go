package kube

import (
	"fmt"

	"github.com/lockdown-sec/lockdown/internal/lint/rule"
	"github.com/lockdown-sec/lockdown/internal/netpol"
	"github.com/lockdown-sec/lockdown/internal/netpol/load"
)

// Uncovered returns the workloads of files whose pods no enforced
// NetworkPolicy (Kubernetes or Calico, from any of the files) selects, as
// the netpol engine evaluates selectors: namespace, pod labels, service
// account, Calico namespace and service account labels. Host-network pods
// are not workload endpoints and are never reported. The error is the
// netpol engine's when the policies themselves are invalid (`lockdown
// netpol validate` lists every problem).
func Uncovered(files []*File) ([]*Workload, error) {
	var objs []*load.Object
	for _, f := range files {
		objs = append(objs, f.Objects...)
	}
	var eps []*netpol.Endpoint
	byName := map[string]*Workload{}
	for _, f := range files {
		for _, w := range f.Workloads {
			if w.Spec.HostNetwork {
				continue
			}
			ns := w.Namespace
			if ns == "" {
				ns = "default" // as kubectl
			}
			sa := w.Spec.ServiceAccountName
			if sa == "" {
				sa = "default"
			}
			name := fmt.Sprintf("%s/%s@%s:%d", w.Kind, w.Name, f.Path, w.Line)
			byName[ns+"/"+name] = w
			eps = append(eps, &netpol.Endpoint{
				Kind: netpol.EndpointPod, Namespace: ns, Name: name, OwnLabels: w.Meta.Labels,
				ServiceAccount: sa, Profiles: []string{"kns." + ns, "ksa." + ns + "." + sa},
			})
		}
	}
	if len(eps) == 0 {
		return nil, nil
	}
	cfg, err := netpol.Build(objs, eps)
	if err != nil {
		return nil, fmt.Errorf("network policies: %w", err)
	}
	var out []*Workload
	for _, ep := range cfg.Endpoints {
		w, ok := byName[ep.ID()]
		if !ok {
			continue
		}
		selected := false
		for _, p := range cfg.Policies {
			if p.Selector.Matches(ep.Labels) {
				selected = true
				break
			}
		}
		if !selected {
			out = append(out, w)
		}
	}
	return out, nil
}

// CoverageHit is the LD-K8S-331 hit for an uncovered workload.
func CoverageHit(w *Workload) rule.Hit {
	labels := "no labels"
	if len(w.Meta.Labels) > 0 {
		labels = "labels " + formatLabels(w.Meta.Labels)
	}
	return rule.Hit{ID: rule.K8sNoNetworkPolicy, Path: w.MetaPath,
		Evidence: fmt.Sprintf("no NetworkPolicy selects the pods of %s (%s)", w.ID(), labels)}
}

func formatLabels(m map[string]string) string {
	s := ""
	for _, k := range sortedKeys(m) {
		if s != "" {
			s += ","
		}
		s += k + "=" + m[k]
	}
	return s
}
