package catalog

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
	"github.com/lockdown-sec/lockdown/internal/catalog/osrelease"
	"github.com/lockdown-sec/lockdown/internal/image"
	"github.com/lockdown-sec/lockdown/internal/model"
)

// Options configure one Catalog run. The zero value works.
type Options struct {
	// TempDir is where extractors spool files (each call gets its own
	// directory, removed after); "" means os.TempDir().
	TempDir string
	// Extractors selects extractors by name; empty means all.
	Extractors []string
	// Logger receives debug messages; nil discards.
	Logger *slog.Logger
	// Cache, when set, keeps each layer's extraction results by the layer's
	// diff ID and the extractors' names and versions (see CacheKey).
	Cache image.LayerCache
	// CacheHits, when not nil, counts the layers served from Cache.
	CacheHits *int
}

// cacheVersion is bumped whenever the cataloger's own per-file results
// change shape or meaning.
const cacheVersion = 2

// CacheKey identifies a set of extractors for the layer cache: their names
// and versions, plus the cataloger's own version.
func CacheKey(exts []Extractor) string {
	var b strings.Builder
	fmt.Fprintf(&b, "catalog=%d", cacheVersion)
	for _, e := range exts {
		fmt.Fprintf(&b, ",%s=%d", e.Name(), e.Version())
	}
	return b.String()
}

// ToolName is the SBOM's Tool.Name.
const ToolName = "lockdown"

// The bounds of one run (each file's are extract's): enough warnings for
// every file's summary in a large image, and ten times the packages of the
// largest real images; at that cap a run peaks at about 330 MB.
const (
	MaxRunWarnings     = 1000
	MaxRunWarningBytes = 256 << 10
	MaxRunPackages     = 100_000
)

// sharedBufferMax bounds the in-memory copy of a file that several
// extractors want; larger ones are spooled to disk.
const sharedBufferMax = 32 << 20

// Catalog walks src once, hands every wanted file to the extractors that
// want it, and returns the packages of the final filesystem with their
// distribution, ecosystem, PURL, ID and the layer that last added or
// changed each. A file an extractor cannot read is a warning in the SBOM;
// an error means the image itself could not be walked.
func (c *Cataloger) Catalog(ctx context.Context, src image.Source, opts Options) (*model.SBOM, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	exts, err := c.Select(opts.Extractors)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	runDir, err := os.MkdirTemp(opts.TempDir, "lockdown-catalog-")
	if err != nil {
		return nil, fmt.Errorf("catalog: temp dir: %w", err)
	}
	defer os.RemoveAll(runDir)

	v := visitor{exts: exts, tempDir: runDir, log: log, memMax: sharedBufferMax}
	wo := image.WalkOptions{Want: v.want, Visit: v.visit}
	if opts.Cache != nil {
		wo.Cache, wo.Codec, wo.CacheKey, wo.CacheHits = opts.Cache, resultCodec{}, CacheKey(exts), opts.CacheHits
	}
	tree, err := image.Walk(ctx, src, wo)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if p := v.over.Load(); p != nil {
		return nil, fmt.Errorf("catalog: %w", tooManyInRun(*p))
	}
	sbom := &model.SBOM{
		Target:    src.Target(),
		Layers:    tree.Layers(),
		CreatedAt: time.Now().UTC(),
		Tool:      model.Tool{Name: ToolName},
		Packages:  []model.Package{},
	}
	if d, ok := detectDistro(tree); ok {
		sbom.Distro = &d
	}
	resolved := resolveAll(tree, exts)
	// Each file's warnings are bounded (extract.Warnings); so is the run.
	warns := extract.Warnings{Max: MaxRunWarnings, MaxBytes: MaxRunWarningBytes, Per: "run"}
	for _, w := range tree.Warnings() {
		warns.Add(w)
	}
	for _, p := range tree.Visited() {
		pkgs, ws := collect(tree, p, resolved)
		if len(sbom.Packages)+len(pkgs) > MaxRunPackages { // layers from the cache were not counted
			return nil, fmt.Errorf("catalog: %w", tooManyInRun(p))
		}
		sbom.Packages = append(sbom.Packages, pkgs...)
		for _, w := range ws {
			warns.Add(w)
		}
	}
	sbom.Warnings = warns.List()
	for i := range sbom.Packages {
		enrich(&sbom.Packages[i], sbom.Distro)
	}
	slices.SortFunc(sbom.Packages, comparePackages)
	log.DebugContext(ctx, "catalog done", "target", sbom.Target.Input, "packages", len(sbom.Packages), "warnings", len(sbom.Warnings))
	return sbom, nil
}

