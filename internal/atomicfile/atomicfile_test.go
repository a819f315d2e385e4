package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := WriteBytes(p, 0o600, []byte("one")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(p, 0o644, func(w io.Writer) error { io.WriteString(w, "tw"); return boom })
	if !errors.Is(err, boom) {
		t.Errorf("Write error = %v, want boom", err)
	}
	b, _ := os.ReadFile(p)
	fi, _ := os.Stat(p)
	if string(b) != "one" || fi.Mode().Perm() != 0o600 {
		t.Errorf("after a failed write: %q %v, want the old file (one, 0600)", b, fi.Mode().Perm())
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Errorf("%d entries in the directory, want 1 (no temporary file left)", len(es))
	}
	if err := WriteBytes(filepath.Join(dir, "missing", "f"), 0o644, nil); err == nil {
		t.Errorf("WriteBytes into a missing directory = nil")
	}
}
