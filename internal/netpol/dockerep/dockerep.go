// Package dockerep reads the running containers of the local Docker engine
// as netpol endpoints: their labels, networks, addresses and ports.
package dockerep

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/lockdown-sec/lockdown/internal/netpol"
	"github.com/lockdown-sec/lockdown/internal/netpol/calicov3"
	"github.com/lockdown-sec/lockdown/internal/netpol/load"
)

// Labels that choose a container's namespace, in order of preference:
// lockdown.namespace, projectcalico.org/namespace, the Compose project,
// else "default".
const (
	LabelLockdownNamespace = "lockdown.namespace"
	LabelNamespace         = calicov3.LabelNamespace // projectcalico.org/namespace
	LabelComposeProject    = "com.docker.compose.project"
	DefaultNamespace       = "default"
	// OrchestratorDocker is the projectcalico.org/orchestrator label value
	// of container endpoints. (Kubernetes NetworkPolicies select only
	// orchestrator k8s, as in Calico.)
	OrchestratorDocker = "docker"
)

// API is the part of the Docker client this package uses.
type API interface {
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ContainerInspect(ctx context.Context, containerID string) (container.InspectResponse, error)
}

var _ API = (*client.Client)(nil)

// NewClient connects to the engine named by the environment (DOCKER_HOST,
// …), negotiating the API version.
func NewClient() (*client.Client, error) {
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return c, nil
}

// Endpoints lists the running containers as endpoints. A container's
// namespace is its lockdown.namespace label, else its
// projectcalico.org/namespace label, else its Compose project, else
// "default"; its name is the container name. Addresses come
// from every network it is attached to; ports are its exposed and published
// container ports. Each gets Calico's projectcalico-default-allow profile:
// a container no policy selects can talk freely, as on plain Docker.
func Endpoints(ctx context.Context, api API, logger *slog.Logger) ([]*netpol.Endpoint, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	list, err := api.ContainerList(ctx, container.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var out []*netpol.Endpoint
	for _, s := range list {
		info, err := api.ContainerInspect(ctx, s.ID)
		if err != nil {
			if client.IsErrNotFound(err) {
				continue // gone since the list
			}
			return nil, fmt.Errorf("inspect container %s: %w", shortID(s.ID), err)
		}
		ep, err := fromInspect(info)
		if err != nil {
			logger.Warn("skipping container", "container", shortID(s.ID), "err", err)
			continue
		}
		out = append(out, ep)
	}
	return out, nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func fromInspect(info container.InspectResponse) (*netpol.Endpoint, error) {
	if info.ContainerJSONBase == nil {
		return nil, fmt.Errorf("no container details")
	}
	name := strings.TrimPrefix(info.Name, "/")
	var labels map[string]string
	if info.Config != nil {
		labels = maps.Clone(info.Config.Labels)
	}
	if labels == nil {
		labels = map[string]string{}
	}
	ns := labels[LabelLockdownNamespace]
	if ns == "" {
		ns = labels[LabelNamespace]
	}
	if ns == "" {
		ns = labels[LabelComposeProject]
	}
	if ns == "" {
		ns = DefaultNamespace
	}
	if _, ok := labels[calicov3.LabelOrchestrator]; !ok {
		labels[calicov3.LabelOrchestrator] = OrchestratorDocker
	}
	ep := &netpol.Endpoint{
		Kind: netpol.EndpointContainer, Namespace: ns, Name: name, OwnLabels: labels,
		Profiles: []string{"projectcalico-default-allow"},
		Source:   load.Source{File: "docker:" + shortID(info.ID)},
	}
	if info.NetworkSettings != nil {
		nets := slices.Sorted(maps.Keys(info.NetworkSettings.Networks))
		for _, n := range nets {
			es := info.NetworkSettings.Networks[n]
			if es == nil {
				continue
			}
			ep.Networks = append(ep.Networks, n)
			for _, s := range []string{es.IPAddress, es.GlobalIPv6Address} {
				if s == "" {
					continue
				}
				ip, err := netip.ParseAddr(s)
				if err != nil {
					return nil, fmt.Errorf("network %s: invalid address %q", n, s)
				}
				ep.IPs = append(ep.IPs, ip.Unmap())
			}
		}
	}
	seen := map[netpol.NamedPort]bool{}
	addPort := func(p string) {
		num, proto, _ := strings.Cut(p, "/")
		if proto == "" {
			proto = "tcp"
		}
		pp, err := netpol.ParsePortProto(num + "/" + proto)
		if err != nil || pp.Port == 0 {
			return
		}
		np := netpol.NamedPort{Protocol: pp.Protocol, Port: pp.Port}
		if !seen[np] {
			seen[np] = true
			ep.Ports = append(ep.Ports, np)
		}
	}
	if info.Config != nil {
		for p := range info.Config.ExposedPorts {
			addPort(string(p))
		}
	}
	if info.NetworkSettings != nil {
		for p := range info.NetworkSettings.Ports {
			addPort(string(p))
		}
	}
	slices.SortFunc(ep.Ports, func(a, b netpol.NamedPort) int {
		if a.Protocol != b.Protocol {
			return int(a.Protocol) - int(b.Protocol)
		}
		return int(a.Port) - int(b.Port)
	})
	return ep, nil
}
