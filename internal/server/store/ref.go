package store

import (
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// dockerHub is Docker Hub as Docker spells it in normalised references
// (go-containerregistry says index.docker.io).
const dockerHub = "docker.io"

// CanonicalRef is the one spelling of an image reference that results are
// stored and looked up under, as Docker normalises references: the
// registry, docker.io for Docker Hub (also when written index.docker.io or
// left out), library/ before official images, the tag (latest when there is
// none), and for a reference with a digest NAME@DIGEST alone (a tag beside
// the digest is ignored, as Docker ignores it). So nginx, nginx:latest,
// docker.io/nginx and index.docker.io/library/nginx:latest are one image.
// A string that is no image reference (a dir: target, a name with
// capitals) is its own canonical form.
func CanonicalRef(ref string) string {
	r, err := name.ParseReference(ref)
	if err != nil {
		return ref
	}
	repo := r.Context()
	reg := strings.ToLower(repo.RegistryStr())
	if _, port, ok := strings.Cut(reg, ":"); ok && (port == "" || strings.Trim(port, "0123456789") != "") {
		return ref // "dir:/x" is no registry "dir:" (Docker wants a numeric port)
	}
	if reg == name.DefaultRegistry {
		reg = dockerHub
	}
	base := reg + "/" + repo.RepositoryStr()
	switch t := r.(type) {
	case name.Digest:
		return base + "@" + t.DigestStr()
	case name.Tag:
		return base + ":" + t.TagStr()
	}
	return ref
}

// refDigest is the digest of a pinned reference (NAME@sha256:…), else "".
func refDigest(ref string) string {
	if d, err := name.NewDigest(ref); err == nil {
		return d.DigestStr()
	}
	return ""
}
