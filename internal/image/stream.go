package image

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// A layer is read as a pipeline of goroutines so that a walk uses more
// than one core even for a one-layer image:
//
//	blob (file, HTTP body) -> digest check of the stored bytes  [stage 1]
//	  -> gzip/zstd decompression                                [stage 2]
//	  -> diff ID check, tar walk, Visit                         [the walker]
//
// Each stage reads ahead a few chunks. The digest of the stored bytes is
// checked against the layer's descriptor as they stream past (no second
// pass), and the uncompressed stream against the diff ID by the walker;
// for an uncompressed blob whose digest is its diff ID one check covers
// both.

// Read-ahead sizes: chunkSize bytes per chunk, aheadDepth chunks in flight
// per stage.
const (
	chunkSize  = 256 << 10
	aheadDepth = 3
)

// digestError is a blob whose bytes do not match its descriptor.
type digestError struct {
	msg string
}

func (e *digestError) Error() string { return e.msg }
func (e *digestError) Unwrap() error { return ErrBadInput }

// parseDigest returns the sha256 sum a "sha256:<hex>" digest names, or nil.
func parseDigest(d string) []byte {
	alg, hx, ok := strings.Cut(d, ":")
	if !ok || alg != "sha256" {
		return nil
	}
	b, err := hex.DecodeString(hx)
	if err != nil || len(b) != sha256.Size {
		return nil
	}
	return b
}

// digestReader checks a blob against its descriptor's digest and size as
// it is read: past the size, or at the end when the bytes hash to another
// digest, it fails with a *digestError. Its first error is sticky.
type digestReader struct {
	r      io.Reader
	digest string    // as written in the descriptor
	want   []byte    // nil: no digest to check
	h      hash.Hash // nil when want is nil
	size   int64     // -1: unknown
	n      int64
	err    error
}

func newDigestReader(r io.Reader, digest string, size int64) *digestReader {
	d := &digestReader{r: r, digest: digest, size: size}
	if d.want = parseDigest(digest); d.want != nil {
		d.h = sha256.New()
	}
	return d
}

func (d *digestReader) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.size >= 0 {
		if room := d.size - d.n + 1; int64(len(p)) > room {
			p = p[:room]
		}
	}
	n, err := d.r.Read(p)
	d.n += int64(n)
	if d.h != nil {
		d.h.Write(p[:n])
	}
	if d.size >= 0 && d.n > d.size {
		d.err = &digestError{fmt.Sprintf("blob %s is longer than the %d bytes its descriptor says", d.digest, d.size)}
		return n, d.err
	}
	if err == nil {
		return n, nil
	}
	// At the end — or at an error once every byte has arrived (a registry
	// client that checks the digest itself fails there) — a wrong digest is
	// the finding to report.
	if errors.Is(err, io.EOF) || (d.size >= 0 && d.n == d.size) {
		if derr := d.check(); derr != nil {
			d.err = derr
			return n, derr
		}
	}
	d.err = err
	return n, err
}

func (d *digestReader) check() error {
	if d.size >= 0 && d.n != d.size {
		return &digestError{fmt.Sprintf("blob %s has %d bytes, not the %d its descriptor says", d.digest, d.n, d.size)}
	}
	if d.h == nil {
		return nil
	}
	if got := d.h.Sum(nil); !bytes.Equal(got, d.want) {
		return &digestError{fmt.Sprintf("blob content has digest sha256:%x, not %s as its descriptor says", got, d.digest)}
	}
	return nil
}

// chunk is one read-ahead buffer and the error that ended it.
type chunk struct {
	b   []byte
	err error
}

// aheadReader reads its source in a goroutine, a few chunks ahead of its
// reader. Close stops the goroutine and closes the source.
type aheadReader struct {
	ch      chan chunk
	free    chan []byte
	done    chan struct{}
	exited  chan struct{}
	closeUp func() error // closes the source; safe while the goroutine reads it
	after   func()       // runs once the goroutine has exited (may be nil)

	// Owned by the reading goroutine:
	cur []byte // unread part of the current chunk
	buf []byte // the current chunk's buffer, returned to free when used
	err error

	closeOnce sync.Once
	closeErr  error
}

var errClosed = errors.New("read after close")