func comparePackages(a, b model.Package) int {
	return cmp.Or(
		cmp.Compare(a.Type, b.Type),
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Version, b.Version),
		cmp.Compare(a.Location, b.Location),
		cmp.Compare(a.Arch, b.Arch),
		cmp.Compare(a.SourceName, b.SourceName),
	)
}

// fileResult is what one version of one file (one layer's copy of it)
// yielded. It depends only on that file's content and the extractors'
// names and versions, so it is the unit a per-layer cache (keyed by layer
// diff ID, path and extractor versions) can store.
type fileResult struct {
	extracted []extracted
	osRelease []byte // the content, when osrelease reads this path
}

// extracted is one extractor's outcome for one file.
type extracted struct {
	name string
	res  Result
	err  error
}

// visitor dispatches the walker's files to the extractors.
type visitor struct {
	exts    []Extractor
	tempDir string
	log     *slog.Logger
	memMax  int64                  // a file several extractors want is copied in memory up to this size
	pkgs    atomic.Int64           // packages extracted so far (files are visited concurrently)
	over    atomic.Pointer[string] // the file that took the run past MaxRunPackages
}

func (v *visitor) want(p string, mode os.FileMode, size int64) bool {
	if osrelease.Wants(p) && mode.IsRegular() {
		return true
	}
	for _, e := range v.exts {
		if e.Wants(p, mode, size) {
			return true
		}
	}
	return false
}

// visit extracts one file and keeps the run within MaxRunPackages: every
// version of every file holds its packages until the end of the walk.
func (v *visitor) visit(ctx context.Context, f image.File, r io.Reader) (any, error) {
	res, err := v.visitFile(ctx, f, r)
	if fr, ok := res.(*fileResult); ok && err == nil {
		n := 0
		for _, e := range fr.extracted {
			n += len(e.res.Packages)
		}
		if v.pkgs.Add(int64(n)) > MaxRunPackages {
			// The walker makes a visitor's error a warning: Catalog fails
			// the run once the walk is over.
			v.over.CompareAndSwap(nil, &f.Path)
			return nil, tooManyInRun(f.Path)
		}
	}
	return res, err
}

// tooManyInRun is the error of a target of more than MaxRunPackages
// packages.
func tooManyInRun(path string) error {
	return fmt.Errorf("more than %d packages in the image (reading %s): refused: %w", MaxRunPackages, path, image.ErrBadInput)
}

func (v *visitor) visitFile(ctx context.Context, f image.File, r io.Reader) (any, error) {
	var wanting []Extractor
	for _, e := range v.exts {
		if e.Wants(f.Path, f.Mode, f.Size) {
			wanting = append(wanting, e)
		}
	}
	osr := osrelease.Wants(f.Path)
	fr := &fileResult{}
	if osr {
		// Small files: keep the content, and share it with any extractor.
		data, err := io.ReadAll(io.LimitReader(r, osrelease.MaxFileSize))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f.Path, err)
		}
		fr.osRelease = data
	}
	switch {
	case osr:
		for _, e := range wanting {
			fr.extracted = append(fr.extracted, v.run(ctx, e, f, bytes.NewReader(fr.osRelease)))
		}
		return fr, ctx.Err()
	case len(wanting) == 1:
		fr.extracted = append(fr.extracted, v.run(ctx, wanting[0], f, r))
		return fr, ctx.Err()
	case len(wanting) == 0:
		return fr, ctx.Err()
	}
	// Several extractors want one file: give each its own copy.
	open, cleanup, err := v.share(f, r)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	for _, e := range wanting {
		rd, err := open()
		if err != nil {
			return nil, err
		}
		fr.extracted = append(fr.extracted, v.run(ctx, e, f, rd))
	}
	return fr, ctx.Err()
}

