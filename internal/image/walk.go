package image

import (
	"archive/tar"
	stdflate "compress/flate"
	stdgzip "compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"path"
	"runtime"
	"strings"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/errgroup"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// entryKind is what a layer entry is, as far as merging cares.
type entryKind uint8

const (
	kindRegular  entryKind = iota
	kindDir                // directory
	kindSymlink            // symbolic link; linkname is the target as written
	kindHardlink           // hard link to a path not (yet) seen in this layer
	kindOther              // device, fifo, socket
)

// entry is one tar header of one layer (whiteouts excluded), while the
// walker handles it; the layer record keeps it in compact form.
type entry struct {
	path     string
	linkname string
	size     int64
	mode     fs.FileMode
	kind     entryKind
	wanted   bool // Want returned true
	visited  bool // Visit ran and succeeded: result is valid
	result   any
}

// add appends one entry to the record.
func (r *layerRecord) add(e *entry) {
	var flags byte
	if e.wanted {
		flags |= flagWanted
	}
	if e.visited {
		flags |= flagVisited
		r.results = append(r.results, e.result)
	}
	r.entries.addEntry(e.path, e.kind, flags, e.mode, e.size, e.linkname)
	if e.kind == kindHardlink {
		r.links = append(r.links, e.linkname)
	}
}

// Walk reads every layer (concurrently), applies them in order with OCI
// whiteouts, opaque directories and hard links, calls Visit for wanted files,
// and returns the merged tree. Errors caused by the image wrap ErrBadInput
// and name the layer and entry.
func Walk(ctx context.Context, src Source, opts WalkOptions) (*Tree, error) {
	if src == nil {
		return nil, errors.New("walk: nil source")
	}
	layers := src.Layers()
	lim := limitsOf(src)
	n := opts.Concurrency
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	refs := make([]model.LayerRef, len(layers))
	for i, l := range layers {
		refs[i] = l.Ref()
	}
	records := make([]*layerRecord, len(layers))
	hits := 0
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(n)
	for i, l := range layers {
		if gctx.Err() != nil {
			break
		}
		key := cacheKey(refs[i], opts)
		if key != "" {
			if data, ok := opts.Cache.Get(key); ok {
				if rec, err := decodeRecord(data, refs[i], opts.Codec); err == nil {
					records[i] = rec
					hits++
					continue
				}
			}
		}
		g.Go(func() error {
			var err error
			if dl, ok := l.(*dirLayer); ok {
				records[i], err = walkDir(gctx, dl, refs[i], opts, lim)
			} else {
				records[i], err = walkTar(gctx, l, refs[i], opts, lim)
			}
			if err == nil && key != "" {
				// A failed store only costs a later walk the read.
				if data, err := encodeRecord(records[i], opts.Codec); err == nil {
					_ = opts.Cache.Put(key, data)
				}
			}
			return err
		})
	}
	err := g.Wait()
	if opts.CacheHits != nil {
		*opts.CacheHits += hits
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("walk %s: %w", src.Target().Input, ctx.Err())
	}
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", src.Target().Input, err)
	}
	m := &merge{all: opts.AllPaths}
	if opts.Visit != nil {
		m.want = opts.Want
	}
	for _, rec := range records {
		for _, p := range rec.links {
			if m.pinned == nil {
				m.pinned = map[string]bool{}
			}
			m.pinned[p] = true
		}
	}
	t := newTree(refs)
	for i, rec := range records {
		if err := t.apply(i, rec, m); err != nil {
			return nil, fmt.Errorf("walk %s: layer %s: %w", src.Target().Input, layerName(refs[i]), err)
		}
		records[i] = nil
	}
	return &Tree{impl: t}, nil
}

// layerName names a layer in errors and warnings: its diff ID, else its
// digest, else its index.
func layerName(ref model.LayerRef) string {
	switch {
	case ref.DiffID != "":
		return ref.DiffID
	case ref.Digest != "":
		return ref.Digest
	}
	return fmt.Sprintf("#%d", ref.Index)
}

