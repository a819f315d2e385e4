package yamlnode

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

const doc = `kind: Pod
meta: &m
  name: web
spec:
  containers:
    - name: a
      image: x
    - name: b
      securityContext:
        privileged: true
copy: *m
`

func TestLineOf(t *testing.T) {
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatal(err)
	}
	m := root.Content[0]
	tests := []struct {
		path []any
		want int
	}{
		{[]any{"kind"}, 1},
		{[]any{"spec", "containers", 1, "securityContext", "privileged"}, 10},
		{[]any{"spec", "containers", 1, "missing"}, 8},
		{[]any{"spec", "containers", 5}, 5},
		{[]any{"nope"}, -1},
		{[]any{"copy", "name"}, 3},
	}
	for _, tt := range tests {
		if got := LineOf(m, tt.path, -1); got != tt.want {
			t.Errorf("LineOf(%v) = %d, want %d", tt.path, got, tt.want)
		}
	}
	if got := Scalar(Value(m, "copy"), "name"); got != "web" {
		t.Errorf("Scalar through an alias = %q, want web", got)
	}
	if got := KeyLine(m, "spec", 0); got != 4 {
		t.Errorf("KeyLine(spec) = %d, want 4", got)
	}
}