func readAhead(r io.Reader, closeUp func() error, after func()) *aheadReader {
	a := &aheadReader{
		ch:      make(chan chunk, aheadDepth),
		free:    make(chan []byte, aheadDepth+1),
		done:    make(chan struct{}),
		exited:  make(chan struct{}),
		closeUp: closeUp,
		after:   after,
	}
	for range aheadDepth + 1 {
		a.free <- make([]byte, chunkSize)
	}
	go a.run(r)
	return a
}

func (a *aheadReader) run(r io.Reader) {
	defer close(a.exited)
	for {
		var buf []byte
		select {
		case buf = <-a.free:
		case <-a.done:
			return
		}
		n, err := fill(r, buf)
		select {
		case a.ch <- chunk{b: buf[:n], err: err}:
		case <-a.done:
			return
		}
		if err != nil {
			return
		}
	}
}

// fill reads into buf until it is full or r fails.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
		if m == 0 {
			// A reader that returns nothing without an error: hand over
			// what is there rather than spin.
			if n > 0 {
				return n, nil
			}
		}
	}
	return n, nil
}

// next makes the next chunk current; it reports false at the end.
func (a *aheadReader) next() bool {
	for len(a.cur) == 0 {
		if a.err != nil {
			return false
		}
		if a.buf != nil {
			a.free <- a.buf[:cap(a.buf)]
			a.buf = nil
		}
		select {
		case c := <-a.ch:
			a.buf, a.cur, a.err = c.b, c.b, c.err
		case <-a.done:
			a.err = errClosed
			return false
		}
	}
	return true
}

func (a *aheadReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !a.next() {
		return 0, a.err
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

// peek returns up to n bytes of what comes next without consuming them
// (fewer at the end of the stream or within a short first chunk).
func (a *aheadReader) peek(n int) []byte {
	if !a.next() {
		return nil
	}
	return a.cur[:min(n, len(a.cur))]
}

// Close stops the goroutine (unblocking it by closing the source) and
// waits for it. It may be called from another goroutine than the reader's.
func (a *aheadReader) Close() error {
	a.closeOnce.Do(func() {
		close(a.done)
		a.closeErr = a.closeUp()
		<-a.exited
		if a.after != nil {
			a.after()
		}
	})
	return a.closeErr
}

// layerStream is the uncompressed stream of a layer blob (see the top of
// this file).
type layerStream struct {
	raw *aheadReader // the stored bytes, digest checked
	dec *aheadReader // decompressed; nil for an uncompressed blob
	// diffIDChecked: the stored bytes are the uncompressed stream and their
	// digest is the diff ID, so the walker need not hash them again.
	diffIDChecked bool
	eof           bool
}

// openLayerStream starts reading the blob rc of a layer: digest and size
// (size < 0: unknown) come from the layer's descriptor; an empty digest
// skips the check. Closing the stream closes rc.
func openLayerStream(rc io.ReadCloser, ref model.LayerRef, size int64) (*layerStream, error) {
	dr := newDigestReader(rc, ref.Digest, size)
	raw := readAhead(dr, rc.Close, nil)
	s := &layerStream{raw: raw}
	magic := raw.peek(4)
	switch {
	case bytes.HasPrefix(magic, gzipMagic):
		// klauspost's inflater has a fast path for a *bufio.Reader.
		zr, err := gzip.NewReader(bufio.NewReaderSize(raw, 64<<10))
		if err != nil {
			raw.Close()
			return nil, fmt.Errorf("gzip: %w", err)
		}
		s.dec = readAhead(zr, raw.Close, nil)
	case bytes.HasPrefix(magic, zstdMagic):
		zr, err := zstd.NewReader(raw, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(1<<27))
		if err != nil {
			raw.Close()
			return nil, fmt.Errorf("zstd: %w", err)
		}
		s.dec = readAhead(zr, raw.Close, zr.Close)
	default:
		s.diffIDChecked = dr.want != nil && ref.Digest == ref.DiffID
	}
	return s, nil
}

func (s *layerStream) Read(p []byte) (int, error) {
	if s.dec == nil {
		return s.raw.Read(p)
	}
	n, err := s.dec.Read(p)
	if errors.Is(err, io.EOF) && !s.eof {
		s.eof = true
		// The decompressor is done (its goroutine has handed over its
		// last chunk): whatever stored bytes follow are read here, so the
		// digest covers the whole blob.
		if _, derr := io.Copy(io.Discard, s.raw); derr != nil {
			return n, derr
		}
	}
	return n, err
}

func (s *layerStream) Close() error {
	if s.dec != nil {
		return s.dec.Close() // closes raw
	}
	return s.raw.Close()
}
