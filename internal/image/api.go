// Package image turns a target string into a read-only layered filesystem
// and walks it layer by layer without extracting anything to disk.
//
// CONTRACT (shared with internal/catalog; change only together):
//
//	src, err := image.Open(ctx, "docker-archive:/tmp/x.tar", image.Options{})
//	defer src.Close()
//	tree, err := image.Walk(ctx, src, image.WalkOptions{Want: want, Visit: visit})
//
// Paths everywhere in this package are clean, slash-separated and absolute
// within the image: "/var/lib/dpkg/status".
package image

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// ErrBadInput marks errors caused by the target itself (corrupt archive,
// path traversal, missing blob, unknown media type, …). The CLI exits 2 on
// them. Wrap it: fmt.Errorf("layer %s: entry %q: %w", diffID, name, ErrBadInput).
var ErrBadInput = errors.New("bad input")

// Options configure Open. The zero value works.
type Options struct {
	Platform         string   // "linux/amd64" when empty
	InsecureRegistry []string // hosts (host:port) reached over plain HTTP
	// Limits against hostile input; zero means the package default.
	MaxLayerBytes int64 // uncompressed bytes per layer (default 8 GiB)
	MaxFileBytes  int64 // bytes read from one file handed to Visit (default 512 MiB)
	// MaxArchiveBytes bounds the plain tar of a gzip-compressed archive
	// (docker-archive:x.tar.gz), which is decompressed once to TempDir
	// (default 16 GiB).
	MaxArchiveBytes int64
	Logger          *slog.Logger // nil discards
	// TempDir is where a docker: target's `docker save` stream and the
	// plain tar of a compressed archive are spooled (removed by Close); ""
	// means os.TempDir().
	TempDir string
	// Cache, when set, keeps a docker: image's config and layer digests by
	// image ID, so that opening it again streams nothing out of the engine
	// unless a walk needs a layer (pass the walk's WalkOptions.Cache).
	Cache LayerCache
	// RemoteOnly refuses every target that reads a path (dir:,
	// docker-archive:, oci-archive:, oci-dir:) and never looks at the
	// filesystem for a hint about a bare reference: for a service, where
	// whether a path exists on the server is nobody's business.
	RemoteOnly bool
	// Transport, when set, carries registry requests (a service's guard
	// against requests to private addresses); nil is the default.
	Transport http.RoundTripper
	// IncludeCaches makes a walk of the whole host (dir:/) read the caches
	// it leaves out otherwise (see hostCaches).
	IncludeCaches bool
}

// Source is an opened target. Layers are listed base first.
type Source interface {
	Target() model.Target
	Config() *ConfigFile // nil for dir: targets
	Layers() []Layer
	Close() error
}

// ConfigFile is the part of the OCI image config Lockdown uses.
type ConfigFile struct {
	Architecture string            `json:"architecture"`
	OS           string            `json:"os"`
	User         string            `json:"user,omitempty"`
	Env          []string          `json:"env,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Healthcheck  bool              `json:"healthcheck"`
	History      []History         `json:"history,omitempty"`
}

// History is one step of the image's build history.
type History struct {
	CreatedBy  string `json:"created_by,omitempty"`
	EmptyLayer bool   `json:"empty_layer,omitempty"`
}

// Layer is one layer: a tar stream of changes (or, for dir:, the directory).
type Layer interface {
	Ref() model.LayerRef
	// Open returns the uncompressed tar stream. Not used for dir: layers.
	Open(ctx context.Context) (io.ReadCloser, error)
}

// File is one regular file as one layer left it, handed to Visit.
type File struct {
	Path  string // "/usr/bin/app"
	Mode  fs.FileMode
	Size  int64
	Layer model.LayerRef
}

// WantFunc decides from the header alone whether Visit should see a regular
// file's content. It must be cheap and safe for concurrent use.
type WantFunc func(path string, mode fs.FileMode, size int64) bool

// VisitFunc reads one wanted file and returns what the caller wants to keep
// for it (parsed packages, say). It runs concurrently for different layers.
// An error is recorded as a Warning on the tree for that path and layer; it
// does not stop the walk. r yields at most MaxFileBytes.
type VisitFunc func(ctx context.Context, f File, r io.Reader) (any, error)

// WalkOptions configure Walk.
type WalkOptions struct {
	Want        WantFunc
	Visit       VisitFunc
	Concurrency int // layers decompressed at once; 0 means GOMAXPROCS

	// AllPaths keeps every path of the merged filesystem in the Tree, for
	// Paths and Lstat; memory then grows with the number of files. Without
	// it the Tree keeps only what Visited, Result, History and Resolve
	// need: wanted regular files, symlinks, hard links and their targets,
	// and the directories leading to them (Paths and Lstat see only those).
	AllPaths bool

	// Cache, when set with Codec and CacheKey, keeps each layer's record
	// (entries, whiteouts, Visit results, warnings) by the layer's diff ID
	// and CacheKey: an image that shares layers with one walked before only
	// reads its new layers. CacheKey must change whenever Want or Visit
	// would give other results (extractor names and versions).
	Cache    LayerCache
	Codec    ResultCodec
	CacheKey string
	// CacheHits, when not nil, is incremented for every layer served from
	// the cache.
	CacheHits *int
}

// Tree is the merged, whiteout-applied result of a walk.
type Tree struct {
	impl *tree
}

// Node is what the merged tree holds for one path.
type Node struct {
	Path     string
	Mode     fs.FileMode // type bits tell regular/dir/symlink
	Size     int64
	Linkname string // symlink target as written
	Layer    model.LayerRef
}

// Version is one layer's visit result for one path.
type Version struct {
	Layer  model.LayerRef
	Result any
}

// Visited returns every path present in the final merged filesystem whose
// final version was visited (Want returned true and Visit succeeded), sorted.
func (t *Tree) Visited() []string { return t.impl.visited() }

// Paths returns every path of the final merged filesystem (whiteouts
// applied; "/" itself excluded), sorted; without WalkOptions.AllPaths only
// the paths the Tree kept.
func (t *Tree) Paths() []string { return t.impl.paths() }

// Result returns the visit result of the final version of path
// (intermediate symlinked directories are resolved, as in Lstat).
func (t *Tree) Result(path string) (any, bool) { return t.impl.result(path) }

// History returns the visit results of path, oldest first, for the unbroken
// chain of versions that ends in the final one: a version that a later layer
// deleted (whiteout) and that was recreated afterwards is not in the chain.
// A layer that replaced the file with one Visit was not called for (an
// unwanted file) breaks the chain too.
func (t *Tree) History(path string) []Version { return t.impl.history(path) }

// Lstat returns the node at path in the final filesystem, not following a
// final symlink. Intermediate symlinked directories are resolved. Without
// WalkOptions.AllPaths it knows only the paths the Tree kept.
func (t *Tree) Lstat(path string) (Node, error) { return t.impl.lstat(path) }

// Resolve follows symlinks in path within the image root (an absolute link
// or ../ never leaves the root, as in a chroot), at most 40 hops; a loop or
// too many hops is an error wrapping ErrBadInput. It returns the resolved
// path, which may not exist.
func (t *Tree) Resolve(path string) (string, error) { return t.impl.resolve(path) }

// Layers lists the image's layers, base first.
func (t *Tree) Layers() []model.LayerRef { return t.impl.layers() }

// Warnings lists problems that did not stop the walk.
func (t *Tree) Warnings() []model.Warning { return t.impl.warnings() }
