//go:build !scanonly

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/audit"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

func runAuditCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = Run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

// badInputCase is a command line that must fail with exit 2 and one
// "lockdown: " line on stderr containing want, writing nothing to stdout.
type badInputCase struct {
	name string
	args []string
	want string
}

// testBadInput runs each case's arguments after prefix.
func testBadInput(t *testing.T, prefix []string, cases []badInputCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runAuditCLI(t, append(slices.Clone(prefix), c.args...)...)
			if code != ExitBadInput {
				t.Errorf("exit = %d, want %d (stderr %q)", code, ExitBadInput, errOut)
			}
			if !strings.HasPrefix(errOut, "lockdown: ") || !strings.Contains(errOut, c.want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("stderr = %q, want one line containing %q", errOut, c.want)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
		})
	}
}

func TestAuditCLIBadInput(t *testing.T) {
	dir := t.TempDir()
	cases := []badInputCase{
		{"unknown check", []string{"audit", "docker", "--check", "LD-NOPE-1"}, `--check/--skip "LD-NOPE-1" matches no check`},
		{"bad fail-on", []string{"audit", "docker", "--fail-on", "severe"}, `--fail-on: unknown severity "severe"`},
		{"bad format", []string{"audit", "docker", "--format", "cyclonedx-json"}, `--format "cyclonedx-json": audit writes table, json, sarif`},
		{"bad host-checks", []string{"audit", "docker", "--host-checks", "maybe"}, `--host-checks "maybe"`},
		{"missing baseline", []string{"audit", "docker", "--baseline", filepath.Join(dir, "none.json")}, "read baseline " + filepath.Join(dir, "none.json")},
		{"unreachable engine", []string{"audit", "docker", "--docker-host", "unix://" + filepath.Join(dir, "no.sock")},
			"docker engine at unix://" + filepath.Join(dir, "no.sock") + ": read /info: Cannot connect to the Docker daemon"},
		{"bad osv zip", []string{"audit", "docker", "--osv-zip", filepath.Join(dir, "go.zip")}, "open zip " + filepath.Join(dir, "go.zip")},
	}
	testBadInput(t, nil, cases)
}

func TestAuditCLIListChecks(t *testing.T) {
	code, out, _ := runAuditCLI(t, "audit", "docker", "--list-checks")
	if code != ExitOK {
		t.Fatalf("exit = %d", code)
	}
	for _, c := range audit.Checks() {
		if !strings.Contains(out, c.Info().ID) {
			t.Errorf("--list-checks lacks %s", c.Info().ID)
		}
	}
}

// TestAuditCLIRealEngine: --fail-on, JSON and SARIF output, and a baseline
// that turns the same results into accepted exceptions.
func TestAuditCLIRealEngine(t *testing.T) {
	testutil.RequireDocker(t)
	img := testutil.AlpineImage(t, "lockdown-test/audit-alpine:3.20.3", `CMD ["sleep","3600"]`)
	name := strings.TrimSuffix(testutil.UniquePrefix(t, "ld15"), "-")
	testutil.RunContainer(t, name, "--label", "lockdown.test=ld15", "--network", "none", "--cap-add", "SYS_ADMIN", img)
	dir := t.TempDir()
	base := filepath.Join(dir, "baseline.json")
	common := []string{"audit", "docker", "--container", name, "--host-checks", "off", "--skip", "daemon"}

	code, out, errOut := runAuditCLI(t, append(common, "--format", "json", "--fail-on", "high", "--write-baseline", base)...)
	if code != ExitFindings {
		t.Fatalf("exit = %d, want %d (stderr %q)", code, ExitFindings, errOut)
	}
	var rep model.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json output: %v", err)
	}
	var sysadmin *model.Finding
	for i, f := range rep.Findings {
		if f.Subject == name && f.RuleID == "LD-CTR-302" {
			sysadmin = &rep.Findings[i]
		}
		if f.Scope == audit.ScopeDaemon || (f.Scope == audit.ScopeContainer && f.Subject != name) {
			t.Errorf("unexpected result %s for %s %s", f.RuleID, f.Scope, f.Subject)
		}
	}
	if sysadmin == nil || sysadmin.Status != model.StatusFail || sysadmin.Severity != model.SeverityHigh || sysadmin.CIS != "5.4" {
		t.Fatalf("LD-CTR-302 = %+v, want FAIL HIGH CIS 5.4", sysadmin)
	}
	if rep.Kind != "audit" || rep.Meta["score"] == "" || rep.Meta["engineVersion"] == "" {
		t.Errorf("report kind %q meta %v, want audit with score and engineVersion", rep.Kind, rep.Meta)
	}

	// With the baseline, the same results are accepted: nothing fails.
	code, out, errOut = runAuditCLI(t, append(common, "--format", "json", "--fail-on", "low", "--baseline", base)...)
	if code != ExitOK {
		t.Fatalf("with baseline: exit = %d, want 0 (stderr %q)", code, errOut)
	}
	rep = model.Report{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Status == model.StatusFail || f.Status == model.StatusWarn {
			t.Errorf("with baseline, %s %s still %s", f.RuleID, f.Subject, f.Status)
		}
	}
	if len(rep.Suppressed) == 0 || rep.Suppressed[0].By != "baseline" {
		t.Errorf("suppressed = %+v, want the baseline's results", rep.Suppressed)
	}

	code, out, _ = runAuditCLI(t, append(common, "--format", "sarif", "--check", "LD-CTR-302")...)
	if code != ExitOK || !strings.Contains(out, `"LD-CTR-302"`) || !json.Valid([]byte(out)) {
		t.Errorf("sarif: exit %d, output %.200q", code, out)
	}
	code, out, _ = runAuditCLI(t, append(common, "--check", "LD-CTR-302", "--no-color")...)
	if code != ExitOK || !strings.Contains(out, "container "+name) || !strings.Contains(out, "HostConfig.CapAdd: SYS_ADMIN") {
		t.Errorf("table: exit %d, output %q", code, out)
	}
	code, _, errOut = runAuditCLI(t, "audit", "docker", "--container", name+"-missing", "--host-checks", "off")
	if code != ExitBadInput || !strings.Contains(errOut, `container "`+name+`-missing" not found`) {
		t.Errorf("missing container: exit %d, stderr %q", code, errOut)
	}
}