// errLayerTooBig is returned by layerReader past its bound (MaxLayerBytes,
// or MaxArchiveBytes when it reads a compressed archive).
var errLayerTooBig = errors.New("layer too big")

// layerReader counts (and bounds) the uncompressed bytes of a layer,
// hashes them to check the diff ID, and stops when ctx is done. Its first
// error is sticky.
type layerReader struct {
	ctx context.Context
	r   io.Reader
	n   int64
	max int64
	h   hash.Hash
	err error
}

func (lr *layerReader) Read(p []byte) (int, error) {
	if lr.err != nil {
		return 0, lr.err
	}
	if err := lr.ctx.Err(); err != nil {
		lr.err = err
		return 0, err
	}
	if room := lr.max - lr.n + 1; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := lr.r.Read(p)
	lr.n += int64(n)
	if lr.h != nil {
		lr.h.Write(p[:n])
	}
	if lr.n > lr.max {
		lr.err = errLayerTooBig
		return n, lr.err
	}
	if err != nil && !errors.Is(err, io.EOF) {
		lr.err = err
	}
	return n, err
}

// chargedReader counts what it reads against a layer's byte budget.
type chargedReader struct {
	r  io.Reader
	lr *layerReader
}

func (c *chargedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.lr.n += int64(n)
	if c.lr.n > c.lr.max {
		c.lr.err = errLayerTooBig
		return n, errLayerTooBig
	}
	return n, err
}

