// Package scan is the vulnerability scan pipeline shared by `lockdown scan`
// and `lockdown serve`: open a target, catalog its packages, match them
// against an advisory source and apply suppressions, giving one
// model.Report.
package scan

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lockdown-sec/lockdown/internal/catalog"
	"github.com/lockdown-sec/lockdown/internal/catalog/gobinary"
	"github.com/lockdown-sec/lockdown/internal/ecosystem"
	"github.com/lockdown-sec/lockdown/internal/image"
	"github.com/lockdown-sec/lockdown/internal/match"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/osv"
	"github.com/lockdown-sec/lockdown/internal/suppress"
	"github.com/lockdown-sec/lockdown/internal/vulndb"
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
	// GoReachability, when not empty, keeps only the Go findings whose
	// reachability is one of these states (see match.Options).
	GoReachability []string
	// ShowUnderInvestigation keeps findings the vendor is still triaging
	// (see match.Options).
	ShowUnderInvestigation bool
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
	// IncludeCaches makes a scan of the whole host (dir:/) read the caches
	// that are not part of the system too (module caches, package manager
	// caches, other scanners' data); they are left out and named in a
	// warning otherwise.
	IncludeCaches bool
	// CollectFixed fills Report.Fixed: the advisories the installed
	// versions already fix (for OpenVEX "fixed" statements).
	CollectFixed bool
	// Logger receives warnings; nil discards.
	Logger *slog.Logger
	// RemoteOnly and Transport are image.Options': a service refuses
	// targets that read its filesystem and guards registry requests.
	RemoteOnly bool
	Transport  http.RoundTripper
}

// Run scans target (any form image.Open accepts) against db. Errors caused
// by the target wrap image.ErrBadInput; cancellation returns ctx.Err().
//
// Packages that cannot be checked are not silently left out: the report's
// NotChecked lists them by reason (the database has no advisories for
// their ecosystem or release, the ecosystem is unknown or has no version
// scheme, the installed version cannot be parsed, the file listing them
// could not be read). Warnings are returned in the report, not logged: the
// caller prints them once.
func Run(ctx context.Context, target string, db match.Source, opts Options) (*model.Report, error) {
	sbom, err := catalogTarget(ctx, target, opts)
	if err != nil {
		return nil, err
	}
	checkable, gaps := triage(db, sbom.Packages)
	for _, w := range sbom.Warnings {
		if w.Kind == model.WarnUnreadable {
			gaps.unreadable(w)
		}
	}
	mo := match.Options{
		IgnoreUnfixed:          opts.IgnoreUnfixed,
		GoReachability:         opts.GoReachability,
		ShowUnderInvestigation: opts.ShowUnderInvestigation,
		Logger:                 opts.Logger,
		NotComparable:          func(_ *model.Package, eco string) { gaps.add(model.NotCheckedUnparsableVersion, eco) },
	}
	var fixed []model.Finding
	if opts.CollectFixed {
		mo.Fixed = func(p *model.Package, v *osv.Vulnerability, fixedIn string) {
			for _, id := range fixedIDs(v) {
				fixed = append(fixed, model.Finding{
					Kind: model.KindVulnerability, RuleID: id[0], Aliases: id[1:], Title: v.Summary,
					Status: model.StatusResolved, Subject: p.Name + " " + p.Version, Scope: "package",
					Package: p, InstalledVersion: p.Version, FixedVersion: fixedIn, Layer: p.Layer,
				})
			}
		}
	}
	findings, warns, err := match.Match(ctx, db, checkable, mo)
	if err != nil {
		return nil, fmt.Errorf("match %s: %w", target, err)
	}
	gobinary.StripSymbols(sbom.Packages)
	filter := opts.Filter
	if filter.Products == nil {
		filter.Products = Products(sbom.Target)
	}
	kept, suppressed, fwarns := filter.Apply(findings)
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
		NotChecked: gaps.list(),
		Fixed:      fixed,
	}
	if len(opts.Meta) > 0 {
		r.Meta = maps.Clone(opts.Meta)
	}
	if r.Findings == nil {
		r.Findings = []model.Finding{}
	}
	return r, nil
}

