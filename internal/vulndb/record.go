package vulndb

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/osv"
)

// ParseRecord decodes one OSV record and checks what the store relies on:
// a JSON object that decodes into osv.Vulnerability, with an id.
func ParseRecord(raw []byte) (osv.Vulnerability, error) {
	var v osv.Vulnerability
	if err := json.Unmarshal(raw, &v); err != nil {
		return osv.Vulnerability{}, fmt.Errorf("not an OSV record: %w", err)
	}
	if v.ID == "" {
		return osv.Vulnerability{}, errors.New("record has no id")
	}
	return v, nil
}

// splitRecord separates an OSV JSON object into its members other than
// affected (rebuilt with every value verbatim) and its affected entries
// (verbatim). An empty or null affected stays in the skeleton. Keys match
// as encoding/json matches them (case-insensitively), so decoding the
// skeleton and the entries gives what decoding raw gives.
func splitRecord(raw []byte) (skeleton []byte, affected []json.RawMessage, err error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, errors.New("record is not a JSON object")
	}
	var buf bytes.Buffer
	buf.Grow(len(raw))
	buf.WriteByte('{')
	first, seen := true, false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, errors.New("record has a non-string key")
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, nil, err
		}
		if strings.EqualFold(key, "affected") {
			if seen {
				return nil, nil, errors.New("record has more than one affected member")
			}
			seen = true
			if t := bytes.TrimSpace(val); len(t) > 0 && t[0] == '[' {
				var list []json.RawMessage
				if err := json.Unmarshal(val, &list); err != nil {
					return nil, nil, fmt.Errorf("affected: %w", err)
				}
				if len(list) > 0 {
					affected = list
					continue
				}
			}
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		kb, err := json.Marshal(key)
		if err != nil {
			return nil, nil, err
		}
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(val)
	}
	buf.WriteByte('}')
	return buf.Bytes(), affected, nil
}

// flateDict primes DEFLATE for the short affected entries: the JSON that
// OSV records repeat, compact and indented as osv.dev and the converters
// write it. It is part of the schema: changing it needs a new
// SchemaVersion.
const flateDict = `{"package":{"ecosystem":"Debian:12","name":""},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":""}]}],"database_specific":{"file":"","source":"alpine-secdb"}}` +
	`{"package":{"ecosystem":"Ubuntu:18.04","name":""},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}` +
	`"purl":"pkg:` + `"versions":[` + `"last_affected":"` + `"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]` +
	`{"imports":[{"path":"","symbols":[` + `"ecosystem_specific":{` + `"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"` +
	"\n    {\n      \"package\": {\n        \"ecosystem\": \"Go\",\n        \"name\": \"\"\n      },\n      \"ranges\": [\n        {\n          \"type\": \"SEMVER\",\n          \"events\": [\n            {\n              \"introduced\": \"0\"\n            },\n            {\n              \"fixed\": \"\"\n            }\n          ]\n        }\n      ]\n    }" +
	"\n    {\n      \"package\": {\n        \"ecosystem\": \"AlmaLinux:8\",\n        \"name\": \"\"\n      },\n      \"ranges\": [\n        {\n          \"type\": \"ECOSYSTEM\",\n          \"events\": [\n            {\n              \"introduced\": \"0\"\n            },\n            {\n              \"fixed\": \"\"\n            }\n          ]\n        }\n      ]\n    }"

// packEntries encodes affected entries (with their position in the record)
// as the value of one affected-bucket key: codec byte, then
// (uvarint position, uvarint length, JSON)*, DEFLATEd when large.
func packEntries(zw *flate.Writer, entries []posEntry) []byte {
	var plain []byte
	for _, e := range entries {
		plain = binary.AppendUvarint(plain, uint64(e.pos))
		plain = binary.AppendUvarint(plain, uint64(len(e.raw)))
		plain = append(plain, e.raw...)
	}
	return encodeValue(zw, 0, plain)
}

type posEntry struct {
	pos int
	raw []byte
}

