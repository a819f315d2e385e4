package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// dirLayer is the single pseudo layer of a dir: target. Walk reads the
// directory itself (through os.Root, never following symlinks) instead of
// a tar stream.
type dirLayer struct {
	root   string // absolute
	ref    model.LayerRef
	skip   []string // paths not walked (pseudo filesystems of a live host)
	caches []string // patterns of directories not walked, each said in a warning (hostCaches)
}

func (d *dirLayer) Ref() model.LayerRef { return d.ref }

// Open is not used for dir: layers: Walk reads the directory directly.
func (d *dirLayer) Open(context.Context) (io.ReadCloser, error) {
	return nil, fmt.Errorf("layer of dir:%s: a directory, not a tar stream", d.root)
}

func openDir(_ context.Context, input, p string, opts Options) (Source, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, fmt.Errorf("open dir %s: %w: %w", p, err, ErrBadInput)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("open dir %s: %w: %w", p, err, ErrBadInput)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("open dir %s: not a directory: %w", p, ErrBadInput)
	}
	return &source{
		target: model.Target{Input: input, Kind: KindDir, Name: abs},
		layers: []Layer{newDirLayer(abs, opts.IncludeCaches)},
		lim:    opts.limits(),
	}, nil
}

// pseudoFS are skipped when the whole host (/) is walked: kernel pseudo
// filesystems, and the container engines' storage, which holds other
// images' layers, not the host's packages.
var pseudoFS = []string{"/proc", "/sys", "/dev", "/var/lib/docker", "/var/lib/containerd"}

// hostCaches are the directories a whole-host walk (dir:/) leaves out
// unless Options.IncludeCaches: caches that are not part of the installed
// system — language module and build caches, package manager caches,
// other scanners' databases — which hold thousands of packages nobody
// runs. Patterns for path.Match: "*" is one path element.
var hostCaches = []string{
	"/var/cache",                     // apt, dnf, apk caches (FHS: data that can be deleted)
	"/root/.cache", "/home/*/.cache", // XDG caches: go-build, pip, trivy, grype, lockdown, yarn
	"/root/go/pkg/mod", "/home/*/go/pkg/mod", "/go/pkg/mod", // Go module cache (GOPATH/pkg/mod)
	"/root/.npm", "/home/*/.npm",
	"/root/.m2/repository", "/home/*/.m2/repository",
	"/root/.gradle/caches", "/home/*/.gradle/caches",
	"/root/.cargo/registry", "/home/*/.cargo/registry", "/root/.cargo/git", "/home/*/.cargo/git",
	"/root/.nuget/packages", "/home/*/.nuget/packages",
	"/root/.composer/cache", "/home/*/.composer/cache",
	"/root/.local/share/pnpm/store", "/home/*/.local/share/pnpm/store",
}

func newDirLayer(abs string, includeCaches bool) *dirLayer {
	d := &dirLayer{root: abs, ref: model.LayerRef{Index: 0}}
	if abs == "/" {
		d.skip = pseudoFS
		if !includeCaches {
			d.caches = hostCaches
		}
	}
	return d
}

// isCache reports whether the directory p matches one of d's cache
// patterns.
func (d *dirLayer) isCache(p string) bool {
	for _, pat := range d.caches {
		if ok, _ := path.Match(pat, p); ok {
			return true
		}
	}
	return false
}

// walkDir reads a root filesystem directory into a layer record. Entries
// that cannot be read become warnings.
func walkDir(ctx context.Context, d *dirLayer, ref model.LayerRef, opts WalkOptions, lim limits) (*layerRecord, error) {
	root, err := os.OpenRoot(d.root)
	if err != nil {
		return nil, fmt.Errorf("dir %s: %w: %w", d.root, err, ErrBadInput)
	}
	defer root.Close()
	rec := &layerRecord{ref: ref}
	warn := func(p, format string, args ...any) {
		rec.warn(model.Warning{Path: p, Message: fmt.Sprintf(format, args...)})
	}
	unreadable := func(p, format string, args ...any) {
		rec.warn(model.Warning{Kind: model.WarnUnreadable, Path: p, Message: fmt.Sprintf(format, args...)})
	}
	// Depth-first with an explicit stack; names sorted for a stable order.
	stack := []string{"/"}
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		dir := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		names, err := readDirNames(root, rel(dir))
		if err != nil {
			warn(dir, "read directory: %v", err)
			continue
		}
		var subdirs []string
		for _, name := range names {
			p := path.Join(dir, name)
			if slices.Contains(d.skip, p) {
				continue
			}
			if err := checkPath(p); err != nil {
				warn(shorten(p), "%v: skipped", err)
				continue
			}
			fi, err := root.Lstat(rel(p))
			if err != nil {
				warn(p, "lstat: %v", err)
				continue
			}
			e := entry{path: p, mode: fi.Mode()}
			switch {
			case fi.Mode().IsRegular():
				e.kind = kindRegular
				e.size = fi.Size()
				if err := visitDirFile(ctx, root, &e, ref, opts, lim, unreadable); err != nil {
					return nil, err
				}
			case fi.IsDir():
				if d.isCache(p) {
					rec.warn(model.Warning{Kind: model.WarnCacheSkipped, Path: p,
						Message: "a cache, not part of the installed system: not read (--include-caches reads it)"})
					continue
				}
				e.kind = kindDir
				subdirs = append(subdirs, p)
			case fi.Mode()&fs.ModeSymlink != 0:
				e.kind = kindSymlink
				if e.linkname, err = root.Readlink(rel(p)); err != nil {
					warn(p, "readlink: %v", err)
				}
			default:
				e.kind = kindOther
			}
			rec.add(&e)
		}
		for _, s := range slices.Backward(subdirs) {
			stack = append(stack, s)
		}
	}
	rec.done()
	return rec, nil
}

func rel(p string) string {
	if p == "/" {
		return "."
	}
	return p[1:]
}

func readDirNames(root *os.Root, dir string) ([]string, error) {
	f, err := root.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	return names, nil
}

// visitDirFile opens a regular file without following a symlink put in
// its place since the Lstat, and hands it to Visit; a wanted file it cannot
// read is an unreadable warning, as in visit.
func visitDirFile(ctx context.Context, root *os.Root, e *entry, ref model.LayerRef, opts WalkOptions, lim limits, unreadable func(p, format string, args ...any)) error {
	if opts.Want == nil || opts.Visit == nil || !opts.Want(e.path, e.mode, e.size) {
		return nil
	}
	e.wanted = true
	if e.size > lim.maxFile {
		unreadable(e.path, "file of %d bytes passes the limit of %d bytes, not read", e.size, lim.maxFile)
		return nil
	}
	f, err := root.OpenFile(rel(e.path), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		unreadable(e.path, "open: %v", err)
		return nil
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		unreadable(e.path, "changed while walking: no longer a regular file")
		return nil
	}
	gr := &guardReader{r: io.LimitReader(f, lim.maxFile)}
	res, err := opts.Visit(ctx, File{Path: e.path, Mode: e.mode, Size: e.size, Layer: ref}, gr)
	gr.done = true
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if err != nil {
		if gr.err != nil && !errors.Is(gr.err, io.EOF) {
			unreadable(e.path, "read: %v", gr.err)
		} else {
			unreadable(e.path, "%v", err)
		}
		return nil
	}
	e.visited, e.result = true, res
	return nil
}
