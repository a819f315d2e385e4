package report

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// The official schemas are vendored in testdata/schema (its README names
// each source) and loaded by testutil.

func validateSARIF(t testing.TB, doc []byte) { testutil.ValidateJSON(t, testutil.SchemaSARIF, doc) }
func validateCycloneDX(t testing.TB, doc []byte) {
	testutil.ValidateJSON(t, testutil.SchemaCycloneDX, doc)
}
func validateSPDX(t testing.TB, doc []byte)    { testutil.ValidateJSON(t, testutil.SchemaSPDX, doc) }
func validateOpenVEX(t testing.TB, doc []byte) { testutil.ValidateJSON(t, testutil.SchemaOpenVEX, doc) }

// TestSchemasReject: the validators do reject broken documents (a test of
// the test: a validator that accepts anything proves nothing).
func TestSchemasReject(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		doc    string
	}{
		{"sarif wrong version", testutil.SchemaSARIF, `{"version":"2.0.0","runs":[]}`},
		{"sarif result without message", testutil.SchemaSARIF, `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"ruleId":"a"}]}]}`},
		{"sarif bad level", testutil.SchemaSARIF, `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"ruleId":"a","level":"fatal","message":{"text":"m"}}]}]}`},
		{"sarif notification without message", testutil.SchemaSARIF, `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"invocations":[{"executionSuccessful":true,"toolExecutionNotifications":[{"level":"warning"}]}],"results":[]}]}`},
		{"cyclonedx bad serial", testutil.SchemaCycloneDX, `{"bomFormat":"CycloneDX","specVersion":"1.6","serialNumber":"urn:uuid:NOT","version":1}`},
		{"cyclonedx bad component type", testutil.SchemaCycloneDX, `{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[{"type":"thing","name":"x"}]}`},
		// The defect of issue 12: OPERATING-SYSTEM is not in the enum.
		{"spdx bad package purpose", testutil.SchemaSPDX, `{"SPDXID":"SPDXRef-DOCUMENT","spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","name":"x",
			"creationInfo":{"created":"2026-11-27T08:30:00Z","creators":["Tool: lockdown"]},
			"packages":[{"SPDXID":"SPDXRef-OS","name":"debian","downloadLocation":"NOASSERTION","primaryPackagePurpose":"OPERATING-SYSTEM"}]}`},
		{"spdx package without downloadLocation", testutil.SchemaSPDX, `{"SPDXID":"SPDXRef-DOCUMENT","spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","name":"x",
			"creationInfo":{"created":"2026-11-27T08:30:00Z","creators":["Tool: lockdown"]},"packages":[{"SPDXID":"SPDXRef-A","name":"a"}]}`},
		{"openvex affected without action", testutil.SchemaOpenVEX, `{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://x.test/v","author":"a","timestamp":"2026-11-27T08:30:00Z","version":1,
			"statements":[{"vulnerability":{"name":"CVE-2024-1"},"products":[{"@id":"pkg:npm/a@1"}],"status":"affected"}]}`},
		{"openvex not_affected without justification", testutil.SchemaOpenVEX, `{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://x.test/v","author":"a","timestamp":"2026-11-27T08:30:00Z","version":1,
			"statements":[{"vulnerability":{"name":"CVE-2024-1"},"status":"not_affected"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(tt.doc)))
			if err != nil {
				t.Fatal(err)
			}
			if err := testutil.Schema(t, tt.schema).Validate(inst); err == nil {
				t.Errorf("Validate(%s) = nil, want an error", tt.doc)
			}
		})
	}
}

// TestSchemasAccept: the documents of TestSchemasReject, mended, are
// valid: each rejection was for the reason its name gives.
func TestSchemasAccept(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		doc    string
	}{
		{"spdx package purpose", testutil.SchemaSPDX, `{"SPDXID":"SPDXRef-DOCUMENT","spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","name":"x",
			"creationInfo":{"created":"2026-11-27T08:30:00Z","creators":["Tool: lockdown"]},
			"packages":[{"SPDXID":"SPDXRef-OS","name":"debian","downloadLocation":"NOASSERTION","primaryPackagePurpose":"OPERATING_SYSTEM"}]}`},
		{"openvex affected with action", testutil.SchemaOpenVEX, `{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://x.test/v","author":"a","timestamp":"2026-11-27T08:30:00Z","version":1,
			"statements":[{"vulnerability":{"name":"CVE-2024-1"},"products":[{"@id":"pkg:npm/a@1"}],"status":"affected","action_statement":"upgrade"}]}`},
		{"openvex not_affected with justification", testutil.SchemaOpenVEX, `{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://x.test/v","author":"a","timestamp":"2026-11-27T08:30:00Z","version":1,
			"statements":[{"vulnerability":{"name":"CVE-2024-1"},"status":"not_affected","justification":"vulnerable_code_not_present"}]}`},
		{"sarif notification", testutil.SchemaSARIF, `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"invocations":[{"executionSuccessful":true,"toolExecutionNotifications":[{"level":"warning","message":{"text":"m"}}]}],"results":[]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { testutil.ValidateJSON(t, tt.schema, []byte(tt.doc)) })
	}
}