// share makes the content of r readable several times: in memory when
// small, else from a spooled file.
func (v *visitor) share(f image.File, r io.Reader) (open func() (io.Reader, error), cleanup func(), err error) {
	if f.Size <= v.memMax {
		data, err := io.ReadAll(r)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", f.Path, err)
		}
		return func() (io.Reader, error) { return bytes.NewReader(data), nil }, func() {}, nil
	}
	tmp, err := os.CreateTemp(v.tempDir, "shared-*")
	if err != nil {
		return nil, nil, fmt.Errorf("spool %s: %w", f.Path, err)
	}
	cleanup = func() { tmp.Close(); os.Remove(tmp.Name()) }
	if _, err := io.Copy(tmp, r); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("spool %s: %w", f.Path, err)
	}
	return func() (io.Reader, error) {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		return io.NopCloser(tmp), nil
	}, cleanup, nil
}

// run calls one extractor with its own temporary directory, turning a
// panic into an error.
func (v *visitor) run(ctx context.Context, e Extractor, f image.File, r io.Reader) (out extracted) {
	out.name = e.Name()
	dir, err := os.MkdirTemp(v.tempDir, out.name+"-")
	if err != nil {
		out.err = fmt.Errorf("temp dir: %w", err)
		return out
	}
	defer os.RemoveAll(dir)
	defer func() {
		if p := recover(); p != nil {
			out.res, out.err = Result{}, fmt.Errorf("extractor panicked: %v", p)
		}
	}()
	out.res, out.err = e.Extract(ctx, Input{Path: f.Path, Mode: f.Mode, Size: f.Size, Reader: r, TempDir: dir})
	// The per-file bounds hold whatever the extractor did (they use
	// extract.Collector, which keeps to them already).
	out.res.Warnings = extract.Bound(out.res.Warnings)
	if out.err == nil && len(out.res.Packages) > extract.MaxPackages {
		out.res, out.err = Result{}, fmt.Errorf("%s: %w", f.Path, extract.ErrTooManyPackages)
	}
	if out.err != nil {
		v.log.DebugContext(ctx, "extractor failed", "extractor", out.name, "path", f.Path, "layer", f.Layer.DiffID, "err", out.err)
	}
	return out
}

// detectDistro reads the os-release family from the final filesystem,
// following symlinks (/etc/os-release -> ../usr/lib/os-release).
func detectDistro(tree *image.Tree) (model.Distro, bool) {
	return osrelease.Detect(func(p string) ([]byte, bool) {
		rp, err := tree.Resolve(p)
		if err != nil {
			return nil, false
		}
		res, ok := tree.Result(rp)
		if !ok {
			return nil, false
		}
		fr, ok := res.(*fileResult)
		if !ok || fr.osRelease == nil {
			return nil, false
		}
		return fr.osRelease, true
	})
}

// resolvedKey names one extractor's result for one version of one path:
// version indexes tree.History(path).
type resolvedKey struct {
	path    string
	version int
	name    string
}

