package osv

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"strings"
)

// MaxRecord bounds one OSV JSON record read from an export (the largest
// real ones are a few hundred kB).
const MaxRecord = 32 << 20

// ZipEntry is one *.json file of an OSV export zip.
type ZipEntry struct {
	Name string // its path in the zip
	Data []byte // nil when TooLarge is set
	// TooLarge says the entry declares more than the limit: the caller
	// decides whether that stops it.
	TooLarge error
}

// ReadZip calls fn with every *.json file (any case, at any depth;
// directories skipped) of the zip at path, in the zip's order, reading at
// most limit bytes of each. display names the zip in errors. It stops at
// the first error fn returns, at a zip or an entry that cannot be read
// ("open zip D: …", "read zip D entry E: …"), and when ctx is done
// (checked every 256 entries).
func ReadZip(ctx context.Context, path, display string, limit int64, fn func(ZipEntry) error) error {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return fmt.Errorf("open zip %s: %w", display, err)
	}
	defer zr.Close()
	for i, f := range zr.File {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if f.FileInfo().IsDir() || !strings.HasSuffix(strings.ToLower(f.Name), ".json") {
			continue
		}
		e := ZipEntry{Name: f.Name}
		if f.UncompressedSize64 > uint64(limit) {
			e.TooLarge = fmt.Errorf("record of %d bytes is larger than %d", f.UncompressedSize64, limit)
		} else if e.Data, err = readEntry(f); err != nil {
			return fmt.Errorf("read zip %s entry %s: %w", display, f.Name, err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// readEntry reads f whole: archive/zip refuses (zip.ErrFormat) a byte more
// than the entry declares, and ReadZip has checked that size.
func readEntry(f *zip.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
