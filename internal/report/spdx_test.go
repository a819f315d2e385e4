package report

import (
	"bytes"
	"regexp"
	"slices"
	"testing"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"

	"github.com/lockdown-sec/lockdown/internal/model"
)

var spdxIDRE = regexp.MustCompile(`^[A-Za-z0-9.-]+$`)

func TestSPDX(t *testing.T) {
	s := fixtureSBOM()
	out := sbomOut(t, "spdx-json", s, Options{})
	validateSPDX(t, out)
	doc, err := spdxjson.Read(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("spdx json.Read: %v", err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.DataLicense != "CC0-1.0" || doc.SPDXIdentifier != "DOCUMENT" {
		t.Errorf("document = %s %s %s, want SPDX-2.3 CC0-1.0 DOCUMENT", doc.SPDXVersion, doc.DataLicense, doc.SPDXIdentifier)
	}
	if doc.CreationInfo == nil || doc.CreationInfo.Created != "2026-11-27T08:30:00Z" ||
		len(doc.CreationInfo.Creators) != 1 || doc.CreationInfo.Creators[0] != (common.Creator{CreatorType: "Tool", Creator: "lockdown-0.3.0"}) {
		t.Errorf("creationInfo = %+v, want Tool lockdown-0.3.0 at 2026-11-27T08:30:00Z", doc.CreationInfo)
	}

	byID := map[common.ElementID]int{}
	for i, p := range doc.Packages {
		if _, dup := byID[p.PackageSPDXIdentifier]; dup {
			t.Errorf("SPDXID %s twice", p.PackageSPDXIdentifier)
		}
		if !spdxIDRE.MatchString(string(p.PackageSPDXIdentifier)) {
			t.Errorf("SPDXID %q has characters SPDX does not allow", p.PackageSPDXIdentifier)
		}
		if p.PackageDownloadLocation == "" {
			t.Errorf("package %s has no downloadLocation (mandatory)", p.PackageName)
		}
		byID[p.PackageSPDXIdentifier] = i
	}
	if len(doc.Packages) != len(s.Packages)+2 {
		t.Errorf("%d packages, want %d + image + OS", len(doc.Packages), len(s.Packages))
	}
	wantRel := []string{"DOCUMENT DESCRIBES Image", "Image CONTAINS OperatingSystem"}
	for _, p := range s.Packages {
		id := common.ElementID("Package-" + p.ID)
		i, ok := byID[id]
		if !ok {
			t.Errorf("package %s (%s) missing", p.Name, id)
			continue
		}
		sp := doc.Packages[i]
		if sp.PackageName != p.Name || sp.PackageVersion != p.Version {
			t.Errorf("package %s = %s %s, want %s %s", id, sp.PackageName, sp.PackageVersion, p.Name, p.Version)
		}
		if len(sp.PackageExternalReferences) != 1 {
			t.Errorf("package %s external refs = %v, want one purl", p.Name, sp.PackageExternalReferences)
		} else if r := sp.PackageExternalReferences[0]; r.Category != "PACKAGE-MANAGER" || r.RefType != "purl" || r.Locator != p.PURL {
			t.Errorf("package %s external ref = %+v, want PACKAGE-MANAGER purl %s", p.Name, *r, p.PURL)
		}
		wantRel = append(wantRel, "Image CONTAINS Package-"+p.ID)
	}
	img := doc.Packages[byID["Image"]]
	if img.PackageName != s.Target.Name || img.PackageVersion != s.Target.Digest || img.PrimaryPackagePurpose != "CONTAINER" {
		t.Errorf("image package = %s %s %s, want %s %s CONTAINER", img.PackageName, img.PackageVersion, img.PrimaryPackagePurpose, s.Target.Name, s.Target.Digest)
	}
	var gotRel []string
	for _, r := range doc.Relationships {
		gotRel = append(gotRel, string(r.RefA.ElementRefID)+" "+r.Relationship+" "+string(r.RefB.ElementRefID))
	}
	slices.Sort(gotRel)
	slices.Sort(wantRel)
	if !slices.Equal(gotRel, wantRel) {
		t.Errorf("relationships = %q, want %q", gotRel, wantRel)
	}

	// Licences: plain IDs become the declared expression; free text does not.
	licences := map[string]string{}
	for _, p := range doc.Packages {
		licences[p.PackageName] = p.PackageLicenseDeclared
	}
	for name, want := range map[string]string{"libc6": "GPL-2.0-only AND LGPL-2.1-or-later", "zlib1g": "Zlib", "base-files": "NOASSERTION", "golang.org/x/net": "NOASSERTION"} {
		if licences[name] != want {
			t.Errorf("licenseDeclared of %s = %q, want %q", name, licences[name], want)
		}
	}

	// The namespace is stable for the same input and differs for another.
	s2 := fixtureSBOM()
	s2.Packages = s2.Packages[:3]
	doc2, err := spdxjson.Read(bytes.NewReader(sbomOut(t, "spdx-json", s2, Options{})))
	if err != nil {
		t.Fatal(err)
	}
	doc1, _ := spdxjson.Read(bytes.NewReader(sbomOut(t, "spdx-json", fixtureSBOM(), Options{})))
	if doc1.DocumentNamespace != doc.DocumentNamespace || doc2.DocumentNamespace == doc.DocumentNamespace {
		t.Errorf("namespaces %s, %s (same input), %s (other input): want equal, equal, different", doc.DocumentNamespace, doc1.DocumentNamespace, doc2.DocumentNamespace)
	}
}

func TestSPDXOddIDs(t *testing.T) {
	// Package IDs from a producer that did not use StableID, with
	// characters SPDX IDs cannot hold, and a duplicate.
	s := &model.SBOM{
		Target: model.Target{Input: "/srv/rootfs", Kind: "dir"},
		Packages: []model.Package{
			{ID: "npm:@babel/core@7.0.0", Name: "@babel/core", Version: "7.0.0", Type: model.TypeNPM, PURL: "pkg:npm/%40babel/core@7.0.0"},
			{ID: "npm:@babel/core@7.0.0", Name: "@babel/core", Version: "7.0.0", Type: model.TypeNPM, PURL: "pkg:npm/%40babel/core@7.0.0"},
			{Name: "musl", Version: "1.2.5-r0", Type: model.TypeAPK},
		},
	}
	doc, err := spdxjson.Read(bytes.NewReader(sbomOut(t, "spdx-json", s, Options{})))
	if err != nil {
		t.Fatalf("spdx json.Read: %v", err)
	}
	var ids []string
	for _, p := range doc.Packages {
		ids = append(ids, string(p.PackageSPDXIdentifier))
	}
	want := []string{"Image", "Package-npm--babel-core-7.0.0", "Package-" + model.StableID(s.Packages[2])}
	if !slices.Equal(ids, want) {
		t.Errorf("SPDX IDs = %q, want %q", ids, want)
	}
	if doc.DocumentName != "/srv/rootfs" {
		t.Errorf("document name = %q, want the input /srv/rootfs", doc.DocumentName)
	}
}
