package load

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/netpol/calicov3"
)

func TestFieldLines(t *testing.T) {
	text := `# comment
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: g
spec:
  ingress:
  - action: Allow
    source:
      nets:
      - 10.0.0.0/8
      - 10.1.0.0/16
  - action: Deny
`
	objs, _, err := Parse("p.yaml", []byte(text), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].Source.Line != 2 || objs[1].Source.Line != 6 {
		t.Fatalf("documents start at %v, want lines 2 and 6", objs)
	}
	g := objs[1]
	if _, ok := g.Obj.(*calicov3.GlobalNetworkPolicy); !ok {
		t.Fatalf("Obj = %T", g.Obj)
	}
	tests := []struct {
		path []any
		want int
	}{
		{[]any{"spec"}, 10},
		{[]any{"spec", "ingress"}, 11},
		{[]any{"spec", "ingress", 0}, 12},
		{[]any{"spec", "ingress", 0, "source", "nets", 1}, 16},
		{[]any{"spec", "ingress", 1, "action"}, 17},
		{[]any{"spec", "ingress", 1, "source", "nets"}, 17}, // nearest ancestor
		{[]any{"spec", "egress"}, 10},
	}
	for _, tt := range tests {
		if got := g.At(tt.path...); got.Line != tt.want || got.File != "p.yaml" {
			t.Errorf("At(%s) = %s, want p.yaml:%d", PathString(tt.path), got, tt.want)
		}
	}
}

func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ns := func(n string) string { return "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + n + "}\n" }
	write("b.yaml", ns("b"))
	write("a.yml", ns("a"))
	write("sub/c.json", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"c"}}`)
	write(".git/x.yaml", "not: [valid")
	write("README.md", "# not read")
	res, err := Load(context.Background(), []string{dir, "-"}, strings.NewReader(ns("stdin")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range res.Objects {
		names = append(names, o.Name+"@"+filepath.Base(o.Source.File))
	}
	want := []string{"a@a.yml", "b@b.yaml", "c@c.json", "stdin@-"}
	if !slices.Equal(names, want) {
		t.Errorf("Load(dir, -) = %v, want %v", names, want)
	}
	if _, err := Load(context.Background(), []string{filepath.Join(dir, "missing")}, nil, Options{}); err == nil || !strings.Contains(err.Error(), "missing: no such file") {
		t.Errorf("Load(missing) error = %v", err)
	}
}

// Load goes on past an unreadable path and past bad List items.
func TestLoadKeepsGoing(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	text := "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v2, kind: Pod, metadata: {name: a}}\n- {apiVersion: v1, kind: Namespace, metadata: {name: n}}\n- {kind: Pod}\n"
	if err := os.WriteFile(good, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.yaml")
	res, err := Load(context.Background(), []string{missing, good}, nil, Options{})
	var list *Errors
	if !errors.As(err, &list) {
		t.Fatalf("Load error = %v (%T), want *Errors", err, err)
	}
	want := []string{
		"read " + missing + ": stat " + missing + ": no such file or directory",
		good + `:4: Pod: unsupported apiVersion "v2" (want v1)`,
		good + ":6: Pod: missing apiVersion",
	}
	if got := list.Lines(); !slices.Equal(got, want) {
		t.Errorf("Load errors =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if len(res.Objects) != 1 || res.Objects[0].ID() != "Namespace n" {
		t.Errorf("Load objects = %v, want Namespace n only", res.Objects)
	}
	if _, err := Load(canceledCtx(), []string{good}, nil, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Load(canceled) error = %v, want context.Canceled", err)
	}
}

func canceledCtx() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
