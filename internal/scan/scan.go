// Package scan is the vulnerability scan pipeline shared by `lockdown scan`
// and `lockdown serve`: open a target, catalog its packages, match them
// against an advisory source and apply suppressions, giving one
// model.Report.
package scan

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/lockdown-sec/lockdown/internal/ecosystem"

	"github.com/lockdown-sec/lockdown/internal/catalog"
	"github.com/lockdown-sec/lockdown/internal/image"
	"github.com/lockdown-sec/lockdown/internal/match"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/suppress"
)

// KindScan is the Report.Kind of a scan report.
const KindScan = "scan"

// Options configure Run. The zero value works.
type Options struct {
	// Platform picks from a multi-platform image ("" is linux/amd64).
	Platform string
	// InsecureRegistry lists hosts (host:port) reached over plain HTTP.
	InsecureRegistry []string
	// Extractors runs only the named extractors; nil runs them all.
	Extractors []string
	// IgnoreUnfixed hides vulnerabilities without a fixed version.
	IgnoreUnfixed bool
	// Filter suppresses accepted findings. When Filter.Products is nil it
	// is filled (on a copy) with the names the scanned image goes by.
	Filter suppress.Filter
	// Tool is Lockdown's identity in the report.
	Tool model.Tool
	// Meta is copied into Report.Meta.
	Meta map[string]string
	// Cache, when set, keeps each layer's extraction results (see
	// catalog.Options.Cache).
	Cache image.LayerCache
	// TempDir is where a docker: target is spooled ("" is os.TempDir()).
	TempDir string
	// MaxLayerBytes refuses layers larger than this uncompressed (0 is
	// image.DefaultMaxLayerBytes).
	MaxLayerBytes int64
	// Logger receives warnings; nil discards.
	Logger *slog.Logger
	// RemoteOnly and Transport are image.Options': a service refuses
	// targets that read its filesystem and guards registry requests.
	RemoteOnly bool
	Transport  http.RoundTripper
}

// Run scans target (any form image.Open accepts) against db. Errors caused
// by the target wrap image.ErrBadInput; cancellation returns ctx.Err().
func Run(ctx context.Context, target string, db match.Source, opts Options) (*model.Report, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	sbom, err := Catalog(ctx, target, opts)
	if err != nil {
		return nil, err
	}
	findings, warns, err := match.Match(ctx, db, sbom.Packages, match.Options{IgnoreUnfixed: opts.IgnoreUnfixed, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("match %s: %w", target, err)
	}
	if c, ok := db.(ecosystemChecker); ok {
		warns = append(warns, uncovered(c, sbom.Packages)...)
	}
	for _, wn := range warns {
		log.Warn(wn.Message, "path", wn.Path)
	}
	filter := opts.Filter
	if filter.Products == nil {
		filter.Products = Products(sbom.Target)
	}
	kept, suppressed, fwarns := filter.Apply(findings)
	for _, wn := range fwarns {
		log.Warn(wn.Message, "path", wn.Path)
	}
	t := sbom.Target
	r := &model.Report{
		Kind:       KindScan,
		Tool:       opts.Tool,
		CreatedAt:  time.Now().UTC(),
		Target:     &t,
		Distro:     sbom.Distro,
		Packages:   sbom.Packages,
		Findings:   kept,
		Suppressed: suppressed,
		Warnings:   append(append(sbom.Warnings, warns...), fwarns...),
	}
	if len(opts.Meta) > 0 {
		r.Meta = maps.Clone(opts.Meta)
	}
	if r.Findings == nil {
		r.Findings = []model.Finding{}
	}
	return r, nil
}

// ecosystemChecker is implemented by advisory sources that know which
// ecosystems they hold (vulndb.Store).
type ecosystemChecker interface {
	HasEcosystem(ecosystem string) bool
}

// uncovered warns about each ecosystem of pkgs that the database holds no
// advisory for: "no vulnerabilities" there means "not checked" (a database
// built for other ecosystems, or a release it has no data for), and must
// not read as a clean result.
func uncovered(db ecosystemChecker, pkgs []model.Package) []model.Warning {
	count := map[string]int{}
	for i := range pkgs {
		eco := ecosystem.Normalize(pkgs[i].Ecosystem)
		if e, ok := ecosystem.Lookup(eco); !ok || !e.Supported() {
			continue // match warns about these
		}
		count[eco]++
	}
	var out []model.Warning
	for _, eco := range slices.Sorted(maps.Keys(count)) {
		if db.HasEcosystem(eco) {
			continue
		}
		out = append(out, model.Warning{Message: fmt.Sprintf(
			"the vulnerability database has no advisories for %s: its %d packages were not checked (add a source for %s with lockdown db update)",
			eco, count[eco], eco)})
	}
	return out
}

// Catalog opens target and lists its packages.
func Catalog(ctx context.Context, target string, opts Options) (*model.SBOM, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	src, err := image.Open(ctx, target, image.Options{
		Platform:         opts.Platform,
		InsecureRegistry: opts.InsecureRegistry,
		Logger:           log,
		TempDir:          opts.TempDir,
		MaxLayerBytes:    opts.MaxLayerBytes,
		RemoteOnly:       opts.RemoteOnly,
		Transport:        opts.Transport,
	})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	c, err := catalog.New(catalog.Default()...)
	if err != nil {
		return nil, err
	}
	sbom, err := c.Catalog(ctx, src, catalog.Options{Extractors: opts.Extractors, Logger: log, Cache: opts.Cache})
	if err != nil {
		return nil, err
	}
	sbom.Tool = opts.Tool
	for _, w := range sbom.Warnings {
		log.Warn(w.Message, "path", w.Path, "layer", w.Layer)
	}
	return sbom, nil
}

// Products are the identifiers a VEX statement may name the scanned image
// by: its name, input, digests, tags and pkg:oci PURL.
func Products(t model.Target) []string {
	var out []string
	for _, s := range []string{t.Name, t.Input, t.Digest, t.ImageID} {
		if s != "" {
			out = append(out, s)
		}
	}
	out = append(out, t.RepoTags...)
	if t.Digest != "" {
		out = append(out, "pkg:oci/"+ociName(t)+"@"+escapeDigest(t.Digest))
	}
	return out
}

func ociName(t model.Target) string {
	name := t.Name
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '/' {
			name = name[i+1:]
			break
		}
	}
	for i := 0; i < len(name); i++ {
		if name[i] == ':' || name[i] == '@' {
			return name[:i]
		}
	}
	return name
}

func escapeDigest(d string) string {
	for i := 0; i < len(d); i++ {
		if d[i] == ':' {
			return d[:i] + "%3A" + d[i+1:]
		}
	}
	return d
}
