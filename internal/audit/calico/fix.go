package calico

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Fix is the change that makes a check pass: run in order, a patch of one
// resource, a deletion, a manifest to apply. A fix with only a Note is
// not a manifest change (a node to repair, a value to choose).
type Fix struct {
	// Note says what the change does or what to fill in, when the commands
	// alone do not.
	Note   string `json:"note,omitempty"`
	Patch  *Patch `json:"patch,omitempty"`
	Delete *Ref   `json:"delete,omitempty"`
	// Manifest is a YAML document for `calicoctl apply -f -`.
	Manifest string `json:"manifest,omitempty"`
}

// Ref names one resource.
type Ref struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// args is "kind name [-n namespace]" for calicoctl.
func (r Ref) args() string {
	s := strings.ToLower(r.Kind) + " " + r.Name
	if r.Namespace != "" {
		s += " -n " + r.Namespace
	}
	return s
}

// Patch types.
const (
	MergePatch = "merge" // JSON merge patch (RFC 7386)
	JSONPatch  = "json"  // JSON patch (RFC 6902)
)

// Patch is a `calicoctl patch` of one resource.
type Patch struct {
	Ref
	Type string `json:"type"` // MergePatch or JSONPatch
	Body string `json:"body"` // compact JSON
}

// Command is the calicoctl command line that applies the patch.
func (p *Patch) Command() string {
	return fmt.Sprintf("calicoctl patch %s --type=%s -p %s", p.args(), p.Type, shellQuote(p.Body))
}

// String is the note, then the commands (a heredoc for a manifest).
func (f *Fix) String() string {
	var lines []string
	if f.Note != "" {
		lines = append(lines, f.Note)
	}
	if f.Patch != nil {
		lines = append(lines, f.Patch.Command())
	}
	if f.Delete != nil {
		lines = append(lines, "calicoctl delete "+f.Delete.args())
	}
	if f.Manifest != "" {
		lines = append(lines, "calicoctl apply -f - <<'EOF'\n"+strings.TrimRight(f.Manifest, "\n")+"\nEOF")
	}
	return strings.Join(lines, "\n")
}

// mergeFix patches spec fields of a resource with a JSON merge patch (nil
// values delete the field).
func mergeFix(kind, name, namespace string, spec map[string]any) *Fix {
	return &Fix{Patch: &Patch{Ref: Ref{kind, name, namespace}, Type: MergePatch, Body: compactJSON(map[string]any{"spec": spec})}}
}

// jsonPatchFix applies RFC 6902 operations to a resource.
func jsonPatchFix(kind, name, namespace string, ops ...map[string]any) *Fix {
	return &Fix{Patch: &Patch{Ref: Ref{kind, name, namespace}, Type: JSONPatch, Body: compactJSON(ops)}}
}

// compactJSON marshals v with sorted map keys and no HTML escaping.
func compactJSON(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	// Fixes are built here from maps, slices, strings, numbers and
	// booleans, which always encode.
	_ = enc.Encode(v)
	return strings.TrimRight(b.String(), "\n")
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
