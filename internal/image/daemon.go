package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	dockerimage "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// openDaemon opens an image of the local Docker engine (DOCKER_HOST
// honoured). The engine's `docker save` stream is spooled once to a
// temporary file (Options.TempDir) that Close removes; memory stays flat.
//
// With Options.Cache, the image's config and layer digests are kept by
// image ID: a later Open of the same image reads them from the cache and
// saves nothing until a walk opens a layer the layer cache does not have,
// so a fully cached image is never streamed out of the engine.
func openDaemon(ctx context.Context, input, ref string, opts Options) (Source, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("open docker %s: docker client: %w", ref, err)
	}
	defer cli.Close()
	insp, err := cli.ImageInspect(ctx, ref)
	if err != nil {
		if client.IsErrNotFound(err) {
			return nil, fmt.Errorf("open docker %s: no such image in the docker engine: %w", ref, ErrBadInput)
		}
		return nil, fmt.Errorf("open docker %s: %w", ref, err)
	}
	if s := cachedDaemon(input, ref, insp, opts); s != nil {
		return s, nil
	}
	s, err := saveDaemon(ctx, cli, input, ref, opts)
	if err != nil {
		return nil, err
	}
	daemonTarget(s, ref, insp)
	if opts.Cache != nil {
		rec := dockerRecord{Config: s.rawConfig}
		for _, l := range s.layers {
			rec.Digests = append(rec.Digests, l.Ref().Digest)
		}
		if b, err := json.Marshal(rec); err == nil {
			if err := opts.Cache.Put(dockerRecordKey(insp.ID), b); err != nil {
				opts.logger().WarnContext(ctx, "docker image record not cached", "ref", ref, "err", err)
			}
		}
	}
	return s, nil
}

// dockerRecord is what the layer cache keeps of a docker: image, by image
// ID: the config as the engine saved it and the layer blobs' digests.
type dockerRecord struct {
	Config  []byte   `json:"config"`
	Digests []string `json:"digests"`
}

func dockerRecordKey(imageID string) string { return "docker-image/1/" + imageID }

// cachedDaemon is the source of a docker: image from its cached record,
// or nil when there is none or it does not match the engine's diff IDs.
// Its layers save the image (once, lazily) only when one is opened.
func cachedDaemon(input, ref string, insp dockerimage.InspectResponse, opts Options) *source {
	if opts.Cache == nil {
		return nil
	}
	b, ok := opts.Cache.Get(dockerRecordKey(insp.ID))
	if !ok {
		return nil
	}
	var rec dockerRecord
	if json.Unmarshal(b, &rec) != nil {
		return nil
	}
	s, cf, err := configSource(input, ref, "", rec.Config, nil, opts)
	if err != nil || len(cf.RootFS.DiffIDs) != len(rec.Digests) || len(cf.RootFS.DiffIDs) != len(insp.RootFS.Layers) {
		return nil
	}
	for i, d := range cf.RootFS.DiffIDs {
		if d.String() != insp.RootFS.Layers[i] || parseDigest(rec.Digests[i]) == nil {
			return nil
		}
	}
	daemonTarget(s, ref, insp)
	lz := &lazySave{input: input, ref: ref, opts: opts}
	s.closeFn = lz.close
	created := pairHistory(s.config.History, len(rec.Digests))
	for i, d := range cf.RootFS.DiffIDs {
		s.layers = append(s.layers, &layer{
			ref:   model.LayerRef{Index: i, DiffID: d.String(), Digest: rec.Digests[i], CreatedBy: created[i]},
			local: true,
			size:  -1,
			blob:  func(ctx context.Context) (io.ReadCloser, error) { return lz.blob(ctx, i, d.String()) },
		})
	}
	return s
}

// lazySave saves a docker: image on the first layer opened.
type lazySave struct {
	input, ref string
	opts       Options

	mu  sync.Mutex
	src *source
}

func (z *lazySave) blob(ctx context.Context, i int, diffID string) (io.ReadCloser, error) {
	z.mu.Lock()
	if z.src == nil {
		cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			z.mu.Unlock()
			return nil, fmt.Errorf("open docker %s: docker client: %w", z.ref, err)
		}
		z.src, err = saveDaemon(ctx, cli, z.input, z.ref, z.opts)
		cli.Close()
		if err != nil {
			z.mu.Unlock()
			return nil, err
		}
	}
	src := z.src
	z.mu.Unlock()
	if i >= len(src.layers) || src.layers[i].Ref().DiffID != diffID {
		return nil, fmt.Errorf("open docker %s: the engine's image changed while it was read (layer %d is not %s)", z.ref, i, diffID)
	}
	return src.layers[i].(*layer).blob(ctx)
}

func (z *lazySave) close() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.src == nil {
		return nil
	}
	return z.src.Close()
}

// saveDaemon spools `docker save ref` and opens it as a docker-archive;
// Close removes the spool.
func saveDaemon(ctx context.Context, cli *client.Client, input, ref string, opts Options) (*source, error) {
	f, err := os.CreateTemp(opts.TempDir, "lockdown-docker-save-*.tar")
	if err != nil {
		return nil, fmt.Errorf("open docker %s: spool: %w", ref, err)
	}
	spool := f.Name()
	cleanup := func() error { return os.Remove(spool) }
	rc, err := cli.ImageSave(ctx, []string{ref})
	if err != nil {
		f.Close()
		cleanup()
		return nil, fmt.Errorf("open docker %s: save: %w", ref, err)
	}
	_, err = io.Copy(f, rc)
	rc.Close()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("open docker %s: save: %w", ref, err)
	}
	src, err := openDockerArchive(ctx, input, spool, opts)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("open docker %s: %w", ref, err)
	}
	s := src.(*source)
	closeFile := s.closeFn
	s.closeFn = func() error {
		err := closeFile()
		if rerr := cleanup(); err == nil {
			err = rerr
		}
		return err
	}
	return s, nil
}

// daemonTarget names s as the engine names the image.
func daemonTarget(s *source, ref string, insp dockerimage.InspectResponse) {
	s.target.Kind = KindDocker
	s.target.Name = ref
	s.target.ImageID = insp.ID
	s.target.RepoTags = slices.Clone(insp.RepoTags)
	s.target.Digest = ""
	for _, rd := range insp.RepoDigests {
		if _, d, ok := strings.Cut(rd, "@"); ok {
			s.target.Digest = d
			break
		}
	}
}
