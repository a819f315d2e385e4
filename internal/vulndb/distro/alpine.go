package distro

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/lockdown-sec/lockdown/internal/osv"
)

var (
	alpineBranchRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^v?([0-9]+\.[0-9]+)$`) })
	cveRE          = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}`) })
	advisoryIDRE   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9._]+)+$`) })
	// sloppyCVERE finds CVE IDs written "CVE_2019-2426" or "CVE 2018-16859".
	sloppyCVERE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\bCVE[ _]([0-9]{4})[-_]([0-9]{4,})\b`) })
)

// AlpineEcosystem returns the OSV ecosystem of an Alpine branch given as a
// secdb directory name or distroversion ("v3.10", "3.10", "edge").
func AlpineEcosystem(branch string) (string, bool) {
	if branch == "edge" {
		return "Alpine:edge", true
	}
	m := alpineBranchRE().FindStringSubmatch(branch)
	if m == nil {
		return "", false
	}
	return "Alpine:v" + m[1], true
}

// Secdb converts Alpine secdb files (the JSON served at
// secdb.alpinelinux.org/<branch>/<repo>.json:
// packages[].pkg.{name, secfixes: {"fixed version": ["CVE-…", …]}}) to OSV.
//
// Records have osv.dev's Alpine shape: one record per advisory ID
// ("ALPINE-CVE-2019-1543"), with one affected entry per (branch, package)
// holding an ECOSYSTEM range "introduced 0, fixed V" per fixed version the
// secdb lists (several ranges when one CVE is listed under several fixed
// versions: affected below the highest). A fixed version "0" means the
// branch was never affected and gives no entry. An ID that is not a CVE
// (XSA-207, wnpa-sec-2017-18) becomes "ALPINE-<ID>"; extra words next to a
// CVE ("CVE-2016-6258 XSA-182") go to related. Add every file, then take
// Records. The zero value is ready to use.
//
// Wolfi and Chainguard publish the same format (packages.wolfi.dev/os/
// security.json, packages.cgr.dev/chainguard/security.json), for a rolling
// distribution without branches: with Distro set to DistroWolfi or
// DistroChainguard, every file is that ecosystem ("Wolfi", "Chainguard"),
// records are "WOLFI-<ID>" / "CHAINGUARD-<ID>" and the branch is ignored.
type Secdb struct {
	Distro string // "" (Alpine), DistroWolfi, DistroChainguard
	recs   map[string]*secdbRecord
}

// Secdb distributions other than Alpine.
const (
	DistroWolfi      = "wolfi"
	DistroChainguard = "chainguard"
)

// secdbFlavour is what differs between the secdb distributions: the
// ecosystem of a branch, the record ID prefix and the provenance source.
func (s *Secdb) flavour(branch string) (eco, prefix, source string, ok bool) {
	switch s.Distro {
	case DistroWolfi:
		return "Wolfi", "WOLFI-", SourceWolfi, true
	case DistroChainguard:
		return "Chainguard", "CHAINGUARD-", SourceChainguard, true
	case "":
		eco, ok := AlpineEcosystem(branch)
		return eco, "ALPINE-", SourceAlpine, ok
	}
	return "", "", "", false
}

type secdbRecord struct {
	v   osv.Vulnerability
	set affectedSet
}

type secdbFile struct {
	DistroVersion string `json:"distroversion"`
	Packages      []struct {
		Pkg struct {
			Name     string                     `json:"name"`
			Secfixes map[string]json.RawMessage `json:"secfixes"`
		} `json:"pkg"`
	} `json:"packages"`
}

