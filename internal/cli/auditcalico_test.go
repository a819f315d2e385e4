//go:build !scanonly

package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/audit/calico"
	"github.com/lockdown-sec/lockdown/internal/model"
)

func calicoCorpus(name string) string {
	return filepath.Join("..", "audit", "calico", "testdata", "corpus", name)
}

func TestAuditCalicoCLI(t *testing.T) {
	// WireGuard off: HIGH findings, so --fail-on high exits 1.
	code, out, errOut := runAuditCLI(t, "audit", "calico", calicoCorpus("wireguard-unset.yaml"), "--format", "json", "--fail-on", "high")
	if code != ExitFindings {
		t.Fatalf("exit = %d, want %d (stderr %q)", code, ExitFindings, errOut)
	}
	var rep model.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v", err)
	}
	if rep.Kind != "audit" || rep.Target == nil || rep.Target.Kind != "calico-manifests" || len(rep.Findings) != len(calico.Checks())+0 {
		t.Errorf("report kind %q target %+v, %d findings; want audit, calico-manifests, one per check (%d)", rep.Kind, rep.Target, len(rep.Findings), len(calico.Checks()))
	}
	found := false
	for _, f := range rep.Findings {
		if f.RuleID == "LD-CAL-101" {
			found = true
			if f.Status != model.StatusFail || f.Kind != model.KindPosture || f.Location != calicoCorpus("wireguard-unset.yaml")+":5" ||
				!strings.HasSuffix(f.Remediation, `calicoctl patch felixconfiguration default --type=merge -p '{"spec":{"wireguardEnabled":true}}'`) {
				t.Errorf("LD-CAL-101 = %+v", f)
			}
		}
	}
	if !found {
		t.Error("no LD-CAL-101 finding")
	}
	// Calico's dual-stack example passes at high; only selected checks run.
	code, out, _ = runAuditCLI(t, "audit", "calico", calicoCorpus("docs-wireguard-dual-stack.yaml"), "--format", "json", "--fail-on", "low", "--check", "encryption")
	if code != ExitOK {
		t.Fatalf("dual stack: exit = %d, want 0:\n%s", code, out)
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Findings) != 7 {
		t.Errorf("--check encryption: %d findings (%v), want 7 (LD-CAL-101..105, 201 per pool)", len(rep.Findings), err)
	}
	// SARIF for code scanning.
	code, out, _ = runAuditCLI(t, "audit", "calico", calicoCorpus("host-access.yaml"), "--format", "sarif")
	if code != ExitOK || !strings.Contains(out, `"ruleId": "LD-CAL-123"`) {
		t.Errorf("sarif: exit %d, output without LD-CAL-123", code)
	}
	// A directory is read whole: policy posture sees the namespaces of one
	// file and the policies of another.
	dir := t.TempDir()
	for _, name := range []string{"wireguard-unset.yaml", "policy-default-deny.yaml"} {
		b, err := os.ReadFile(calicoCorpus(name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut = runAuditCLI(t, "audit", "calico", dir, "--format", "json", "--check", "LD-CAL-401,LD-CAL-101")
	if err := json.Unmarshal([]byte(out), &rep); code != ExitOK || err != nil || len(rep.Findings) != 5 {
		t.Errorf("directory: exit %d (%s), %d findings, want 5 (101 + 4 namespaces)", code, errOut, len(rep.Findings))
	}
}

func TestAuditCalicoCLIBadInput(t *testing.T) {
	dir := t.TempDir()
	deploy := filepath.Join(dir, "deploy.yaml")
	if err := os.WriteFile(deploy, []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badSel := filepath.Join(dir, "gnp.yaml")
	if err := os.WriteFile(badSel, []byte("apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec: {selector: \"a ==\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []badInputCase{
		{"no paths", []string{"audit", "calico"}, "audit calico: name at least one manifest"},
		{"another kind", []string{"audit", "calico", deploy}, deploy + `:2: unknown kind "Deployment" (apiVersion apps/v1)`},
		{"missing file", []string{"audit", "calico", filepath.Join(dir, "none.yaml")}, "read " + filepath.Join(dir, "none.yaml")},
		{"bad policy", []string{"audit", "calico", badSel}, badSel + ":4: GlobalNetworkPolicy g: spec.selector: invalid selector"},
		{"bad trusted cidr", []string{"audit", "calico", deploy, "--trusted-cidr", "10.0.0.1"}, `--trusted-cidr "10.0.0.1"`},
		{"bad mtu", []string{"audit", "calico", deploy, "--underlay-mtu", "100"}, "--underlay-mtu 100: want 576 to 65535"},
		{"unknown check", []string{"audit", "calico", deploy, "--check", "LD-CAL-999"}, `--check/--skip "LD-CAL-999" matches no check`},
		{"bad format", []string{"audit", "calico", deploy, "--format", "spdx-json"}, `--format "spdx-json": audit calico writes table, json, sarif`},
	}
	testBadInput(t, nil, cases)
}

func TestAuditCalicoCLIListChecks(t *testing.T) {
	code, out, _ := runAuditCLI(t, "audit", "calico", "--list-checks")
	if code != ExitOK {
		t.Fatalf("exit = %d", code)
	}
	for _, c := range calico.Checks() {
		if !strings.Contains(out, c.Info().ID+" ") {
			t.Errorf("--list-checks lacks %s", c.Info().ID)
		}
	}
}
