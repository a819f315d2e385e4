package image

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// refNameAnnotation tags a manifest in an OCI layout's index.json.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// blobStore serves the content-addressed blobs of an OCI layout.
type blobStore interface {
	open(h v1.Hash) (io.ReadCloser, error)
	exists(h v1.Hash) bool
}

// layoutStore is an OCI layout directory, read with go-containerregistry's
// layout package.
type layoutStore struct{ p layout.Path }

func (s layoutStore) open(h v1.Hash) (io.ReadCloser, error) { return s.p.Blob(h) }
func (s layoutStore) exists(h v1.Hash) bool {
	st, err := os.Stat(filepath.Join(string(s.p), "blobs", h.Algorithm, h.Hex))
	return err == nil && st.Mode().IsRegular()
}

// openOCIDir opens an OCI image layout directory. "PATH:REF" picks the
// manifest whose org.opencontainers.image.ref.name is REF.
func openOCIDir(ctx context.Context, input, p string, opts Options) (Source, error) {
	dir, refName := p, ""
	if _, err := os.Stat(p); err != nil {
		if i := strings.LastIndexByte(p, ':'); i > 0 && !strings.Contains(p[i+1:], "/") {
			if _, err2 := os.Stat(p[:i]); err2 == nil {
				dir, refName = p[:i], p[i+1:]
			}
		}
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open oci-dir %s: %w: %w", dir, err, ErrBadInput)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("open oci-dir %s: not a directory: %w", dir, ErrBadInput)
	}
	lp, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("open oci-dir %s: not an OCI image layout: %w: %w", dir, err, ErrBadInput)
	}
	ii, err := lp.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("open oci-dir %s: index.json: %w: %w", dir, err, ErrBadInput)
	}
	raw, err := ii.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("open oci-dir %s: index.json: %w: %w", dir, err, ErrBadInput)
	}
	return openLayout(ctx, input, KindOCIDir, dir, refName, raw, layoutStore{p: lp}, opts)
}

// openLayout opens the image an OCI layout's index.json selects.
func openLayout(ctx context.Context, input, kind, name, refName string, indexRaw []byte, store blobStore, opts Options) (*source, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("open %s %s: %s: %w", kind, name, fmt.Sprintf(format, args...), ErrBadInput)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(indexRaw))
	if err != nil {
		return nil, fail("index.json: %v", err)
	}
	ms := &storeManifests{store: store}
	desc, err := pickManifest(ctx, im, ms, opts, refName)
	if err != nil {
		return nil, fmt.Errorf("open %s %s: %w", kind, name, err)
	}
	raw, err := ms.manifest(desc)
	if err != nil {
		return nil, fmt.Errorf("open %s %s: %w", kind, name, err)
	}
	core := &blobImage{store: store, desc: desc, raw: raw}
	img, err := partial.CompressedToImage(core)
	if err != nil {
		return nil, fail("manifest %s: %v", desc.Digest, err)
	}
	t := model.Target{Input: input, Kind: kind, Name: name, Digest: desc.Digest.String()}
	return sourceFromImage(img, t, opts.limits(), true, store.exists,
		func(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
			rc, err := store.open(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("blob %s: %w: %w", d.Digest, err, ErrBadInput)
			}
			return rc, nil
		})
}

// storeManifests reads manifests and configs out of a blob store, checking
// each against its digest.
type storeManifests struct{ store blobStore }

func (s *storeManifests) blob(d v1.Descriptor, what string) ([]byte, error) {
	if !s.store.exists(d.Digest) {
		return nil, fmt.Errorf("%s %s: blob missing: %w", what, d.Digest, ErrBadInput)
	}
	rc, err := s.store.open(d.Digest)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: %w", what, d.Digest, err, ErrBadInput)
	}
	defer rc.Close()
	b, err := readLimited(rc, maxMetaBytes)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: %w", what, d.Digest, err, ErrBadInput)
	}
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	if h != d.Digest {
		return nil, fmt.Errorf("%s %s: content has digest %s: %w", what, d.Digest, h, ErrBadInput)
	}
	return b, nil
}

func (s *storeManifests) manifest(d v1.Descriptor) ([]byte, error) {
	return s.blob(d, "manifest")
}

func (s *storeManifests) index(_ context.Context, d v1.Descriptor) (*v1.IndexManifest, error) {
	b, err := s.blob(d, "index")
	if err != nil {
		return nil, err
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("index %s: %w: %w", d.Digest, err, ErrBadInput)
	}
	return im, nil
}

func (s *storeManifests) configPlatform(_ context.Context, d v1.Descriptor) (string, error) {
	b, err := s.manifest(d)
	if err != nil {
		return "", err
	}
	m, err := v1.ParseManifest(bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("manifest %s: %w: %w", d.Digest, err, ErrBadInput)
	}
	cb, err := s.blob(m.Config, "config")
	if err != nil {
		return "", err
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(cb))
	if err != nil {
		return "", fmt.Errorf("config %s: %w: %w", m.Config.Digest, err, ErrBadInput)
	}
	return platformOf(cf), nil
}

