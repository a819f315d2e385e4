package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
)

// resultCodec stores fileResults in the layer cache.
type resultCodec struct{}

type cachedExtracted struct {
	Name string `json:"n"`
	Res  Result `json:"r"`
	Err  string `json:"e,omitempty"`
}

type cachedFileResult struct {
	Extracted []cachedExtracted `json:"x,omitempty"`
	OSRelease []byte            `json:"o,omitempty"`
}

func (resultCodec) EncodeResult(r any) ([]byte, error) {
	fr, ok := r.(*fileResult)
	if !ok {
		return nil, fmt.Errorf("cache: unexpected result type %T", r)
	}
	c := cachedFileResult{OSRelease: fr.osRelease}
	for _, e := range fr.extracted {
		ce := cachedExtracted{Name: e.name, Res: e.res}
		if e.err != nil {
			ce.Err = e.err.Error()
		}
		c.Extracted = append(c.Extracted, ce)
	}
	return json.Marshal(c)
}

func (resultCodec) DecodeResult(b []byte) (any, error) {
	var c cachedFileResult
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	fr := &fileResult{osRelease: c.OSRelease}
	for _, ce := range c.Extracted {
		e := extracted{name: ce.Name, res: ce.Res}
		if ce.Err != "" {
			e.err = errors.New(ce.Err)
		}
		fr.extracted = append(fr.extracted, e)
	}
	return fr, nil
}