// sparse reports a GNU sparse file (old GNU or PAX formats).
func sparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// walkTar reads one tar layer into a record.
func walkTar(ctx context.Context, l Layer, ref model.LayerRef, opts WalkOptions, lim limits) (*layerRecord, error) {
	name := layerName(ref)
	local := false
	if ll, ok := l.(*layer); ok {
		local = ll.local
	}
	// fail turns a read error into the walk's error: the input's fault when
	// the bytes are local or are a corrupt stream.
	fail := func(lr *layerReader, entryName string, err error) error {
		where := "layer " + name
		if entryName != "" {
			where += fmt.Sprintf(": entry %q", entryName)
		}
		if lr != nil && lr.err != nil {
			err = lr.err
		}
		switch {
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("%s: %w", where, err)
		case errors.Is(err, errLayerTooBig):
			return fmt.Errorf("%s: uncompressed size passes the limit of %d bytes (decompression bomb?): %w", where, lim.maxLayer, ErrBadInput)
		case local || corrupt(err):
			return fmt.Errorf("%s: corrupt or truncated layer: %w: %w", where, err, ErrBadInput)
		}
		return fmt.Errorf("%s: %w", where, err)
	}
	rc, err := l.Open(ctx)
	if err != nil {
		return nil, fail(nil, "", err)
	}
	defer rc.Close()
	lr := &layerReader{ctx: ctx, r: rc, max: lim.maxLayer}
	var wantSum []byte
	if ls, ok := rc.(*layerStream); !ok || !ls.diffIDChecked {
		if wantSum = parseDigest(ref.DiffID); wantSum != nil {
			lr.h = sha256.New()
		}
	}
	rec := &layerRecord{ref: ref}
	warn := func(p, format string, args ...any) {
		rec.warn(model.Warning{Layer: ref.DiffID, Path: p, Message: fmt.Sprintf(format, args...)})
	}
	// A wanted file that could not be read: its packages are not checked.
	unreadable := func(p, format string, args ...any) {
		rec.warn(model.Warning{Kind: model.WarnUnreadable, Layer: ref.DiffID, Path: p, Message: fmt.Sprintf(format, args...)})
	}
	tr := tar.NewReader(lr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !(errors.Is(err, tar.ErrInsecurePath) && hdr != nil) {
			return nil, fail(lr, "", err)
		}
		p, err := cleanEntryName(hdr.Name)
		if err == nil {
			err = checkPath(p)
		}
		if err != nil {
			return nil, fmt.Errorf("layer %s: entry %q: %w: %w", name, shorten(hdr.Name), err, ErrBadInput)
		}
		if p == "/" {
			continue
		}
		dir, base := path.Split(p)
		if aufsMeta(p) {
			continue
		}
		if strings.HasPrefix(base, whiteoutPrefix) {
			if base == whiteoutOpaque {
				rec.opaques.addPath(cleanDir(dir))
				continue
			}
			victim := base[len(whiteoutPrefix):]
			if victim == "" || victim == "." || victim == ".." {
				return nil, fmt.Errorf("layer %s: entry %q: invalid whiteout: %w", name, hdr.Name, ErrBadInput)
			}
			rec.whiteouts.addPath(dir + victim)
			continue
		}
		e := entry{path: p, mode: modeOf(hdr), size: hdr.Size}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA, tar.TypeCont, tar.TypeGNUSparse:
			e.kind = kindRegular
			var r io.Reader = tr
			if sparse(hdr) {
				// Holes cost no input: charge what Visit reads to the
				// layer's budget so a sparse file cannot expand unbounded.
				r = &chargedReader{r: tr, lr: lr}
			}
			if err := visit(ctx, &e, r, ref, opts, lim, unreadable); err != nil {
				return nil, fail(lr, hdr.Name, err)
			}
			if lr.err != nil {
				return nil, fail(lr, hdr.Name, lr.err)
			}
		case tar.TypeLink:
			// Resolved when the layers are merged (the target may be in
			// this layer or a lower one).
			target, err := cleanEntryName(hdr.Linkname)
			if err == nil {
				err = checkPath(target)
			}
			if err != nil || target == "/" {
				return nil, fmt.Errorf("layer %s: entry %q: hard link to %q: %w: %w", name, shorten(hdr.Name), shorten(hdr.Linkname), errOr(err, "root"), ErrBadInput)
			}
			e.kind = kindHardlink
			e.linkname = target
		case tar.TypeSymlink:
			if len(hdr.Linkname) > MaxPathBytes {
				return nil, fmt.Errorf("layer %s: entry %q: symlink target of %d bytes passes the limit of %d: %w", name, shorten(hdr.Name), len(hdr.Linkname), MaxPathBytes, ErrBadInput)
			}
			e.kind = kindSymlink
			e.linkname = hdr.Linkname
			e.size = 0
		case tar.TypeDir:
			e.kind = kindDir
			e.size = 0
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			e.kind = kindOther
			e.size = 0
		default:
			warn(p, "unsupported tar entry type %q, skipped", hdr.Typeflag)
			continue
		}
		rec.add(&e)
	}
	// Read to the end so a bad trailer, a gzip checksum or a wrong diff ID
	// is noticed.
	if _, err := io.Copy(io.Discard, lr); err != nil {
		return nil, fail(lr, "", err)
	}
	if wantSum != nil {
		if got := lr.h.Sum(nil); string(got) != string(wantSum) {
			return nil, fmt.Errorf("layer %s: content has diff ID sha256:%x: %w", name, got, ErrBadInput)
		}
	}
	rec.done()
	return rec, nil
}

// done drops the record's scratch space once the layer is read.
func (r *layerRecord) done() {
	r.entries.done()
	r.opaques.done()
	r.whiteouts.done()
}

// checkPath refuses a clean path longer than MaxPathBytes or deeper than
// MaxPathDepth.
func checkPath(p string) error {
	if len(p) > MaxPathBytes {
		return fmt.Errorf("path of %d bytes passes the limit of %d (PATH_MAX)", len(p), MaxPathBytes)
	}
	if d := strings.Count(p, "/"); d > MaxPathDepth {
		return fmt.Errorf("path %d directories deep passes the limit of %d", d, MaxPathDepth)
	}
	return nil
}

// shorten cuts a long name for an error message.
func shorten(s string) string {
	const keep = 120
	if len(s) <= keep {
		return s
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:keep], len(s))
}

