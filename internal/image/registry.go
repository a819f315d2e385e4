package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// openRegistry opens an image in a registry (go-containerregistry remote,
// credentials from the Docker config / credential helpers).
func openRegistry(ctx context.Context, input, refStr string, opts Options) (Source, error) {
	ref, err := name.ParseReference(refStr)
	if err != nil {
		return nil, fmt.Errorf("open registry %s: %w: %w", refStr, err, ErrBadInput)
	}
	if slices.Contains(opts.InsecureRegistry, ref.Context().RegistryStr()) {
		if ref, err = name.ParseReference(refStr, name.Insecure); err != nil {
			return nil, fmt.Errorf("open registry %s: %w: %w", refStr, err, ErrBadInput)
		}
	}
	repo := ref.Context()
	ropts := func(ctx context.Context) []remote.Option {
		ro := []remote.Option{
			remote.WithContext(ctx),
			remote.WithAuthFromKeychain(authn.DefaultKeychain),
			remote.WithUserAgent("lockdown"),
		}
		if opts.Transport != nil {
			ro = append(ro, remote.WithTransport(opts.Transport))
		}
		return ro
	}
	what := "registry " + ref.Name()
	desc, err := remote.Get(ref, ropts(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", what, registryErr(err))
	}
	var (
		img    v1.Image
		digest = desc.Digest
	)
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", what, registryErr(err))
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("open %s: index %s: %w: %w", what, desc.Digest, err, ErrBadInput)
		}
		d, err := pickManifest(ctx, im, &remoteManifests{repo: repo, opts: ropts}, opts, "")
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", what, err)
		}
		if img, err = remote.Image(repo.Digest(d.Digest.String()), ropts(ctx)...); err != nil {
			return nil, fmt.Errorf("open %s: manifest %s: %w", what, d.Digest, registryErr(err))
		}
		digest = d.Digest
	case desc.MediaType.IsImage():
		if img, err = desc.Image(); err != nil {
			return nil, fmt.Errorf("open %s: %w", what, registryErr(err))
		}
	default:
		return nil, fmt.Errorf("open %s: manifest %s: unknown media type %q: %w", what, desc.Digest, desc.MediaType, ErrBadInput)
	}
	t := model.Target{Input: input, Kind: KindRegistry, Name: ref.Name(), Digest: digest.String()}
	return sourceFromImage(img, t, opts.limits(), false, nil,
		func(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
			l, err := remote.Layer(repo.Digest(d.Digest.String()), ropts(ctx)...)
			if err != nil {
				return nil, registryErr(err)
			}
			rc, err := l.Compressed()
			if err != nil {
				return nil, registryErr(err)
			}
			return rc, nil
		})
}

// registryErr marks "no such image" answers as bad input; network and auth
// failures stay as they are.
func registryErr(err error) error {
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%w: %w", err, ErrBadInput)
	}
	return err
}

// remoteManifests reads nested indexes and configs for platform selection.
type remoteManifests struct {
	repo name.Repository
	opts func(context.Context) []remote.Option
}

func (r *remoteManifests) index(ctx context.Context, d v1.Descriptor) (*v1.IndexManifest, error) {
	idx, err := remote.Index(r.repo.Digest(d.Digest.String()), r.opts(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", d.Digest, registryErr(err))
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("index %s: %w: %w", d.Digest, err, ErrBadInput)
	}
	return im, nil
}

func (r *remoteManifests) configPlatform(ctx context.Context, d v1.Descriptor) (string, error) {
	img, err := remote.Image(r.repo.Digest(d.Digest.String()), r.opts(ctx)...)
	if err != nil {
		return "", fmt.Errorf("manifest %s: %w", d.Digest, registryErr(err))
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", fmt.Errorf("manifest %s: config: %w", d.Digest, registryErr(err))
	}
	return platformOf(cf), nil
}
