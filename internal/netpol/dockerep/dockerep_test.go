package dockerep

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/netpol"
	"github.com/lockdown-sec/lockdown/internal/netpol/load"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// TestEndpointsFromDocker starts labelled containers on a network the test
// creates and reads them back through the real engine, then evaluates a
// Calico policy over them.
func TestEndpointsFromDocker(t *testing.T) {
	image := testutil.AlpineImage(t, "lockdown-test/alpine:3.20.3")
	pfx := testutil.UniquePrefix(t, "ldnp")
	network := pfx + "net"
	subnet := "172.31.251.0/24"
	testutil.Docker(t, "network", "create", "--subnet", subnet, "--internal", network)
	t.Cleanup(func() { exec.Command("docker", "network", "rm", network).Run() })
	web, db, other, tagged := pfx+"web", pfx+"db", pfx+"other", pfx+"tagged"
	testutil.RunContainer(t, web, "--network", network, "--ip", "172.31.251.10", "--label", "app=web",
		"--label", "com.docker.compose.project=shop", "--expose", "8080", image, "sleep", "300")
	testutil.RunContainer(t, db, "--network", network, "--ip", "172.31.251.20", "--label", "app=db",
		"--label", "com.docker.compose.project=shop", "--expose", "5432/tcp", "--expose", "53/udp", image, "sleep", "300")
	testutil.RunContainer(t, other, "--network", "none", "--label", "projectcalico.org/namespace=tools", "--label", "app=tool", image, "sleep", "300")
	// lockdown.namespace wins over the Calico label and the Compose project.
	testutil.RunContainer(t, tagged, "--network", "none", "--label", "lockdown.namespace=team1", "--label", "projectcalico.org/namespace=tools",
		"--label", "com.docker.compose.project=shop", "--label", "app=tool", image, "sleep", "300")

	cli, err := NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	eps, err := Endpoints(context.Background(), cli, nil)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*netpol.Endpoint{}
	for _, e := range eps {
		byName[e.Name] = e
	}
	tests := []struct {
		name, ns, app, ip string
		ports             []string
		networks          []string
	}{
		{web, "shop", "web", "172.31.251.10", []string{"8080/TCP"}, []string{network}},
		{db, "shop", "db", "172.31.251.20", []string{"5432/TCP", "53/UDP"}, []string{network}},
		{other, "tools", "tool", "", nil, []string{"none"}},
		{tagged, "team1", "tool", "", nil, []string{"none"}},
	}
	for _, tt := range tests {
		e := byName[tt.name]
		if e == nil {
			t.Fatalf("Endpoints() has no container %s (got %d endpoints)", tt.name, len(eps))
		}
		if e.Kind != netpol.EndpointContainer || e.Namespace != tt.ns || e.OwnLabels["app"] != tt.app || e.OwnLabels["projectcalico.org/orchestrator"] != "docker" {
			t.Errorf("endpoint %s = kind %s ns %s labels %v, want container in %s with app=%s", tt.name, e.Kind, e.Namespace, e.OwnLabels, tt.ns, tt.app)
		}
		var ips []string
		for _, ip := range e.IPs {
			ips = append(ips, ip.String())
		}
		if tt.ip == "" && len(ips) != 0 || tt.ip != "" && !slices.Equal(ips, []string{tt.ip}) {
			t.Errorf("endpoint %s IPs = %v, want %q", tt.name, ips, tt.ip)
		}
		var ports []string
		for _, p := range e.Ports {
			ports = append(ports, fmt.Sprintf("%d/%s", p.Port, netpol.ProtoName(p.Protocol)))
		}
		if !slices.Equal(ports, tt.ports) {
			t.Errorf("endpoint %s ports = %v, want %v", tt.name, ports, tt.ports)
		}
		if !slices.Equal(e.Networks, tt.networks) {
			t.Errorf("endpoint %s networks = %v, want %v", tt.name, e.Networks, tt.networks)
		}
	}

	// A Calico policy over the containers: only web may reach db on 5432.
	objs, _, err := load.Parse("policy.yaml", []byte(`apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  selector: app == 'db'
  ingress:
  - {action: Allow, protocol: TCP, source: {selector: app == 'web'}, destination: {ports: [5432]}}
`), load.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := netpol.Build(objs, eps)
	if err != nil {
		t.Fatal(err)
	}
	check := func(from, to string, pp netpol.PortProto, want bool) {
		t.Helper()
		src, err := cfg.Endpoint(from)
		if err != nil {
			t.Fatal(err)
		}
		dst, err := cfg.Endpoint(to)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Allowed(pp.Flow(netpol.EndpointPeer(src, 4), netpol.EndpointPeer(dst, 4), 4)); got != want {
			t.Errorf("Allowed(%s -> %s %s) = %v, want %v", from, to, pp, got, want)
		}
	}
	tcp := func(p uint16) netpol.PortProto {
		return netpol.PortProto{Protocol: netpol.ProtoTCP, Port: p, ICMPType: -1}
	}
	check("shop/"+web, "shop/"+db, tcp(5432), true)
	check("shop/"+web, "shop/"+db, tcp(22), false)
	check("tools/"+other, "shop/"+db, tcp(5432), false)
	check("shop/"+db, "shop/"+web, tcp(8080), true) // web is selected by no policy: default allow profile
	// other is on no network of web's: Docker gives no path, whatever the
	// (default allow) policy says.
	check("tools/"+other, "shop/"+web, tcp(8080), false)
	check("shop/"+web, "tools/"+other, tcp(8080), false)
	if _, err := cfg.Endpoint("172.31.251.20"); err != nil {
		t.Errorf("Endpoint(IP) = %v", err)
	}
	if e, _ := cfg.Endpoint("172.31.251.20"); e == nil || e.Name != db || !e.IPs[0].Is4() {
		t.Errorf("Endpoint(172.31.251.20) = %v, want %s", e, db)
	}
}