// modeOf is the file mode of a tar entry: permission and setuid/setgid/
// sticky bits from the header's mode, the type from its type flag only (a
// hostile header may put other type bits in its mode).
func modeOf(hdr *tar.Header) fs.FileMode {
	m := hdr.FileInfo().Mode() &^ fs.ModeType
	switch hdr.Typeflag {
	case tar.TypeDir:
		m |= fs.ModeDir
	case tar.TypeSymlink:
		m |= fs.ModeSymlink
	case tar.TypeChar:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case tar.TypeBlock:
		m |= fs.ModeDevice
	case tar.TypeFifo:
		m |= fs.ModeNamedPipe
	}
	return m
}

func errOr(err error, s string) error {
	if err != nil {
		return err
	}
	return errors.New(s)
}

// visit hands one regular file to Visit when Want asks for it. A file
// over the size limit or a Visit error is an unreadable warning (the file
// was wanted: what it lists is not checked); a read error of the layer
// itself is returned.
func visit(ctx context.Context, e *entry, r io.Reader, ref model.LayerRef, opts WalkOptions, lim limits, unreadable func(p, format string, args ...any)) error {
	if opts.Want == nil || opts.Visit == nil || !opts.Want(e.path, e.mode, e.size) {
		return nil
	}
	e.wanted = true
	if e.size > lim.maxFile {
		unreadable(e.path, "file of %d bytes passes the limit of %d bytes, not read", e.size, lim.maxFile)
		return nil
	}
	gr := &guardReader{r: io.LimitReader(r, lim.maxFile)}
	res, err := opts.Visit(ctx, File{Path: e.path, Mode: e.mode, Size: e.size, Layer: ref}, gr)
	gr.done = true
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if gr.err != nil && !errors.Is(gr.err, io.EOF) {
		// The stream under the file failed (truncated, corrupt, too big):
		// that is the layer's problem, not the visitor's.
		return gr.err
	}
	if err != nil {
		unreadable(e.path, "%v", err)
		return nil
	}
	e.visited, e.result = true, res
	return nil
}

// guardReader is what Visit reads: it remembers the first stream error and
// refuses reads after Visit returned.
type guardReader struct {
	r    io.Reader
	done bool
	err  error
}

var errReadAfterVisit = errors.New("read after Visit returned")

func (g *guardReader) Read(p []byte) (int, error) {
	if g.done {
		return 0, errReadAfterVisit
	}
	n, err := g.r.Read(p)
	if err != nil && g.err == nil {
		g.err = err
	}
	return n, err
}

// corrupt reports whether err says the bytes themselves are bad (as
// opposed to the network or the disk failing).
func corrupt(err error) bool {
	var ce flate.CorruptInputError
	var sce stdflate.CorruptInputError
	return errors.Is(err, tar.ErrHeader) || errors.Is(err, tar.ErrInsecurePath) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrBadInput) ||
		errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.As(err, &ce) ||
		errors.Is(err, stdgzip.ErrHeader) || errors.Is(err, stdgzip.ErrChecksum) || errors.As(err, &sce)
}

// OCI whiteout names.
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// aufsMeta reports AUFS bookkeeping entries (.wh..wh.plnk and the like,
// and anything under them), which are not part of the filesystem.
func aufsMeta(p string) bool {
	for _, c := range strings.Split(p[1:], "/") {
		if strings.HasPrefix(c, whiteoutMeta) && c != whiteoutOpaque {
			return true
		}
	}
	return false
}

// cleanEntryName turns a tar entry name into "/a/b". Absolute names and
// names whose ".." climbs above the root are refused.
func cleanEntryName(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty name")
	}
	if strings.HasPrefix(name, "/") {
		return "", errors.New("absolute name")
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", errors.New("NUL in name")
	}
	depth := 0
	for c := range strings.SplitSeq(name, "/") {
		switch c {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return "", errors.New("name escapes the root with ..")
			}
		default:
			depth++
		}
	}
	return path.Clean("/" + name), nil
}

// cleanDir turns "dir/" from path.Split into a clean directory path.
func cleanDir(dir string) string {
	if dir == "" {
		return "/"
	}
	return path.Clean(dir)
}
