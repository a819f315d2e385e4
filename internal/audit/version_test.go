package audit_test

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/docker/docker/api/types"
	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/audit"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

var (
	advOnce sync.Once
	adv     audit.Advisories
	advErr  error
)

// goAdvisories loads the real Go advisories (../shared/data/osv/go.zip) once.
func goAdvisories(t testing.TB) audit.Advisories {
	t.Helper()
	path := testutil.Data(t, "osv/go.zip")
	advOnce.Do(func() {
		adv, advErr = audit.AdvisoriesFromOSVZip(path, audit.ModDocker, audit.ModMoby, audit.ModRunc, audit.ModContainerd)
	})
	if advErr != nil {
		t.Fatal(advErr)
	}
	return adv
}

func TestGoModuleVersion(t *testing.T) {
	cases := []struct{ module, in, want string }{
		{audit.ModDocker, "20.10.24+dfsg1", "v20.10.24+incompatible"},
		{audit.ModDocker, "20.10.24", "v20.10.24+incompatible"},
		{audit.ModDocker, "v28.3.3", "v28.3.3+incompatible"},
		{audit.ModDocker, "26.0.0-rc1", "v26.0.0-rc1+incompatible"},
		{audit.ModMoby, "24.0.5-0ubuntu1~22.04.1", "v24.0.5+incompatible"},
		{audit.ModRunc, "1.1.5+ds1", "v1.1.5"},
		{audit.ModRunc, "1.1.5+ds1-1+deb12u1", "v1.1.5"},
		{audit.ModRunc, "1.2.0-rc.1", "v1.2.0-rc.1"},
		{audit.ModContainerd, "1.6.20~ds1", "v1.6.20"},
		{audit.ModContainerd, "1.6.20~ds1-1+deb12u3", "v1.6.20"},
		{audit.ModContainerd, "1.7", "v1.7.0"},
		{audit.ModContainerd, "v1.7.33", "v1.7.33"},
	}
	for _, c := range cases {
		got, ok := audit.GoModuleVersion(c.module, c.in)
		if !ok || got != c.want {
			t.Errorf("GoModuleVersion(%s, %q) = %q, %v; want %q", c.module, c.in, got, ok, c.want)
		}
	}
	for _, bad := range []string{"", "dev", "master", "abc.def", "5d6db84"} {
		if got, ok := audit.GoModuleVersion(audit.ModDocker, bad); ok {
			t.Errorf("GoModuleVersion(%q) = %q, true; want not ok", bad, got)
		}
	}
}

// versionTarget is a daemon reporting the given component versions.
func versionTarget(engine, containerd, runc string, a audit.Advisories) *audit.Target {
	d := &audit.Daemon{Endpoint: "unix:///var/run/docker.sock"}
	d.Version = types.Version{Version: engine, Components: []types.ComponentVersion{
		{Name: "Engine", Version: engine}, {Name: "containerd", Version: containerd}, {Name: "runc", Version: runc},
	}}
	return &audit.Target{Daemon: d, Advisories: a, HostReason: "test"}
}

func checkByID(t testing.TB, id string) audit.Check {
	t.Helper()
	for _, c := range audit.Checks() {
		if c.Info().ID == id {
			return c
		}
	}
	t.Fatalf("no check %s", id)
	return nil
}

