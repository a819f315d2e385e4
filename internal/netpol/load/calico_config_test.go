package load

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/netpol/calicov3"
)

// The cluster configuration kinds read leniently: fields Lockdown does not
// know are listed, not errors; known fields keep their types and lines.
func TestCalicoConfigKinds(t *testing.T) {
	text := `apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata:
  name: default
spec:
  wireguardEnabled: true
  WireguardEnabledV6: true
  failsafeInboundHostPorts:
  - {protocol: tcp, port: 22, net: 192.0.2.0/24}
  bpfMapSizeRoute: 262144
---
apiVersion: crd.projectcalico.org/v1
kind: IPPool
metadata: {name: pool4}
spec: {cidr: 10.244.0.0/16, vxlanMode: CrossSubnet, natOutgoing: true, blockSize: 26}
---
apiVersion: projectcalico.org/v3
kind: Node
metadata: {name: n1}
spec: {bgp: {ipv4Address: 192.0.2.10/24}, orchRefs: [{nodeName: n1, orchestrator: k8s}]}
status: {wireguardPublicKey: "jlkVyQYooZYzI2wFfNhSZez5eWh44yfq1wKVjLvSXgY="}
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: tor}
spec: {peerIP: 192.0.2.1, asNumber: 64512, password: {secretKeyRef: {name: bgp, key: pw}}}
---
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: {name: default}
spec: {nodeToNodeMeshEnabled: false, asNumber: 64512}
`
	objs, _, err := Parse("c.yaml", []byte(text), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.Kind)
	}
	if want := []string{"FelixConfiguration", "IPPool", "Node", "BGPPeer", "BGPConfiguration"}; !slices.Equal(kinds, want) {
		t.Fatalf("kinds = %v, want %v", kinds, want)
	}
	fc := objs[0].Obj.(*calicov3.FelixConfiguration)
	if fc.Spec.WireguardEnabled == nil || !*fc.Spec.WireguardEnabled || fc.Spec.WireguardEnabledV6 != nil {
		t.Errorf("wireguardEnabled = %v, wireguardEnabledV6 = %v: want true and unset (the key is in another case)", fc.Spec.WireguardEnabled, fc.Spec.WireguardEnabledV6)
	}
	if want := []string{"WireguardEnabledV6", "bpfMapSizeRoute"}; !slices.Equal(fc.Spec.Unknown, want) {
		t.Errorf("Unknown = %v, want %v", fc.Spec.Unknown, want)
	}
	if got := (*fc.Spec.FailsafeInboundHostPorts)[0].String(); got != "tcp:22 192.0.2.0/24" {
		t.Errorf("failsafe port = %q", got)
	}
	if got := objs[0].At("spec", "bpfMapSizeRoute").Line; got != 10 {
		t.Errorf("line of spec.bpfMapSizeRoute = %d, want 10", got)
	}
	pool := objs[1].Obj.(*calicov3.IPPool)
	if pool.Spec.CIDR != "10.244.0.0/16" || pool.Spec.VXLANMode != calicov3.EncapCrossSubnet || !pool.Spec.NATOutgoing || pool.Spec.BlockSize != 26 {
		t.Errorf("pool = %+v", pool.Spec)
	}
	node := objs[2].Obj.(*calicov3.Node)
	if node.Spec.BGP.IPv4Address != "192.0.2.10/24" || node.Status.WireguardPublicKey == "" || !slices.Equal(node.Spec.Unknown, []string{"orchRefs"}) {
		t.Errorf("node = %+v", node)
	}
	peer := objs[3].Obj.(*calicov3.BGPPeer)
	if peer.Spec.Password == nil || peer.Spec.Password.SecretKeyRef.Name != "bgp" {
		t.Errorf("peer = %+v", peer.Spec)
	}
}

func TestCalicoConfigErrors(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"type error keeps its line", "apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: default}\nspec:\n  wireguardEnabled: true\n  wireguardMTU: big\n",
			"c.yaml:6: FelixConfiguration default: spec.wireguardMTU: got string, want a number"},
		{"namespaced", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p, namespace: x}\nspec: {cidr: 10.0.0.0/8}\n",
			"c.yaml:3: IPPool p: metadata.namespace: IPPool is not namespaced"},
		{"wrong apiVersion", "apiVersion: v1\nkind: FelixConfiguration\nmetadata: {name: default}\n",
			`c.yaml:1: FelixConfiguration: unsupported apiVersion "v1" (want projectcalico.org/v3 or crd.projectcalico.org/v1)`},
		{"another kind", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
			`c.yaml:2: unknown kind "Deployment" (apiVersion apps/v1)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse("c.yaml", []byte(tt.text), Options{})
			var list *Errors
			if !errors.As(err, &list) || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Parse error = %v, want one starting %q", err, tt.want)
			}
		})
	}
}

func FuzzParseCalicoConfig(f *testing.F) {
	f.Add("apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: default}\nspec: {wireguardEnabled: true, failsafeInboundHostPorts: [{port: 22}], x: 1}\n")
	f.Add("apiVersion: crd.projectcalico.org/v1\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.0.0.0/8, ipipMode: Always, vxlanMode: Always}\n")
	f.Add("apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: n}\nspec: {bgp: {ipv4Address: 1.2.3.4/24}}\nstatus: {wireguardPublicKey: k}\n")
	f.Add("apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: p}\nspec: {password: null, peerIP: '::1'}\n")
	f.Add("apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: default}\nspec: [1]\n")
	f.Fuzz(func(t *testing.T, text string) {
		objs, _, err := Parse("f.yaml", []byte(text), Options{})
		if err != nil {
			var list *Errors
			if !errors.As(err, &list) || list.Len() == 0 {
				t.Fatalf("Parse error %q: want an *Errors", err)
			}
		}
		for _, o := range objs {
			if o.Name == "" || o.Obj == nil {
				t.Fatalf("object %+v without a name or value", o)
			}
		}
	})
}
