package calico

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/netpol/load"
)

// auditFile loads one corpus file and audits it.
func auditFile(t *testing.T, name string, cfg Config) *model.Report {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "corpus", name))
	if err != nil {
		t.Fatal(err)
	}
	return auditText(t, name, data, cfg)
}

func loadText(t *testing.T, name string, data []byte) []*load.Object {
	t.Helper()
	objs, _, err := load.Parse(name, data, load.Options{})
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return objs
}

func auditText(t *testing.T, name string, data []byte, cfg Config) *model.Report {
	t.Helper()
	objs := loadText(t, name, data)
	cfg.Now = func() time.Time { return time.Unix(0, 0) }
	rep, err := Audit(context.Background(), objs, cfg)
	if err != nil {
		t.Fatalf("audit %s: %v", name, err)
	}
	return rep
}

// problems lists the FAIL and WARN results as "ID STATUS SEVERITY subject".
func problems(rep *model.Report) []string {
	var out []string
	for _, f := range rep.Findings {
		if f.Status == model.StatusFail || f.Status == model.StatusWarn {
			out = append(out, fmt.Sprintf("%s %s %s %s", f.RuleID, f.Status, f.Severity, f.Subject))
		}
	}
	slices.Sort(out)
	return out
}

// Felix's defaults that every corpus case without its own failsafe and
// flow log settings reports.
var felixDefaults = []string{
	"LD-CAL-120 FAIL MEDIUM default",
	"LD-CAL-121 FAIL LOW default",
	"LD-CAL-131 WARN LOW default",
}

func with(base []string, more ...string) []string {
	return append(slices.Clone(base), more...)
}

