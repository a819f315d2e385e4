package netpol

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/netpol/load"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

func demoMatrix(t *testing.T) *Matrix {
	t.Helper()
	cfg := loadDir(t, filepath.Join("testdata", "demo"))
	ports := PortsInUse(cfg)
	if got := portsText(ports, ports[:0]); got != "-" {
		t.Fatalf("portsText(none) = %q", got)
	}
	return ComputeMatrix(cfg, ports, 4)
}

func TestMatrixTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMatrix(context.Background(), &b, demoMatrix(t), FormatTable); err != nil {
		t.Fatal(err)
	}
	want := `Ports: 5432/TCP 8080/TCP
Endpoints: 3 (3 classes)

FROM \ TO              monitoring/prometheus  shop/db   shop/frontend
monitoring/prometheus  ·                      all       all          
shop/db                -                      ·         -            
shop/frontend          -                      5432/TCP  ·            
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("matrix table (-want +got):\n%s", diff)
	}
}

func TestMatrixCSVAndJSON(t *testing.T) {
	m := demoMatrix(t)
	var b bytes.Buffer
	if err := WriteMatrix(context.Background(), &b, m, FormatCSV); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 1+3*2*2 {
		t.Fatalf("csv has %d lines, want 13", len(lines))
	}
	if lines[0] != "from,to,port,protocol,verdict" || !strings.Contains(b.String(), "shop/frontend,shop/db,5432,TCP,allow\n") ||
		!strings.Contains(b.String(), "shop/frontend,shop/db,8080,TCP,deny\n") {
		t.Errorf("csv =\n%s", b.String())
	}
	b.Reset()
	if err := WriteMatrix(context.Background(), &b, m, FormatJSON); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Ports     []string `json:"ports"`
		Endpoints []struct {
			ID string `json:"id"`
		} `json:"endpoints"`
		Allowed []struct {
			From, To string
			Ports    []string
		} `json:"allowed"`
		Summary map[string]int `json:"summary"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("json: %v\n%s", err, b.String())
	}
	if len(doc.Allowed) != 3 || doc.Summary["allowedFlows"] != 5 || doc.Summary["deniedFlows"] != 7 {
		t.Errorf("json allowed = %+v summary = %v, want 3 pairs, 5 allowed and 7 denied flows", doc.Allowed, doc.Summary)
	}
}

func TestMatrixDOTParses(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMatrix(context.Background(), &b, demoMatrix(t), FormatDOT); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`label="shop";`, `label="monitoring";`, `[label="5432/TCP"];`, `[label="all"];`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("dot output lacks %s:\n%s", want, b.String())
		}
	}
	dot := testutil.RequireCmd(t, "dot")
	cmd := exec.Command(dot, "-Tcanon")
	cmd.Stdin = bytes.NewReader(b.Bytes())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dot rejects the output: %v\n%s", err, out)
	}
	var svg bytes.Buffer
	if err := WriteMatrix(context.Background(), &svg, demoMatrix(t), FormatSVG); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(svg.String(), "<svg") || !strings.Contains(svg.String(), "frontend") {
		t.Errorf("svg output is not an SVG of the graph: %.200s", svg.String())
	}
}