// TestGoldenSchemas: every golden document of a standard format validates
// against that format's official schema.
func TestGoldenSchemas(t *testing.T) {
	for file, schema := range map[string]string{
		"sbom.cyclonedx-json.golden": testutil.SchemaCycloneDX,
		"scan.cyclonedx-json.golden": testutil.SchemaCycloneDX,
		"sbom.spdx-json.golden":      testutil.SchemaSPDX,
		"scan.sarif.golden":          testutil.SchemaSARIF,
		"audit.sarif.golden":         testutil.SchemaSARIF,
		"netpol-lint.sarif.golden":   testutil.SchemaSARIF,
		"scan.openvex.golden":        testutil.SchemaOpenVEX,
	} {
		t.Run(file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			testutil.ValidateJSON(t, schema, b)
		})
	}
}

// TestOpenVEX: the statements a scan can make, each once: affected with
// the upgrade, not_affected for a Go finding whose symbols are absent,
// fixed for an advisory the installed version has the fix of; suppressed
// findings are not Lockdown's to state.
func TestOpenVEX(t *testing.T) {
	doc, err := buildOpenVEX(fixtureScan(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range doc.Statements {
		got = append(got, st.Status+" "+st.Vulnerability.Name+" "+st.Products[0].Subcomponents[0].ID+" "+st.Justification+st.ActionStatement)
	}
	want := []string{
		"affected CVE-2023-45853 pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12 No fixed version is known yet: remove zlib1g or mitigate the vulnerability.",
		"affected CVE-2024-2961 pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12 Upgrade libc6 to 2.36-9+deb12u6 or later.",
		"affected CVE-2020-8203 pkg:npm/lodash@4.17.15 Upgrade lodash to 4.17.19 or later.",
		"affected CVE-2021-23337 pkg:npm/lodash@4.17.15 Upgrade lodash to 4.17.21 or later.",
		"affected CVE-2023-5678 pkg:deb/debian/libssl3@3.0.11-1~deb12u1?arch=amd64&distro=debian-12 Upgrade libssl3 to 3.0.13-1~deb12u1 or later.",
		"affected CVE-2024-0727 pkg:deb/debian/libssl3@3.0.11-1~deb12u1?arch=amd64&distro=debian-12 Upgrade libssl3 to 3.0.13-1~deb12u1 or later.",
		"not_affected GO-2023-1988 pkg:golang/golang.org/x/net@v0.7.0 vulnerable_code_not_present",
		"fixed CVE-2023-3817 pkg:deb/debian/libssl3@3.0.11-1~deb12u1?arch=amd64&distro=debian-12 ",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("OpenVEX statements (-want +got):\n%s", diff)
	}
	if p := doc.Statements[0].Products[0].ID; p != "pkg:oci/app@sha256%3A4c2d9e7a1f3b5c8d0e6a2b4f9c1d3e5a7b9c0d2e4f6a8b1c3d5e7f9a0b2c4d6e" {
		t.Errorf("product = %s, want the image's pkg:oci PURL", p)
	}
	empty := &model.Report{Kind: KindScan, Target: &model.Target{Name: "x"}}
	if err := WriteReport(io.Discard, FormatOpenVEX, empty, Options{}); !errors.Is(err, errNoStatements) {
		t.Errorf("openvex of a scan with nothing to state = %v, want errNoStatements", err)
	}
}
