package maven

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
)

// Limits on what is read inside an archive.
const (
	maxInMemory     = 64 << 20  // larger archives are spooled to the extractor's TempDir
	maxNested       = 128 << 20 // one nested archive (WEB-INF/lib/x.jar), inflated
	maxProperties   = 1 << 20   // one pom.properties
	maxInflateTotal = 1 << 30   // everything inflated from one outer archive
)

func extractArchive(ctx context.Context, in extract.Input) (extract.Result, error) {
	ra, size, cleanup, err := readerAt(in)
	if err != nil {
		return extract.Result{}, err
	}
	defer cleanup()
	return ParseArchive(ctx, in.Path, ra, size)
}

// readerAt gives random access to the archive: in memory when small, else
// spooled to a file in the input's TempDir.
func readerAt(in extract.Input) (io.ReaderAt, int64, func(), error) {
	if in.Size <= maxInMemory {
		data, err := io.ReadAll(io.LimitReader(in.Reader, MaxArchiveSize+1))
		if err != nil {
			return nil, 0, nil, fmt.Errorf("read %s: %w", in.Path, err)
		}
		if len(data) > MaxArchiveSize {
			return nil, 0, nil, fmt.Errorf("read %s: larger than %d bytes", in.Path, MaxArchiveSize)
		}
		return bytes.NewReader(data), int64(len(data)), func() {}, nil
	}
	f, err := os.CreateTemp(in.TempDir, "archive-*")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("spool %s: %w", in.Path, err)
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	n, err := io.Copy(f, io.LimitReader(in.Reader, MaxArchiveSize+1))
	if err != nil {
		cleanup()
		return nil, 0, nil, fmt.Errorf("spool %s: %w", in.Path, err)
	}
	if n > MaxArchiveSize {
		cleanup()
		return nil, 0, nil, fmt.Errorf("read %s: larger than %d bytes", in.Path, MaxArchiveSize)
	}
	return f, n, cleanup, nil
}

// ParseArchive reads the META-INF/maven/GROUP/ARTIFACT/pom.properties of a
// JAR, WAR or EAR and of the archives inside it (one level: a WAR's
// WEB-INF/lib/*.jar, a Spring Boot jar's BOOT-INF/lib/*.jar). Packages from
// a nested archive carry Metadata["archivePath"], its path inside the outer
// one. A file that is not a zip archive is an error; a bad entry or nested
// archive is a warning.
func ParseArchive(ctx context.Context, location string, r io.ReaderAt, size int64) (extract.Result, error) {
	s := newSet(location)
	budget := int64(maxInflateTotal)
	if err := scanArchive(ctx, s, r, size, "", &budget); err != nil {
		return extract.Result{}, fmt.Errorf("read archive %s: %w", location, err)
	}
	return s.result(), nil
}

func scanArchive(ctx context.Context, s *pkgSet, r io.ReaderAt, size int64, inner string, budget *int64) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return err
	}
	where := func(name string) string {
		if inner == "" {
			return name
		}
		return inner + "!" + name
	}
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch {
		case isPomProperties(f.Name):
			b, err := readEntry(f, maxProperties, budget)
			if err != nil {
				s.warn("archive entry %s: %v", where(f.Name), err)
				continue
			}
			props := parseProperties(b)
			g, a, v := props["groupId"], props["artifactId"], props["version"]
			if !validCoord(g) || !validCoord(a) || !validVersion(v) {
				s.warn("archive entry %s: bad coordinates %q:%q:%q", where(f.Name), g, a, v)
				continue
			}
			var meta map[string]string
			if inner != "" {
				meta = map[string]string{"archivePath": inner}
			}
			s.add(g+":"+a, v, meta)
		case inner == "" && isArchive(f.Name) && !f.FileInfo().IsDir():
			if f.UncompressedSize64 > maxNested {
				s.warn("archive entry %s: nested archive of %d bytes, over the %d limit", f.Name, f.UncompressedSize64, maxNested)
				continue
			}
			b, err := readEntry(f, maxNested, budget)
			if err != nil {
				s.warn("archive entry %s: %v", f.Name, err)
				continue
			}
			if err := scanArchive(ctx, s, bytes.NewReader(b), int64(len(b)), f.Name, budget); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				s.warn("nested archive %s: %v", f.Name, err)
			}
		}
	}
	return nil
}

// isPomProperties matches META-INF/maven/GROUP/ARTIFACT/pom.properties.
func isPomProperties(name string) bool {
	rest, ok := strings.CutPrefix(name, "META-INF/maven/")
	if !ok || !strings.HasSuffix(rest, "/pom.properties") {
		return false
	}
	return strings.Count(rest, "/") == 2
}

// readEntry inflates one entry, at most max bytes, charged to budget.
func readEntry(f *zip.File, max int64, budget *int64) ([]byte, error) {
	if *budget <= 0 {
		return nil, fmt.Errorf("archive inflates to more than %d bytes in all", int64(maxInflateTotal))
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	limit := min(max, *budget)
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	*budget -= int64(len(b))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("inflates to more than %d bytes", limit)
	}
	return b, nil
}

// parseProperties reads Java properties ("key=value", "key: value"; "#"
// and "!" comments), enough for pom.properties.
func parseProperties(b []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxProperties+1)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			continue
		}
		out[strings.TrimSpace(line[:i])] = strings.TrimSpace(line[i+1:])
	}
	return out
}
