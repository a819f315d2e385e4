package cli

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteOutputAtomic(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "report.json")
	if err := os.WriteFile(out, []byte("earlier report\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g := &globals{output: out, stdout: io.Discard}

	// A write that fails half-way leaves the earlier file as it was, and no
	// temporary file behind.
	err := g.writeOutput(func(w io.Writer, _ bool) error {
		io.WriteString(w, "partial")
		return errors.New("boom")
	})
	if err == nil {
		t.Fatal("writeOutput(failing write) = nil, want an error")
	}
	if b, _ := os.ReadFile(out); string(b) != "earlier report\n" {
		t.Errorf("after a failed write, %s = %q, want the earlier report", out, b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("after a failed write the directory holds %d entries, want 1 (no temp file)", len(ents))
	}

	// A write that succeeds replaces it, readable by others.
	if err := g.writeOutput(func(w io.Writer, color bool) error {
		if color {
			t.Error("colour requested for a file")
		}
		_, err := io.WriteString(w, "new report\n")
		return err
	}); err != nil {
		t.Fatalf("writeOutput = %v", err)
	}
	b, _ := os.ReadFile(out)
	fi, _ := os.Stat(out)
	if string(b) != "new report\n" || fi.Mode().Perm() != 0o644 {
		t.Errorf("%s = %q mode %v, want \"new report\\n\" mode 0644", out, b, fi.Mode().Perm())
	}

	// Standard output when no --output.
	var buf bytes.Buffer
	g = &globals{stdout: &buf}
	if err := g.writeOutput(func(w io.Writer, _ bool) error { _, err := io.WriteString(w, "x"); return err }); err != nil || buf.String() != "x" {
		t.Errorf("writeOutput to stdout = %v, %q; want nil, \"x\"", err, buf.String())
	}
}

func TestPickFormat(t *testing.T) {
	g := &globals{format: "JSON", stdout: io.Discard}
	if f, err := g.pickFormat("x", []string{"table", "json"}, "table"); err != nil || f != "json" {
		t.Errorf("pickFormat(JSON) = %q, %v; want json, nil", f, err)
	}
	g.format = ""
	if f, err := g.pickFormat("x", []string{"table", "json"}, defaultByTerminal); err != nil || f != "json" {
		t.Errorf("pickFormat(default, not a terminal) = %q, %v; want json, nil", f, err)
	}
	g.format = "xml"
	if _, err := g.pickFormat("x", []string{"table", "json"}, "table"); err == nil || err.Error() != `unknown --format "xml": x writes table, json` {
		t.Errorf("pickFormat(xml) = %v, want unknown --format error", err)
	}
	g.format, g.output = "", filepath.Join(t.TempDir(), "no", "such", "dir", "f")
	if _, err := g.pickFormat("x", []string{"table"}, "table"); err == nil {
		t.Error("pickFormat with --output in a missing directory = nil, want an error")
	}
}