// resolveAll runs the post-pass of every extractor that is a Resolver over
// the results it left pending, and returns the replacements. A Resolver
// that panics leaves the extracted results in place.
func resolveAll(tree *image.Tree, exts []Extractor) map[resolvedKey]Result {
	out := map[resolvedKey]Result{}
	for _, e := range exts {
		r, ok := e.(extract.Resolver)
		if !ok {
			continue
		}
		name := e.Name()
		final := map[string]Result{}
		older := map[resolvedKey]Result{}
		for _, p := range tree.Visited() {
			hist := tree.History(p)
			for i, v := range hist {
				res, ok := extractedBy(v, name)
				if !ok || res.Pending == nil {
					continue
				}
				if i == len(hist)-1 {
					final[p] = res
				} else {
					older[resolvedKey{p, i, name}] = res
				}
			}
		}
		if len(final) == 0 && len(older) == 0 {
			continue
		}
		for p, res := range safeResolve(r, final) {
			if _, ok := final[p]; ok {
				out[resolvedKey{p, len(tree.History(p)) - 1, name}] = res
			}
		}
		for k, res := range older {
			in := maps.Clone(final)
			in[k.path] = res
			if got, ok := safeResolve(r, in)[k.path]; ok {
				out[k] = got
			}
		}
	}
	return out
}

func safeResolve(r extract.Resolver, in map[string]Result) (out map[string]Result) {
	defer func() {
		if recover() != nil {
			out = nil
		}
	}()
	return r.Resolve(in)
}

// extractedBy returns what extractor name got from one version of a file.
func extractedBy(v image.Version, name string) (Result, bool) {
	fr, ok := v.Result.(*fileResult)
	if !ok {
		return Result{}, false
	}
	for _, e := range fr.extracted {
		if e.name == name && e.err == nil {
			return e.res, true
		}
	}
	return Result{}, false
}

// pkgKey identifies a package within one file across layers.
type pkgKey struct{ name, version, arch string }

// collect returns the packages and warnings of the final version of path,
// each package attributed to the earliest layer of the unbroken run of
// versions, ending in the final one, that all hold it.
func collect(tree *image.Tree, path string, resolved map[resolvedKey]Result) ([]model.Package, []model.Warning) {
	hist := tree.History(path)
	if len(hist) == 0 {
		return nil, nil
	}
	final := hist[len(hist)-1]
	fr, ok := final.Result.(*fileResult)
	if !ok {
		return nil, nil
	}
	var pkgs []model.Package
	var warns []model.Warning
	for _, ex := range fr.extracted {
		if r, ok := resolved[resolvedKey{path, len(hist) - 1, ex.name}]; ok {
			ex.res = r
		}
		// A file the extractor could not read lists packages nobody checked.
		if ex.err != nil {
			warns = append(warns, model.Warning{Kind: model.WarnUnreadable, Layer: final.Layer.DiffID, Path: path,
				Message: fmt.Sprintf("%s: %v", ex.name, ex.err)})
		}
		for _, w := range ex.res.Warnings {
			if w.Layer == "" {
				w.Layer = final.Layer.DiffID
			}
			if w.Path == "" {
				w.Path = path
			}
			warns = append(warns, w)
		}
		// sets[i] holds the keys extractor ex.name found in version i.
		sets := make([]map[pkgKey]bool, len(hist))
		setOf := func(i int) map[pkgKey]bool {
			if sets[i] == nil {
				sets[i] = map[pkgKey]bool{}
				if vr, ok := hist[i].Result.(*fileResult); ok {
					for _, e := range vr.extracted {
						if e.name == ex.name {
							if r, ok := resolved[resolvedKey{path, i, ex.name}]; ok {
								e.res = r
							}
							for _, p := range e.res.Packages {
								sets[i][pkgKey{p.Name, p.Version, p.Arch}] = true
							}
						}
					}
				}
			}
			return sets[i]
		}
		for _, p := range ex.res.Packages {
			k := pkgKey{p.Name, p.Version, p.Arch}
			first := len(hist) - 1
			for first > 0 && setOf(first - 1)[k] {
				first--
			}
			layer := hist[first].Layer
			p.Layer = &layer
			if p.Location == "" {
				p.Location = path
			}
			pkgs = append(pkgs, p)
		}
	}
	return pkgs, warns
}
