package calico

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	sigyaml "sigs.k8s.io/yaml"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// Applying a finding's fix to the manifests and auditing again makes that
// finding pass: the patches and manifests are exact.
func TestFixesClearTheirFindings(t *testing.T) {
	applied := 0
	for _, tc := range corpus {
		data, err := os.ReadFile(filepath.Join("testdata", "corpus", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		cfg := tc.cfg
		cfg.TrustedCIDR = "192.0.2.0/24"
		rep := auditText(t, tc.file, data, cfg)
		checks := Checks()
		for _, f := range rep.Findings {
			if f.Status != model.StatusFail && f.Status != model.StatusWarn {
				continue
			}
			fix := fixOf(t, tc.file, data, cfg, f)
			if fix == nil || (fix.Patch == nil && fix.Delete == nil && fix.Manifest == "") {
				continue // a note only: no manifest change fixes it
			}
			t.Run(fmt.Sprintf("%s/%s/%s", tc.file, f.RuleID, f.Subject), func(t *testing.T) {
				docs := decodeDocs(t, data)
				docs = applyFix(t, docs, fix)
				fixed := encodeDocs(t, docs)
				after := auditText(t, tc.file, fixed, cfg)
				for _, g := range after.Findings {
					if g.RuleID == f.RuleID && g.Subject == f.Subject && (g.Status == model.StatusFail || g.Status == model.StatusWarn) {
						t.Errorf("after the fix, %s %s is still %s: %s\nfix:\n%s", g.RuleID, g.Subject, g.Status, g.Evidence, fix)
					}
				}
				if !strings.Contains(f.Remediation, strings.SplitN(fix.String(), "\n", 2)[0]) {
					t.Errorf("the remediation does not show the fix: %q", f.Remediation)
				}
			})
			applied++
		}
		_ = checks
	}
	if applied < 30 {
		t.Errorf("applied %d fixes, want at least 30", applied)
	}
}

// fixOf reruns the check that produced f and returns the fix of the result
// for the same subject.
func fixOf(t *testing.T, name string, data []byte, cfg Config, f model.Finding) *Fix {
	t.Helper()
	objs := loadText(t, name, data)
	w, err := newWorld(objs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Checks() {
		if c.info.ID != f.RuleID {
			continue
		}
		for _, r := range c.run(w) {
			if r.Subject == f.Subject && r.Status == f.Status {
				if r.Fix != nil && r.Fix.String() != f.Remediation {
					t.Errorf("%s %s: remediation %q is not the fix %q", f.RuleID, f.Subject, f.Remediation, r.Fix)
				}
				return r.Fix
			}
		}
	}
	t.Fatalf("%s %s: result not found again", f.RuleID, f.Subject)
	return nil
}

func decodeDocs(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []map[string]any
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, m)
	}
	return docs
}

func encodeDocs(t *testing.T, docs []map[string]any) []byte {
	t.Helper()
	var parts []string
	for _, d := range docs {
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, string(b))
	}
	return []byte(strings.Join(parts, "\n---\n"))
}

func refOf(d map[string]any) Ref {
	md, _ := d["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	ns, _ := md["namespace"].(string)
	kind, _ := d["kind"].(string)
	return Ref{kind, name, ns}
}

func find(docs []map[string]any, r Ref) int {
	for i, d := range docs {
		got := refOf(d)
		// calicoctl and kubectl put namespaced kinds without a namespace in "default".
		if strings.EqualFold(got.Kind, r.Kind) && got.Name == r.Name && (got.Namespace == r.Namespace || r.Namespace == "default" && got.Namespace == "") {
			return i
		}
	}
	return -1
}

// applyFix does what calicoctl would: patch, delete, apply.
func applyFix(t *testing.T, docs []map[string]any, fix *Fix) []map[string]any {
	t.Helper()
	if p := fix.Patch; p != nil {
		i := find(docs, p.Ref)
		if i < 0 {
			if p.Name != "default" || p.Kind != kindFelix {
				t.Fatalf("patch of %v: no such resource", p.Ref)
			}
			// Calico always has the default FelixConfiguration.
			docs = append(docs, map[string]any{"apiVersion": "projectcalico.org/v3", "kind": kindFelix, "metadata": map[string]any{"name": "default"}})
			i = len(docs) - 1
		}
		var body any
		if err := json.Unmarshal([]byte(p.Body), &body); err != nil {
			t.Fatalf("patch body %s: %v", p.Body, err)
		}
		switch p.Type {
		case MergePatch:
			docs[i] = mergePatch(docs[i], body).(map[string]any)
		case JSONPatch:
			docs[i] = applyJSONPatch(t, docs[i], body.([]any))
		default:
			t.Fatalf("patch type %q", p.Type)
		}
	}
	if d := fix.Delete; d != nil {
		i := find(docs, *d)
		if i < 0 {
			t.Fatalf("delete %v: no such resource", *d)
		}
		docs = append(docs[:i], docs[i+1:]...)
	}
	if fix.Manifest != "" {
		var m map[string]any
		if err := sigyaml.Unmarshal([]byte(fix.Manifest), &m); err != nil {
			t.Fatalf("manifest: %v\n%s", err, fix.Manifest)
		}
		if i := find(docs, refOf(m)); i >= 0 {
			docs[i] = m
		} else {
			docs = append(docs, m)
		}
	}
	return docs
}

// mergePatch is RFC 7386.
func mergePatch(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
		} else {
			tm[k] = mergePatch(tm[k], v)
		}
	}
	return tm
}

// applyJSONPatch supports the operations the fixes use: test and remove.
func applyJSONPatch(t *testing.T, doc map[string]any, ops []any) map[string]any {
	t.Helper()
	for _, o := range ops {
		op := o.(map[string]any)
		path := strings.Split(strings.TrimPrefix(op["path"].(string), "/"), "/")
		parent := any(doc)
		for _, tok := range path[:len(path)-1] {
			parent = child(t, parent, tok)
		}
		last := path[len(path)-1]
		switch op["op"] {
		case "test":
			if got := child(t, parent, last); fmt.Sprint(got) != fmt.Sprint(op["value"]) {
				t.Fatalf("JSON patch test %s: got %v, want %v", op["path"], got, op["value"])
			}
		case "remove":
			list := parent.([]any)
			i, _ := strconv.Atoi(last)
			// The list lives in its parent map: rebuild it there.
			gp := any(doc)
			for _, tok := range path[:len(path)-2] {
				gp = child(t, gp, tok)
			}
			gp.(map[string]any)[path[len(path)-2]] = append(list[:i:i], list[i+1:]...)
		default:
			t.Fatalf("JSON patch op %v", op["op"])
		}
	}
	return doc
}

func child(t *testing.T, v any, tok string) any {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		return v[tok]
	case []any:
		i, err := strconv.Atoi(tok)
		if err != nil || i < 0 || i >= len(v) {
			t.Fatalf("JSON pointer token %q out of range", tok)
		}
		return v[i]
	}
	t.Fatalf("JSON pointer token %q into %T", tok, v)
	return nil
}
