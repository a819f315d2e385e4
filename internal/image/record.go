package image

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"strconv"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// layerRecord is everything one layer contributes, produced independently
// of the other layers (concurrently, or read from the cache) and merged in
// layer order afterwards. It is compact: a layer of 200k files takes a few
// MB, not one allocation per file. Paths are front-coded (each stores only
// what differs from the previous path), which also keeps a deep tree
// linear in its entries.
type layerRecord struct {
	ref       model.LayerRef
	entries   pathList // tar order; each with its kind, flags, mode, size, link
	opaques   pathList // directories whose lower content this layer hides
	whiteouts pathList // paths this layer deletes from the layers below
	results   []any    // Visit results of the entries flagged visited, in order
	// links are the targets of this layer's hard links: a tree that keeps
	// only wanted paths keeps these too, so the links resolve as in a full
	// tree.
	links    []string
	warnings []model.Warning
	warned   int // warnings dropped past maxLayerWarnings
}

// maxLayerWarnings bounds the warnings one layer records; past it one
// summary line says how many more there were.
const maxLayerWarnings = 1000

// warn records a warning unless the layer already has maxLayerWarnings.
func (r *layerRecord) warn(w model.Warning) {
	if len(r.warnings) >= maxLayerWarnings {
		r.warned++
		return
	}
	r.warnings = append(r.warnings, w)
}

// allWarnings returns the warnings plus the summary of the dropped ones.
func (r *layerRecord) allWarnings() []model.Warning {
	if r.warned == 0 {
		return r.warnings
	}
	return append(r.warnings[:len(r.warnings):len(r.warnings)], model.Warning{Layer: r.ref.DiffID,
		Message: "and " + strconv.Itoa(r.warned) + " more warnings in this layer, not shown"})
}

// Entry flags, stored with the kind.
const (
	flagVisited = 1 << 4 // Visit ran and succeeded: the entry has a result
	flagWanted  = 1 << 5 // Want returned true (Visit may have failed)
	kindMask    = 0x0f
)

// pathList is an append-only list of front-coded paths, each followed by
// an optional fixed set of attributes. Encoding of one item:
//
//	uvarint shared   bytes shared with the previous path
//	uvarint n, n bytes  the rest of the path
//	[attrs]          for entries: kind|flags byte, uvarint mode, uvarint size,
//	                 uvarint n + n bytes of link name (symlinks, hard links)
type pathList struct {
	buf  []byte
	prev []byte // the last path added (a copy)
	n    int
}

func (l *pathList) addPath(p string) {
	shared := 0
	for shared < len(p) && shared < len(l.prev) && p[shared] == l.prev[shared] {
		shared++
	}
	l.buf = binary.AppendUvarint(l.buf, uint64(shared))
	l.buf = binary.AppendUvarint(l.buf, uint64(len(p)-shared))
	l.buf = append(l.buf, p[shared:]...)
	l.prev = append(l.prev[:0], p...)
	l.n++
}

// addEntry appends one layer entry.
func (l *pathList) addEntry(p string, kind entryKind, flags byte, mode fs.FileMode, size int64, link string) {
	l.addPath(p)
	l.buf = append(l.buf, byte(kind)|flags)
	l.buf = binary.AppendUvarint(l.buf, uint64(mode))
	l.buf = binary.AppendUvarint(l.buf, uint64(size))
	if kind == kindSymlink || kind == kindHardlink {
		l.buf = binary.AppendUvarint(l.buf, uint64(len(link)))
		l.buf = append(l.buf, link...)
	}
}

// done drops the writer's scratch space.
func (l *pathList) done() { l.prev = nil }

// errRecord is a record that does not decode (a damaged cache entry).
var errRecord = errors.New("malformed layer record")

// pathReader iterates over a pathList. The path and link it yields are
// valid until the next call.
type pathReader struct {
	buf     []byte
	entries bool // items carry entry attributes
	path    []byte
	err     error

	kind  entryKind
	flags byte
	mode  fs.FileMode
	size  int64
	link  []byte
}

func (l *pathList) reader(entries bool) *pathReader {
	return &pathReader{buf: l.buf, entries: entries}
}

func (r *pathReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.buf)
	if n <= 0 {
		r.err = errRecord
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

func (r *pathReader) bytes(n uint64) []byte {
	if n > uint64(len(r.buf)) {
		r.err = errRecord
		return nil
	}
	b := r.buf[:n]
	r.buf = r.buf[n:]
	return b
}

// next decodes the next item; false at the end or on a malformed list
// (then err is set).
func (r *pathReader) next() bool {
	if r.err != nil || len(r.buf) == 0 {
		return false
	}
	shared := r.uvarint()
	rest := r.bytes(r.uvarint())
	if r.err != nil || shared > uint64(len(r.path)) {
		r.err = errRecord
		return false
	}
	r.path = append(r.path[:shared], rest...)
	if len(r.path) == 0 || r.path[0] != '/' || len(r.path) > MaxPathBytes {
		r.err = errRecord
		return false
	}
	if !r.entries {
		return true
	}
	if len(r.buf) == 0 {
		r.err = errRecord
		return false
	}
	kf := r.buf[0]
	r.buf = r.buf[1:]
	r.kind, r.flags = entryKind(kf&kindMask), kf&^kindMask
	r.mode = fs.FileMode(r.uvarint())
	r.size = int64(r.uvarint())
	r.link = nil
	if r.kind == kindSymlink || r.kind == kindHardlink {
		r.link = r.bytes(r.uvarint())
	}
	if r.err != nil || r.kind > kindOther || r.size < 0 {
		r.err = errRecord
		return false
	}
	return true
}
