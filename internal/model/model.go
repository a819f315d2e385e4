// Package model holds Lockdown's shared data model: what every extractor,
// matcher, check and writer produces or consumes.
package model

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// LayerRef names one layer of an image. For a dir: target there is a single
// pseudo layer with Index 0 and an empty DiffID.
type LayerRef struct {
	Index     int    `json:"index"`
	DiffID    string `json:"diffID,omitempty"`    // sha256:… of the uncompressed layer
	Digest    string `json:"digest,omitempty"`    // sha256:… of the blob as stored (may equal DiffID)
	CreatedBy string `json:"createdBy,omitempty"` // history created_by of the step that made it
}

// Distro is the operating system an image or root filesystem is built on.
type Distro struct {
	ID         string   `json:"id"` // os-release ID: debian, ubuntu, alpine, almalinux, rhel, …
	IDLike     []string `json:"idLike,omitempty"`
	VersionID  string   `json:"versionID,omitempty"` // 12, 3.20.3, 18.04, 9.4
	Codename   string   `json:"codename,omitempty"`  // bookworm, bionic
	PrettyName string   `json:"prettyName,omitempty"`
}

// Package types (PURL types where one exists).
const (
	TypeDeb    = "deb"
	TypeAPK    = "apk"
	TypeRPM    = "rpm"
	TypeGolang = "golang"
	TypeNPM    = "npm"
	TypePyPI   = "pypi"
	TypeMaven  = "maven"
	TypeCargo  = "cargo"

	TypeComposer = "composer"
	TypeGem      = "gem"
	TypeNuGet    = "nuget"
)

// Package is one installed package, OS or language.
type Package struct {
	ID        string `json:"id"` // stable: see StableID
	Name      string `json:"name"`
	Version   string `json:"version"`             // as the ecosystem writes it; RPM: [epoch:]version-release
	Type      string `json:"type"`                // TypeDeb, TypeAPK, …
	Ecosystem string `json:"ecosystem,omitempty"` // OSV ecosystem: "Debian:12", "Alpine:v3.20", "Go", "npm", …
	PURL      string `json:"purl"`
	Arch      string `json:"arch,omitempty"`

	// SourceName / SourceVersion: the Debian source package, the Alpine
	// origin, the RPM source RPM name. Advisories for distributions are
	// keyed by these.
	SourceName    string `json:"sourceName,omitempty"`
	SourceVersion string `json:"sourceVersion,omitempty"`

	Epoch      int      `json:"epoch,omitempty"`      // RPM epoch (also inside Version)
	Modularity string   `json:"modularity,omitempty"` // RPM modularity label
	Licenses   []string `json:"licenses,omitempty"`

	// Location is the file the package was read from (a database or a binary),
	// slash-separated and absolute within the image: "/var/lib/dpkg/status".
	Location string    `json:"location"`
	Layer    *LayerRef `json:"layer,omitempty"` // the layer that last added or changed it

	// Metadata carries extractor specific facts (Go: "goVersion", "mainModule",
	// "replacedBy"; dpkg: "status").
	Metadata map[string]string `json:"metadata,omitempty"`
}

// StableID returns an ID that stays the same for the same package read from
// the same place, whatever the run.
func StableID(p Package) string {
	h := sha256.New()
	for _, s := range []string{p.Type, p.Name, p.Version, p.Arch, p.Location, p.SourceName} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Target describes what was scanned.
type Target struct {
	Input    string   `json:"input"`              // as the user wrote it
	Kind     string   `json:"kind"`               // docker-archive, oci-archive, oci-dir, registry, docker, dir
	Name     string   `json:"name,omitempty"`     // image reference or path
	Digest   string   `json:"digest,omitempty"`   // manifest digest
	ImageID  string   `json:"imageID,omitempty"`  // config digest
	Platform string   `json:"platform,omitempty"` // linux/amd64
	RepoTags []string `json:"repoTags,omitempty"`
}

// PURL is the image's package URL, pkg:oci/NAME@sha256%3A…, by its
// manifest digest; "" without one.
func (t Target) PURL() string {
	if t.Digest == "" {
		return ""
	}
	name := t.Name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.IndexAny(name, ":@"); i >= 0 {
		name = name[:i]
	}
	return "pkg:oci/" + name + "@" + strings.Replace(t.Digest, ":", "%3A", 1)
}

// Warning is a problem that did not stop the run: one bad record, one
// unreadable file. Syft calls these "unknowns".
type Warning struct {
	// Kind says what the warning means for the result (WarnUnreadable,
	// WarnCacheSkipped); empty for a problem that changed nothing else.
	Kind    string `json:"kind,omitempty"`
	Layer   string `json:"layer,omitempty"` // diff ID
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

// Warning kinds.
const (
	// WarnUnreadable: a package database, lock file or executable that an
	// extractor wanted could not be read (corrupt, truncated, over a
	// limit): the packages it lists are unknown, so they were not checked.
	WarnUnreadable = "unreadable"
	// WarnCacheSkipped: a cache directory that a scan of a whole host
	// (dir:/) left out because it is not part of the installed system.
	WarnCacheSkipped = "cache-skipped"
)

// SBOM is the result of cataloging a target.
type SBOM struct {
	Target    Target     `json:"target"`
	Distro    *Distro    `json:"distro,omitempty"`
	Layers    []LayerRef `json:"layers,omitempty"`
	Packages  []Package  `json:"packages"`
	Warnings  []Warning  `json:"warnings,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	Tool      Tool       `json:"tool"`
}

// Tool identifies the producer of a document.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}
