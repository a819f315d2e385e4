package report

import (
	"bytes"
	"regexp"
	"slices"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/model"
)

func decodeCDX(t *testing.T, b []byte) *cdx.BOM {
	t.Helper()
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(b), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatalf("decode CycloneDX: %v", err)
	}
	return &bom
}

func property(ps *[]cdx.Property, name string) string {
	if ps == nil {
		return ""
	}
	for _, p := range *ps {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

var serialRE = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestCycloneDXSBOM(t *testing.T) {
	s := fixtureSBOM()
	out := sbomOut(t, "cyclonedx-json", s, Options{})
	validateCycloneDX(t, out)
	bom := decodeCDX(t, out)

	if bom.SpecVersion != cdx.SpecVersion1_6 || bom.BOMFormat != "CycloneDX" {
		t.Errorf("spec = %s %v, want CycloneDX 1.6", bom.BOMFormat, bom.SpecVersion)
	}
	if !serialRE.MatchString(bom.SerialNumber) {
		t.Errorf("serialNumber = %q, want a v5 urn:uuid", bom.SerialNumber)
	}
	if bom.Vulnerabilities != nil {
		t.Errorf("an SBOM has vulnerabilities: %v", *bom.Vulnerabilities)
	}
	mc := bom.Metadata.Component
	if mc == nil || mc.Type != cdx.ComponentTypeContainer || mc.Name != s.Target.Name || mc.Version != s.Target.Digest {
		t.Errorf("metadata component = %+v, want container %s %s", mc, s.Target.Name, s.Target.Digest)
	}
	if got := bom.Metadata.Timestamp; got != "2026-11-27T08:30:00Z" {
		t.Errorf("timestamp = %q, want 2026-11-27T08:30:00Z", got)
	}

	comps := map[string]cdx.Component{}
	for _, c := range *bom.Components {
		if _, dup := comps[c.BOMRef]; dup {
			t.Errorf("bom-ref %s twice", c.BOMRef)
		}
		comps[c.BOMRef] = c
	}
	if len(comps) != len(s.Packages)+1 {
		t.Errorf("%d components, want %d packages + 1 OS", len(comps), len(s.Packages))
	}
	for _, p := range s.Packages {
		c, ok := comps[p.ID]
		if !ok {
			t.Errorf("package %s (%s) missing", p.Name, p.ID)
			continue
		}
		if c.PackageURL != p.PURL || c.Name != p.Name || c.Version != p.Version || c.Type != cdx.ComponentTypeLibrary {
			t.Errorf("component %s = %s %s %s %s, want library %s %s %s", p.ID, c.Type, c.Name, c.Version, c.PackageURL, p.Name, p.Version, p.PURL)
		}
		for name, want := range map[string]string{
			"lockdown:layer:diffID":       p.Layer.DiffID,
			"lockdown:layer:index":        map[int]string{0: "0", 1: "1"}[p.Layer.Index],
			"lockdown:package:location":   p.Location,
			"lockdown:package:sourceName": p.SourceName,
		} {
			if got := property(c.Properties, name); got != want {
				t.Errorf("component %s property %s = %q, want %q", p.Name, name, got, want)
			}
		}
	}
	os := comps["lockdown:os:debian@12"]
	if os.Type != cdx.ComponentTypeOS || os.Name != "debian" || os.Version != "12" {
		t.Errorf("OS component = %+v, want operating-system debian 12", os)
	}
	// The target depends on every component.
	deps := *bom.Dependencies
	if len(deps) != 1 || deps[0].Ref != "lockdown:target" || len(*deps[0].Dependencies) != len(comps) {
		t.Errorf("dependencies = %+v, want lockdown:target on all %d components", deps, len(comps))
	}

	// The serial number follows the content.
	if again := decodeCDX(t, sbomOut(t, "cyclonedx-json", fixtureSBOM(), Options{})); again.SerialNumber != bom.SerialNumber {
		t.Errorf("serialNumber changed between runs: %s, %s", bom.SerialNumber, again.SerialNumber)
	}
	s2 := fixtureSBOM()
	s2.Packages = s2.Packages[1:]
	if other := decodeCDX(t, sbomOut(t, "cyclonedx-json", s2, Options{})); other.SerialNumber == bom.SerialNumber {
		t.Errorf("serialNumber %s is the same for different package lists", bom.SerialNumber)
	}
}

func TestCycloneDXScan(t *testing.T) {
	r := fixtureScan()
	out := reportOut(t, "cyclonedx-json", r, Options{})
	validateCycloneDX(t, out)
	bom := decodeCDX(t, out)

	refs := map[string]bool{}
	for _, c := range *bom.Components {
		refs[c.BOMRef] = true
	}
	id := func(name string) string { return pkgNamed(r.Packages, name).ID }
	type vulnSummary struct {
		Affects        []string
		Severity       cdx.Severity
		Method         cdx.ScoringMethod
		Vector         string
		Recommendation string
		State          cdx.ImpactAnalysisState
		Justification  cdx.ImpactAnalysisJustification
		Response       []cdx.ImpactAnalysisResponse
		Refs           []string
	}
	got := map[string]vulnSummary{}
	for _, v := range *bom.Vulnerabilities {
		var s vulnSummary
		for _, a := range *v.Affects {
			s.Affects = append(s.Affects, a.Ref)
			if !refs[a.Ref] {
				t.Errorf("%s affects %s, which is no component", v.ID, a.Ref)
			}
		}
		rt := (*v.Ratings)[0]
		s.Severity, s.Method, s.Vector, s.Recommendation = rt.Severity, rt.Method, rt.Vector, v.Recommendation
		if v.Analysis != nil {
			s.State, s.Justification = v.Analysis.State, v.Analysis.Justification
			if v.Analysis.Response != nil {
				s.Response = *v.Analysis.Response
			}
		}
		if v.References != nil {
			for _, ref := range *v.References {
				s.Refs = append(s.Refs, ref.ID)
			}
		}
		if _, dup := got[v.ID]; dup {
			t.Errorf("vulnerability %s twice", v.ID)
		}
		got[v.ID] = s
	}
	v31 := cdx.ScoringMethodCVSSv31
	want := map[string]vulnSummary{
		"CVE-2023-5678":  {Affects: []string{id("libssl3")}, Severity: "medium", Method: v31, Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", Recommendation: "Upgrade to 3.0.13-1~deb12u1"},
		"CVE-2024-0727":  {Affects: []string{id("libssl3")}, Severity: "medium", Method: v31, Vector: "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H", Recommendation: "Upgrade to 3.0.13-1~deb12u1"},
		"CVE-2020-8203":  {Affects: []string{id("lodash")}, Severity: "high", Method: v31, Vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H", Recommendation: "Upgrade to 4.17.19", Refs: []string{"GHSA-p6mc-m468-83gw"}},
		"CVE-2021-23337": {Affects: []string{id("lodash")}, Severity: "high", Method: v31, Vector: "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", Recommendation: "Upgrade to 4.17.21", Refs: []string{"GHSA-35jh-r3h4-6jhm"}},
		"GO-2023-1988": {Affects: []string{id("golang.org/x/net")}, Severity: "unknown", Recommendation: "Upgrade to 0.13.0",
			State: "not_affected", Justification: "code_not_present", Refs: []string{"CVE-2023-3978", "GHSA-2wrh-6pvc-2jm9"}},
		"CVE-2023-45853": {Affects: []string{id("zlib1g")}, Severity: "critical", Method: v31, Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
		"CVE-2024-2961":  {Affects: []string{id("libc6")}, Severity: "high", Method: v31, Vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", Recommendation: "Upgrade to 2.36-9+deb12u6"},
		// Suppressed: by an ignore file (risk accepted) and by VEX (not affected).
		"CVE-2010-4756": {Affects: []string{id("libc6")}, Severity: "low", Response: []cdx.ImpactAnalysisResponse{cdx.IARWillNotFix}},
		"GO-2023-2102":  {Affects: []string{id("golang.org/x/net")}, Severity: "medium", Recommendation: "Upgrade to 0.17.0", State: cdx.IASNotAffected, Justification: cdx.IAJCodeNotReachable, Refs: []string{"CVE-2023-39325"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("vulnerabilities (-want +got):\n%s", diff)
	}
	// Components: exactly the scanned packages plus the OS.
	var names []string
	for _, c := range *bom.Components {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	if wantNames := []string{"base-files", "debian", "golang.org/x/net", "libc6", "libssl3", "lodash", "zlib1g"}; !slices.Equal(names, wantNames) {
		t.Errorf("components = %v, want %v", names, wantNames)
	}
}

// A finding whose package is missing from Report.Packages still gets a
// component to point at; one without any package points at the target.
func TestCycloneDXFindingPackages(t *testing.T) {
	extra := pkg(model.Package{Name: "busybox", Version: "1.36.1-r2", Type: model.TypeAPK, PURL: "pkg:apk/alpine/busybox@1.36.1-r2", Location: "/lib/apk/db/installed"})
	r := &model.Report{
		Kind: "scan", CreatedAt: fixedTime,
		Findings: []model.Finding{
			vuln(&extra, "CVE-2023-42366", model.SeverityMedium, "1.36.1-r6", "heap overflow in awk", ""),
			{Kind: model.KindVulnerability, RuleID: "CVE-2099-0001", Subject: "kernel", Severity: model.SeverityLow},
		},
	}
	out := reportOut(t, "cyclonedx-json", r, Options{Tool: model.Tool{Name: "lockdown", Version: "dev"}})
	validateCycloneDX(t, out)
	bom := decodeCDX(t, out)
	if n := len(*bom.Components); n != 1 || (*bom.Components)[0].BOMRef != extra.ID {
		t.Errorf("components = %+v, want just busybox %s", *bom.Components, extra.ID)
	}
	got := map[string]string{}
	for _, v := range *bom.Vulnerabilities {
		got[v.ID] = (*v.Affects)[0].Ref
	}
	if want := map[string]string{"CVE-2023-42366": extra.ID, "CVE-2099-0001": "lockdown:target"}; !cmp.Equal(got, want) {
		t.Errorf("affects = %v, want %v", got, want)
	}
	if tools := *bom.Metadata.Tools.Components; tools[0].Name != "lockdown" || tools[0].Version != "dev" {
		t.Errorf("tool = %+v, want Options.Tool lockdown dev", tools[0])
	}
}

func TestNameUUID(t *testing.T) {
	// RFC 4122 appendix B / Python uuid.uuid5(NAMESPACE_DNS, "python.org").
	dns := [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	if got, want := nameUUID(dns, []byte("python.org")), "886313e1-3b8a-5372-9b90-0c9aee199e5d"; got != want {
		t.Errorf("nameUUID(DNS, python.org) = %s, want %s", got, want)
	}
}

// A finding reported twice, and also suppressed, is one vulnerability entry
// (the schema requires unique items), and it is the reported one.
func TestCycloneDXDuplicateFindings(t *testing.T) {
	r := fixtureScan()
	f := r.Findings[0]
	f2 := f
	f2.Title = "another title for the same advisory"
	r.Findings = []model.Finding{f, f2, f}
	r.Suppressed = []model.Suppressed{{Finding: f, Reason: "accepted", By: "baseline"}}
	out := reportOut(t, "cyclonedx-json", r, Options{})
	validateCycloneDX(t, out)
	bom := decodeCDX(t, out)
	vs := *bom.Vulnerabilities
	if len(vs) != 1 || vs[0].ID != f.RuleID || vs[0].Analysis != nil || vs[0].Description != f.Title {
		t.Errorf("vulnerabilities = %+v, want one unsuppressed %s titled %q", vs, f.RuleID, f.Title)
	}
}
