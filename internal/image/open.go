package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// Target kinds, as written before the colon in a target string and as
// reported in model.Target.Kind.
const (
	KindDockerArchive = "docker-archive"
	KindOCIArchive    = "oci-archive"
	KindOCIDir        = "oci-dir"
	KindRegistry      = "registry"
	KindDocker        = "docker"
	KindDir           = "dir"
)

// Package defaults for the limits in Options.
const (
	DefaultMaxLayerBytes   int64 = 8 << 30
	DefaultMaxFileBytes    int64 = 512 << 20
	DefaultMaxArchiveBytes int64 = 16 << 30
	DefaultPlatform              = "linux/amd64"
	// MaxSymlinkHops is how many symlinks Resolve follows before giving up.
	MaxSymlinkHops = 40
	// MaxPathBytes (Linux's PATH_MAX) and MaxPathDepth bound the paths of
	// a layer: a longer or deeper entry fails the walk, naming the layer
	// and the path.
	MaxPathBytes = 4096
	MaxPathDepth = 1024
)

// limits are the effective bounds of one opened source.
type limits struct {
	maxLayer   int64
	maxFile    int64
	maxArchive int64
}

func (o Options) limits() limits {
	l := limits{maxLayer: o.MaxLayerBytes, maxFile: o.MaxFileBytes, maxArchive: o.MaxArchiveBytes}
	if l.maxArchive <= 0 {
		l.maxArchive = DefaultMaxArchiveBytes
	}
	if l.maxLayer <= 0 {
		l.maxLayer = DefaultMaxLayerBytes
	}
	if l.maxFile <= 0 {
		l.maxFile = DefaultMaxFileBytes
	}
	return l
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

func (o Options) platform() string {
	if o.Platform == "" {
		return DefaultPlatform
	}
	return o.Platform
}

// Open opens a target: docker-archive:PATH, oci-archive:PATH, oci-dir:PATH
// (also oci:PATH; PATH:REFNAME picks a tagged image in the layout),
// registry:REF, docker:REF, dir:PATH, or a bare REF (docker daemon first,
// then the registry). Errors caused by the target itself wrap ErrBadInput.
// Close the Source when done: a docker: target spools the image to a
// temporary file that Close removes.
func Open(ctx context.Context, target string, opts Options) (Source, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if strings.TrimSpace(target) == "" {
		return nil, fmt.Errorf("open image: empty target: %w", ErrBadInput)
	}
	kind, rest, found := strings.Cut(target, ":")
	if found && rest == "" {
		switch kind {
		case KindDockerArchive, KindOCIArchive, KindOCIDir, "oci", KindRegistry, KindDocker, KindDir:
			return nil, fmt.Errorf("open %s: nothing after %q: %w", target, kind+":", ErrBadInput)
		}
	}
	log := opts.logger()
	if opts.RemoteOnly && found && (kind == KindDockerArchive || kind == KindOCIArchive || kind == KindOCIDir || kind == "oci" || kind == KindDir) {
		return nil, fmt.Errorf("open %s: %w: %w", target, ErrLocalTarget, ErrBadInput)
	}
	var (
		src Source
		err error
	)
	switch kind {
	case KindDockerArchive:
		src, err = openDockerArchive(ctx, target, rest, opts)
	case KindOCIArchive:
		src, err = openOCIArchive(ctx, target, rest, opts)
	case KindOCIDir, "oci":
		src, err = openOCIDir(ctx, target, rest, opts)
	case KindRegistry:
		src, err = openRegistry(ctx, target, rest, opts)
	case KindDocker:
		src, err = openDaemon(ctx, target, rest, opts)
	case KindDir:
		src, err = openDir(ctx, target, rest, opts)
	default:
		src, err = openBareRef(ctx, target, opts)
	}
	if err != nil {
		return nil, err
	}
	t := src.Target()
	log.DebugContext(ctx, "opened image", "target", target, "kind", t.Kind, "digest", t.Digest, "layers", len(src.Layers()))
	return src, nil
}

// ErrLocalTarget is wrapped by the error of a target that reads a path
// when Options.RemoteOnly refuses them.
var ErrLocalTarget = errors.New("targets that read a path are refused here")

// openBareRef tries the local daemon first, then the registry.
func openBareRef(ctx context.Context, target string, opts Options) (Source, error) {
	log := opts.logger()
	// A path ("/", "./rootfs", "app.tar") is not an image reference: say
	// which prefix reads it instead of asking the daemon and a registry.
	hint := pathHint
	if opts.RemoteOnly {
		hint = func(string) string { return "" }
	}
	if _, err := name.ParseReference(target); err != nil || strings.HasPrefix(target, "/") || strings.HasPrefix(target, ".") {
		return nil, fmt.Errorf("open %s: not an image reference%s: %w", target, hint(target), ErrBadInput)
	}
	src, derr := openDaemon(ctx, target, target, opts)
	if derr == nil {
		return src, nil
	}
	if ctx.Err() != nil {
		return nil, derr
	}
	log.DebugContext(ctx, "not in the docker daemon, trying the registry", "ref", target, "err", derr)
	src, rerr := openRegistry(ctx, target, target, opts)
	if rerr == nil {
		return src, nil
	}
	return nil, fmt.Errorf("open %s: docker daemon: %v; registry: %w%s", target, derr, rerr, hint(target))
}

// pathHint suggests the target prefix for a file or directory at path.
func pathHint(path string) string {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return ""
	case fi.IsDir():
		return fmt.Sprintf(" (%s is a directory: use dir:%s for a root filesystem or oci-dir:%s for an OCI image layout)", path, path, path)
	default:
		return fmt.Sprintf(" (%s is a file: use docker-archive:%s or oci-archive:%s)", path, path, path)
	}
}

