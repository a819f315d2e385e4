package calico

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/netpol/load"
)

func TestChecksValid(t *testing.T) {
	if err := Validate(Checks()); err != nil {
		t.Fatal(err)
	}
	if _, err := Select(Checks(), []string{"LD-CAL-999"}, nil); err == nil {
		t.Error("Select(LD-CAL-999) = nil error, want one naming the selector")
	}
	got, err := Select(Checks(), []string{"wireguard"}, []string{"LD-CAL-105"})
	if err != nil || len(got) != 4 {
		t.Errorf("Select(wireguard minus LD-CAL-105) = %d checks, %v; want 4", len(got), err)
	}
}

// The fix for WireGuard is Calico's documented command, exactly.
func TestWireguardFixIsTheDocumentedCommand(t *testing.T) {
	rep := auditFile(t, "wireguard-unset.yaml", Config{})
	for _, f := range rep.Findings {
		if f.RuleID != "LD-CAL-101" {
			continue
		}
		want := `calicoctl patch felixconfiguration default --type=merge -p '{"spec":{"wireguardEnabled":true}}'`
		if !strings.HasSuffix(f.Remediation, "\n"+want) {
			t.Errorf("LD-CAL-101 remediation = %q, want it to end with %q", f.Remediation, want)
		}
		if f.Location != "wireguard-unset.yaml:5" {
			t.Errorf("location = %q", f.Location)
		}
		return
	}
	t.Fatal("no LD-CAL-101 result")
}

func TestTrustedCIDRInFailsafePatch(t *testing.T) {
	rep := auditFile(t, "failsafe-custom.yaml", Config{TrustedCIDR: "198.51.100.0/24"})
	for _, f := range rep.Findings {
		if f.RuleID == "LD-CAL-120" {
			want := `calicoctl patch felixconfiguration default --type=merge -p '{"spec":{"failsafeInboundHostPorts":[{"net":"198.51.100.0/24","port":22,"protocol":"tcp"},{"net":"192.0.2.0/24","port":6443,"protocol":"tcp"}]}}'`
			if !strings.HasSuffix(f.Remediation, want) {
				t.Errorf("remediation = %q, want it to end with %q", f.Remediation, want)
			}
			return
		}
	}
	t.Fatal("no LD-CAL-120 result")
}

func TestBadInput(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"bad selector", "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec: {selector: \"app ==\"}\n",
			"bad.yaml:4: GlobalNetworkPolicy g: spec.selector: invalid selector"},
		{"duplicate", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.0.0.0/8}\n---\napiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.1.0.0/16}\n",
			"bad.yaml:6: IPPool p: duplicate (first defined at bad.yaml:1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, _, err := load.Parse("bad.yaml", []byte(tt.text), load.Options{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = Audit(context.Background(), objs, Config{})
			var list *load.Errors
			if !errors.As(err, &list) || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Audit error = %v, want an *load.Errors starting %q", err, tt.want)
			}
		})
	}
	if _, err := Audit(context.Background(), nil, Config{UnderlayMTU: 100}); err == nil || !strings.Contains(err.Error(), "underlay MTU 100") {
		t.Errorf("Audit(UnderlayMTU 100) error = %v", err)
	}
}

// Unknown spec fields are warnings naming the file and line.
func TestUnknownFieldsWarn(t *testing.T) {
	rep := auditFile(t, "docs-wireguard-enabled.yaml", Config{})
	if len(rep.Warnings) != 1 || rep.Warnings[0].Path != "docs-wireguard-enabled.yaml:12" ||
		rep.Warnings[0].Message != "FelixConfiguration default: spec fields not checked (unknown to Lockdown): reportingInterval" {
		t.Errorf("warnings = %+v", rep.Warnings)
	}
}

func FuzzAudit(f *testing.F) {
	files, _ := filepath.Glob("testdata/corpus/*.yaml")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, text string) {
		objs, _, err := load.Parse("f.yaml", []byte(text), load.Options{})
		if err != nil {
			return
		}
		rep, err := Audit(context.Background(), objs, Config{})
		if err != nil {
			return
		}
		for _, fd := range rep.Findings {
			if fd.Status == "" || fd.RuleID == "" {
				t.Fatalf("finding without status or rule: %+v", fd)
			}
			if (fd.Status == model.StatusFail || fd.Status == model.StatusWarn) && fd.Remediation == "" {
				t.Fatalf("%s %s without remediation", fd.RuleID, fd.Subject)
			}
		}
	})
}

// A cluster of 200 namespaces, 1,000 policies, 50 pools and 300 nodes.
func BenchmarkAudit(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: default}\nspec: {wireguardEnabled: true}\n")
	for i := range 200 {
		fmt.Fprintf(&sb, "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ns%d}\n", i)
		for j := range 5 {
			fmt.Fprintf(&sb, "---\napiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: p%d, namespace: ns%d}\nspec:\n  selector: app == 'a%d'\n  types: [Ingress, Egress]\n  ingress: [{action: Allow, source: {selector: app == 'b%d'}}]\n", j, i, j, j)
		}
	}
	for i := range 50 {
		fmt.Fprintf(&sb, "---\napiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: pool%d}\nspec: {cidr: 10.%d.0.0/16, vxlanMode: CrossSubnet, natOutgoing: true}\n", i, i)
	}
	for i := range 300 {
		fmt.Fprintf(&sb, "---\napiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: n%d}\nstatus: {wireguardPublicKey: k%d}\n", i, i)
	}
	objs, _, err := load.Parse("bench.yaml", []byte(sb.String()), load.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Audit(context.Background(), objs, Config{}); err != nil {
			b.Fatal(err)
		}
	}
}
