package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	spdxjson "github.com/spdx/tools-golang/json"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// checkTable: a table (without colour) is valid UTF-8 with no control
// bytes but line ends.
func checkTable(t *testing.T, name string, out []byte) {
	t.Helper()
	if !utf8.Valid(out) {
		t.Fatalf("%s: not valid UTF-8: %q", name, out)
	}
	for i, c := range out {
		if (c < 0x20 && c != '\n') || c == 0x7f {
			t.Fatalf("%s: control byte %#x at %d: %q", name, c, i, out)
		}
	}
}

// FuzzWriteReport: whatever text findings carry, every writer succeeds,
// JSON is JSON, SARIF and CycloneDX stay valid against their schemas, and
// tables stay free of control characters.
func FuzzWriteReport(f *testing.F) {
	f.Add(uint8(0), "CVE-2023-0286", "X.400 address type confusion", "openssl 1.1.1q-r0", "/lib/apk/db/installed", "", "openssl", "1.1.1q-r0", "pkg:apk/alpine/openssl@1.1.1q-r0", "1.1.1t-r0", int8(4))
	f.Add(uint8(1), "LD-DAEMON-ICC", "icc", "daemon", "/etc/docker/daemon.json:12", "icc=true", "", "", "", "", int8(3))
	f.Add(uint8(2), "NP-1", "selects nothing", "ns/p", "p.yaml:3:9", "from: [{}]\n", "", "", "", "", int8(5))
	f.Add(uint8(0), "", "", "", "", "", "", "", "", "", int8(-1))
	f.Add(uint8(2), "a\x1b[31m", "\xff\xfe", "sha256:abc", "sha256:abc", "\t\r\n", "@scope/x", "1:2.3", "pkg:npm/%40scope/x@1", "~", int8(9))
	kinds := []string{"scan", "audit", "netpol-lint"}
	f.Fuzz(func(t *testing.T, k uint8, id, title, subject, location, evidence, name, version, purl, fixed string, sev int8) {
		kind := kinds[int(k)%len(kinds)]
		fk := map[string]string{"scan": model.KindVulnerability, "audit": model.KindPosture, "netpol-lint": model.KindPolicyLint}[kind]
		p := model.Package{Name: name, Version: version, PURL: purl, Type: "npm", Location: location}
		p.ID = model.StableID(p)
		fnd := model.Finding{
			Kind: fk, RuleID: id, Title: title, Severity: model.Severity(sev), Status: model.StatusFail,
			Subject: subject, Scope: subject, Location: location, Evidence: evidence, Remediation: evidence,
			FixedVersion: fixed, CVSS: title, Aliases: []string{id, title}, References: []string{purl},
		}
		if kind == "scan" {
			fnd.Package = &p
		}
		r := &model.Report{
			Kind: kind, Target: &model.Target{Name: subject, Digest: fixed}, Packages: []model.Package{p},
			Findings:   []model.Finding{fnd, fnd},
			Suppressed: []model.Suppressed{{Finding: fnd, Reason: evidence, By: "vex"}},
			Meta:       map[string]string{title: evidence},
		}
		for _, format := range ReportFormats(kind) {
			var b bytes.Buffer
			if err := WriteReport(&b, format, r, Options{Width: 40}); err != nil {
				if format == FormatOpenVEX && errors.Is(err, errNoStatements) && !isAbsURI(purl) {
					continue // no package Lockdown can name
				}
				t.Fatalf("WriteReport(%s, %s) = %v", kind, format, err)
			}
			switch format {
			case FormatOpenVEX:
				validateOpenVEX(t, b.Bytes())
			case "table":
				checkTable(t, kind+" table", b.Bytes())
			case "json":
				if !json.Valid(b.Bytes()) {
					t.Fatalf("%s json is not JSON: %s", kind, b.Bytes())
				}
			case "sarif":
				validateSARIF(t, b.Bytes())
				var l sarifLog
				if err := json.Unmarshal(b.Bytes(), &l); err != nil {
					t.Fatal(err)
				}
				// The finding is reported twice and suppressed once: one result.
				if n := len(l.Runs[0].Results); n != 1 || l.Runs[0].Results[0].Suppressions != nil {
					t.Fatalf("%s sarif has %d results, want 1 unsuppressed: %s", kind, n, b.Bytes())
				}
			case "cyclonedx-json":
				validateCycloneDX(t, b.Bytes())
			}
		}
	})
}

// FuzzWriteSBOM: whatever packages say, every SBOM format is written, the
// CycloneDX BOM validates, the SPDX document reads back with every
// package, and the table stays clean.
func FuzzWriteSBOM(f *testing.F) {
	f.Add("zlib1g", "1:1.2.13.dfsg-1", "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1", "/var/lib/dpkg/status", "zlib", "Zlib", "debian:12")
	f.Add("@babel/core", "7.0.0", "pkg:npm/%40babel/core@7.0.0", "/app/package-lock.json", "", "MIT AND (Apache-2.0 OR BSD)", "")
	f.Add("", "", "", "", "", "", "")
	f.Add("x\x00y", "\xff", "not a purl", "C:\\x", "y", "GPL, see /usr/share", "a\nb")
	f.Fuzz(func(t *testing.T, name, version, purl, location, source, license, target string) {
		p := model.Package{Name: name, Version: version, PURL: purl, Type: "deb", Location: location, SourceName: source,
			Licenses: []string{license}, Metadata: map[string]string{license: source}, Layer: &model.LayerRef{Index: 1, DiffID: target}}
		q := p
		q.Name += "-2"
		p.ID, q.ID = model.StableID(p), model.StableID(q)
		s := &model.SBOM{
			Target:   model.Target{Name: target, Input: name, Digest: version},
			Distro:   &model.Distro{ID: source, VersionID: version, PrettyName: target},
			Packages: []model.Package{p, q, p},
			Warnings: []model.Warning{{Layer: target, Path: location, Message: name}},
		}
		for _, format := range SBOMFormats() {
			var b bytes.Buffer
			if err := WriteSBOM(&b, format, s, Options{Width: 50}); err != nil {
				t.Fatalf("WriteSBOM(%s) = %v", format, err)
			}
			switch format {
			case "table":
				checkTable(t, "sbom table", b.Bytes())
			case "json":
				if !json.Valid(b.Bytes()) {
					t.Fatalf("sbom json is not JSON: %s", b.Bytes())
				}
			case "cyclonedx-json":
				validateCycloneDX(t, b.Bytes())
			case "spdx-json":
				validateSPDX(t, b.Bytes())
				doc, err := spdxjson.Read(bytes.NewReader(b.Bytes()))
				if err != nil {
					t.Fatalf("spdx json.Read: %v\n%s", err, b.Bytes())
				}
				// image + OS (when the distro has an ID) + two distinct packages
				want := 3
				if source != "" {
					want = 4
				}
				if len(doc.Packages) != want {
					t.Fatalf("spdx has %d packages, want %d", len(doc.Packages), want)
				}
			}
		}
	})
}
