package rpmdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Header tags Lockdown reads.
const (
	tagHeaderImage     = 61
	tagHeaderSignature = 62
	tagHeaderImmutable = 63
	tagName            = 1000
	tagVersion         = 1001
	tagRelease         = 1002
	tagEpoch           = 1003
	tagLicense         = 1014
	tagArch            = 1022
	tagSourceRPM       = 1044
	tagModularityLabel = 5096
)

// Header entry types.
const (
	typeInt32       = 4
	typeString      = 6
	typeBin         = 7
	typeStringArray = 8
	typeI18NString  = 9
)

// Limits from rpm's header.c (HEADER_TAGS_MAX, HEADER_DATA_MAX).
const (
	maxTags     = 0xffff
	maxDataSize = 256 << 20
	entrySize   = 16
)

// ErrBadHeader marks a header blob that does not have the rpm header shape.
var ErrBadHeader = errors.New("bad rpm header")

// Header is what Lockdown reads from one rpm header blob.
type Header struct {
	Name, Version, Release, Arch string
	Epoch                        int  // 0 when HasEpoch is false
	HasEpoch                     bool // the EPOCH tag is present
	SourceRPM                    string
	License                      string
	ModularityLabel              string
}

// ParseHeader reads a header blob as rpm stores it in its databases (no
// lead, no magic): il and dl (big-endian counts of index entries and data
// bytes), il 16-byte index entries (tag, type, offset, count), then the data
// store. An immutable region (tag 63, or 61/62) comes first; entries added
// after it ("dribbles") replace region entries with the same tag, as in rpm.
func ParseHeader(blob []byte) (Header, error) {
	if len(blob) < 8 {
		return Header{}, fmt.Errorf("%w: %d bytes, want at least 8", ErrBadHeader, len(blob))
	}
	il := binary.BigEndian.Uint32(blob[0:4])
	dl := binary.BigEndian.Uint32(blob[4:8])
	if il < 1 || il > maxTags {
		return Header{}, fmt.Errorf("%w: %d index entries", ErrBadHeader, il)
	}
	if dl > maxDataSize {
		return Header{}, fmt.Errorf("%w: data size %d exceeds %d", ErrBadHeader, dl, maxDataSize)
	}
	storeOff := 8 + uint64(il)*entrySize
	if storeOff+uint64(dl) > uint64(len(blob)) {
		return Header{}, fmt.Errorf("%w: %d entries and %d data bytes need %d bytes, have %d",
			ErrBadHeader, il, dl, storeOff+uint64(dl), len(blob))
	}
	index := blob[8:storeOff]
	store := blob[storeOff : storeOff+uint64(dl)]

	e0 := entryAt(index, 0)
	if e0.tag == tagHeaderImmutable || e0.tag == tagHeaderImage || e0.tag == tagHeaderSignature {
		if err := checkRegion(e0, il, store); err != nil {
			return Header{}, err
		}
	}

	var h Header
	var err error
	str := func(e entry, dst *string) {
		if err != nil {
			return
		}
		*dst, err = e.string(store)
	}
	for i := range il {
		e := entryAt(index, i)
		switch e.tag {
		case tagName:
			str(e, &h.Name)
		case tagVersion:
			str(e, &h.Version)
		case tagRelease:
			str(e, &h.Release)
		case tagArch:
			str(e, &h.Arch)
		case tagSourceRPM:
			str(e, &h.SourceRPM)
		case tagLicense:
			str(e, &h.License)
		case tagModularityLabel:
			str(e, &h.ModularityLabel)
		case tagEpoch:
			if err == nil {
				h.Epoch, err = e.int32(store)
				h.HasEpoch = err == nil
			}
		}
		if err != nil {
			return Header{}, fmt.Errorf("%w: tag %d: %w", ErrBadHeader, e.tag, err)
		}
	}
	return h, nil
}

type entry struct {
	tag, typ uint32
	offset   int32
	count    uint32
}

func entryAt(index []byte, i uint32) entry {
	b := index[i*entrySize : (i+1)*entrySize]
	return entry{
		tag:    binary.BigEndian.Uint32(b[0:4]),
		typ:    binary.BigEndian.Uint32(b[4:8]),
		offset: int32(binary.BigEndian.Uint32(b[8:12])),
		count:  binary.BigEndian.Uint32(b[12:16]),
	}
}

// checkRegion validates the region tag: a 16-byte BIN entry whose offset
// points at a trailer entry (same tag) whose negative offset gives the size
// of the region's index.
func checkRegion(e entry, il uint32, store []byte) error {
	if e.typ != typeBin || e.count != entrySize {
		return fmt.Errorf("%w: region tag %d has type %d count %d", ErrBadHeader, e.tag, e.typ, e.count)
	}
	if e.offset < 0 || int64(e.offset)+entrySize > int64(len(store)) {
		return fmt.Errorf("%w: region trailer at %d outside %d data bytes", ErrBadHeader, e.offset, len(store))
	}
	trailer := entryAt(store[e.offset:], 0)
	if trailer.tag != e.tag && !(e.tag == tagHeaderImage && trailer.tag == tagHeaderImmutable) {
		return fmt.Errorf("%w: region trailer tag %d, want %d", ErrBadHeader, trailer.tag, e.tag)
	}
	ril := -int64(trailer.offset) / entrySize
	if trailer.offset > 0 || -int64(trailer.offset)%entrySize != 0 || ril < 1 || ril > int64(il) {
		return fmt.Errorf("%w: region of %d entries in a header of %d", ErrBadHeader, ril, il)
	}
	return nil
}

// string reads a STRING (or the first element of a STRING_ARRAY or
// I18NSTRING) entry.
func (e entry) string(store []byte) (string, error) {
	switch e.typ {
	case typeString, typeStringArray, typeI18NString:
	default:
		return "", fmt.Errorf("type %d, want a string", e.typ)
	}
	if e.offset < 0 || int64(e.offset) >= int64(len(store)) {
		return "", fmt.Errorf("offset %d outside %d data bytes", e.offset, len(store))
	}
	s := store[e.offset:]
	end := bytes.IndexByte(s, 0)
	if end < 0 {
		return "", fmt.Errorf("string at %d not terminated", e.offset)
	}
	return string(s[:end]), nil
}

// int32 reads the first value of an INT32 entry.
func (e entry) int32(store []byte) (int, error) {
	if e.typ != typeInt32 || e.count < 1 {
		return 0, fmt.Errorf("type %d count %d, want INT32", e.typ, e.count)
	}
	if e.offset < 0 || int64(e.offset)+4 > int64(len(store)) {
		return 0, fmt.Errorf("offset %d outside %d data bytes", e.offset, len(store))
	}
	return int(int32(binary.BigEndian.Uint32(store[e.offset:]))), nil
}
