package image

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/docker/docker/client"
)

// openDaemon opens an image of the local Docker engine (DOCKER_HOST
// honoured). The engine's `docker save` stream is spooled once to a
// temporary file (Options.TempDir) that Close removes; memory stays flat.
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
	s.target.Kind = KindDocker
	s.target.Name = ref
	s.target.ImageID = insp.ID
	s.target.RepoTags = insp.RepoTags
	s.target.Digest = ""
	for _, rd := range insp.RepoDigests {
		if _, d, ok := strings.Cut(rd, "@"); ok {
			s.target.Digest = d
			break
		}
	}
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
