package report

import (
	"bytes"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

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
