package rpmdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
)

// NDB layout (rpm's lib/backend/ndb/rpmpkg.c), all little-endian: a 32-byte
// header ("RpmP", version, generation, slot pages, next index), then slot
// pages of 16-byte slots ("Slot", package index, block offset, block count),
// then blobs in 16-byte blocks: a 16-byte head ("BlbS", package index,
// generation, length), the header blob, padding, and a 12-byte tail
// (adler32 of everything before the tail, length, "BlbE").
const (
	ndbMagic      = "RpmP"
	ndbSlotMagic  = "Slot"
	ndbBlobMagic  = "BlbS"
	ndbTailMagic  = "BlbE"
	ndbHeaderSize = 32
	ndbPageSize   = 4096
	ndbSlotSize   = 16
	ndbBlockSize  = 16
	ndbBlobHead   = 16
	ndbBlobTail   = 12
)

// ErrBadNDB marks a file that is not a readable rpm NDB database.
var ErrBadNDB = errors.New("bad rpm ndb database")

// ReadNDB calls fn with every package header blob of an NDB database.
// A broken blob (bad magic or checksum) is reported through bad and
// skipped; a broken file header or slot table, or a blob beyond the end of
// the file, is an error. fn must not keep blob.
func ReadNDB(r io.ReaderAt, size int64, fn func(blob []byte), bad func(msg string)) error {
	var hdr [ndbHeaderSize]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return fmt.Errorf("%w: read header: %w", ErrBadNDB, noEOF(err))
	}
	if string(hdr[0:4]) != ndbMagic {
		return fmt.Errorf("%w: magic %q, want %q", ErrBadNDB, hdr[0:4], ndbMagic)
	}
	if v := binary.LittleEndian.Uint32(hdr[4:8]); v != 0 {
		return fmt.Errorf("%w: version %d, want 0", ErrBadNDB, v)
	}
	slotPages := int64(binary.LittleEndian.Uint32(hdr[12:16]))
	if slotPages < 1 || slotPages*ndbPageSize > size {
		return fmt.Errorf("%w: %d slot pages in a file of %d bytes (truncated?)", ErrBadNDB, slotPages, size)
	}
	slots := make([]byte, slotPages*ndbPageSize-ndbHeaderSize)
	if _, err := r.ReadAt(slots, ndbHeaderSize); err != nil {
		return fmt.Errorf("%w: read slots: %w", ErrBadNDB, noEOF(err))
	}
	var buf []byte
	for off := 0; off+ndbSlotSize <= len(slots); off += ndbSlotSize {
		s := slots[off : off+ndbSlotSize]
		if string(s[0:4]) != ndbSlotMagic {
			return fmt.Errorf("%w: slot %d: magic %q, want %q", ErrBadNDB, off/ndbSlotSize, s[0:4], ndbSlotMagic)
		}
		pkgIdx := binary.LittleEndian.Uint32(s[4:8])
		if pkgIdx == 0 {
			continue // free slot
		}
		blkOff := int64(binary.LittleEndian.Uint32(s[8:12]))
		blkCnt := int64(binary.LittleEndian.Uint32(s[12:16]))
		start, n := blkOff*ndbBlockSize, blkCnt*ndbBlockSize
		if start+n > size {
			return fmt.Errorf("%w: package %d: blob of %d bytes at %d ends beyond the end of the file (%d bytes; truncated?)",
				ErrBadNDB, pkgIdx, n, start, size)
		}
		if start < slotPages*ndbPageSize || n < ndbBlobHead+ndbBlobTail || n > ndbBlobHead+ndbBlobTail+bdbMaxValueBytes+ndbBlockSize {
			bad(fmt.Sprintf("package %d: blob of %d bytes at %d outside the data area", pkgIdx, n, start))
			continue
		}
		if int64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		b := buf[:n]
		if _, err := r.ReadAt(b, start); err != nil {
			bad(fmt.Sprintf("package %d: read blob: %v", pkgIdx, noEOF(err)))
			continue
		}
		blob, err := checkBlob(b, pkgIdx)
		if err != nil {
			bad(fmt.Sprintf("package %d: %v", pkgIdx, err))
			continue
		}
		fn(blob)
	}
	return nil
}

// checkBlob validates one NDB blob (head, tail, checksum) and returns the
// header blob it holds.
func checkBlob(b []byte, pkgIdx uint32) ([]byte, error) {
	if string(b[0:4]) != ndbBlobMagic {
		return nil, fmt.Errorf("blob magic %q, want %q", b[0:4], ndbBlobMagic)
	}
	if idx := binary.LittleEndian.Uint32(b[4:8]); idx != pkgIdx {
		return nil, fmt.Errorf("blob belongs to package %d", idx)
	}
	length := int64(binary.LittleEndian.Uint32(b[12:16]))
	if length > int64(len(b))-ndbBlobHead-ndbBlobTail {
		return nil, fmt.Errorf("blob length %d exceeds its %d blocks", length, len(b)/ndbBlockSize)
	}
	tail := b[len(b)-ndbBlobTail:]
	if string(tail[8:12]) != ndbTailMagic {
		return nil, fmt.Errorf("blob tail magic %q, want %q", tail[8:12], ndbTailMagic)
	}
	if tl := int64(binary.LittleEndian.Uint32(tail[4:8])); tl != length {
		return nil, fmt.Errorf("blob tail length %d, head says %d", tl, length)
	}
	if got, want := adler32.Checksum(b[:len(b)-ndbBlobTail]), binary.LittleEndian.Uint32(tail[0:4]); got != want {
		return nil, fmt.Errorf("blob checksum %08x, want %08x", got, want)
	}
	return b[ndbBlobHead : ndbBlobHead+length], nil
}

// noEOF turns the EOF of a short ReadAt into io.ErrUnexpectedEOF, which
// reads better in "truncated" errors.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
