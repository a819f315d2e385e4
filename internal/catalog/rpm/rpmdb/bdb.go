package rpmdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Berkeley DB hash database layout (libdb's dbinc/db_page.h), in the byte
// order of the machine that wrote it (the meta page's magic tells which).
const (
	bdbHashMagic     = 0x061561
	bdbPageHeader    = 26
	bdbPageHashMeta  = 8
	bdbPageHash      = 13 // P_HASH (sorted)
	bdbPageHashOld   = 2  // P_HASH_UNSORTED (before libdb 4.6)
	bdbPageOverflow  = 7
	bdbItemKeyData   = 1 // H_KEYDATA: the data follows inline
	bdbItemOffPage   = 3 // H_OFFPAGE: the data is on a chain of overflow pages
	bdbOffPageSize   = 12
	bdbMinPageSize   = 512
	bdbMaxPageSize   = 64 << 10
	bdbMaxValueBytes = maxDataSize + 8 + maxTags*entrySize
)

// ErrBadBDB marks a file that is not a readable Berkeley DB hash database.
var ErrBadBDB = errors.New("bad rpm berkeley db")

// ReadBDB calls fn with every value of a Berkeley DB hash database (rpm's
// Packages: key = header instance number, value = header blob; key 0 holds
// rpm's next instance number and is skipped). It walks every hash page in
// file order and follows overflow chains. A broken item is reported through
// bad and skipped; a broken meta page is an error. fn must not keep value.
func ReadBDB(r io.ReaderAt, size int64, fn func(value []byte), bad func(msg string)) error {
	var meta [72]byte
	if _, err := r.ReadAt(meta[:], 0); err != nil {
		return fmt.Errorf("%w: read meta page: %w", ErrBadBDB, noEOF(err))
	}
	var bo binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint32(meta[12:16]) == bdbHashMagic:
		bo = binary.LittleEndian
	case binary.BigEndian.Uint32(meta[12:16]) == bdbHashMagic:
		bo = binary.BigEndian
	default:
		return fmt.Errorf("%w: magic %x is not a hash database", ErrBadBDB, meta[12:16])
	}
	pageSize := int64(bo.Uint32(meta[20:24]))
	if pageSize < bdbMinPageSize || pageSize > bdbMaxPageSize || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("%w: page size %d", ErrBadBDB, pageSize)
	}
	if meta[24] != 0 {
		return fmt.Errorf("%w: encrypted (algorithm %d)", ErrBadBDB, meta[24])
	}
	if meta[25] != bdbPageHashMeta {
		return fmt.Errorf("%w: meta page type %d, want %d", ErrBadBDB, meta[25], bdbPageHashMeta)
	}
	lastPage := int64(bo.Uint32(meta[32:36]))
	if (lastPage+1)*pageSize > size {
		return fmt.Errorf("%w: last page %d of %d bytes is beyond the end of the file (%d bytes; truncated?)",
			ErrBadBDB, lastPage, pageSize, size)
	}
	db := bdb{r: r, bo: bo, pageSize: pageSize, lastPage: lastPage}
	page := make([]byte, pageSize)
	for pg := int64(1); pg <= lastPage; pg++ {
		if err := db.readPage(pg, page); err != nil {
			return err
		}
		if t := page[25]; t != bdbPageHash && t != bdbPageHashOld {
			continue
		}
		n := int64(bo.Uint16(page[20:22]))
		if bdbPageHeader+2*n > pageSize {
			bad(fmt.Sprintf("page %d: %d index entries do not fit the page", pg, n))
			continue
		}
		// Items come in key/data pairs; each index entry is the item's
		// offset and an item ends where the previous one starts.
		for i := int64(1); i < n; i += 2 {
			off := int64(bo.Uint16(page[bdbPageHeader+2*i:]))
			end := int64(bo.Uint16(page[bdbPageHeader+2*(i-1):]))
			if off < bdbPageHeader+2*n || off >= end || end > pageSize {
				bad(fmt.Sprintf("page %d item %d: offset %d end %d outside the page", pg, i, off, end))
				continue
			}
			keyEnd := pageSize
			if i >= 2 {
				keyEnd = int64(bo.Uint16(page[bdbPageHeader+2*(i-2):]))
			}
			if keyEnd == end+5 && keyEnd <= pageSize && page[end] == bdbItemKeyData && bo.Uint32(page[end+1:]) == 0 {
				continue // rpm's record 0
			}
			item := page[off:end]
			switch item[0] {
			case bdbItemKeyData:
				fn(item[1:])
			case bdbItemOffPage:
				value, err := db.overflow(item)
				if err != nil {
					bad(fmt.Sprintf("page %d item %d: %v", pg, i, err))
					continue
				}
				fn(value)
			default:
				bad(fmt.Sprintf("page %d item %d: item type %d not supported", pg, i, item[0]))
			}
		}
	}
	return nil
}

type bdb struct {
	r        io.ReaderAt
	bo       binary.ByteOrder
	pageSize int64
	lastPage int64
}

func (db *bdb) readPage(pg int64, page []byte) error {
	if _, err := db.r.ReadAt(page, pg*db.pageSize); err != nil {
		return fmt.Errorf("%w: read page %d: %w", ErrBadBDB, pg, noEOF(err))
	}
	return nil
}

// overflow follows the chain of overflow pages an H_OFFPAGE item points to.
func (db *bdb) overflow(item []byte) ([]byte, error) {
	if len(item) < bdbOffPageSize {
		return nil, fmt.Errorf("off-page item of %d bytes", len(item))
	}
	pg := int64(db.bo.Uint32(item[4:8]))
	total := int64(db.bo.Uint32(item[8:12]))
	if total > bdbMaxValueBytes || total > (db.lastPage+1)*db.pageSize {
		return nil, fmt.Errorf("value of %d bytes is larger than the database", total)
	}
	value := make([]byte, 0, total)
	page := make([]byte, db.pageSize)
	for hops := int64(0); pg != 0; hops++ {
		if pg > db.lastPage || hops > db.lastPage {
			return nil, fmt.Errorf("overflow chain reaches page %d (last page %d, %d hops)", pg, db.lastPage, hops)
		}
		if err := db.readPage(pg, page); err != nil {
			return nil, err
		}
		if page[25] != bdbPageOverflow {
			return nil, fmt.Errorf("overflow chain reaches page %d of type %d", pg, page[25])
		}
		// On overflow pages the "high free offset" field holds the length
		// of the data on this page.
		n := int64(db.bo.Uint16(page[22:24]))
		if bdbPageHeader+n > db.pageSize || int64(len(value))+n > total {
			return nil, fmt.Errorf("overflow page %d holds %d bytes, more than the value's %d", pg, n, total)
		}
		value = append(value, page[bdbPageHeader:bdbPageHeader+n]...)
		pg = int64(db.bo.Uint32(page[16:20]))
	}
	if int64(len(value)) != total {
		return nil, fmt.Errorf("overflow chain holds %d bytes, want %d", len(value), total)
	}
	return value, nil
}