// The corpus: real-shaped manifests, each with the exact FAIL and WARN
// results expected (ID, status, severity, subject). Every other result is
// PASS, INFO or SKIP.
var corpus = []struct {
	file string
	cfg  Config
	want []string
}{
	// Calico's own WireGuard guide: enabled, dual stack, verified on nodes, disabled.
	{file: "docs-wireguard-enabled.yaml", want: felixDefaults},
	{file: "docs-wireguard-dual-stack.yaml", want: nil},
	{file: "docs-wireguard-verify-node.yaml", want: with(felixDefaults, "LD-CAL-105 FAIL HIGH worker-2")},
	{file: "docs-wireguard-disabled.yaml", want: with(felixDefaults,
		"LD-CAL-101 FAIL HIGH default", "LD-CAL-201 FAIL MEDIUM default-ipv4-ippool")},
	{file: "wireguard-unset.yaml", want: with(felixDefaults,
		"LD-CAL-101 FAIL HIGH default", "LD-CAL-201 FAIL MEDIUM default-ipv4-ippool")},
	{file: "wireguard-node-override.yaml", want: with(felixDefaults, "LD-CAL-101 FAIL HIGH node.worker-2")},
	{file: "mtu.yaml", want: with(felixDefaults, "LD-CAL-103 FAIL MEDIUM default")},
	{file: "mtu-jumbo.yaml", cfg: Config{UnderlayMTU: 9001}, want: felixDefaults},
	{file: "mtu-jumbo.yaml", want: with(felixDefaults, "LD-CAL-103 FAIL MEDIUM default")},
	{file: "wireguard-interface.yaml", want: with(felixDefaults, "LD-CAL-104 FAIL MEDIUM default")},
	{file: "ebpf-risky.yaml", want: with(felixDefaults, "LD-CAL-110 FAIL HIGH default", "LD-CAL-111 WARN LOW default")},
	{file: "ebpf-ok.yaml", want: felixDefaults},
	{file: "failsafe-custom.yaml", want: []string{"LD-CAL-120 FAIL MEDIUM default", "LD-CAL-131 WARN LOW default"}},
	{file: "host-access.yaml", want: with(felixDefaults,
		"LD-CAL-122 FAIL MEDIUM default", "LD-CAL-123 FAIL MEDIUM default", "LD-CAL-124 FAIL MEDIUM default",
		"LD-CAL-125 FAIL MEDIUM default", "LD-CAL-126 FAIL MEDIUM default")},
	{file: "host-access-return.yaml", want: with(felixDefaults, "LD-CAL-122 WARN LOW default", "LD-CAL-126 WARN LOW default")},
	{file: "logs-debug.yaml", want: with(felixDefaults, "LD-CAL-130 WARN LOW default", "LD-CAL-130 WARN LOW node.quiet")},
	{file: "pools-encap.yaml", want: with(felixDefaults,
		"LD-CAL-202 FAIL HIGH both", "LD-CAL-202 FAIL HIGH ipip-v6", "LD-CAL-202 FAIL HIGH typo")},
	{file: "pools-overlap.yaml", want: []string{
		"LD-CAL-204 FAIL HIGH a", "LD-CAL-204 FAIL HIGH b", "LD-CAL-204 FAIL HIGH hostbits", "LD-CAL-204 FAIL HIGH linklocal"}},
	{file: "pools-blocks.yaml", want: []string{
		"LD-CAL-205 FAIL MEDIUM tiny", "LD-CAL-205 FAIL MEDIUM toolarge", "LD-CAL-205 WARN LOW few"}},
	{file: "pools-nat.yaml", want: []string{"LD-CAL-203 WARN LOW vxlan-nonat"}},
	{file: "bgp.yaml", want: []string{"LD-CAL-301 WARN LOW default", "LD-CAL-302 FAIL MEDIUM tor-a"}},
	{file: "bgp-mesh-password.yaml", want: nil},
	{file: "policy-default-deny.yaml", want: []string{"LD-CAL-401 FAIL LOW a", "LD-CAL-401 FAIL MEDIUM c"}},
	{file: "docs-global-default-deny.yaml", want: nil},
	{file: "policy-global-egress.yaml", want: []string{"LD-CAL-402 FAIL LOW https-anywhere", "LD-CAL-402 FAIL MEDIUM allow-all-egress"}},
	{file: "policy-hostendpoints.yaml", want: []string{"LD-CAL-403 FAIL HIGH node2-all", "LD-CAL-403 FAIL MEDIUM node1-eth0"}},
	// (shop denies by default: old-allow for ingress, the global "changed" for egress.)
	{file: "policy-staged.yaml", want: []string{
		"LD-CAL-404 FAIL LOW shop/new-deny", "LD-CAL-404 WARN LOW changed", "LD-CAL-404 WARN LOW shop/old-allow"}},
}

func TestCorpus(t *testing.T) {
	files, _ := filepath.Glob("testdata/corpus/*.yaml")
	covered := map[string]bool{}
	for _, tc := range corpus {
		covered[tc.file] = true
		t.Run(tc.file, func(t *testing.T) {
			rep := auditFile(t, tc.file, tc.cfg)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if diff := cmp.Diff(want, problems(rep), cmpEmpty); diff != "" {
				t.Errorf("FAIL/WARN results (-want +got):\n%s", diff)
			}
			for _, f := range rep.Findings {
				if (f.Status == model.StatusFail || f.Status == model.StatusWarn) && (f.Remediation == "" || f.Evidence == "") {
					t.Errorf("%s %s: no evidence or remediation", f.RuleID, f.Subject)
				}
				if (f.Status == model.StatusFail || f.Status == model.StatusWarn) && f.Location == "" && f.Scope == ScopeFelix {
					t.Errorf("%s %s %s: no location", f.RuleID, f.Status, f.Subject)
				}
			}
		})
	}
	if len(corpus) < 20 {
		t.Errorf("corpus has %d cases, want at least 20", len(corpus))
	}
	for _, f := range files {
		if !covered[filepath.Base(f)] {
			t.Errorf("%s has no expectation in the corpus table", f)
		}
	}
}

var cmpEmpty = cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })
