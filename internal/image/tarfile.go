package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// maxMetaBytes bounds the JSON documents (manifests, configs, indexes) read
// from a target: real ones are kilobytes.
const maxMetaBytes = 64 << 20

// tarArchive is an index of the members of a tar (plain or gzip) held in
// an io.ReaderAt (an open file), so single members can be read without
// extracting. For a plain tar a member is read in place (io.SectionReader);
// a gzip tar is decompressed again from the start for each member opened.
type tarArchive struct {
	path    string // for messages
	src     io.ReaderAt
	size    int64
	gz      bool
	members map[string]tarMember
}

type tarMember struct {
	offset   int64 // of the data, in the plain (uncompressed) stream
	size     int64
	typeflag byte
	linkname string
}

// gzipMagic and zstdMagic start compressed streams.
var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// openTarArchive opens and indexes the tar file at p; close the file
// (second result) when done with the archive. A missing, unreadable or
// corrupt file wraps ErrBadInput.
func openTarArchive(p string) (*tarArchive, io.Closer, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", err, ErrBadInput)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%w: %w", err, ErrBadInput)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s is not a regular file: %w", p, ErrBadInput)
	}
	a, err := indexTar(p, f, st.Size())
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return a, f, nil
}

// indexTar reads the headers of the tar in src.
func indexTar(name string, src io.ReaderAt, size int64) (*tarArchive, error) {
	a := &tarArchive{path: name, src: src, size: size, members: map[string]tarMember{}}
	var magic [2]byte
	if n, _ := src.ReadAt(magic[:], 0); n == 2 && bytes.Equal(magic[:], gzipMagic) {
		a.gz = true
	}
	raw, err := a.whole()
	if err != nil {
		return nil, fmt.Errorf("gzip: %w: %w", err, ErrBadInput)
	}
	defer raw.Close()
	cr := &countReader{r: raw}
	tr := tar.NewReader(cr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read tar: %w: %w", err, ErrBadInput)
		}
		a.members[cleanMember(hdr.Name)] = tarMember{offset: cr.n, size: hdr.Size, typeflag: hdr.Typeflag, linkname: hdr.Linkname}
	}
	if a.gz {
		// Reach the end of the gzip stream so its checksum is verified.
		if _, err := io.Copy(io.Discard, cr); err != nil {
			return nil, fmt.Errorf("gzip: %w: %w", err, ErrBadInput)
		}
	}
	if len(a.members) == 0 {
		return nil, fmt.Errorf("empty tar archive: %w", ErrBadInput)
	}
	return a, nil
}

// cleanMember normalises a member name of an image archive ("./x/" -> "x").
func cleanMember(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// has reports whether the archive holds a member (after links).
func (a *tarArchive) has(name string) bool {
	_, err := a.lookup(name)
	return err == nil
}

// lookup finds a member, following symlinks and hard links inside the
// archive (docker save writes duplicate layers as links).
func (a *tarArchive) lookup(name string) (tarMember, error) {
	name = cleanMember(name)
	for range 16 {
		m, ok := a.members[name]
		if !ok {
			return tarMember{}, fmt.Errorf("%s: no member %q: %w", a.path, name, ErrBadInput)
		}
		switch m.typeflag {
		case tar.TypeReg, tar.TypeRegA:
			return m, nil
		case tar.TypeSymlink:
			name = cleanMember(path.Join(path.Dir(name), m.linkname))
		case tar.TypeLink:
			name = cleanMember(m.linkname)
		default:
			return tarMember{}, fmt.Errorf("%s: member %q is not a file: %w", a.path, name, ErrBadInput)
		}
	}
	return tarMember{}, fmt.Errorf("%s: member %q: too many links: %w", a.path, name, ErrBadInput)
}

// open returns the raw bytes of one member.
func (a *tarArchive) open(name string) (io.ReadCloser, error) {
	m, err := a.lookup(name)
	if err != nil {
		return nil, err
	}
	if !a.gz {
		return io.NopCloser(io.NewSectionReader(a.src, m.offset, m.size)), nil
	}
	raw, err := a.whole()
	if err != nil {
		return nil, fmt.Errorf("gzip: %w: %w", err, ErrBadInput)
	}
	if _, err := io.CopyN(io.Discard, raw, m.offset); err != nil {
		raw.Close()
		return nil, fmt.Errorf("%s: seek to %q: %w: %w", a.path, name, err, ErrBadInput)
	}
	return readCloser{Reader: io.LimitReader(raw, m.size), close: raw.Close}, nil
}

// whole returns the uncompressed tar stream of the archive (also for
// go-containerregistry's tarball package).
func (a *tarArchive) whole() (io.ReadCloser, error) {
	sr := io.NewSectionReader(a.src, 0, a.size)
	if !a.gz {
		return io.NopCloser(sr), nil
	}
	zr, err := gzip.NewReader(bufio.NewReader(sr))
	if err != nil {
		return nil, err
	}
	return zr, nil
}

// readAll reads one member, at most maxMetaBytes.
func (a *tarArchive) readAll(name string) ([]byte, error) {
	rc, err := a.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return readLimited(rc, maxMetaBytes)
}

func readLimited(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("document larger than %d bytes: %w", max, ErrBadInput)
	}
	return b, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// decompress peeks at a layer blob and returns its uncompressed stream
// (gzip, zstd or plain tar). Closing it closes rc.
func decompress(rc io.ReadCloser) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(rc, 64<<10)
	magic, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		rc.Close()
		return nil, err
	}
	switch {
	case bytes.HasPrefix(magic, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return readCloser{Reader: zr, close: rc.Close}, nil
	case bytes.HasPrefix(magic, zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(1<<27))
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return readCloser{Reader: zr, close: func() error { zr.Close(); return rc.Close() }}, nil
	default:
		return readCloser{Reader: br, close: rc.Close}, nil
	}
}