// blobImage is a go-containerregistry partial.CompressedImageCore over a
// blob store.
type blobImage struct {
	store blobStore
	desc  v1.Descriptor
	raw   []byte
}

func (b *blobImage) RawManifest() ([]byte, error)        { return b.raw, nil }
func (b *blobImage) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *blobImage) RawConfigFile() ([]byte, error) {
	m, err := partial.Manifest(b)
	if err != nil {
		return nil, err
	}
	return (&storeManifests{store: b.store}).blob(m.Config, "config")
}
func (b *blobImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	m, err := partial.Manifest(b)
	if err != nil {
		return nil, err
	}
	if h == m.Config.Digest {
		return &blobLayer{store: b.store, desc: m.Config}, nil
	}
	for _, d := range m.Layers {
		if d.Digest == h {
			return &blobLayer{store: b.store, desc: d}, nil
		}
	}
	return nil, fmt.Errorf("no layer %s in manifest %s: %w", h, b.desc.Digest, ErrBadInput)
}

type blobLayer struct {
	store blobStore
	desc  v1.Descriptor
}

func (l *blobLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *blobLayer) Compressed() (io.ReadCloser, error)  { return l.store.open(l.desc.Digest) }
func (l *blobLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

// knownLayerType reports whether Lockdown can read a layer of this media type.
func knownLayerType(mt types.MediaType) bool {
	switch mt {
	case types.OCILayer, types.OCILayerZStd, types.OCIUncompressedLayer,
		types.OCIRestrictedLayer, types.OCIUncompressedRestrictedLayer,
		types.DockerLayer, types.DockerForeignLayer, types.DockerUncompressedLayer:
		return true
	}
	return false
}

func knownConfigType(mt types.MediaType) bool {
	return mt == types.OCIConfigJSON || mt == types.DockerConfigJSON || mt == ""
}

// sourceFromImage builds a Source from a go-containerregistry image whose
// manifest lists compressed layers (OCI layouts, registries). t.Digest is
// set by the caller. exists (nil: skip) checks each blob up front; open
// returns a layer blob as stored (checked against its descriptor while the
// walk reads it).
func sourceFromImage(img v1.Image, t model.Target, lim limits, local bool, exists func(v1.Hash) bool,
	open func(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error)) (*source, error) {
	bad := func(err error) error {
		if local {
			return fmt.Errorf("%w: %w", err, ErrBadInput)
		}
		return err
	}
	what := t.Kind + " " + t.Name
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("open %s: manifest: %w", what, bad(err))
	}
	if !m.MediaType.IsImage() && m.MediaType != "" {
		return nil, fmt.Errorf("open %s: manifest %s: unknown media type %q: %w", what, t.Digest, m.MediaType, ErrBadInput)
	}
	if !knownConfigType(m.Config.MediaType) {
		return nil, fmt.Errorf("open %s: config %s: unknown media type %q (not a container image): %w", what, m.Config.Digest, m.Config.MediaType, ErrBadInput)
	}
	if exists != nil && !exists(m.Config.Digest) {
		return nil, fmt.Errorf("open %s: manifest names config %s: blob missing: %w", what, m.Config.Digest, ErrBadInput)
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("open %s: config %s: %w", what, m.Config.Digest, bad(err))
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return nil, fmt.Errorf("open %s: config %s: %w: %w", what, m.Config.Digest, err, ErrBadInput)
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("open %s: config lists %d diff IDs but the manifest %d layers: %w", what, len(cf.RootFS.DiffIDs), len(m.Layers), ErrBadInput)
	}
	t.ImageID = m.Config.Digest.String()
	t.Platform = platformOf(cf)
	cfg := configFromV1(cf)
	created := pairHistory(cfg.History, len(m.Layers))
	src := &source{target: t, config: cfg, lim: lim}
	for i, d := range m.Layers {
		if !knownLayerType(d.MediaType) {
			return nil, fmt.Errorf("open %s: layer %s: unknown media type %q: %w", what, d.Digest, d.MediaType, ErrBadInput)
		}
		if exists != nil && !exists(d.Digest) {
			return nil, fmt.Errorf("open %s: manifest names layer %s: blob missing: %w", what, d.Digest, ErrBadInput)
		}
		size := d.Size
		if size <= 0 {
			size = -1
		}
		src.layers = append(src.layers, &layer{
			ref: model.LayerRef{
				Index:     i,
				DiffID:    cf.RootFS.DiffIDs[i].String(),
				Digest:    d.Digest.String(),
				CreatedBy: created[i],
			},
			local: local,
			size:  size,
			blob:  func(ctx context.Context) (io.ReadCloser, error) { return open(ctx, d) },
		})
	}
	return src, nil
}

// manifestSource reads what platform selection needs.
type manifestSource interface {
	index(ctx context.Context, d v1.Descriptor) (*v1.IndexManifest, error)
	configPlatform(ctx context.Context, d v1.Descriptor) (string, error)
}

type candidate struct {
	desc     v1.Descriptor
	refName  string
	platform string
}

