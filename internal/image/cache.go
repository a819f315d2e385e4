package image

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// LayerCache stores what a walk learnt from one layer, so that a later walk
// of an image sharing that layer need not read it again. internal/cache's
// *Cache implements it.
type LayerCache interface {
	Get(key string) ([]byte, bool)
	Put(key string, value []byte) error
}

// ResultCodec turns Visit results into bytes and back, for the layer cache.
type ResultCodec interface {
	EncodeResult(result any) ([]byte, error)
	DecodeResult(data []byte) (any, error)
}

// cacheFormat versions the encoding of a layer record.
const cacheFormat = 3 // 3: wanted files not read are warnings of kind unreadable

// cacheKey is the key of a layer's record, or "" when the layer cannot be
// cached (no diff ID: a dir: target; or no cache configured).
func cacheKey(ref model.LayerRef, opts WalkOptions) string {
	if opts.Cache == nil || opts.Codec == nil || opts.CacheKey == "" || ref.DiffID == "" {
		return ""
	}
	return fmt.Sprintf("layer/%d/%s/%s", cacheFormat, ref.DiffID, opts.CacheKey)
}

// encodeRecord writes a record in the cache's binary form: the record's own
// compact lists as they are, then links, warnings and the encoded results,
// each length-prefixed.
func encodeRecord(rec *layerRecord, codec ResultCodec) ([]byte, error) {
	var b []byte
	str := func(s []byte) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	num := func(n int) { b = binary.AppendUvarint(b, uint64(n)) }
	b = append(b, cacheMagic...)
	for _, l := range []*pathList{&rec.entries, &rec.opaques, &rec.whiteouts} {
		str(l.buf)
		num(l.n)
	}
	num(len(rec.links))
	for _, l := range rec.links {
		str([]byte(l))
	}
	num(len(rec.warnings))
	for _, w := range rec.warnings {
		str([]byte(w.Kind))
		str([]byte(w.Layer))
		str([]byte(w.Path))
		str([]byte(w.Message))
	}
	num(rec.warned)
	num(len(rec.results))
	for _, r := range rec.results {
		data, err := codec.EncodeResult(r)
		if err != nil {
			return nil, fmt.Errorf("encode result: %w", err)
		}
		str(data)
	}
	return b, nil
}

var cacheMagic = []byte("LDL\x02")

// decodeRecord reads what encodeRecord wrote, checking every list, so a
// damaged entry is a miss rather than a wrong tree. The record's lists
// point into data.
func decodeRecord(data []byte, ref model.LayerRef, codec ResultCodec) (*layerRecord, error) {
	if !bytes.HasPrefix(data, cacheMagic) {
		return nil, errRecord
	}
	d := &pathReader{buf: data[len(cacheMagic):]}
	str := func() []byte { return d.bytes(d.uvarint()) }
	num := func() int {
		n := d.uvarint()
		if n > uint64(len(data)) {
			d.err = errRecord
		}
		return int(n)
	}
	rec := &layerRecord{ref: ref}
	for _, l := range []*pathList{&rec.entries, &rec.opaques, &rec.whiteouts} {
		l.buf = str()
		l.n = num()
	}
	links := num()
	for i := 0; i < links && d.err == nil; i++ {
		rec.links = append(rec.links, string(str()))
	}
	warns := num()
	for i := 0; i < warns && d.err == nil; i++ {
		rec.warnings = append(rec.warnings, model.Warning{Kind: string(str()), Layer: string(str()), Path: string(str()), Message: string(str())})
	}
	rec.warned = num()
	results := num()
	for i := 0; i < results && d.err == nil; i++ {
		r, err := codec.DecodeResult(str())
		if err != nil {
			return nil, fmt.Errorf("decode result: %w", err)
		}
		rec.results = append(rec.results, r)
	}
	if d.err != nil || len(d.buf) != 0 {
		return nil, errRecord
	}
	// Every list must decode, and the visited entries match the results.
	visited := 0
	for _, l := range []*pathList{&rec.entries, &rec.opaques, &rec.whiteouts} {
		r := l.reader(l == &rec.entries)
		n := 0
		for r.next() {
			n++
			if r.entries && r.flags&flagVisited != 0 {
				visited++
			}
		}
		if r.err != nil || n != l.n {
			return nil, errRecord
		}
	}
	if visited != len(rec.results) {
		return nil, errRecord
	}
	return rec, nil
}
