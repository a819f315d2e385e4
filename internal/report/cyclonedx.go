package report

import (
	"cmp"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// Property names in CycloneDX documents, namespaced per the CycloneDX
// property taxonomy convention.
const (
	propLayerDiffID    = "lockdown:layer:diffID"
	propLayerDigest    = "lockdown:layer:digest"
	propLayerIndex     = "lockdown:layer:index"
	propSourceName     = "lockdown:package:sourceName"
	propSourceVersion  = "lockdown:package:sourceVersion"
	propLocation       = "lockdown:package:location"
	propType           = "lockdown:package:type"
	propEcosystem      = "lockdown:package:ecosystem"
	propArch           = "lockdown:package:arch"
	propEpoch          = "lockdown:package:epoch"
	propModularity     = "lockdown:package:modularity"
	propMetadataPrefix = "lockdown:metadata:"
	propTargetKind     = "lockdown:target:kind"
	propTargetInput    = "lockdown:target:input"
	propTargetImageID  = "lockdown:target:imageID"
	propTargetPlatform = "lockdown:target:platform"
	propTargetRepoTag  = "lockdown:target:repoTag"
	propStatus         = "lockdown:finding:status"
	propFixedVersion   = "lockdown:finding:fixedVersion"
	propSuppressedBy   = "lockdown:finding:suppressedBy"
	propVendorSeverity = "lockdown:finding:vendorSeverity"
	propReachability   = "lockdown:finding:reachability"
	propReachSymbol    = "lockdown:finding:reachability:symbol"
	propNotChecked     = "lockdown:scan:notChecked"
	propPkgsNotChecked = "lockdown:scan:packagesNotChecked"
	propFilesNotRead   = "lockdown:scan:filesNotRead"
)

const (
	cdxSchema16  = "http://cyclonedx.org/schema/bom-1.6.schema.json"
	bomRefTarget = "lockdown:target"
)

// cdxInput is what a CycloneDX document is made from: an SBOM, or a scan
// report (then with vulnerabilities).
type cdxInput struct {
	kind       string // "sbom" or "scan": part of the serial number
	target     model.Target
	distro     *model.Distro
	createdAt  time.Time
	tool       model.Tool
	packages   []model.Package
	findings   []model.Finding
	suppressed []model.Suppressed
	notChecked []model.NotChecked // scan: what was not checked
}

// packageRef is the bom-ref (and SPDX ID source) of a package: its ID, or
// the stable ID when the producer left it empty.
func packageRef(p *model.Package) string {
	if p.ID != "" {
		return p.ID
	}
	return model.StableID(*p)
}

// nameUUID returns an RFC 4122 name-based (version 5, SHA-1) UUID of name
// in namespace ns.
func nameUUID(ns [16]byte, name []byte) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write(name)
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// lockdownNS is the UUID namespace of Lockdown's document IDs: random
// bytes, fixed forever so that the same input keeps the same ID.
var lockdownNS = [16]byte{0x3d, 0x4e, 0x1c, 0x6a, 0x7b, 0x52, 0x5e, 0x0f, 0x9a, 0x61, 0x2c, 0x44, 0x8b, 0x1d, 0x90, 0x37}

// documentUUID derives a document's UUID from what it describes: the
// document kind, the target digest and the sorted package (and finding) IDs.
func documentUUID(kind string, t model.Target, pkgs []model.Package, findings []model.Finding) string {
	h := sha256.New()
	for _, s := range []string{kind, t.Digest, t.ImageID, t.Name, t.Input} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	ids := make([]string, 0, len(pkgs))
	for i := range pkgs {
		ids = append(ids, packageRef(&pkgs[i])+"|"+pkgs[i].PURL)
	}
	slices.Sort(ids)
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	fids := make([]string, 0, len(findings))
	for i := range findings {
		f := &findings[i]
		ref := f.Subject
		if f.Package != nil {
			ref = packageRef(f.Package)
		}
		fids = append(fids, f.RuleID+"|"+ref)
	}
	slices.Sort(fids)
	for _, id := range fids {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return nameUUID(lockdownNS, h.Sum(nil))
}

func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func prop(ps *[]cdx.Property, name, value string) {
	if value != "" {
		*ps = append(*ps, cdx.Property{Name: name, Value: value})
	}
}

func propsOrNil(ps []cdx.Property) *[]cdx.Property {
	if len(ps) == 0 {
		return nil
	}
	return &ps
}

func layerProps(ps *[]cdx.Property, l *model.LayerRef) {
	if l == nil {
		return
	}
	prop(ps, propLayerDiffID, l.DiffID)
	prop(ps, propLayerDigest, l.Digest)
	prop(ps, propLayerIndex, strconv.Itoa(l.Index))
}

func cdxComponent(p *model.Package) cdx.Component {
	var ps []cdx.Property
	layerProps(&ps, p.Layer)
	prop(&ps, propLocation, p.Location)
	prop(&ps, propSourceName, p.SourceName)
	prop(&ps, propSourceVersion, p.SourceVersion)
	prop(&ps, propType, p.Type)
	prop(&ps, propEcosystem, p.Ecosystem)
	prop(&ps, propArch, p.Arch)
	if p.Epoch != 0 {
		prop(&ps, propEpoch, strconv.Itoa(p.Epoch))
	}
	prop(&ps, propModularity, p.Modularity)
	for _, k := range slices.Sorted(maps.Keys(p.Metadata)) {
		prop(&ps, propMetadataPrefix+k, p.Metadata[k])
	}
	c := cdx.Component{
		BOMRef:     packageRef(p),
		Type:       cdx.ComponentTypeLibrary,
		Name:       p.Name,
		Version:    p.Version,
		PackageURL: p.PURL,
		Properties: propsOrNil(ps),
	}
	if len(p.Licenses) > 0 {
		ls := make(cdx.Licenses, 0, len(p.Licenses))
		for _, l := range p.Licenses {
			if l = strings.TrimSpace(l); l != "" {
				// Names, not IDs: the schema checks IDs against the SPDX
				// list and extractors report what the package says.
				ls = append(ls, cdx.LicenseChoice{License: &cdx.License{Name: l}})
			}
		}
		if len(ls) > 0 {
			c.Licenses = &ls
		}
	}
	return c
}

func cdxSeverity(s model.Severity) cdx.Severity {
	switch s {
	case model.SeverityCritical:
		return cdx.SeverityCritical
	case model.SeverityHigh:
		return cdx.SeverityHigh
	case model.SeverityMedium:
		return cdx.SeverityMedium
	case model.SeverityLow:
		return cdx.SeverityLow
	case model.SeverityNone:
		return cdx.SeverityNone
	}
	return cdx.SeverityUnknown
}

// cvssMethod names the scoring method of a CVSS vector.
func cvssMethod(v string) cdx.ScoringMethod {
	switch {
	case strings.HasPrefix(v, "CVSS:4.0/"):
		return cdx.ScoringMethodCVSSv4
	case strings.HasPrefix(v, "CVSS:3.1/"):
		return cdx.ScoringMethodCVSSv31
	case strings.HasPrefix(v, "CVSS:3.0/"):
		return cdx.ScoringMethodCVSSv3
	case strings.HasPrefix(v, "AV:"):
		return cdx.ScoringMethodCVSSv2
	}
	return cdx.ScoringMethodOther
}

// advisorySource names where an advisory ID is published.
func advisorySource(id string) *cdx.Source {
	esc := url.PathEscape(id)
	switch {
	case strings.HasPrefix(id, "CVE-"):
		return &cdx.Source{Name: "NVD", URL: "https://nvd.nist.gov/vuln/detail/" + esc}
	case strings.HasPrefix(id, "GHSA-"):
		return &cdx.Source{Name: "GitHub", URL: "https://github.com/advisories/" + esc}
	}
	return &cdx.Source{Name: "OSV", URL: "https://osv.dev/vulnerability/" + esc}
}

// isWebURL reports whether s is a well-formed http(s) URL, fit for the
// URL fields of CycloneDX and SARIF (advisory data is not trusted to be).
func isWebURL(s string) bool {
	if strings.ContainsAny(s, "\\ \t\r\n") {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return false
	}
	return !strings.Contains(u.Hostname(), ":")
}

// findingSource is the vulnerability's source: the finding's Source when set
// (a URL or a name), else from the ID.
func findingSource(f *model.Finding) *cdx.Source {
	switch {
	case isWebURL(f.Source):
		return &cdx.Source{URL: f.Source}
	case f.Source != "":
		return &cdx.Source{Name: f.Source}
	}
	return advisorySource(f.RuleID)
}

// vexJustification maps an OpenVEX justification to the CycloneDX one
// ("" when the reason is free text).
func vexJustification(reason string) cdx.ImpactAnalysisJustification {
	switch strings.TrimSpace(reason) {
	case "component_not_present":
		return cdx.IAJRequiresDependency
	case "vulnerable_code_not_present":
		return cdx.IAJCodeNotPresent
	case "vulnerable_code_not_in_execute_path":
		return cdx.IAJCodeNotReachable
	case "vulnerable_code_cannot_be_controlled_by_adversary", "inline_mitigations_already_exist":
		return cdx.IAJProtectedByMitigatingControl
	}
	return ""
}

func cdxVulnerability(f *model.Finding, ref string, sup *model.Suppressed) cdx.Vulnerability {
	v := cdx.Vulnerability{
		ID:          f.RuleID,
		Source:      findingSource(f),
		Description: f.Title,
		Detail:      f.Evidence,
	}
	if len(f.Aliases) > 0 {
		refs := make([]cdx.VulnerabilityReference, 0, len(f.Aliases))
		for _, a := range slices.Sorted(slices.Values(f.Aliases)) {
			if a != "" && a != f.RuleID {
				refs = append(refs, cdx.VulnerabilityReference{ID: a, Source: advisorySource(a)})
			}
		}
		if len(refs) > 0 {
			v.References = &refs
		}
	}
	rating := cdx.VulnerabilityRating{Severity: cdxSeverity(f.Severity)}
	if f.CVSS != "" {
		rating.Method = cvssMethod(f.CVSS)
		rating.Vector = f.CVSS
	}
	v.Ratings = &[]cdx.VulnerabilityRating{rating}
	if f.FixedVersion != "" {
		v.Recommendation = "Upgrade to " + f.FixedVersion
	} else if f.Remediation != "" {
		v.Recommendation = f.Remediation
	}
	if len(f.References) > 0 {
		ads := make([]cdx.Advisory, 0, len(f.References))
		for _, u := range f.References {
			if isWebURL(u) {
				ads = append(ads, cdx.Advisory{URL: u})
			}
		}
		if len(ads) > 0 {
			v.Advisories = &ads
		}
	}
	installed := f.InstalledVersion
	if installed == "" && f.Package != nil {
		installed = f.Package.Version
	}
	aff := cdx.Affects{Ref: ref}
	if installed != "" {
		aff.Range = &[]cdx.AffectedVersions{{Version: installed, Status: cdx.VulnerabilityStatusAffected}}
	}
	v.Affects = &[]cdx.Affects{aff}

	var ps []cdx.Property
	prop(&ps, propStatus, f.Status)
	prop(&ps, propFixedVersion, f.FixedVersion)
	layerProps(&ps, f.Layer)
	prop(&ps, propVendorSeverity, f.VendorSeverity)
	if r := f.Reachability; r != nil {
		prop(&ps, propReachability, r.State)
		for _, s := range r.Symbols {
			prop(&ps, propReachSymbol, s)
		}
		if r.State == model.ReachAbsent {
			// The binary does not contain the vulnerable code: a VEX
			// not_affected / code_not_present statement.
			v.Analysis = &cdx.VulnerabilityAnalysis{State: cdx.IASNotAffected, Justification: cdx.IAJCodeNotPresent, Detail: r.Reason}
		}
	}
	if sup != nil {
		prop(&ps, propSuppressedBy, sup.By)
		a := &cdx.VulnerabilityAnalysis{Detail: sup.Reason}
		if sup.By == "vex" {
			a.State = cdx.IASNotAffected
			a.Justification = vexJustification(sup.Reason)
		} else {
			// An ignore file or a baseline accepts the risk.
			a.Response = &[]cdx.ImpactAnalysisResponse{cdx.IARWillNotFix}
		}
		v.Analysis = a
	}
	v.Properties = propsOrNil(ps)
	return v
}

// buildCycloneDX makes the CycloneDX 1.6 BOM.
func buildCycloneDX(in cdxInput) *cdx.BOM {
	// Components: every package, plus packages only named by findings.
	pkgs := slices.Clone(in.packages)
	known := make(map[string]bool, len(pkgs))
	for i := range pkgs {
		known[packageRef(&pkgs[i])] = true
	}
	for _, f := range in.findings {
		if f.Package != nil && !known[packageRef(f.Package)] {
			known[packageRef(f.Package)] = true
			pkgs = append(pkgs, *f.Package)
		}
	}
	for _, s := range in.suppressed {
		if f := s.Finding; f.Package != nil && !known[packageRef(f.Package)] {
			known[packageRef(f.Package)] = true
			pkgs = append(pkgs, *f.Package)
		}
	}
	pkgs = sortedPackages(pkgs)

	comps := make([]cdx.Component, 0, len(pkgs)+1)
	seen := make(map[string]bool, len(pkgs))
	for i := range pkgs {
		ref := packageRef(&pkgs[i])
		if seen[ref] {
			continue // the same package read twice: one component
		}
		seen[ref] = true
		comps = append(comps, cdxComponent(&pkgs[i]))
	}
	if d := in.distro; d != nil && d.ID != "" {
		ref := "lockdown:os:" + d.ID + "@" + d.VersionID
		comps = append(comps, cdx.Component{
			BOMRef:      ref,
			Type:        cdx.ComponentTypeOS,
			Name:        d.ID,
			Version:     d.VersionID,
			Description: d.PrettyName,
		})
	}

	t := in.target
	var tps []cdx.Property
	prop(&tps, propTargetKind, t.Kind)
	prop(&tps, propTargetInput, t.Input)
	prop(&tps, propTargetImageID, t.ImageID)
	prop(&tps, propTargetPlatform, t.Platform)
	for _, tag := range slices.Sorted(slices.Values(t.RepoTags)) {
		prop(&tps, propTargetRepoTag, tag)
	}
	meta := &cdx.Metadata{
		Timestamp: timestamp(in.createdAt),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type:    cdx.ComponentTypeApplication,
			Name:    in.tool.Name,
			Version: in.tool.Version,
		}}},
		Component: &cdx.Component{
			BOMRef:     bomRefTarget,
			Type:       cdx.ComponentTypeContainer,
			Name:       cmp.Or(t.Name, t.Input, "unknown"),
			Version:    cmp.Or(t.Digest, t.ImageID),
			Properties: propsOrNil(tps),
		},
	}

	if in.kind == KindScan {
		// What the scan did not check, for a reader of the BOM alone.
		var ps []cdx.Property
		r := model.Report{NotChecked: in.notChecked}
		pkgs, files := r.Unchecked()
		ps = append(ps, cdx.Property{Name: propPkgsNotChecked, Value: strconv.Itoa(pkgs)}, cdx.Property{Name: propFilesNotRead, Value: strconv.Itoa(files)})
		for _, nc := range in.notChecked {
			prop(&ps, propNotChecked, nc.Message)
		}
		meta.Properties = &ps
	}
	bom := &cdx.BOM{
		JSONSchema:   cdxSchema16,
		BOMFormat:    cdx.BOMFormat,
		SpecVersion:  cdx.SpecVersion1_6,
		SerialNumber: "urn:uuid:" + documentUUID(in.kind, t, in.packages, in.findings),
		Version:      1,
		Metadata:     meta,
		Components:   &comps,
	}
	deps := make([]string, 0, len(comps))
	for _, c := range comps {
		deps = append(deps, c.BOMRef)
	}
	bom.Dependencies = &[]cdx.Dependency{{Ref: bomRefTarget, Dependencies: &deps}}

	if in.kind == KindScan {
		// One entry per advisory and package (the schema wants unique
		// items): the first finding, in sorted order, describes it; one
		// both reported and suppressed is reported.
		type key struct{ id, ref string }
		done := make(map[key]bool, len(in.findings))
		vulns := make([]cdx.Vulnerability, 0, len(in.findings)+len(in.suppressed))
		for _, f := range sortedFindings(in.findings) {
			k := key{f.RuleID, findingRef(&f)}
			if f.Kind != model.KindVulnerability || done[k] {
				continue
			}
			done[k] = true
			vulns = append(vulns, cdxVulnerability(&f, k.ref, nil))
		}
		for _, s := range sortedSuppressed(in.suppressed) {
			k := key{s.Finding.RuleID, findingRef(&s.Finding)}
			if s.Finding.Kind != model.KindVulnerability || done[k] {
				continue
			}
			done[k] = true
			vulns = append(vulns, cdxVulnerability(&s.Finding, k.ref, &s))
		}
		bom.Vulnerabilities = &vulns
	}
	return bom
}

// findingRef is the bom-ref a vulnerability affects: its package, else the
// target itself.
func findingRef(f *model.Finding) string {
	if f.Package != nil {
		return packageRef(f.Package)
	}
	return bomRefTarget
}

func writeCycloneDX(w io.Writer, in cdxInput) error {
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON)
	enc.SetPretty(true).SetEscapeHTML(false)
	return enc.Encode(buildCycloneDX(in))
}
