// Package osrelease works out which distribution a root filesystem is:
// /etc/os-release and /usr/lib/os-release first, then the older release
// files (/etc/alpine-release, /etc/redhat-release and its relatives,
// /etc/debian_version).
package osrelease

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// Files Detect reads, in the order it prefers them.
const (
	EtcOSRelease    = "/etc/os-release"
	UsrLibOSRelease = "/usr/lib/os-release"
	AlpineRelease   = "/etc/alpine-release"
	DebianVersion   = "/etc/debian_version"
	RedHatRelease   = "/etc/redhat-release"
	CentOSRelease   = "/etc/centos-release"
	RockyRelease    = "/etc/rocky-release"
	AlmaRelease     = "/etc/almalinux-release"
)

// MaxFileSize bounds what is worth reading from any of these files.
const MaxFileSize = 64 << 10

// Paths returns every file Detect may read.
func Paths() []string {
	return []string{EtcOSRelease, UsrLibOSRelease, AlpineRelease, CentOSRelease,
		RockyRelease, AlmaRelease, RedHatRelease, DebianVersion}
}

// Wants reports whether path is one of Paths.
func Wants(path string) bool {
	switch path {
	case EtcOSRelease, UsrLibOSRelease, AlpineRelease, DebianVersion,
		RedHatRelease, CentOSRelease, RockyRelease, AlmaRelease:
		return true
	}
	return false
}

// ErrNoID is returned by Parse for input without an ID= line.
var ErrNoID = errors.New("no ID field")

// Parse reads an os-release file (KEY=value lines, values optionally
// quoted, shell escapes in double quotes, # comments).
func Parse(r io.Reader) (model.Distro, error) {
	var d model.Distro
	var version, ubuntuCodename string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxFileSize)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		key, raw, ok := strings.Cut(line, "=")
		if !ok {
			continue // the spec says to ignore what is not an assignment
		}
		key = strings.TrimSpace(key)
		val := unquote(strings.TrimSpace(raw))
		switch key {
		case "ID":
			d.ID = strings.ToLower(val)
		case "ID_LIKE":
			d.IDLike = strings.Fields(strings.ToLower(val))
		case "VERSION_ID":
			d.VersionID = val
		case "VERSION_CODENAME":
			d.Codename = val
		case "UBUNTU_CODENAME":
			ubuntuCodename = val
		case "PRETTY_NAME":
			d.PrettyName = val
		case "VERSION":
			version = val
		}
	}
	if err := sc.Err(); err != nil {
		return model.Distro{}, fmt.Errorf("parse os-release: %w", err)
	}
	if d.ID == "" {
		return model.Distro{}, fmt.Errorf("parse os-release: %w", ErrNoID)
	}
	if d.Codename == "" {
		d.Codename = ubuntuCodename
	}
	if d.Codename == "" {
		d.Codename = codenameFromVersion(version)
	}
	return d, nil
}

// unquote removes one level of shell quoting from an os-release value.
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return s[1 : len(s)-1]
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
		if !strings.Contains(s, `\`) {
			return s
		}
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
				i++
			}
			b.WriteByte(s[i])
		}
		return b.String()
	}
	return s
}

// codenameFromVersion takes "bookworm" out of VERSION="12 (bookworm)" (old
// Debian releases have no VERSION_CODENAME); a multi-word name such as
// Ubuntu's "(Bionic Beaver)" is not a codename.
func codenameFromVersion(v string) string {
	open := strings.IndexByte(v, '(')
	if open < 0 || !strings.HasSuffix(v, ")") {
		return ""
	}
	name := v[open+1 : len(v)-1]
	if name == "" || strings.ContainsAny(name, " \t") || strings.ToLower(name) != name {
		return ""
	}
	return name
}

// ReadFunc returns the content of the file at path in the root filesystem
// being examined (symlinks already followed), or ok false when it is absent.
type ReadFunc func(path string) (data []byte, ok bool)

// Detect works out the distribution from the files read returns. ok is
// false when none of the files says anything.
func Detect(read ReadFunc) (d model.Distro, ok bool) {
	for _, p := range []string{EtcOSRelease, UsrLibOSRelease} {
		if data, found := read(p); found {
			if parsed, err := Parse(bytes.NewReader(data)); err == nil {
				d, ok = parsed, true
				break
			}
		}
	}
	if ok {
		if d.VersionID == "" {
			fillVersion(&d, read)
		}
		return d, true
	}
	if data, found := read(AlpineRelease); found {
		if v := firstLine(data); v != "" {
			return model.Distro{ID: "alpine", VersionID: v, PrettyName: "Alpine Linux v" + v}, true
		}
	}
	for _, p := range []string{CentOSRelease, RockyRelease, AlmaRelease, RedHatRelease} {
		if data, found := read(p); found {
			if d, ok := ParseRedHatRelease(firstLine(data)); ok {
				return d, true
			}
		}
	}
	if data, found := read(DebianVersion); found {
		d := model.Distro{ID: "debian"}
		applyDebianVersion(&d, firstLine(data))
		if d.VersionID != "" || d.Codename != "" {
			return d, true
		}
	}
	return model.Distro{}, false
}

// fillVersion completes an os-release without VERSION_ID (Debian testing
// and sid, Alpine edge) from the distribution's own release file.
func fillVersion(d *model.Distro, read ReadFunc) {
	switch d.ID {
	case "debian":
		if data, ok := read(DebianVersion); ok {
			applyDebianVersion(d, firstLine(data))
		}
	case "alpine":
		if data, ok := read(AlpineRelease); ok {
			d.VersionID = firstLine(data)
		}
	}
}

// applyDebianVersion reads /etc/debian_version: "12.11" (a release: the
// major number is what os-release calls VERSION_ID) or "trixie/sid"
// (testing: no number yet, only a codename).
func applyDebianVersion(d *model.Distro, v string) {
	if v == "" {
		return
	}
	if v[0] >= '0' && v[0] <= '9' {
		major, _, _ := strings.Cut(v, ".")
		d.VersionID = major
		return
	}
	name, _, _ := strings.Cut(v, "/")
	if d.Codename == "" {
		d.Codename = name
	}
}

func firstLine(data []byte) string {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	return strings.TrimSpace(string(line))
}

// ParseRedHatRelease reads the one line of /etc/redhat-release and its
// relatives: "Rocky Linux release 9.4 (Blue Onyx)".
func ParseRedHatRelease(line string) (model.Distro, bool) {
	name, rest, ok := strings.Cut(line, " release ")
	if !ok {
		return model.Distro{}, false
	}
	version, codename, _ := strings.Cut(strings.TrimSpace(rest), " ")
	if version == "" {
		return model.Distro{}, false
	}
	codename = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(codename), "("), ")")
	var id string
	lower := strings.ToLower(name)
	switch {
	case strings.HasPrefix(lower, "red hat enterprise linux"):
		id = "rhel"
	case strings.HasPrefix(lower, "centos"):
		id = "centos"
	case strings.HasPrefix(lower, "rocky"):
		id = "rocky"
	case strings.HasPrefix(lower, "almalinux"):
		id = "almalinux"
	case strings.HasPrefix(lower, "fedora"):
		id = "fedora"
	case strings.HasPrefix(lower, "oracle linux"):
		id = "ol"
	default:
		return model.Distro{}, false
	}
	return model.Distro{ID: id, VersionID: version, Codename: codename, PrettyName: strings.TrimSpace(line)}, true
}
