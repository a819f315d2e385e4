package image

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// openDockerArchive opens a `docker save` tarball (plain or gzip). The
// manifest.json is read with go-containerregistry's tarball package; layer
// members are then read in place.
func openDockerArchive(ctx context.Context, input, p string, opts Options) (Source, error) {
	a, f, err := openTarArchive(ctx, p, opts)
	if err != nil {
		return nil, fmt.Errorf("open docker-archive %s: %w", p, notArchive("a docker save", "manifest.json", err))
	}
	src, err := dockerArchive(ctx, input, p, a, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	src.closeFn = f.Close
	return src, nil
}

// dockerArchive opens the docker save archive a.
func dockerArchive(ctx context.Context, input, p string, a *tarArchive, opts Options) (*source, error) {
	if !a.has("manifest.json") {
		return nil, fmt.Errorf("open docker-archive %s: not a docker save archive (no manifest.json): %w", p, ErrBadInput)
	}
	rawManifest, err := a.readAll("manifest.json")
	if err != nil {
		return nil, fmt.Errorf("open docker-archive %s: manifest.json: %w", p, err)
	}
	var m tarball.Manifest
	if err := json.Unmarshal(rawManifest, &m); err != nil {
		return nil, fmt.Errorf("open docker-archive %s: manifest.json: %w: %w", p, err, ErrBadInput)
	}
	if len(m) != 1 {
		var tags []string
		for _, d := range m {
			tags = append(tags, d.RepoTags...)
		}
		return nil, fmt.Errorf("open docker-archive %s: manifest.json lists %d images (tags %v), want exactly one: %w", p, len(m), tags, ErrBadInput)
	}
	desc := m[0]
	rawCfg, err := a.readAll(desc.Config)
	if err != nil {
		return nil, fmt.Errorf("open docker-archive %s: config %s: %w", p, desc.Config, err)
	}
	src, cf, err := configSource(input, p, desc.Config, rawCfg, desc.RepoTags, opts)
	if err != nil {
		return nil, fmt.Errorf("open docker-archive %s: %w", p, err)
	}
	if len(cf.RootFS.DiffIDs) != len(desc.Layers) {
		return nil, fmt.Errorf("open docker-archive %s: config lists %d diff IDs but manifest.json %d layers: %w", p, len(cf.RootFS.DiffIDs), len(desc.Layers), ErrBadInput)
	}
	created := pairHistory(src.config.History, len(desc.Layers))
	// Docker 25+ writes an OCI index next to manifest.json: it names the
	// manifest digest. Older archives have none.
	if a.has("index.json") {
		if raw, err := a.readAll("index.json"); err == nil {
			if im, err := v1.ParseIndexManifest(bytes.NewReader(raw)); err == nil && len(im.Manifests) == 1 {
				src.target.Digest = im.Manifests[0].Digest.String()
			}
		}
	}
	for i, lp := range desc.Layers {
		if !a.has(lp) {
			return nil, fmt.Errorf("open docker-archive %s: layer %s (%s): blob missing from archive: %w", p, cf.RootFS.DiffIDs[i], lp, ErrBadInput)
		}
		diffID := cf.RootFS.DiffIDs[i].String()
		ref := model.LayerRef{Index: i, DiffID: diffID, CreatedBy: created[i]}
		if ref.Digest, err = memberDigest(a, lp, diffID); err != nil {
			return nil, fmt.Errorf("open docker-archive %s: layer %s (%s): %w", p, diffID, lp, err)
		}
		member := lp
		src.layers = append(src.layers, &layer{
			ref:   ref,
			local: true,
			size:  -1, // the member's own size bounds it
			blob: func(context.Context) (io.ReadCloser, error) {
				rc, _, err := a.open(member)
				return rc, err
			},
		})
	}
	return src, nil
}

// configSource is a docker-archive source of the image config rawCfg
// (named cfgName in errors), without layers: the parsed config (platform
// checked) and the target.
func configSource(input, p, cfgName string, rawCfg []byte, repoTags []string, opts Options) (*source, *v1.ConfigFile, error) {
	cf, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: %w: %w", cfgName, err, ErrBadInput)
	}
	if err := checkPlatform(opts, platformOf(cf)); err != nil {
		return nil, nil, err
	}
	cfgHash, _, _ := v1.SHA256(bytes.NewReader(rawCfg))
	return &source{
		target: model.Target{
			Input:    input,
			Kind:     KindDockerArchive,
			Name:     p,
			ImageID:  cfgHash.String(),
			Platform: platformOf(cf),
			RepoTags: repoTags,
		},
		config:    configFromV1(cf),
		rawConfig: rawCfg,
		lim:       opts.limits(),
	}, cf, nil
}