// source is the one Source implementation behind every target kind.
type source struct {
	target model.Target
	config *ConfigFile
	layers []Layer
	lim    limits
	// rawConfig is the image config as read (docker-archive and docker:
	// targets), for the docker: image record.
	rawConfig []byte

	closeOnce sync.Once
	closeFn   func() error
	closeErr  error
}

func (s *source) Target() model.Target {
	t := s.target
	t.RepoTags = append([]string(nil), s.target.RepoTags...)
	return t
}
func (s *source) Config() *ConfigFile { return s.config }
func (s *source) Layers() []Layer     { return append([]Layer(nil), s.layers...) }
func (s *source) Close() error {
	s.closeOnce.Do(func() {
		if s.closeFn != nil {
			s.closeErr = s.closeFn()
		}
	})
	return s.closeErr
}

// limitsOf returns the bounds a Source was opened with, or the defaults for
// a Source implemented elsewhere.
func limitsOf(src Source) limits {
	if s, ok := src.(*source); ok {
		return s.lim
	}
	return Options{}.limits()
}

// layer is the one Layer implementation for tar-stream layers.
type layer struct {
	ref model.LayerRef
	// blob returns the layer blob as stored (compressed or not); its bytes
	// are checked against ref.Digest and size as they are read.
	blob func(ctx context.Context) (io.ReadCloser, error)
	size int64 // of the blob, from its descriptor; -1 when unknown
	// local: the bytes come from a file the user named, so every read or
	// decode error is the input's fault (ErrBadInput).
	local bool
}

func (l *layer) Ref() model.LayerRef { return l.ref }
func (l *layer) Open(ctx context.Context) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rc, err := l.blob(ctx)
	if err != nil {
		return nil, err
	}
	return openLayerStream(rc, l.ref, l.size)
}

// pairHistory returns, for each of n layers, the created_by of the history
// entry that made it (empty_layer entries skipped).
func pairHistory(h []History, n int) []string {
	out := make([]string, n)
	i := 0
	for _, e := range h {
		if e.EmptyLayer {
			continue
		}
		if i >= n {
			break
		}
		out[i] = e.CreatedBy
		i++
	}
	return out
}
