package netpol

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/netpol/load"
)

func portStrings(ps []PortProto) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

func TestPortsInUseRanges(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: api, namespace: r, labels: {app: api}}\nstatus: {podIP: 10.9.0.2}\n"
	const podNamed = "apiVersion: v1\nkind: Pod\nmetadata: {name: api, namespace: r, labels: {app: api}}\n" +
		"spec: {containers: [{name: c, image: x, ports: [{name: metrics, containerPort: 8043}]}]}\nstatus: {podIP: 10.9.0.2}\n"
	calico := func(proto, ports string) string {
		return "---\napiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: p, namespace: r}\nspec:\n  selector: app == 'api'\n" +
			"  ingress:\n  - action: Allow\n    protocol: " + proto + "\n    destination:\n      " + ports + "\n"
	}
	tests := []struct {
		name, text string
		want       []string
	}{
		{"kubernetes endPort", pod + "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: k, namespace: r}\n" +
			"spec:\n  podSelector: {}\n  ingress:\n  - ports: [{port: 8000, endPort: 8080}]\n",
			[]string{"8000/TCP", "8080/TCP"}},
		{"calico range", pod + calico("UDP", "ports: ['8000:8080']"), []string{"8000/UDP", "8080/UDP"}},
		{"range starting at 0", pod + calico("TCP", "ports: ['0:1024']"), []string{"1/TCP", "1024/TCP"}},
		{"range ending at 65535", pod + calico("TCP", "ports: ['60000:65535']"), []string{"60000/TCP", "65535/TCP"}},
		// 1:100 minus 1:20 and 50:100 leaves 21-49, matched by 1:100 alone:
		// 21 samples it.
		{"overlapping ranges", pod + calico("TCP", "ports: ['1:100', '1:20', '50:100']"),
			[]string{"1/TCP", "20/TCP", "21/TCP", "50/TCP", "100/TCP"}},
		{"declared port inside a range", podNamed + calico("TCP", "ports: ['8000:8080']"),
			[]string{"8000/TCP", "8043/TCP", "8080/TCP"}},
		{"notPorts", pod + calico("TCP", "notPorts: [22, '6000:6063']"), []string{"22/TCP", "6000/TCP", "6063/TCP"}},
		{"named rule port is not a number", pod + calico("TCP", "ports: [http]"), []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, _, err := load.Parse("f.yaml", []byte(tt.text), load.Options{})
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Build(objs, nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, portStrings(PortsInUse(cfg))); diff != "" {
				t.Errorf("PortsInUse(%s) (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

// A policy that allows only TCP 8000-8080 shows in the matrix and the diff
// without naming a port.
func TestRangeOnlyFlow(t *testing.T) {
	dir := filepath.Join("testdata", "ranges")
	build := func(policy string) *Config {
		objs, err := loadObjects(t, filepath.Join(dir, "pods.yaml"), filepath.Join(dir, policy))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := Build(objs, nil)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	oldCfg, newCfg := build("old.yaml"), build("new.yaml")
	ports := PortsInUse(newCfg)
	if diff := cmp.Diff([]string{"8000/TCP", "8080/TCP"}, portStrings(ports)); diff != "" {
		t.Fatalf("PortsInUse(new) (-want +got):\n%s", diff)
	}
	m := ComputeMatrix(newCfg, ports, 4)
	idx := map[string]int{}
	for i, e := range m.Endpoints() {
		idx[e.ID()] = i
	}
	if got := portStrings(m.AllowedPorts(idx["r/client"], idx["r/api"])); !cmp.Equal(got, []string{"8000/TCP", "8080/TCP"}) {
		t.Errorf("matrix r/client -> r/api = %v, want [8000/TCP 8080/TCP]", got)
	}
	if got := portStrings(m.AllowedPorts(idx["r/api"], idx["r/client"])); !cmp.Equal(got, []string{"8000/TCP", "8080/TCP"}) {
		t.Errorf("matrix r/api -> r/client = %v, want [8000/TCP 8080/TCP] (no policy on client)", got)
	}
	// Old denies everything into api and names no port: the ports come from new.
	if got := PortsInUse(oldCfg); len(got) != 0 {
		t.Errorf("PortsInUse(old) = %v, want none", got)
	}
	d := Diff(oldCfg, newCfg, ports, 4)
	var got []string
	for _, c := range d.NewlyAllowed {
		got = append(got, c.From+" -> "+c.To+" "+c.Port.String())
	}
	want := []string{"r/client -> r/api 8000/TCP", "r/client -> r/api 8080/TCP"}
	if diff := cmp.Diff(want, got); diff != "" || len(d.NewlyBlocked) != 0 {
		t.Errorf("Diff(old, new) newly allowed (-want +got):\n%s\nnewly blocked: %v", diff, d.NewlyBlocked)
	}
}
