package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"golang.org/x/mod/semver"

	"github.com/lockdown-sec/lockdown/internal/osv"
)

// Advisories looks advisories up by OSV ecosystem and package name.
// internal/vulndb implements it; AdvisoriesFromOSVZip reads an osv.dev
// ecosystem export directly.
type Advisories interface {
	Lookup(ctx context.Context, ecosystem, name string) ([]osv.Vulnerability, error)
}

// Go modules that Docker engine components are published as.
const (
	ModDocker     = "github.com/docker/docker"
	ModMoby       = "github.com/moby/moby"
	ModRunc       = "github.com/opencontainers/runc"
	ModContainerd = "github.com/containerd/containerd"
)

// memAdvisories is an in-memory index of one ecosystem's advisories.
type memAdvisories map[string][]osv.Vulnerability // ecosystem + "\x00" + name

func (m memAdvisories) Lookup(_ context.Context, ecosystem, name string) ([]osv.Vulnerability, error) {
	return m[ecosystem+"\x00"+name], nil
}

// AdvisoriesFromOSVZip reads an osv.dev ecosystem export (a flat zip of
// <ID>.json records) into memory, keeping only records that affect one of
// the named packages (all when names is empty). Withdrawn records are
// dropped.
func AdvisoriesFromOSVZip(path string, names ...string) (Advisories, error) {
	m := memAdvisories{}
	err := osv.ReadZip(context.Background(), path, path, osv.MaxRecord, func(e osv.ZipEntry) error {
		if e.TooLarge != nil {
			return fmt.Errorf("read %s in %s: %w", e.Name, path, e.TooLarge)
		}
		if len(names) > 0 && !slices.ContainsFunc(names, func(n string) bool { return bytes.Contains(e.Data, []byte(`"`+n+`"`)) }) {
			return nil // cheap pre-filter before decoding
		}
		var v osv.Vulnerability
		if err := json.Unmarshal(e.Data, &v); err != nil {
			return fmt.Errorf("parse %s in %s: %w", e.Name, path, err)
		}
		if v.Withdrawn != nil {
			return nil
		}
		seen := map[string]bool{}
		for _, a := range v.Affected {
			k := a.Package.Ecosystem + "\x00" + a.Package.Name
			if seen[k] || (len(names) > 0 && !slices.Contains(names, a.Package.Name)) {
				continue
			}
			seen[k] = true
			m[k] = append(m[k], v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// goVersionRe finds the leading X.Y.Z[-pre] of a packaged version.
var (
	goVersionRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^v?(\d+)\.(\d+)(?:\.(\d+))?((?:-[0-9A-Za-z.-]+)?)`) })
	preRe       = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^-(rc|beta|alpha)`) })
)

// GoModuleVersion turns a component version as the engine reports it into
// the Go module version advisories use: Debian's "20.10.24+dfsg1" and
// upstream "20.10.24" become "v20.10.24+incompatible" for the docker and
// moby modules (major > 1); runc's "1.1.5+ds1" becomes "v1.1.5";
// containerd's "1.6.20~ds1" becomes "v1.6.20". ok is false when the
// string holds no version.
func GoModuleVersion(module, v string) (string, bool) {
	v = strings.TrimSpace(v)
	v = strings.TrimPrefix(v, "v")
	// Debian and Ubuntu decorations: "+dfsg1", "~ds1", "-0ubuntu1~22.04.1".
	if i := strings.IndexAny(v, "+~"); i >= 0 {
		v = v[:i]
	}
	m := goVersionRe().FindStringSubmatch(v)
	if m == nil {
		return "", false
	}
	patch := m[3]
	if patch == "" {
		patch = "0"
	}
	pre := m[4]
	// Distribution revisions look like pre-releases ("1.6.20-1"); keep
	// only real pre-release tags (rc, beta, alpha).
	if pre != "" && !preRe().MatchString(pre) {
		pre = ""
	}
	out := "v" + m[1] + "." + m[2] + "." + patch + pre
	if !semver.IsValid(out) {
		return "", false
	}
	if (module == ModDocker || module == ModMoby) && semver.Major(out) != "v0" && semver.Major(out) != "v1" {
		out += "+incompatible"
	}
	return out, true
}

// affects reports whether the Go module version v (with "v") falls in one
// of the advisory's SEMVER ranges or explicit versions for module. It is
// the one place the audit evaluates OSV ranges; internal/match does this
// properly for scans and may replace it.
func affects(a osv.Affected, v string) bool {
	bare := strings.TrimPrefix(v, "v")
	if slices.Contains(a.Versions, bare) || slices.Contains(a.Versions, v) {
		return true
	}
	cmp := func(x string) int {
		if x == "0" {
			return 1 // v > "0" for every real version
		}
		return semver.Compare(v, "v"+strings.TrimPrefix(x, "v"))
	}
	for _, r := range a.Ranges {
		if r.Type != osv.RangeSemver {
			continue
		}
		in := false
		for _, e := range r.Events {
			switch {
			case e.Introduced != "":
				if cmp(e.Introduced) >= 0 {
					in = true
				}
			case e.Fixed != "":
				if cmp(e.Fixed) >= 0 {
					in = false
				}
			case e.LastAffected != "":
				if cmp(e.LastAffected) > 0 {
					in = false
				}
			case e.Limit != "":
				if cmp(e.Limit) >= 0 {
					in = false
				}
			}
		}
		if in {
			return true
		}
	}
	return false
}

// Vuln is one advisory that affects an engine component.
type Vuln struct {
	ID      string
	Aliases []string
	Summary string
	Fixed   string // lowest fixed version above the installed one, "" when none
}

// componentVulns returns the advisories for modules that affect version
// v, one per ID, in ID order.
func componentVulns(ctx context.Context, adv Advisories, v string, modules ...string) ([]Vuln, error) {
	byID := map[string]Vuln{}
	for _, mod := range modules {
		recs, err := adv.Lookup(ctx, "Go", mod)
		if err != nil {
			return nil, fmt.Errorf("look up advisories for %s: %w", mod, err)
		}
		for _, r := range recs {
			if r.Withdrawn != nil {
				continue
			}
			for _, a := range r.Affected {
				if a.Package.Name != mod || !affects(a, v) {
					continue
				}
				vu := byID[r.ID]
				vu.ID, vu.Aliases, vu.Summary = r.ID, r.Aliases, r.Summary
				if f := nextFixed(a, v); f != "" && (vu.Fixed == "" || semver.Compare("v"+f, "v"+vu.Fixed) < 0) {
					vu.Fixed = f
				}
				byID[r.ID] = vu
			}
		}
	}
	out := make([]Vuln, 0, len(byID))
	for _, v := range byID {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b Vuln) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// nextFixed returns the lowest fixed event above v.
func nextFixed(a osv.Affected, v string) string {
	best := ""
	for _, r := range a.Ranges {
		for _, e := range r.Events {
			if e.Fixed == "" || semver.Compare("v"+e.Fixed, v) <= 0 {
				continue
			}
			if best == "" || semver.Compare("v"+e.Fixed, "v"+best) < 0 {
				best = e.Fixed
			}
		}
	}
	return best
}

// newestFixed returns the highest fixed version in any record for module:
// the newest release line the advisory data knows about.
func newestFixed(ctx context.Context, adv Advisories, module string) (string, error) {
	recs, err := adv.Lookup(ctx, "Go", module)
	if err != nil {
		return "", fmt.Errorf("look up advisories for %s: %w", module, err)
	}
	best := ""
	for _, r := range recs {
		for _, a := range r.Affected {
			if a.Package.Name != module {
				continue
			}
			for _, rg := range a.Ranges {
				for _, e := range rg.Events {
					if e.Fixed != "" && semver.IsValid("v"+e.Fixed) && (best == "" || semver.Compare("v"+e.Fixed, "v"+best) > 0) {
						best = e.Fixed
					}
				}
			}
		}
	}
	return best, nil
}

// cachedAdvisories remembers lookups, so that trying many versions reads
// each module's records once.
type cachedAdvisories struct {
	adv  Advisories
	recs map[string][]osv.Vulnerability
}

func (c *cachedAdvisories) Lookup(ctx context.Context, ecosystem, name string) ([]osv.Vulnerability, error) {
	k := ecosystem + "\x00" + name
	if r, ok := c.recs[k]; ok {
		return r, nil
	}
	r, err := c.adv.Lookup(ctx, ecosystem, name)
	if err != nil {
		return nil, err
	}
	if c.recs == nil {
		c.recs = map[string][]osv.Vulnerability{}
	}
	c.recs[k] = r
	return r, nil
}

// lowestUnaffected returns the lowest fixed version above v (Go module
// form, "v1.2.3") in the records of modules that no advisory for modules
// affects, without the "v" (nor "+incompatible"); "" when every one is
// affected. Pre-releases are not recommended. With minLine ("v28.3"), only
// releases on that line or later count.
func lowestUnaffected(ctx context.Context, adv Advisories, v, minLine string, modules ...string) (string, error) {
	var cands []string
	for _, mod := range modules {
		recs, err := adv.Lookup(ctx, "Go", mod)
		if err != nil {
			return "", fmt.Errorf("look up advisories for %s: %w", mod, err)
		}
		for _, r := range recs {
			for _, a := range r.Affected {
				if a.Package.Name != mod {
					continue
				}
				for _, rg := range a.Ranges {
					for _, e := range rg.Events {
						if e.Fixed != "" && semver.IsValid("v"+e.Fixed) && semver.Prerelease("v"+e.Fixed) == "" &&
							semver.Compare("v"+e.Fixed, v) > 0 && !slices.Contains(cands, e.Fixed) &&
							(minLine == "" || semver.Compare(semver.MajorMinor("v"+e.Fixed), minLine) >= 0) {
							cands = append(cands, e.Fixed)
						}
					}
				}
			}
		}
	}
	slices.SortFunc(cands, func(a, b string) int { return semver.Compare("v"+a, "v"+b) })
	for _, c := range cands {
		vs, err := componentVulns(ctx, adv, "v"+c, modules...)
		if err != nil {
			return "", err
		}
		if len(vs) == 0 {
			return strings.TrimSuffix(c, "+incompatible"), nil
		}
	}
	return "", nil
}
