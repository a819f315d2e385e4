package testutil

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The official JSON schemas of the formats Lockdown writes, vendored in
// internal/report/testdata/schema (its README names each source).
const (
	SchemaSARIF     = "sarif-schema-2.1.0.json"
	SchemaCycloneDX = "bom-1.6.schema.json"
	SchemaSPDX      = "spdx-schema-2.3.json"
	SchemaOpenVEX   = "openvex_json_schema-0.2.0.json"
)

// schemaIDs are the URLs the schemas are known by (their $id, or the URL
// other schemas reference them by).
var schemaIDs = map[string]string{
	SchemaSARIF:            "https://lockdown.test/sarif-schema-2.1.0.json",
	SchemaCycloneDX:        "http://cyclonedx.org/schema/bom-1.6.schema.json",
	"spdx.schema.json":     "http://cyclonedx.org/schema/spdx.schema.json",
	"jsf-0.82.schema.json": "http://cyclonedx.org/schema/jsf-0.82.schema.json",
	SchemaSPDX:             "http://spdx.org/rdf/terms/2.3",
	SchemaOpenVEX:          "https://github.com/openvex/spec/openvex_json_schema_0.2.0.json",
}

var (
	schemasOnce sync.Once
	schemas     map[string]*jsonschema.Schema
	schemasErr  error
)

func loadSchemas(dir string) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for file, url := range schemaIDs {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			schemasErr = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			schemasErr = err
			return
		}
		if err := c.AddResource(url, doc); err != nil {
			schemasErr = err
			return
		}
	}
	schemas = map[string]*jsonschema.Schema{}
	for _, name := range []string{SchemaSARIF, SchemaCycloneDX, SchemaSPDX, SchemaOpenVEX} {
		s, err := c.Compile(schemaIDs[name])
		if err != nil {
			schemasErr = err
			return
		}
		schemas[name] = s
	}
}

// Schema returns one of the vendored schemas, compiled (formats asserted).
func Schema(t testing.TB, name string) *jsonschema.Schema {
	t.Helper()
	schemasOnce.Do(func() { loadSchemas(filepath.Join(RepoRoot(t), "internal", "report", "testdata", "schema")) })
	if schemasErr != nil {
		t.Fatalf("load the vendored JSON schemas: %v", schemasErr)
	}
	s, ok := schemas[name]
	if !ok {
		t.Fatalf("no vendored schema %s", name)
	}
	return s
}

// ValidateJSON fails t unless doc is JSON valid against the named schema.
func ValidateJSON(t testing.TB, name string, doc []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if err := Schema(t, name).Validate(inst); err != nil {
		t.Fatalf("output does not validate against %s: %v", name, err)
	}
}
