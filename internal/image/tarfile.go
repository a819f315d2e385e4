package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// maxMetaBytes bounds the JSON documents (manifests, configs, indexes) read
// from a target: real ones are kilobytes.
const maxMetaBytes = 64 << 20

// maxArchiveMembers bounds the members of an image archive: real ones have
// a few per layer.
const maxArchiveMembers = 100_000

// tarArchive is an index of the members of a tar held in an io.ReaderAt
// (an open file), so single members are read in place (io.SectionReader)
// without extracting anything. Indexing reads only the tar headers: the
// members' content is skipped by seeking. A gzip-compressed archive is
// decompressed once, into a temporary file, by openTarArchive.
type tarArchive struct {
	path    string // for messages
	src     io.ReaderAt
	size    int64
	members map[string]tarMember
}

type tarMember struct {
	offset   int64 // of the data
	size     int64
	typeflag byte
	linkname string
}

// gzipMagic and zstdMagic start compressed streams.
var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// openTarArchive opens and indexes the tar file at p; close the returned
// closer when done with the archive. A gzip-compressed archive is
// decompressed once into a temporary file under opts.TempDir (at most
// opts.MaxArchiveBytes), which the closer removes. A missing, unreadable or
// corrupt file wraps ErrBadInput.
func openTarArchive(ctx context.Context, p string, opts Options) (*tarArchive, io.Closer, error) {
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
	a, closer, err := readTarArchive(ctx, p, f, st.Size(), opts)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if closer == nil {
		return a, f, nil
	}
	// The archive was spooled: the original is no longer needed.
	f.Close()
	return a, closer, nil
}

// readTarArchive indexes the tar (plain or gzip) in src. For a gzip tar
// the plain stream is spooled to a temporary file; the closer (nil for a
// plain tar) closes and removes it.
func readTarArchive(ctx context.Context, name string, src io.ReaderAt, size int64, opts Options) (*tarArchive, io.Closer, error) {
	var magic [2]byte
	if n, _ := src.ReadAt(magic[:], 0); n < 2 || !bytes.Equal(magic[:], gzipMagic) {
		a, err := indexTar(name, src, size)
		return a, nil, err
	}
	return spoolGzipTar(ctx, name, io.NewSectionReader(src, 0, size), opts)
}

// indexTar reads the headers of the plain tar in src, seeking over the
// members' content.
func indexTar(name string, src io.ReaderAt, size int64) (*tarArchive, error) {
	a := &tarArchive{path: name, src: src, size: size, members: map[string]tarMember{}}
	sr := io.NewSectionReader(src, 0, size)
	if err := a.index(sr, func() (int64, error) { return sr.Seek(0, io.SeekCurrent) }); err != nil {
		return nil, err
	}
	return a, nil
}

// index reads the tar headers from r (which seeks over content when it is
// an io.Seeker); pos returns the offset of the data after each header.
func (a *tarArchive) index(r io.Reader, pos func() (int64, error)) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read tar: %w: %w", err, ErrBadInput)
		}
		if len(a.members) >= maxArchiveMembers {
			return fmt.Errorf("more than %d members: not an image archive: %w", maxArchiveMembers, ErrBadInput)
		}
		off, err := pos()
		if err != nil {
			return fmt.Errorf("read tar: %w: %w", err, ErrBadInput)
		}
		a.members[cleanMember(hdr.Name)] = tarMember{offset: off, size: hdr.Size, typeflag: hdr.Typeflag, linkname: hdr.Linkname}
	}
	if len(a.members) == 0 {
		return fmt.Errorf("empty tar archive: %w", ErrBadInput)
	}
	return nil
}

// spoolGzipTar decompresses a gzip tar once into a temporary file, indexing
// it on the way, and reads the rest of the gzip stream so its checksum is
// verified. The work is bounded by opts.MaxArchiveBytes of plain tar.
func spoolGzipTar(ctx context.Context, name string, r io.Reader, opts Options) (*tarArchive, io.Closer, error) {
	zr, err := gzip.NewReader(bufio.NewReaderSize(r, 1<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("gzip: %w: %w", err, ErrBadInput)
	}
	defer zr.Close()
	f, err := os.CreateTemp(opts.TempDir, "lockdown-archive-*.tar")
	if err != nil {
		return nil, nil, fmt.Errorf("spool %s: %w", name, err)
	}
	spool := &spoolFile{f}
	max := opts.limits().maxArchive
	lr := &layerReader{ctx: ctx, r: zr, max: max}
	bw := bufio.NewWriterSize(f, 1<<20)
	cr := &countReader{r: io.TeeReader(lr, bw)}
	a := &tarArchive{path: name, src: f, members: map[string]tarMember{}}
	fail := func(err error) (*tarArchive, io.Closer, error) {
		spool.Close()
		if errors.Is(err, errLayerTooBig) {
			return nil, nil, fmt.Errorf("gzip: decompressed archive passes the limit of %d bytes (decompression bomb?): %w", max, ErrBadInput)
		}
		return nil, nil, fmt.Errorf("gzip: %w: %w", err, ErrBadInput)
	}
	if err := a.index(cr, func() (int64, error) { return cr.n, nil }); err != nil {
		if lr.err != nil {
			return fail(lr.err)
		}
		spool.Close()
		return nil, nil, err
	}
	// Reach the end of the gzip stream so its checksum is verified; what
	// follows the tar's end is not kept.
	if _, err := io.Copy(io.Discard, lr); err != nil {
		return fail(err)
	}
	if err := bw.Flush(); err != nil {
		spool.Close()
		return nil, nil, fmt.Errorf("spool %s: %w", name, err)
	}
	a.size = cr.n
	return a, spool, nil
}

// spoolFile is a temporary file removed on Close.
type spoolFile struct{ f *os.File }

func (s *spoolFile) Close() error {
	err := s.f.Close()
	if rerr := os.Remove(s.f.Name()); err == nil {
		err = rerr
	}
	return err
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

// open returns the bytes of one member and its size.
func (a *tarArchive) open(name string) (io.ReadCloser, int64, error) {
	m, err := a.lookup(name)
	if err != nil {
		return nil, 0, err
	}
	if m.offset+m.size > a.size {
		return nil, 0, fmt.Errorf("%s: member %q is truncated: %w", a.path, name, ErrBadInput)
	}
	return io.NopCloser(io.NewSectionReader(a.src, m.offset, m.size)), m.size, nil
}

// readAll reads one member, at most maxMetaBytes.
func (a *tarArchive) readAll(name string) ([]byte, error) {
	rc, _, err := a.open(name)
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