// fixedIDs names the vulnerabilities one record fixes, as findings name
// them: by CVE when the record has one (ALPINE-CVE-2017-1 is CVE-2017-1),
// one per CVE for a record that bundles several (a DSA), each with the
// record's other IDs as aliases.
func fixedIDs(v *osv.Vulnerability) [][]string {
	ids := append([]string{v.ID}, v.Aliases...)
	var cves []string
	for _, id := range append(slices.Clone(ids), v.Upstream...) {
		if strings.HasPrefix(id, "CVE-") && !slices.Contains(cves, id) {
			cves = append(cves, id)
		}
	}
	if len(cves) == 0 {
		return [][]string{ids}
	}
	out := make([][]string, 0, len(cves))
	for _, c := range cves {
		names := []string{c}
		for _, id := range ids {
			if id != c && !slices.Contains(names, id) && (len(cves) == 1 || !strings.HasPrefix(id, "CVE-")) {
				names = append(names, id)
			}
		}
		out = append(out, names)
	}
	return out
}

// ecosystemChecker is implemented by advisory sources that know which
// ecosystems they hold (vulndb.Store).
type ecosystemChecker interface {
	HasEcosystem(ecosystem string) bool
}

// triage returns the packages db can check, and counts the others by
// reason: no ecosystem or one without a version scheme, or (when db can
// tell) an ecosystem the database holds no advisory for. "No
// vulnerabilities" for those would mean "not checked".
func triage(db match.Source, pkgs []model.Package) ([]model.Package, *gaps) {
	g := &gaps{count: map[gapKey]int{}}
	checker, _ := db.(ecosystemChecker)
	// What is decided once per ecosystem string as written.
	type verdict struct {
		eco    string
		reason string // "" when checkable
	}
	seen := map[string]verdict{}
	out := make([]model.Package, 0, len(pkgs))
	for i := range pkgs {
		p := &pkgs[i]
		v, ok := seen[p.Ecosystem]
		if !ok {
			v.eco = ecosystem.Normalize(p.Ecosystem)
			e, known := ecosystem.Lookup(v.eco)
			switch {
			case v.eco == "":
				v.reason = model.NotCheckedUnsupported
			case !known || !e.Supported():
				v.reason = model.NotCheckedUnsupported
			case checker != nil && !checker.HasEcosystem(v.eco):
				v.reason = model.NotCheckedNoAdvisories
			}
			seen[p.Ecosystem] = v
		}
		switch {
		case v.eco == "":
			g.count[gapKey{model.NotCheckedUnsupported, cmp.Or(p.Type, "unknown"), true}]++
		case v.reason != "":
			g.add(v.reason, v.eco)
		default:
			out = append(out, *p)
		}
	}
	return out, g
}

// gapKey groups packages not checked: by reason and ecosystem, or by
// package type for packages without an ecosystem (noEco).
type gapKey struct {
	reason, ecosystem string
	noEco             bool
}

// gaps counts what a scan did not check.
type gaps struct {
	count map[gapKey]int
	files []model.NotChecked
}

func (g *gaps) add(reason, eco string) { g.count[gapKey{reason, eco, false}]++ }

func (g *gaps) unreadable(w model.Warning) {
	g.files = append(g.files, model.NotChecked{
		Reason:  model.NotCheckedUnreadable,
		Path:    w.Path,
		Layer:   w.Layer,
		Message: fmt.Sprintf("%s NOT READ: the packages it lists were not checked (%s)", w.Path, w.Message),
	})
}

