package store

import (
	"encoding/json"
	"fmt"
)

func encodeVulns(v []VulnRef) (string, error) {
	if v == nil {
		v = []VulnRef{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode vulnerability ids: %w", err)
	}
	return string(b), nil
}

func decodeVulns(s string) ([]VulnRef, error) {
	if s == "" {
		return nil, nil
	}
	var v []VulnRef
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("decode vulnerability ids: %w", err)
	}
	return v, nil
}