// pickManifest selects one image manifest from an index (nested indexes
// are followed): by ref name when given, then by opts.Platform. With no
// platform asked for, a lone image is taken whatever its platform.
func pickManifest(ctx context.Context, im *v1.IndexManifest, ms manifestSource, opts Options, refName string) (v1.Descriptor, error) {
	var cands []candidate
	var unknown []string
	if err := collectManifests(ctx, im, ms, "", 0, &cands, &unknown); err != nil {
		return v1.Descriptor{}, err
	}
	if refName != "" {
		var names []string
		kept := cands[:0:0]
		for _, c := range cands {
			if c.refName == refName || strings.HasSuffix(c.refName, ":"+refName) {
				kept = append(kept, c)
			}
			if c.refName != "" && !slices.Contains(names, c.refName) {
				names = append(names, c.refName)
			}
		}
		if len(kept) == 0 {
			return v1.Descriptor{}, fmt.Errorf("no image named %q in the index (names: %s): %w", refName, strings.Join(names, ", "), ErrBadInput)
		}
		cands = kept
	}
	if len(cands) == 0 {
		if len(unknown) > 0 {
			return v1.Descriptor{}, fmt.Errorf("no image manifest in the index: unknown media types %s: %w", strings.Join(unknown, ", "), ErrBadInput)
		}
		return v1.Descriptor{}, fmt.Errorf("no image manifest in the index: %w", ErrBadInput)
	}
	if opts.Platform == "" && len(cands) == 1 {
		return cands[0].desc, nil
	}
	want, err := v1.ParsePlatform(opts.platform())
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("platform %q: %w: %w", opts.platform(), err, ErrBadInput)
	}
	var present []string
	var matches []candidate
	for i := range cands {
		c := &cands[i]
		if c.platform == "" {
			p, err := ms.configPlatform(ctx, c.desc)
			if err != nil {
				return v1.Descriptor{}, err
			}
			c.platform = p
		}
		if !slices.Contains(present, c.platform) {
			present = append(present, c.platform)
		}
		got, err := v1.ParsePlatform(c.platform)
		if err == nil && platformMatches(*want, *got) {
			matches = append(matches, *c)
		}
	}
	if len(matches) == 0 {
		return v1.Descriptor{}, fmt.Errorf("no image for platform %s in the index (present: %s): %w", opts.platform(), strings.Join(present, ", "), ErrBadInput)
	}
	for _, m := range matches[1:] {
		if m.desc.Digest != matches[0].desc.Digest && m.refName != matches[0].refName {
			var names []string
			for _, m := range matches {
				names = append(names, m.refName)
			}
			return v1.Descriptor{}, fmt.Errorf("%d images for platform %s in the index (names %s): name one as PATH:NAME: %w", len(matches), opts.platform(), jsonString(names), ErrBadInput)
		}
	}
	return matches[0].desc, nil
}

func collectManifests(ctx context.Context, im *v1.IndexManifest, ms manifestSource, refName string, depth int, out *[]candidate, unknown *[]string) error {
	if depth > 4 {
		return fmt.Errorf("image indexes nested too deep: %w", ErrBadInput)
	}
	for _, d := range im.Manifests {
		name := refName
		if n := d.Annotations[refNameAnnotation]; n != "" {
			name = n
		}
		switch {
		case d.MediaType.IsIndex():
			sub, err := ms.index(ctx, d)
			if err != nil {
				return err
			}
			if err := collectManifests(ctx, sub, ms, name, depth+1, out, unknown); err != nil {
				return err
			}
		case d.MediaType.IsImage():
			if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" ||
				(d.Platform != nil && d.Platform.OS == "unknown") {
				continue
			}
			c := candidate{desc: d, refName: name}
			if d.Platform != nil && d.Platform.OS != "" {
				c.platform = formatPlatform(*d.Platform)
			}
			*out = append(*out, c)
		default:
			*unknown = append(*unknown, fmt.Sprintf("%q (%s)", d.MediaType, d.Digest))
		}
	}
	return nil
}

func formatPlatform(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// checkPlatform refuses a single-platform image whose platform is not the
// one asked for explicitly (with none asked for, any is taken).
func checkPlatform(opts Options, got string) error {
	if opts.Platform == "" || got == "" {
		return nil
	}
	want, err := v1.ParsePlatform(opts.Platform)
	if err != nil {
		return fmt.Errorf("platform %q: %w: %w", opts.Platform, err, ErrBadInput)
	}
	g, err := v1.ParsePlatform(got)
	if err != nil || !platformMatches(*want, *g) {
		return fmt.Errorf("the image is for %s, not %s (present: %s): %w", got, opts.Platform, got, ErrBadInput)
	}
	return nil
}

func platformMatches(want, got v1.Platform) bool {
	if want.OS != got.OS || want.Architecture != got.Architecture {
		return false
	}
	if want.Variant == "" {
		return true
	}
	gv := got.Variant
	if gv == "" && got.Architecture == "arm64" {
		gv = "v8"
	}
	return want.Variant == gv
}
