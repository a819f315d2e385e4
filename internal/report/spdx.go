package report

import (
	"cmp"
	"io"
	"strconv"
	"strings"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"

	"github.com/lockdown-sec/lockdown/internal/model"
)

const (
	spdxNoAssertion  = "NOASSERTION"
	spdxImageID      = "Image"
	spdxOSID         = "OperatingSystem"
	spdxNamespaceURI = "https://github.com/lockdown-sec/lockdown/spdx/"
)

// spdxIDPart keeps the characters an SPDX element ID may hold (letters,
// digits, "." and "-") and replaces the rest with "-".
func spdxIDPart(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			b[i] = '-'
		}
	}
	return string(b)
}

// spdxLicense turns extractor licences into a declared licence expression
// when every one is a plain licence ID, else NOASSERTION (the raw text then
// goes into the licence comment).
func spdxLicense(ls []string) (declared, comment string) {
	var ids []string
	for _, l := range ls {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if !isLicenseID(l) {
			return spdxNoAssertion, strings.Join(ls, ", ")
		}
		ids = append(ids, l)
	}
	if len(ids) == 0 {
		return spdxNoAssertion, ""
	}
	if len(ids) == 1 {
		return ids[0], ""
	}
	return strings.Join(ids, " AND "), ""
}

func isLicenseID(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+') {
			return false
		}
	}
	return s != "" && !strings.EqualFold(s, "AND") && !strings.EqualFold(s, "OR") && !strings.EqualFold(s, "WITH")
}

func spdxPackage(p *model.Package, id common.ElementID) *spdx.Package {
	declared, licComment := spdxLicense(p.Licenses)
	sp := &spdx.Package{
		PackageName:             p.Name,
		PackageSPDXIdentifier:   id,
		PackageVersion:          p.Version,
		PackageDownloadLocation: spdxNoAssertion,
		FilesAnalyzed:           false,
		PackageLicenseConcluded: spdxNoAssertion,
		PackageLicenseDeclared:  declared,
		PackageLicenseComments:  licComment,
		PackageCopyrightText:    spdxNoAssertion,
		PrimaryPackagePurpose:   "LIBRARY",
	}
	if p.SourceName != "" {
		sp.PackageSourceInfo = "built from source package " + strings.TrimSpace(p.SourceName+" "+p.SourceVersion)
	}
	var notes []string
	if p.Type != "" {
		notes = append(notes, "type "+p.Type)
	}
	if p.Layer != nil {
		l := "layer " + strconv.Itoa(p.Layer.Index)
		if p.Layer.DiffID != "" {
			l += " " + p.Layer.DiffID
		}
		notes = append(notes, l)
	}
	if p.Location != "" {
		notes = append(notes, "found in "+p.Location)
	}
	sp.PackageComment = strings.Join(notes, "; ")
	if p.PURL != "" {
		sp.PackageExternalReferences = []*spdx.PackageExternalReference{{
			Category: common.CategoryPackageManager,
			RefType:  common.TypePackageManagerPURL,
			Locator:  p.PURL,
		}}
	}
	return sp
}

// buildSPDX makes the SPDX 2.3 document: the image package, described by
// the document, containing the operating system and every package.
func buildSPDX(s *model.SBOM, opts Options) *spdx.Document {
	tool := toolOf(s.Tool, opts)
	t := s.Target
	name := cmp.Or(t.Name, t.Input, "unknown")
	created := s.CreatedAt
	doc := &spdx.Document{
		SPDXVersion:    spdx.Version,
		DataLicense:    spdx.DataLicense,
		SPDXIdentifier: common.ElementID("DOCUMENT"),
		DocumentName:   name,
		DocumentNamespace: spdxNamespaceURI + spdxIDPart(name) + "-" +
			documentUUID("spdx", t, s.Packages, nil),
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: strings.TrimSpace(tool.Name + "-" + tool.Version)}},
			Created:  created.UTC().Format(time.RFC3339),
		},
	}
	if tool.Version == "" {
		doc.CreationInfo.Creators[0].Creator = tool.Name
	}

	image := &spdx.Package{
		PackageName:             name,
		PackageSPDXIdentifier:   spdxImageID,
		PackageVersion:          cmp.Or(t.Digest, t.ImageID),
		PackageDownloadLocation: spdxNoAssertion,
		PackageLicenseConcluded: spdxNoAssertion,
		PackageLicenseDeclared:  spdxNoAssertion,
		PackageCopyrightText:    spdxNoAssertion,
		PrimaryPackagePurpose:   "CONTAINER",
	}
	if t.Kind != "" {
		image.PackageComment = "target kind " + t.Kind
	}
	doc.Packages = append(doc.Packages, image)
	doc.Relationships = append(doc.Relationships, &spdx.Relationship{
		RefA:         common.MakeDocElementID("", "DOCUMENT"),
		RefB:         common.MakeDocElementID("", spdxImageID),
		Relationship: common.TypeRelationshipDescribe,
	})
	contains := func(id common.ElementID) {
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA:         common.MakeDocElementID("", spdxImageID),
			RefB:         common.MakeDocElementID("", string(id)),
			Relationship: common.TypeRelationshipContains,
		})
	}
	if d := s.Distro; d != nil && d.ID != "" {
		doc.Packages = append(doc.Packages, &spdx.Package{
			PackageName:             d.ID,
			PackageSPDXIdentifier:   spdxOSID,
			PackageVersion:          d.VersionID,
			PackageDownloadLocation: spdxNoAssertion,
			PackageLicenseConcluded: spdxNoAssertion,
			PackageLicenseDeclared:  spdxNoAssertion,
			PackageCopyrightText:    spdxNoAssertion,
			PackageDescription:      d.PrettyName,
			PrimaryPackagePurpose:   "OPERATING_SYSTEM",
		})
		contains(spdxOSID)
	}
	seen := make(map[common.ElementID]bool, len(s.Packages))
	for _, p := range sortedPackages(s.Packages) {
		id := common.ElementID("Package-" + spdxIDPart(packageRef(&p)))
		if seen[id] {
			continue
		}
		seen[id] = true
		doc.Packages = append(doc.Packages, spdxPackage(&p, id))
		contains(id)
	}
	return doc
}

func writeSPDX(w io.Writer, s *model.SBOM, opts Options) error {
	return spdxjson.Write(buildSPDX(s, opts), w, spdxjson.Indent("  "), spdxjson.EscapeHTML(false))
}
