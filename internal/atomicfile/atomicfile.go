// Package atomicfile writes a file so that readers see either the old
// content or the new, never a part: through a temporary file in the same
// directory, synced and renamed into place.
package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write writes the file p with mode through write. When write fails, p
// is left as it was and the temporary file is removed.
func Write(p string, mode os.FileMode, write func(w io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	tmp := f.Name()
	werr := write(f)
	if werr == nil {
		werr = f.Chmod(mode)
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, p)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", p, werr)
	}
	return nil
}

// WriteBytes writes b to p with mode (see Write).
func WriteBytes(p string, mode os.FileMode, b []byte) error {
	return Write(p, mode, func(w io.Writer) error { _, err := w.Write(b); return err })
}