// Add reads one secdb JSON file. branch is the branch the file belongs to
// (its directory, "v3.10"); "" takes the file's distroversion. file names
// the file in provenance and messages. A file that is not secdb JSON is an
// error; a bad package or advisory ID is rejected and skipped.
func (s *Secdb) Add(r io.Reader, file, branch string, reject Reject) error {
	var f secdbFile
	dec := json.NewDecoder(r)
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("parse alpine secdb %s: %w", file, err)
	}
	if branch == "" {
		branch = f.DistroVersion
	}
	eco, prefix, source, ok := s.flavour(branch)
	if !ok && s.Distro != "" {
		return fmt.Errorf("parse secdb %s: unknown distribution %q", file, s.Distro)
	}
	if !ok {
		return fmt.Errorf("parse alpine secdb %s: cannot tell the branch (directory or distroversion %q; want vN.N)", file, branch)
	}
	if s.recs == nil {
		s.recs = map[string]*secdbRecord{}
	}
	for i, p := range f.Packages {
		name := strings.TrimSpace(p.Pkg.Name)
		where := fmt.Sprintf("%s: packages[%d]", file, i)
		if name == "" {
			if len(p.Pkg.Secfixes) > 0 {
				reject.call(where, fmt.Errorf("package without a name"))
			}
			continue
		}
		where = fmt.Sprintf("%s: package %s", file, name)
		fixedVersions := make([]string, 0, len(p.Pkg.Secfixes))
		for v := range p.Pkg.Secfixes {
			fixedVersions = append(fixedVersions, v)
		}
		sort.Slice(fixedVersions, func(i, j int) bool { return naturalLess(fixedVersions[i], fixedVersions[j]) })
		for _, fixed := range fixedVersions {
			raw := p.Pkg.Secfixes[fixed]
			var ids []json.RawMessage
			if err := json.Unmarshal(raw, &ids); err != nil {
				reject.call(where, fmt.Errorf("secfixes %q: want a list of IDs: %w", fixed, err))
				continue
			}
			fixed = strings.TrimSpace(fixed)
			if fixed == "0" || len(ids) == 0 {
				continue // never affected in this branch
			}
			if fixed == "" {
				reject.call(where, fmt.Errorf("empty fixed version"))
				continue
			}
			for _, rawID := range ids {
				var text string
				if err := json.Unmarshal(rawID, &text); err != nil {
					reject.call(where, fmt.Errorf("secfixes %q: ID %s is not a string", fixed, rawID))
					continue
				}
				id, upstream, related, ok := alpineID(text, prefix)
				if !ok {
					reject.call(where, fmt.Errorf("secfixes %q: no advisory ID in %q", fixed, text))
					continue
				}
				rec := s.recs[id]
				if rec == nil {
					rec = &secdbRecord{v: osv.Vulnerability{
						ID:               id,
						DatabaseSpecific: provenance("source", source),
					}}
					if upstream != "" {
						rec.v.Upstream = []string{upstream}
						if cveRE().MatchString(upstream) {
							rec.v.Aliases = []string{upstream}
							if s.Distro == "" {
								rec.v.References = []osv.Reference{{Type: "ADVISORY", URL: "https://security.alpinelinux.org/vuln/" + upstream}}
							}
						}
					}
					s.recs[id] = rec
				}
				for _, x := range related {
					if !contains(rec.v.Related, x) {
						rec.v.Related = append(rec.v.Related, x)
					}
				}
				a := rec.set.get(eco, name)
				if a.DatabaseSpecific == nil {
					a.DatabaseSpecific = provenance("source", source, "file", file)
				}
				addRange(a, ecosystemRange(fixed))
			}
		}
	}
	return nil
}

// Records returns the converted records sorted by ID.
func (s *Secdb) Records() []osv.Vulnerability {
	ids := make([]string, 0, len(s.recs))
	for id := range s.recs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]osv.Vulnerability, 0, len(ids))
	for _, id := range ids {
		r := s.recs[id]
		v := r.v
		v.Affected = r.set.list()
		out = append(out, v)
	}
	return out
}

// alpineID reads a secfixes entry ("CVE-2019-1543", "CVE-2016-6258
// XSA-182", "CVE-2017-8073.patch", "XSA-207") into the record ID (prefix,
// "ALPINE-", and the ID), the upstream ID and related IDs.
func alpineID(text, prefix string) (id, upstream string, related []string, ok bool) {
	words := strings.Fields(sloppyCVERE().ReplaceAllString(text, "CVE-$1-$2"))
	for _, w := range words {
		if cve := cveRE().FindString(w); cve != "" && upstream == "" {
			upstream = cve
			continue
		}
		if advisoryIDRE().MatchString(w) {
			related = append(related, w)
		}
	}
	if upstream == "" {
		if len(related) == 0 {
			return "", "", nil, false
		}
		upstream, related = related[0], related[1:]
	}
	if strings.HasPrefix(upstream, prefix) {
		return upstream, "", related, true
	}
	return prefix + upstream, upstream, related, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