func unpackEntries(b []byte) ([]posEntry, error) {
	var out []posEntry
	for len(b) > 0 {
		pos, w := binary.Uvarint(b)
		if w <= 0 {
			return nil, errors.New("corrupt affected entry list")
		}
		b = b[w:]
		n, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < n {
			return nil, errors.New("corrupt affected entry list")
		}
		out = append(out, posEntry{pos: int(pos), raw: b[w : w+int(n)]})
		b = b[w+int(n):]
	}
	return out, nil
}

// newFlateWriter returns the writer encodeValue wants.
func newFlateWriter() *flate.Writer {
	zw, _ := flate.NewWriterDict(nil, flate.BestSpeed, []byte(flateDict)) // the level is valid
	return zw
}

// encodeValue is flags, codec, data: DEFLATEd with flateDict (zw must come
// from newFlateWriter) unless that saves nothing.
func encodeValue(zw *flate.Writer, flags byte, data []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(data)/2 + 16)
	buf.WriteByte(flags)
	buf.WriteByte(codecFlate)
	zw.Reset(&buf)
	zw.Write(data) // writes to a bytes.Buffer do not fail
	zw.Close()
	if buf.Len() < len(data)+2 {
		return buf.Bytes()
	}
	out := make([]byte, 0, len(data)+2)
	return append(append(out, flags, codecPlain), data...)
}

// decoder inflates stored values; one per goroutine (pooled by Store).
type decoder struct {
	r    io.ReadCloser
	dict []byte
	buf  bytes.Buffer
}

func newDecoder() *decoder {
	dict := []byte(flateDict)
	return &decoder{r: flate.NewReaderDict(bytes.NewReader(nil), dict), dict: dict}
}

// inflate returns the data of a stored value (flags, codec, data). The
// slice is valid until the decoder is used again, or for plain values
// until the transaction ends.
func (d *decoder) inflate(raw []byte) ([]byte, error) {
	if len(raw) < 2 {
		return nil, errors.New("stored value too short")
	}
	switch raw[1] {
	case codecPlain:
		return raw[2:], nil
	case codecFlate:
		if err := d.r.(flate.Resetter).Reset(bytes.NewReader(raw[2:]), d.dict); err != nil {
			return nil, err
		}
		d.buf.Reset()
		if _, err := d.buf.ReadFrom(d.r); err != nil {
			return nil, fmt.Errorf("inflate: %w", err)
		}
		return d.buf.Bytes(), nil
	}
	return nil, fmt.Errorf("unknown codec %d", raw[1])
}

// decodeSkeleton decodes a stored record value into v (Affected unset
// unless the record kept an empty one).
func (d *decoder) decodeSkeleton(raw []byte, v *osv.Vulnerability) error {
	b, err := d.inflate(raw)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

// decodeEntries decodes a stored affected value.
func (d *decoder) decodeEntries(raw []byte) ([]posEntry, []osv.Affected, error) {
	b, err := d.inflate(raw)
	if err != nil {
		return nil, nil, err
	}
	entries, err := unpackEntries(b)
	if err != nil {
		return nil, nil, err
	}
	out := make([]osv.Affected, len(entries))
	for i, e := range entries {
		if err := json.Unmarshal(e.raw, &out[i]); err != nil {
			return nil, nil, fmt.Errorf("decode affected: %w", err)
		}
	}
	return entries, out, nil
}

// sortByPos orders entries decoded from several keys back into record
// order.
func sortByPos(pos []int, aff []osv.Affected) {
	idx := make([]int, len(pos))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return pos[idx[a]] < pos[idx[b]] })
	sorted := make([]osv.Affected, len(aff))
	for i, j := range idx {
		sorted[i] = aff[j]
	}
	copy(aff, sorted)
}

// decodeWhole decodes a record from its records value and all its affected
// values, with the entries back in record order.
func (d *decoder) decodeWhole(record []byte, affected [][]byte) (osv.Vulnerability, error) {
	var v osv.Vulnerability
	if err := d.decodeSkeleton(record, &v); err != nil {
		return osv.Vulnerability{}, err
	}
	var pos []int
	for _, val := range affected {
		entries, aff, err := d.decodeEntries(val)
		if err != nil {
			return osv.Vulnerability{}, err
		}
		for i := range entries {
			pos = append(pos, entries[i].pos)
		}
		v.Affected = append(v.Affected, aff...)
	}
	sortByPos(pos, v.Affected)
	return v, nil
}
