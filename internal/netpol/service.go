package netpol

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/lockdown-sec/lockdown/internal/netpol/calicov3"
	"github.com/lockdown-sec/lockdown/internal/netpol/load"
)

// Service is a Kubernetes Service as a rule peer (Calico's `services`
// match): the endpoints its selector picks in its namespace and, on the
// destination side of a rule, the ports it forwards to on them.
type Service struct {
	Namespace, Name string
	// Selector picks endpoints by their own labels; a Service without one
	// has its endpoints managed elsewhere and picks none here.
	Selector map[string]string
	Ports    []ServicePort
	Source   load.Source
}

// ServicePort is a port a Service forwards to: a number or a named port of
// each endpoint.
type ServicePort struct {
	Protocol   Protocol
	TargetPort uint16
	TargetName string
}

// ID is "namespace/name".
func (s *Service) ID() string { return s.Namespace + "/" + s.Name }

// Selects reports whether e is one of the Service's endpoints: a pod or
// container in its namespace whose own labels match its selector.
func (s *Service) Selects(e *Endpoint) bool {
	if s == nil || e == nil || len(s.Selector) == 0 || e.Namespace != s.Namespace ||
		(e.Kind != EndpointPod && e.Kind != EndpointContainer) {
		return false
	}
	for k, v := range s.Selector {
		if got, ok := e.OwnLabels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Forwards reports whether the Service forwards to port/proto on endpoint e.
func (s *Service) Forwards(e *Endpoint, proto Protocol, port uint16) bool {
	if s == nil {
		return false
	}
	for _, sp := range s.Ports {
		if sp.Protocol != proto {
			continue
		}
		if sp.TargetName != "" {
			if n, ok := e.NamedPort(sp.TargetName, proto); ok && n == port {
				return true
			}
			continue
		}
		if sp.TargetPort == port {
			return true
		}
	}
	return false
}

// matchesService is the services part of an entity match for peer p on
// port/proto: the peer is one of the Service's endpoints and, on a
// destination side, the port is one the Service forwards to.
func (c *Config) matchesService(id string, p Peer, port uint16, proto Protocol, dst bool) bool {
	s := c.Services[id]
	if !s.Selects(p.Endpoint) {
		return false
	}
	return !dst || s.Forwards(p.Endpoint, proto, port)
}

func (b *builder) service(o *load.Object, v *corev1.Service) {
	s := &Service{Namespace: o.Namespace, Name: o.Name, Selector: maps.Clone(v.Spec.Selector), Source: o.Source}
	for i, sp := range v.Spec.Ports {
		path := []any{"spec", "ports", i}
		proto, err := k8sProtocol(sp.Protocol)
		if err != nil {
			b.fail(o.Errorf(append(path, "protocol"), "%v", err))
			continue
		}
		if sp.Port < 1 || sp.Port > 65535 {
			b.fail(o.Errorf(append(path, "port"), "port %d out of range 1-65535", sp.Port))
			continue
		}
		p := ServicePort{Protocol: proto, TargetPort: uint16(sp.Port)}
		switch {
		case sp.TargetPort.Type == intstr.String:
			if !portNameRe().MatchString(sp.TargetPort.StrVal) {
				b.fail(o.Errorf(append(path, "targetPort"), "invalid port name %q", sp.TargetPort.StrVal))
				continue
			}
			p.TargetPort, p.TargetName = 0, sp.TargetPort.StrVal
		case sp.TargetPort.IntVal != 0:
			if sp.TargetPort.IntVal < 1 || sp.TargetPort.IntVal > 65535 {
				b.fail(o.Errorf(append(path, "targetPort"), "port %d out of range 1-65535", sp.TargetPort.IntVal))
				continue
			}
			p.TargetPort = uint16(sp.TargetPort.IntVal)
		}
		s.Ports = append(s.Ports, p)
	}
	if len(s.Selector) == 0 {
		b.warn(o.Source, "%s: a Service without a selector has its endpoints managed elsewhere: it matches no endpoint here", o.ID())
	}
	b.cfg.Services[s.ID()] = s
}

// serviceRef checks a rule's services match and returns the Service's
// "namespace/name". In a namespaced policy the namespace defaults to the
// policy's; the Service must be among the inputs.
func (b *builder) serviceRef(o *load.Object, path []any, e calicov3.EntityRule, ns string, dst bool) string {
	at := func(p ...any) []any { return append(append([]any{}, path...), p...) }
	m := e.Services
	if m.Name == "" {
		b.fail(o.Errorf(at("name"), "services needs name"))
		return ""
	}
	sns := m.Namespace
	if sns == "" {
		sns = ns
	}
	if sns == "" {
		b.fail(o.Errorf(at("namespace"), "services needs namespace in a global policy"))
		return ""
	}
	var others []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"selector", e.Selector != ""}, {"notSelector", e.NotSelector != ""},
		{"namespaceSelector", e.NamespaceSelector != ""}, {"nets", len(e.Nets) > 0},
		{"notNets", len(e.NotNets) > 0}, {"serviceAccounts", e.ServiceAccounts != nil},
		{"ports", dst && len(e.Ports) > 0}, {"notPorts", dst && len(e.NotPorts) > 0},
	} {
		if f.set {
			others = append(others, f.name)
		}
	}
	if len(others) > 0 {
		side := "a source may add only ports and notPorts"
		if dst {
			side = "a destination matches the Service's own ports and nothing else"
		}
		b.fail(o.Errorf(path, "services cannot be combined with %v: %s", others, side))
		return ""
	}
	id := sns + "/" + m.Name
	b.serviceRefs = append(b.serviceRefs, serviceUse{id: id, src: o.At(path...), obj: o.ID()})
	return id
}

type serviceUse struct {
	id, obj string
	src     load.Source
}

// checkServiceRefs warns about rules naming Services that are not among
// the inputs: such a side matches nothing.
func (b *builder) checkServiceRefs() {
	for _, u := range b.serviceRefs {
		if _, ok := b.cfg.Services[u.id]; !ok {
			b.warn(u.src, "%s: Service %s is not among the inputs: this side matches nothing", u.obj, u.id)
		}
	}
}