// memberDigest is the digest of a layer blob as stored in a docker-archive,
// as the archive names it: by the path for Docker 25+
// (blobs/sha256/<hex>), by the file name for go-containerregistry and
// skopeo (<hex>.tar.gz, <hex>.tar); the walk checks the blob against it as
// it reads. A plain layer.tar is its diff ID; only a compressed member that
// no name vouches for is hashed here.
func memberDigest(a *tarArchive, member, diffID string) (string, error) {
	m := cleanMember(member)
	if rest, ok := strings.CutPrefix(m, "blobs/"); ok {
		if alg, hex, ok := strings.Cut(rest, "/"); ok && !strings.Contains(hex, "/") {
			return alg + ":" + hex, nil
		}
	}
	base := path.Base(m)
	for _, ext := range []string{".tar.gz", ".tgz", ".tar.zst", ".tar"} {
		if hx, ok := strings.CutSuffix(base, ext); ok && parseDigest("sha256:"+hx) != nil {
			return "sha256:" + hx, nil
		}
	}
	rc, _, err := a.open(member)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	br := bufio.NewReader(rc)
	magic, _ := br.Peek(4)
	if !bytes.HasPrefix(magic, gzipMagic) && !bytes.HasPrefix(magic, zstdMagic) {
		return diffID, nil
	}
	h, _, err := v1.SHA256(br)
	if err != nil {
		return "", fmt.Errorf("read: %w: %w", err, ErrBadInput)
	}
	return h.String(), nil
}

// openOCIArchive opens a tar of an OCI image layout.
func openOCIArchive(ctx context.Context, input, p string, opts Options) (Source, error) {
	a, f, err := openTarArchive(ctx, p, opts)
	if err != nil {
		return nil, fmt.Errorf("open oci-archive %s: %w", p, notArchive("an OCI", "index.json", err))
	}
	src, err := ociArchive(ctx, input, p, a, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	src.closeFn = f.Close
	return src, nil
}

// ociArchive opens the OCI layout in the tar a.
func ociArchive(ctx context.Context, input, p string, a *tarArchive, opts Options) (*source, error) {
	if !a.has("index.json") {
		return nil, fmt.Errorf("open oci-archive %s: no index.json (not an OCI image layout): %w", p, ErrBadInput)
	}
	raw, err := a.readAll("index.json")
	if err != nil {
		return nil, fmt.Errorf("open oci-archive %s: index.json: %w", p, err)
	}
	store := &archiveStore{a: a}
	return openLayout(ctx, input, KindOCIArchive, p, "", raw, store, opts)
}

// archiveStore serves the blobs of an OCI layout inside a tar.
type archiveStore struct{ a *tarArchive }

func blobPath(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

func (s *archiveStore) open(h v1.Hash) (io.ReadCloser, error) {
	rc, _, err := s.a.open(blobPath(h))
	return rc, err
}
func (s *archiveStore) exists(h v1.Hash) bool { return s.a.has(blobPath(h)) }

// configFromV1 keeps the parts of an image config Lockdown uses.
func configFromV1(cf *v1.ConfigFile) *ConfigFile {
	c := &ConfigFile{
		Architecture: cf.Architecture,
		OS:           cf.OS,
		User:         cf.Config.User,
		Env:          cf.Config.Env,
		Labels:       cf.Config.Labels,
		Healthcheck:  hasHealthcheck(cf.Config.Healthcheck),
	}
	for _, h := range cf.History {
		c.History = append(c.History, History{CreatedBy: h.CreatedBy, EmptyLayer: h.EmptyLayer})
	}
	return c
}

func hasHealthcheck(h *v1.HealthConfig) bool {
	return h != nil && len(h.Test) > 0 && h.Test[0] != "NONE"
}

func platformOf(cf *v1.ConfigFile) string {
	if cf.OS == "" && cf.Architecture == "" {
		return ""
	}
	p := cf.OS + "/" + cf.Architecture
	if cf.Variant != "" {
		p += "/" + cf.Variant
	}
	return p
}

// jsonString is for error messages that quote a small JSON value.
func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// notArchive says that a file that opened but could not be read as a tar
// archive is not the archive expected ("not a docker save archive (no
// manifest.json): read tar: …"); missing and unreadable files keep the
// OS error.
func notArchive(kind, member string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return err
	}
	return fmt.Errorf("not %s archive (no %s): %w", kind, member, err)
}