func TestDiff(t *testing.T) {
	oldCfg := loadDir(t, filepath.Join("testdata", "demo"))
	res, err := loadObjects(t, filepath.Join("testdata", "demo", "workloads.yaml"), filepath.Join("testdata", "diff", "new-policies.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	newCfg, err := Build(res, nil)
	if err != nil {
		t.Fatal(err)
	}
	ports := PortsInUse(oldCfg)
	d := Diff(oldCfg, newCfg, ports, 4)
	var b bytes.Buffer
	if err := WriteDiff(&b, d, FormatTable); err != nil {
		t.Fatal(err)
	}
	want := `Compared 3 endpoints and 1 external addresses on 2 ports: 1 flows newly allowed, 2 newly blocked
External addresses (each stands for the addresses in the same nets): 0.0.0.0
+ allow  shop/db -> monitoring/prometheus  8080/TCP
- block  monitoring/prometheus -> shop/db  8080/TCP
- block  monitoring/prometheus -> shop/frontend  8080/TCP
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("diff (-want +got):\n%s", diff)
	}
}

// TestDiffExternal: widening an ipBlock changes only flows from addresses
// outside the endpoints; the diff must list them.
func TestDiffExternal(t *testing.T) {
	world := `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec: {containers: [{name: c, image: x, ports: [{containerPort: 80}]}]}
status: {podIP: 10.0.0.5}
---
apiVersion: v1
kind: Pod
metadata: {name: cli, namespace: a, labels: {app: cli}}
spec: {containers: [{name: c, image: x}]}
status: {podIP: 10.0.0.6}
---
`
	policy := func(cidr string) string {
		return world + `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{ipBlock: {cidr: ` + cidr + `}}]
  egress:
  - to: [{ipBlock: {cidr: ` + cidr + `}}]
`
	}
	build := func(text string) *Config {
		objs, _, err := load.Parse("f.yaml", []byte(text), load.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := Build(objs, nil)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	oldCfg, newCfg := build(policy("10.0.0.0/8")), build(policy("0.0.0.0/0"))
	d := Diff(oldCfg, newCfg, []PortProto{{Protocol: ProtoTCP, Port: 80, ICMPType: -1}}, 4)
	got := map[string][]string{}
	for _, c := range d.NewlyAllowed {
		got["allowed"] = append(got["allowed"], c.From+" -> "+c.To)
	}
	for _, c := range d.NewlyBlocked {
		got["blocked"] = append(got["blocked"], c.From+" -> "+c.To)
	}
	want := map[string][]string{"allowed": {"0.0.0.0 -> a/web", "a/web -> 0.0.0.0"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Diff(10.0.0.0/8 -> 0.0.0.0/0) changes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"0.0.0.0", "10.0.0.0"}, d.External); diff != "" {
		t.Errorf("Diff external addresses (-want +got):\n%s", diff)
	}
	// No change, no flows.
	if d := Diff(oldCfg, oldCfg, d.Ports, 4); d.Changed() {
		t.Errorf("Diff(old, old) changed: %+v", d)
	}
}

func TestExternalPeers(t *testing.T) {
	cfg := &Config{
		Policies: []*Policy{{Ingress: []Rule{{Src: EntityMatch{
			Nets:    []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")},
			NotNets: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")},
		}}}}},
		Sets:      []*NetworkSet{{Nets: []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24"), netip.MustParsePrefix("255.255.255.0/24")}}},
		Endpoints: []*Endpoint{{IPs: []netip.Addr{netip.MustParseAddr("10.0.0.0"), netip.MustParseAddr("10.0.0.1")}}},
	}
	var got []string
	for _, a := range externalPeers(4, cfg) {
		got = append(got, a.String())
	}
	// 0.0.0.0 (no net), 10.0.0.2 (in 10/8: 10.0.0.0 and .1 are endpoints),
	// 10.1.0.0 (in the notNets), 10.1.2.0 (in the set), 255.255.255.0;
	// 10.1.3.0 and 10.2.0.0 repeat earlier sets of nets.
	want := []string{"0.0.0.0", "10.0.0.2", "10.1.0.0", "10.1.2.0", "255.255.255.0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("externalPeers(4) (-want +got):\n%s", diff)
	}
}

// TestDockerIsolation: containers that share no Docker network cannot
// reach each other whatever the policies say, in both evaluators.
func TestDockerIsolation(t *testing.T) {
	ctr := func(name string, ip string, nets ...string) *Endpoint {
		return &Endpoint{Kind: EndpointContainer, Namespace: "default", Name: name, OwnLabels: map[string]string{"app": name},
			IPs: []netip.Addr{netip.MustParseAddr(ip)}, Networks: nets, Profiles: []string{builtinAllowProfile}}
	}
	cfg, err := Build(nil, []*Endpoint{
		ctr("a", "172.20.0.2", "front"),
		ctr("b", "172.20.0.3", "front"),
		ctr("c", "172.21.0.2", "back"),
		ctr("d", "172.21.0.3", "back", "front"),
		ctr("n", "10.9.9.9", "none"),
		ctr("m", "10.9.9.8", "none"),
		{Kind: EndpointContainer, Namespace: "default", Name: "h", Networks: []string{"host"}, Profiles: []string{builtinAllowProfile}},
		{Kind: EndpointContainer, Namespace: "default", Name: "u", IPs: []netip.Addr{netip.MustParseAddr("10.8.8.8")}, Profiles: []string{builtinAllowProfile}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Every pair is allowed by the default-allow profile; only the networks
	// decide. u has unknown networks: not isolated.
	want := map[string]bool{
		"a->b": true, "a->c": false, "a->d": true, "a->n": false, "a->u": true,
		"c->a": false, "c->d": true, "d->a": true, "d->c": true,
		"n->m": false, "n->a": false, "m->n": false, "u->n": true,
		"h->a": true, "c->h": true, "h->n": false, "n->h": false,
	}
	pp := PortProto{Protocol: ProtoTCP, Port: 80, ICMPType: -1}
	eng := Compile(cfg, []PortProto{pp}, 4)
	for pair, allowed := range want {
		from, to, _ := strings.Cut(pair, "->")
		src, err := cfg.Endpoint(from)
		if err != nil {
			t.Fatal(err)
		}
		dst, err := cfg.Endpoint(to)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Allowed(pp.Flow(EndpointPeer(src, 4), EndpointPeer(dst, 4), 4)); got != allowed {
			t.Errorf("Allowed(%s) = %v, want %v", pair, got, allowed)
		}
		if got := eng.Allowed(indexOf(cfg, src), indexOf(cfg, dst), 0); got != allowed {
			t.Errorf("Engine(%s) = %v, want %v", pair, got, allowed)
		}
	}
	if err := compareWithReference(cfg, 4); err != nil {
		t.Error(err)
	}
	// CountAllowed agrees with the pairs: 8 endpoints; a, b, d share front;
	// c, d share back; u reaches and is reached by everyone; h (host
	// network) by everyone but n and m.
	n := 0
	for i := range cfg.Endpoints {
		for j := range cfg.Endpoints {
			if i != j && eng.Allowed(i, j, 0) {
				n++
			}
		}
	}
	if got := eng.CountAllowed(); got != n || n != 30 {
		t.Errorf("CountAllowed() = %d, pairs allowed = %d, want 30", got, n)
	}
}