// list returns the groups, the unreadable files first, then the largest
// groups.
func (g *gaps) list() []model.NotChecked {
	out := slices.Clone(g.files)
	for k, n := range g.count {
		nc := model.NotChecked{Reason: k.reason, Ecosystem: k.ecosystem, Packages: n}
		nc.Message = notCheckedMessage(nc, k.noEco)
		out = append(out, nc)
	}
	rank := func(r string) int {
		return slices.Index([]string{model.NotCheckedUnreadable, model.NotCheckedNoAdvisories, model.NotCheckedUnsupported, model.NotCheckedUnparsableVersion}, r)
	}
	slices.SortFunc(out, func(a, b model.NotChecked) int {
		return cmp.Or(cmp.Compare(rank(a.Reason), rank(b.Reason)), cmp.Compare(b.Packages, a.Packages),
			strings.Compare(a.Ecosystem, b.Ecosystem), strings.Compare(a.Path, b.Path))
	})
	if len(out) == 0 {
		return nil
	}
	return out
}

// notCheckedMessage says what a group is and what to do about it:
//
//	775 Debian 12 packages NOT CHECKED: the database has no Debian 12 advisories — run `lockdown db update`
func notCheckedMessage(nc model.NotChecked, noEco bool) string {
	name := strings.ReplaceAll(nc.Ecosystem, ":", " ")
	n := nc.Packages
	switch {
	case noEco && (name == model.TypeDeb || name == model.TypeAPK || name == model.TypeRPM):
		return fmt.Sprintf("%s NOT CHECKED: the distribution release is unknown (no readable os-release)", packages(n, name))
	case noEco:
		return fmt.Sprintf("%s NOT CHECKED: Lockdown knows no vulnerability ecosystem for package type %s", packages(n, name), name)
	case nc.Reason == model.NotCheckedNoAdvisories:
		return fmt.Sprintf("%s NOT CHECKED: the database has no %s advisories — run `%s`", packages(n, name), name, updateCommand(nc.Ecosystem))
	case nc.Reason == model.NotCheckedUnsupported:
		if e, ok := ecosystem.Lookup(nc.Ecosystem); ok && e.Unsupported != "" {
			return fmt.Sprintf("%s NOT CHECKED: %s", packages(n, name), e.Unsupported)
		}
		return fmt.Sprintf("%s NOT CHECKED: Lockdown does not know the %s ecosystem", packages(n, name), name)
	case nc.Reason == model.NotCheckedUnparsableVersion:
		verb := "their installed versions cannot"
		if n == 1 {
			verb = "its installed version cannot"
		}
		return fmt.Sprintf("%s NOT FULLY CHECKED: %s be parsed, so only the advisories' exact version lists were compared", packages(n, name), verb)
	}
	return fmt.Sprintf("%s NOT CHECKED", packages(n, name))
}

func packages(n int, name string) string {
	s := strconv.Itoa(n)
	if name != "" {
		s += " " + name
	}
	if n == 1 {
		return s + " package"
	}
	return s + " packages"
}

// updateCommand is the db update that adds advisories for ecosystem.
func updateCommand(eco string) string {
	base, _, _ := strings.Cut(eco, ":")
	if slices.Contains(vulndb.DefaultEcosystems(), base) {
		return "lockdown db update"
	}
	return "lockdown db update --ecosystem " + base
}

// Catalog opens target and lists its packages.
func Catalog(ctx context.Context, target string, opts Options) (*model.SBOM, error) {
	sbom, err := catalogTarget(ctx, target, opts)
	if err != nil {
		return nil, err
	}
	gobinary.StripSymbols(sbom.Packages)
	return sbom, nil
}

// catalogTarget is Catalog keeping the Go binaries' symbol indexes for
// the matcher.
func catalogTarget(ctx context.Context, target string, opts Options) (*model.SBOM, error) {
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
		IncludeCaches:    opts.IncludeCaches,
		Cache:            opts.Cache,
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
	if purl := t.PURL(); purl != "" {
		out = append(out, purl)
	}
	return out
}
