package image

import (
	"encoding/json"
	"fmt"
	"io/fs"

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
const cacheFormat = 1

type cachedRecord struct {
	Format    int             `json:"f"`
	Entries   []cachedEntry   `json:"e"`
	Whiteouts []string        `json:"w,omitempty"`
	Opaques   []string        `json:"o,omitempty"`
	Warnings  []model.Warning `json:"x,omitempty"`
}

type cachedEntry struct {
	Path     string          `json:"p"`
	Linkname string          `json:"l,omitempty"`
	Size     int64           `json:"s,omitempty"`
	Mode     fs.FileMode     `json:"m"`
	Kind     entryKind       `json:"k,omitempty"`
	Visited  bool            `json:"v,omitempty"`
	Result   json.RawMessage `json:"r,omitempty"`
}

// cacheKey is the key of a layer's record, or "" when the layer cannot be
// cached (no diff ID: a dir: target; or no cache configured).
func cacheKey(ref model.LayerRef, opts WalkOptions) string {
	if opts.Cache == nil || opts.Codec == nil || opts.CacheKey == "" || ref.DiffID == "" {
		return ""
	}
	return fmt.Sprintf("layer/%d/%s/%s", cacheFormat, ref.DiffID, opts.CacheKey)
}

func encodeRecord(rec *layerRecord, codec ResultCodec) ([]byte, error) {
	c := cachedRecord{Format: cacheFormat, Whiteouts: rec.whiteouts, Opaques: rec.opaques, Warnings: rec.warnings}
	c.Entries = make([]cachedEntry, len(rec.entries))
	for i, e := range rec.entries {
		ce := cachedEntry{Path: e.path, Linkname: e.linkname, Size: e.size, Mode: e.mode, Kind: e.kind, Visited: e.visited}
		if e.visited {
			b, err := codec.EncodeResult(e.result)
			if err != nil {
				return nil, fmt.Errorf("encode result of %s: %w", e.path, err)
			}
			ce.Result = b
		}
		c.Entries[i] = ce
	}
	return json.Marshal(c)
}

func decodeRecord(data []byte, ref model.LayerRef, codec ResultCodec) (*layerRecord, error) {
	var c cachedRecord
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, err
	}
	if c.Format != cacheFormat {
		return nil, fmt.Errorf("cache format %d, want %d", c.Format, cacheFormat)
	}
	rec := &layerRecord{ref: ref, whiteouts: c.Whiteouts, opaques: c.Opaques, warnings: c.Warnings}
	rec.entries = make([]entry, len(c.Entries))
	for i, ce := range c.Entries {
		e := entry{path: ce.Path, linkname: ce.Linkname, size: ce.Size, mode: ce.Mode, kind: ce.Kind, visited: ce.Visited}
		if ce.Visited {
			r, err := codec.DecodeResult(ce.Result)
			if err != nil {
				return nil, fmt.Errorf("decode result of %s: %w", ce.Path, err)
			}
			e.result = r
		}
		rec.entries[i] = e
	}
	return rec, nil
}
