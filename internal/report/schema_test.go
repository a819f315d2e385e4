package report

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Schemas vendored in testdata/schema (see its README): the SARIF 2.1.0
// schema and the CycloneDX 1.6 JSON schema with the two it references.
var (
	schemaOnce sync.Once
	sarifSch   *jsonschema.Schema
	cdxSch     *jsonschema.Schema
	schemaErr  error
)

func loadSchemas() {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for url, file := range map[string]string{
		"https://lockdown.test/sarif-schema-2.1.0.json":    "sarif-schema-2.1.0.json",
		"http://cyclonedx.org/schema/bom-1.6.schema.json":  "bom-1.6.schema.json",
		"http://cyclonedx.org/schema/spdx.schema.json":     "spdx.schema.json",
		"http://cyclonedx.org/schema/jsf-0.82.schema.json": "jsf-0.82.schema.json",
	} {
		b, err := os.ReadFile(filepath.Join("testdata", "schema", file))
		if err != nil {
			schemaErr = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			schemaErr = err
			return
		}
		if err := c.AddResource(url, doc); err != nil {
			schemaErr = err
			return
		}
	}
	if sarifSch, schemaErr = c.Compile("https://lockdown.test/sarif-schema-2.1.0.json"); schemaErr != nil {
		return
	}
	cdxSch, schemaErr = c.Compile("http://cyclonedx.org/schema/bom-1.6.schema.json")
}

func validate(t testing.TB, sch func() *jsonschema.Schema, doc []byte) {
	t.Helper()
	schemaOnce.Do(loadSchemas)
	if schemaErr != nil {
		t.Fatalf("load schemas: %v", schemaErr)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if err := sch().Validate(inst); err != nil {
		t.Fatalf("output does not validate against the schema: %v", err)
	}
}

func validateSARIF(t testing.TB, doc []byte) {
	validate(t, func() *jsonschema.Schema { return sarifSch }, doc)
}
func validateCycloneDX(t testing.TB, doc []byte) {
	validate(t, func() *jsonschema.Schema { return cdxSch }, doc)
}

// TestSchemasReject: the validators do reject broken documents (a test of
// the test: a validator that accepts anything proves nothing).
func TestSchemasReject(t *testing.T) {
	schemaOnce.Do(loadSchemas)
	if schemaErr != nil {
		t.Fatalf("load schemas: %v", schemaErr)
	}
	tests := []struct {
		name string
		sch  *jsonschema.Schema
		doc  string
	}{
		{"sarif wrong version", sarifSch, `{"version":"2.0.0","runs":[]}`},
		{"sarif result without message", sarifSch, `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"ruleId":"a"}]}]}`},
		{"sarif bad level", sarifSch, `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"ruleId":"a","level":"fatal","message":{"text":"m"}}]}]}`},
		{"cyclonedx bad serial", cdxSch, `{"bomFormat":"CycloneDX","specVersion":"1.6","serialNumber":"urn:uuid:NOT","version":1}`},
		{"cyclonedx bad component type", cdxSch, `{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[{"type":"thing","name":"x"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(tt.doc)))
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.sch.Validate(inst); err == nil {
				t.Errorf("Validate(%s) = nil, want an error", tt.doc)
			}
		})
	}
}
