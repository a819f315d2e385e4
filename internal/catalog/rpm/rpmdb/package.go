package rpmdb

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// Database formats, told apart by their first bytes.
const (
	FormatBDB    = "bdb"
	FormatNDB    = "ndb"
	FormatSQLite = "sqlite"
)

// ErrUnknownFormat is returned for a file that is none of the three formats.
var ErrUnknownFormat = errors.New("not an rpm database (neither berkeley db hash, ndb nor sqlite)")

// DetectFormat tells the database format from the first 16 bytes of a file.
func DetectFormat(head []byte) (string, error) {
	switch {
	case bytes.HasPrefix(head, []byte("SQLite format 3\x00")):
		return FormatSQLite, nil
	case bytes.HasPrefix(head, []byte(ndbMagic)):
		return FormatNDB, nil
	case len(head) >= 16 && (bytes.Equal(head[12:16], []byte{0x61, 0x15, 0x06, 0x00}) || bytes.Equal(head[12:16], []byte{0x00, 0x06, 0x15, 0x61})):
		return FormatBDB, nil
	}
	return "", ErrUnknownFormat
}

// Package turns a header into a model.Package (without Location).
// Version is "[epoch:]version-release", the epoch written when it is not 0.
func (h Header) Package() (model.Package, error) {
	if h.Name == "" || h.Version == "" || h.Release == "" {
		return model.Package{}, fmt.Errorf("header without name, version or release (%q %q %q)", h.Name, h.Version, h.Release)
	}
	p := model.Package{
		Name:       h.Name,
		Version:    h.Version + "-" + h.Release,
		Type:       model.TypeRPM,
		Arch:       h.Arch,
		Epoch:      h.Epoch,
		Modularity: h.ModularityLabel,
	}
	if h.Epoch != 0 {
		p.Version = strconv.Itoa(h.Epoch) + ":" + p.Version
	}
	if h.License != "" {
		p.Licenses = []string{h.License}
	}
	if h.SourceRPM != "" {
		p.SourceName, p.SourceVersion = parseSourceRPM(h.SourceRPM)
		p.Metadata = map[string]string{"sourceRPM": h.SourceRPM}
	}
	return p, nil
}

// parseSourceRPM splits "util-linux-2.32.1-42.el8_8.src.rpm" into
// "util-linux" and "2.32.1-42.el8_8".
func parseSourceRPM(s string) (name, versionRelease string) {
	s, ok := strings.CutSuffix(s, ".rpm")
	if !ok {
		return "", ""
	}
	dot := strings.LastIndexByte(s, '.') // the arch: src or nosrc
	if dot < 0 {
		return "", ""
	}
	s = s[:dot]
	rel := strings.LastIndexByte(s, '-')
	if rel <= 0 {
		return "", ""
	}
	ver := strings.LastIndexByte(s[:rel], '-')
	if ver <= 0 {
		return "", ""
	}
	return s[:ver], s[ver+1:]
}