// TestEngineVersionAdvisories runs the version checks over several real
// versions against the real Go advisory data; the expected IDs were read
// off the records' SEMVER ranges by hand.
func TestEngineVersionAdvisories(t *testing.T) {
	a := goAdvisories(t)
	allDockerVersions := []string{"GO-2026-4883", "GO-2026-4887", "GO-2026-5617", "GO-2026-5668", "GO-2026-5746"}
	cases := []struct {
		check, version string
		want           []string // advisory IDs; nil = PASS
	}{
		{"LD-DKR-101", "20.10.24+dfsg1", append([]string{"GO-2024-2512", "GO-2024-3005", "GO-2024-3304", "GO-2024-3305", "GO-2025-3829"}, allDockerVersions...)},
		{"LD-DKR-101", "20.10.13", append([]string{"GO-2022-0390", "GO-2022-0985", "GO-2022-1107", "GO-2023-1699", "GO-2023-1700", "GO-2023-1701",
			"GO-2024-2512", "GO-2024-3005", "GO-2024-3304", "GO-2024-3305", "GO-2025-3829"}, allDockerVersions...)},
		{"LD-DKR-101", "28.3.2", append([]string{"GO-2025-3830"}, allDockerVersions...)},
		{"LD-DKR-101", "28.3.3", allDockerVersions},
		{"LD-DKR-103", "1.1.5+ds1", []string{"GO-2024-2491", "GO-2024-3110", "GO-2025-4096", "GO-2025-4097", "GO-2025-4098", "GO-2026-5761"}},
		{"LD-DKR-103", "1.1.4", []string{"GO-2023-1627", "GO-2023-1682", "GO-2023-1683", "GO-2024-2491", "GO-2024-3110", "GO-2025-4096", "GO-2025-4097", "GO-2025-4098", "GO-2026-5761"}},
		{"LD-DKR-103", "1.3.6", nil},
		{"LD-DKR-102", "1.6.20~ds1", []string{"GO-2023-2412", "GO-2025-3528", "GO-2025-4100", "GO-2025-4108", "GO-2026-5064", "GO-2026-5338", "GO-2026-5622"}},
		{"LD-DKR-102", "1.7.33", []string{"GO-2026-5064", "GO-2026-5338", "GO-2026-5622"}},
	}
	for _, c := range cases {
		t.Run(c.check+"/"+c.version, func(t *testing.T) {
			tg := versionTarget(c.version, c.version, c.version, a)
			r := checkByID(t, c.check).Run(context.Background(), tg)
			if c.want == nil {
				if r.Status != model.StatusPass {
					t.Fatalf("%s(%s) = %s %q, want PASS", c.check, c.version, r.Status, r.Evidence)
				}
				return
			}
			if r.Status != model.StatusFail {
				t.Fatalf("%s(%s) = %s %q, want FAIL", c.check, c.version, r.Status, r.Evidence)
			}
			_, ids, ok := strings.Cut(r.Evidence, " advisories: ")
			if !ok {
				t.Fatalf("evidence %q lists no advisories", r.Evidence)
			}
			want := append([]string(nil), c.want...)
			if diff := cmp.Diff(sorted(want), strings.Split(ids, ", ")); diff != "" {
				t.Errorf("%s(%s) advisories (-want +got):\n%s", c.check, c.version, diff)
			}
			if len(r.References) != len(c.want) {
				t.Errorf("references = %d, want %d", len(r.References), len(c.want))
			}
		})
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestNewestReleaseLine(t *testing.T) {
	a := goAdvisories(t)
	cases := []struct{ version, status, evidence string }{
		{"20.10.24+dfsg1", model.StatusFail, "the newest release line known to the advisory data is 28.3 (github.com/docker/docker fixed in 28.3.3+incompatible)"},
		{"27.5.1", model.StatusFail, "is on the 27.5 line"},
		{"28.3.0", model.StatusPass, "is on the 28.3 line"},
		{"29.0.1", model.StatusPass, "is on the 29.0 line"},
		{"dev", model.StatusSkip, "not a release version"},
	}
	for _, c := range cases {
		r := checkByID(t, "LD-DKR-104").Run(context.Background(), versionTarget(c.version, "", "", a))
		if r.Status != c.status || !strings.Contains(r.Evidence, c.evidence) {
			t.Errorf("LD-DKR-104(%s) = %s %q, want %s containing %q", c.version, r.Status, r.Evidence, c.status, c.evidence)
		}
	}
	if r := checkByID(t, "LD-DKR-101").Run(context.Background(), versionTarget("20.10.24", "", "", nil)); r.Status != model.StatusSkip {
		t.Errorf("LD-DKR-101 without advisories = %s, want SKIP", r.Status)
	}
}

// TestRealEngineVersion audits the machine's engine version (CI: Debian's
// docker.io 20.10.24+dfsg1, containerd 1.6.20~ds1, runc 1.1.5+ds1).
func TestRealEngineVersion(t *testing.T) {
	cfg := engine(t)
	cfg.Advisories = goAdvisories(t)
	cfg.Include = []string{"version"}
	rep, err := audit.Run(context.Background(), *cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 4 {
		t.Fatalf("version results = %d, want 4", len(rep.Findings))
	}
	want := map[string]map[string]string{
		"20.10.24+dfsg1": {"LD-DKR-101": "GO-2024-2512, GO-2024-3005, GO-2024-3304, GO-2024-3305, GO-2025-3829, GO-2026-4883, GO-2026-4887, GO-2026-5617, GO-2026-5668, GO-2026-5746"},
	}
	ev, known := want[rep.Meta["engineVersion"]]
	for _, f := range rep.Findings {
		if f.Status != model.StatusFail && f.Status != model.StatusPass {
			t.Errorf("%s = %s %q, want a verdict", f.RuleID, f.Status, f.Evidence)
		}
		if known && ev[f.RuleID] != "" && !strings.HasSuffix(f.Evidence, ev[f.RuleID]) {
			t.Errorf("%s evidence = %q, want it to end with %q", f.RuleID, f.Evidence, ev[f.RuleID])
		}
	}
	if !known {
		t.Logf("engine %s: exact advisory IDs asserted only for 20.10.24+dfsg1", rep.Meta["engineVersion"])
	}
}

// TestVersionRemediation: the version a FAIL recommends is one that the
// same advisories leave unaffected (the highest fix of the listed
// advisories can be hit by advisories of its own line: containerd 1.6.20's
// fixes top out at 1.7.29, which six advisories affect), and without a
// clean release the fix says so instead of naming an affected version.
func TestVersionRemediation(t *testing.T) {
	a := goAdvisories(t)
	cases := []struct {
		id, version string
		want        string // the recommended version, "" when none is clean
	}{
		{"LD-DKR-103", "1.1.5+ds1", "1.3.6"},
		{"LD-DKR-103", "1.1.4", "1.3.6"},
		{"LD-DKR-102", "1.6.20~ds1", ""},
		{"LD-DKR-102", "1.7.29", ""},
		{"LD-DKR-101", "20.10.24+dfsg1", ""},
	}
	re := regexp.MustCompile(`^upgrade \S+ to (\S+) or later, `)
	for _, c := range cases {
		t.Run(c.id+" "+c.version, func(t *testing.T) {
			var tg *audit.Target
			switch c.id {
			case "LD-DKR-101":
				tg = versionTarget(c.version, "", "", a)
			case "LD-DKR-102":
				tg = versionTarget("", c.version, "", a)
			case "LD-DKR-103":
				tg = versionTarget("", "", c.version, a)
			}
			r := checkByID(t, c.id).Run(context.Background(), tg)
			if r.Status != model.StatusFail {
				t.Fatalf("%s(%s) = %s %q, want FAIL", c.id, c.version, r.Status, r.Evidence)
			}
			got := ""
			if m := re.FindStringSubmatch(r.Remediation); m != nil {
				got = m[1]
			} else if !strings.HasPrefix(r.Remediation, "upgrade") || !strings.Contains(r.Remediation, "every release the advisory data knows is affected") {
				t.Fatalf("%s(%s) remediation = %q, want a recommended version or \"every release … is affected\"", c.id, c.version, r.Remediation)
			}
			if got != c.want {
				t.Fatalf("%s(%s) recommends %q, want %q (remediation %q)", c.id, c.version, got, c.want, r.Remediation)
			}
			if got == "" {
				return
			}
			switch c.id {
			case "LD-DKR-102":
				tg = versionTarget("", got, "", a)
			case "LD-DKR-103":
				tg = versionTarget("", "", got, a)
			}
			if r := checkByID(t, c.id).Run(context.Background(), tg); r.Status != model.StatusPass {
				t.Errorf("%s(%s), the recommended version = %s %q, want PASS", c.id, got, r.Status, r.Evidence)
			}
		})
	}
}

// TestVersionChecksWithoutGoData: advisory data without a single record
// for the engine's modules (a database built from other ecosystems) gives
// no verdict: SKIP saying so, never a PASS for a version nothing was
// checked against.
func TestVersionChecksWithoutGoData(t *testing.T) {
	noGo, err := audit.AdvisoriesFromOSVZip(testutil.Data(t, "osv/crates.io.zip"), audit.ModDocker, audit.ModMoby, audit.ModRunc, audit.ModContainerd)
	if err != nil {
		t.Fatal(err)
	}
	tg := versionTarget("20.10.24+dfsg1", "1.6.20~ds1", "1.1.5+ds1", noGo)
	for _, id := range []string{"LD-DKR-101", "LD-DKR-102", "LD-DKR-103", "LD-DKR-104"} {
		r := checkByID(t, id).Run(context.Background(), tg)
		if r.Status != model.StatusSkip || !strings.Contains(r.Evidence, "no ") {
			t.Errorf("%s with no Go advisories = %s %q, want SKIP saying the data has none", id, r.Status, r.Evidence)
		}
	}
}

// TestOneUpgradeTarget: the two checks that recommend a Docker Engine
// release name the same one.
func TestOneUpgradeTarget(t *testing.T) {
	a := goAdvisories(t)
	for _, v := range []string{"20.10.24+dfsg1", "27.5.1", "26.1.0"} {
		tg := versionTarget(v, "", "", a)
		vulns := checkByID(t, "LD-DKR-101").Run(context.Background(), tg)
		line := checkByID(t, "LD-DKR-104").Run(context.Background(), tg)
		if vulns.Status != model.StatusFail || line.Status != model.StatusFail {
			t.Fatalf("%s: LD-DKR-101 %s, LD-DKR-104 %s; want both FAIL", v, vulns.Status, line.Status)
		}
		t.Logf("%s: %s", v, vulns.Remediation)
		if vulns.Remediation != line.Remediation || !strings.HasPrefix(vulns.Remediation, "upgrade Docker Engine to ") {
			t.Errorf("%s: LD-DKR-101 says %q, LD-DKR-104 says %q; want one upgrade target", v, vulns.Remediation, line.Remediation)
		}
	}
}
