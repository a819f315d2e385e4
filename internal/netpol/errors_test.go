package netpol

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/netpol/load"
)

// buildText parses and normalises one file's text.
func buildText(name, text string) error {
	objs, _, err := load.Parse(name, []byte(text), load.Options{})
	if err != nil {
		return err
	}
	_, err = Build(objs, nil)
	return err
}

func TestBadInput(t *testing.T) {
	const np = "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: p\n  namespace: prod\nspec:\n"
	tests := []struct {
		name, text, want string
	}{
		{"unknown kind", "---\napiVersion: v1\nkind: Deployment\nmetadata: {name: x}\n",
			`bad.yaml:3: unknown kind "Deployment" (apiVersion v1); want one of BGPConfiguration, BGPPeer, FelixConfiguration, GlobalNetworkPolicy, GlobalNetworkSet, HostEndpoint, IPPool, Namespace, NetworkPolicy, NetworkSet, Node, Pod, Profile, Service, ServiceAccount, StagedGlobalNetworkPolicy, StagedNetworkPolicy, Tier`},
		{"wrong apiVersion for a Calico kind", "apiVersion: projectcalico.org/v1\nkind: GlobalNetworkPolicy\nmetadata: {name: x}\n",
			`bad.yaml:1: GlobalNetworkPolicy: unsupported apiVersion "projectcalico.org/v1" (want projectcalico.org/v3)`},
		{"wrong apiVersion for NetworkPolicy", "kind: NetworkPolicy\napiVersion: networking.k8s.io/v1beta1\nmetadata: {name: x}\n",
			`bad.yaml:2: NetworkPolicy: unsupported apiVersion "networking.k8s.io/v1beta1" (want projectcalico.org/v3 or networking.k8s.io/v1)`},
		{"invalid selector names the position", np + "  selector: app = 'x'\n",
			`bad.yaml:7: NetworkPolicy prod/p: spec.selector: invalid selector "app = 'x'": expected '==' at position 5`},
		{"invalid rule selector", np + "  ingress:\n  - action: Allow\n    source:\n      selector: has(app\n",
			`bad.yaml:10: NetworkPolicy prod/p: spec.ingress[0].source.selector: invalid selector "has(app": expected ')' to close has( at position 8`},
		{"invalid CIDR", np + "  ingress:\n  - action: Allow\n    source:\n      nets:\n      - 10.0.0.0/33\n",
			`bad.yaml:11: NetworkPolicy prod/p: spec.ingress[0].source.nets[0]: invalid CIDR "10.0.0.0/33"`},
		{"port 70000", np + "  ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [80, 70000]\n",
			`bad.yaml:11: NetworkPolicy prod/p: spec.ingress[0].destination.ports[1]: port 70000 out of range 0-65535`},
		{"ports without protocol", np + "  egress:\n  - action: Allow\n    destination:\n      ports: [443]\n",
			`bad.yaml:10: NetworkPolicy prod/p: spec.egress[0].destination.ports: ports need protocol TCP, UDP, SCTP or UDPLite`},
		{"bad action", np + "  ingress:\n  - action: allow\n",
			`bad.yaml:8: NetworkPolicy prod/p: spec.ingress[0].action: want Allow, Deny, Log or Pass, got "allow"`},
		{"k8s port 70000", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: k, namespace: prod}\nspec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - port: 70000\n",
			`bad.yaml:8: NetworkPolicy prod/k: spec.ingress[0].ports[0].port: port 70000 out of range 1-65535`},
		{"k8s bad ipBlock", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: k, namespace: prod}\nspec:\n  podSelector: {}\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/8, except: [192.168.0.0/16]}\n",
			`bad.yaml:8: NetworkPolicy prod/k: spec.ingress[0].from[0].ipBlock.except[0]: 192.168.0.0/16 must be a strict subset of cidr 10.0.0.0/8`},
		{"unknown field", np + "  selectr: all()\n",
			`bad.yaml:7: NetworkPolicy prod/p: unknown field "selectr"`},
		{"wrong type", np + "  order: first\n",
			`bad.yaml:7: NetworkPolicy prod/p: spec.order: got string, want a number`},
		{"yaml syntax", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [x\n",
			`bad.yaml:3: invalid YAML: did not find expected ',' or ']'`},
		{"second document's line", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b, namespace: x}\n",
			`bad.yaml:7: Namespace b: metadata.namespace: Namespace is not namespaced`},
		{"missing tier defaultAction value", "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: t}\nspec:\n  defaultAction: Allow\n",
			`bad.yaml:5: Tier t: spec.defaultAction: want Deny or Pass, got "Allow"`},
		{"icmp without protocol", np + "  ingress:\n  - action: Allow\n    icmp: {type: 8}\n",
			`bad.yaml:9: NetworkPolicy prod/p: spec.ingress[0].icmp: icmp needs protocol ICMP or ICMPv6`},
		{"duplicate", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n",
			`bad.yaml:5: Namespace a: duplicate (first defined at bad.yaml:1)`},
		{"missing kind", "apiVersion: v1\nmetadata: {name: a}\n", `bad.yaml:1: missing kind`},
		{"not a mapping", "- a\n- b\n", `bad.yaml:1: expected a resource (a mapping with apiVersion and kind)`},
		{"services and selector", np + "  egress:\n  - action: Allow\n    destination:\n      selector: app == 'x'\n      services: {name: api}\n",
			`bad.yaml:11: NetworkPolicy prod/p: spec.egress[0].destination.services: services cannot be combined with [selector]: a destination matches the Service's own ports and nothing else`},
		{"services destination with ports", np + "  egress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [80]\n      services: {name: api}\n",
			`bad.yaml:12: NetworkPolicy prod/p: spec.egress[0].destination.services: services cannot be combined with [ports]: a destination matches the Service's own ports and nothing else`},
		{"services in a global policy need a namespace", "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec:\n  ingress:\n  - action: Allow\n    source:\n      services: {name: api}\n",
			`bad.yaml:8: GlobalNetworkPolicy g: spec.ingress[0].source.services.namespace: services needs namespace in a global policy`},
		{"service target port", "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: prod}\nspec:\n  selector: {app: a}\n  ports:\n  - port: 80\n    targetPort: 70000\n",
			`bad.yaml:8: Service prod/s: spec.ports[0].targetPort: port 70000 out of range 1-65535`},
		{"preDNAT with egress", "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec:\n  preDNAT: true\n  applyOnForward: true\n  egress:\n  - action: Allow\n",
			`bad.yaml:7: GlobalNetworkPolicy g: spec.egress: a preDNAT policy cannot have egress rules or the Egress type`},
		{"pod IP", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nstatus:\n  podIP: 10.0.0.300\n",
			`bad.yaml:5: Pod default/a: status.podIP: invalid IP "10.0.0.300"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := buildText("bad.yaml", tt.text)
			if err == nil {
				t.Fatalf("Build(%s) = nil error, want %q", tt.name, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Build(%s) error =\n  %s\nwant\n  %s", tt.name, err, tt.want)
			}
		})
	}
}

func TestSkipUnknownKinds(t *testing.T) {
	objs, warns, err := load.Parse("m.yaml", []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n"), load.Options{SkipUnknownKinds: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].Kind != "Namespace" {
		t.Errorf("Parse(skip unknown) objects = %v, want the Namespace only", objs)
	}
	if len(warns) != 1 || warns[0].Error() != `m.yaml:2: skipped kind "Deployment" (apiVersion apps/v1)` {
		t.Errorf("Parse(skip unknown) warnings = %v", warns)
	}
}

func TestKubernetesList(t *testing.T) {
	objs, _, err := load.Parse("l.json", []byte(`{"apiVersion":"v1","kind":"List","items":[
{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}},
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"a"},"status":{"podIP":"10.1.1.1"}}]}`), load.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Build(objs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Endpoints) != 1 || cfg.Endpoints[0].ID() != "a/p" || cfg.Endpoints[0].Source.Line != 3 {
		t.Errorf("List endpoints = %+v, want a/p from line 3", cfg.Endpoints)
	}
}

// The loader and the builder go on past bad documents: one run over the
// testdata/errors fixture reports every problem, each at its file and line.
func TestMultiFileErrors(t *testing.T) {
	dir := filepath.Join("testdata", "errors")
	a, b, c := filepath.Join(dir, "a-kinds.yaml"), filepath.Join(dir, "b-policies.yaml"), filepath.Join(dir, "c-broken.yaml")
	res, err := load.Load(context.Background(), []string{dir}, nil, load.Options{})
	var lerr *load.Errors
	if !errors.As(err, &lerr) {
		t.Fatalf("Load(%s) error = %v (%T), want *load.Errors", dir, err, err)
	}
	wantLoad := []string{
		a + `:2: unknown kind "Deployment" (apiVersion apps/v1); want one of BGPConfiguration, BGPPeer, FelixConfiguration, GlobalNetworkPolicy, GlobalNetworkSet, HostEndpoint, IPPool, Namespace, NetworkPolicy, NetworkSet, Node, Pod, Profile, Service, ServiceAccount, StagedGlobalNetworkPolicy, StagedNetworkPolicy, Tier`,
		a + `:9: GlobalNetworkPolicy: unsupported apiVersion "projectcalico.org/v1" (want projectcalico.org/v3)`,
		b + `:12: NetworkPolicy: unsupported apiVersion "networking.k8s.io/v1beta1" (want projectcalico.org/v3 or networking.k8s.io/v1)`,
		b + `:30: Pod shop/web: unknown field "prots"`,
		// The syntax error ends c-broken.yaml: its Foo document is never read.
		c + `:7: invalid YAML: did not find expected ',' or ']'`,
	}
	if diff := cmp.Diff(wantLoad, lerr.Lines()); diff != "" {
		t.Errorf("Load(%s) errors (-want +got):\n%s", dir, diff)
	}
	if got, want := err.Error(), wantLoad[0]+" (and 4 more errors)"; got != want {
		t.Errorf("Load(%s) error = %q, want %q", dir, got, want)
	}
	var ids []string
	for _, o := range res.Objects {
		ids = append(ids, o.ID())
	}
	if diff := cmp.Diff([]string{"Namespace shop", "NetworkPolicy shop/p", "Pod shop/db", "Namespace shop"}, ids); diff != "" {
		t.Errorf("Load(%s) objects that loaded (-want +got):\n%s", dir, diff)
	}
	if diff := cmp.Diff([]string{a, b, c}, res.Files); diff != "" {
		t.Errorf("Load(%s) files (-want +got):\n%s", dir, diff)
	}

	_, err = Build(res.Objects, nil)
	var berr *BuildError
	if !errors.As(err, &berr) {
		t.Fatalf("Build(loaded objects) error = %v, want *BuildError", err)
	}
	wantBuild := []string{
		c + `:1: Namespace shop: duplicate (first defined at ` + a + `:5)`,
		b + `:5: NetworkPolicy shop/p: spec.selector: invalid selector "app = 'x'": expected '==' at position 5`,
		b + `:10: NetworkPolicy shop/p: spec.ingress[0].destination.ports[0]: port 70000 out of range 0-65535`,
		b + `:22: Pod shop/db: status.podIP: invalid IP "10.0.0.300"`,
	}
	if diff := cmp.Diff(wantBuild, berr.Lines()); diff != "" {
		t.Errorf("Build(loaded objects) errors (-want +got):\n%s", diff)
	}
}

// Errors past load.MaxErrors are counted, not kept.
func TestErrorCap(t *testing.T) {
	var text, pods strings.Builder
	for i := range 150 {
		fmt.Fprintf(&text, "---\napiVersion: v1\nkind: Thing%d\nmetadata: {name: x}\n", i)
		fmt.Fprintf(&pods, "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p%d}\nstatus: {podIP: bad}\n", i)
	}
	_, _, err := load.Parse("many.yaml", []byte(text.String()), load.Options{})
	var lerr *load.Errors
	if !errors.As(err, &lerr) {
		t.Fatalf("Parse(150 unknown kinds) error = %v, want *load.Errors", err)
	}
	lines := lerr.Lines()
	if lerr.Len() != 150 || len(lines) != load.MaxErrors+1 {
		t.Fatalf("Parse(150 unknown kinds): Len() = %d, %d lines; want 150 and %d", lerr.Len(), len(lines), load.MaxErrors+1)
	}
	if got, want := lines[99], `many.yaml:399: unknown kind "Thing99"`; !strings.HasPrefix(got, want) {
		t.Errorf("Parse(150 unknown kinds) line 100 = %q, want prefix %q", got, want)
	}
	if got, want := lines[100], "… and 50 more errors"; got != want {
		t.Errorf("Parse(150 unknown kinds) last line = %q, want %q", got, want)
	}

	objs, _, err := load.Parse("pods.yaml", []byte(pods.String()), load.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(objs, nil)
	var berr *BuildError
	if !errors.As(err, &berr) || berr.Len() != 150 || len(berr.Errs) != load.MaxErrors {
		t.Fatalf("Build(150 bad pods) error = %v, want a *BuildError of 150 with %d kept", err, load.MaxErrors)
	}
	if got, want := berr.Error(), `pods.yaml:5: Pod default/p0: status.podIP: invalid IP "bad" (and 149 more errors)`; got != want {
		t.Errorf("Build(150 bad pods) error = %q, want %q", got, want)
	}
}
