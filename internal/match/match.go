package match

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/catalog/gobinary"
	"github.com/lockdown-sec/lockdown/internal/ecosystem"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/osv"
	"github.com/lockdown-sec/lockdown/internal/version"
)

// Source gives the advisories that name one package in one ecosystem
// (already normalised, see ecosystem.Normalize). internal/vulndb's store
// implements it.
type Source interface {
	Lookup(ctx context.Context, ecosystem, name string) ([]osv.Vulnerability, error)
}

// Options tune Match. The zero value works.
type Options struct {
	// IgnoreUnfixed drops findings that have no fixed version.
	IgnoreUnfixed bool
	// ShowUnderInvestigation keeps findings whose every advisory says the
	// vendor is still investigating whether the package is affected
	// (Ubuntu's needs-triage); by default they are left out, as Trivy does.
	ShowUnderInvestigation bool
	// GoReachability, when not empty, keeps only the Go findings whose
	// reachability state is listed (model.ReachPresent, …); other findings
	// are kept.
	GoReachability []string
	// Logger receives debug messages; nil discards them.
	Logger *slog.Logger
	// NotComparable, when set, is called once for each package whose
	// installed version the ecosystem's scheme cannot parse while
	// advisories name it: only their exact versions lists were compared,
	// no ranges, so the package was not fully checked.
	NotComparable func(p *model.Package, ecosystem string)
	// Fixed, when set, is called once for each advisory that names a
	// package and does not affect it because its installed version has the
	// fix (FixedBy): what an OpenVEX "fixed" statement says.
	Fixed func(p *model.Package, v *osv.Vulnerability, fixed string)
}

// Match matches packages against the advisories of db and returns one
// finding per (package, vulnerability), sorted by severity (highest
// first), package and rule ID.
//
// Which advisories a package is looked up under, and with which version,
// is its ecosystem's query key (ecosystem.Ecosystem.Query): the source
// package and version for Debian and Ubuntu, the origin for apk
// distributions, the binary or source RPM with its epoch for RPM ones, the
// module path ("stdlib" for the toolchain) for Go, the PEP 503 name for
// PyPI, else the package's Name and Version.
//
// Only affected entries whose ecosystem (normalised) equals the package's
// and whose name (in the ecosystem's normal form) equals the looked-up name
// count. Withdrawn records are ignored.
//
// RPM modularity: a range is modular when one of its versions has a
// release with "module_el" or "module+el" (AlmaLinux, RHEL). A modular
// range is evaluated only for a modular package (Modularity set, or such a
// release), a non-modular range only for a non-modular one; a range with
// no version but introduced "0" is evaluated for both. Advisories do not
// name the module stream, so two streams of one module are not told apart.
//
// Aliases: advisories that share an ID or alias (or, for records with one
// "upstream" ID such as ALPINE-CVE-…, that upstream ID) are one
// vulnerability for one package: one finding, RuleID = the lowest CVE ID
// among them (else the lowest record ID), Aliases = every other ID. Its
// fixed version is the highest fix any of them names (upgrading to it fixes
// the vulnerability by every source); its severity the highest. A record
// whose upstream names several CVEs (a DSA or DLA fixing several) stands
// for each of them: one finding per CVE, with the record's ID as an alias.
//
// A version that cannot be parsed, an unknown ecosystem and an advisory
// whose events cannot be parsed become warnings; only a failing Source or a
// cancelled ctx is an error.
func Match(ctx context.Context, db Source, pkgs []model.Package, opts Options) ([]model.Finding, []model.Warning, error) {
	m := &matcher{
		db:      db,
		opts:    opts,
		log:     opts.Logger,
		ecos:    map[string]ecosystem.Ecosystem{},
		lookups: map[string][]osv.Vulnerability{},
		badEco:  map[string]int{},
		bins:    goBinaries(pkgs),
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	var findings []model.Finding
	noEco := 0
	for i := range pkgs {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		p := &pkgs[i]
		eco := ecosystem.Normalize(p.Ecosystem)
		if eco == "" {
			noEco++
			continue
		}
		fs, err := m.matchPackage(ctx, p, eco)
		if err != nil {
			return nil, nil, err
		}
		findings = append(findings, fs...)
	}
	if noEco > 0 {
		m.warnings = append(m.warnings, model.Warning{
			Message: fmt.Sprintf("%d packages have no ecosystem and were not matched", noEco)})
	}
	for _, eco := range slices.Sorted(maps.Keys(m.badEco)) {
		m.warnings = append(m.warnings, model.Warning{
			Message: fmt.Sprintf("no version scheme for ecosystem %q: %d packages not matched", eco, m.badEco[eco])})
	}
	sortFindings(findings)
	return findings, m.warnings, nil
}

type matcher struct {
	db       Source
	opts     Options
	log      *slog.Logger
	ecos     map[string]ecosystem.Ecosystem // by normalised name; zero when unsupported
	lookups  map[string][]osv.Vulnerability
	badEco   map[string]int
	bins     map[string]*goBinary // Go executables by location
	warnings []model.Warning
}

// hit is one advisory that affects one package.
type hit struct {
	v      *osv.Vulnerability
	a      *osv.Affected // the first matching affected entry
	fixed  string
	sev    model.Severity
	vector string
	vendor string // a vendor severity word that is not Lockdown's ("negligible")
	status string // the vendor's status without a fix (model.StatusWillNotFix, …); "" affected
	// cve, when set, is the one upstream CVE of a bundle record (see
	// upstreamCVEs) that this hit stands for.
	cve string
}

// ecosystem returns the supported ecosystem of a normalised ecosystem
// string; ok is false for an unknown or unsupported one.
func (m *matcher) ecosystem(eco string) (ecosystem.Ecosystem, bool) {
	e, seen := m.ecos[eco]
	if !seen {
		var ok bool
		if e, ok = ecosystem.Lookup(eco); !ok || !e.Supported() {
			e = ecosystem.Ecosystem{}
		}
		m.ecos[eco] = e
	}
	return e, e.Supported()
}

func (m *matcher) lookup(ctx context.Context, eco, name string) ([]osv.Vulnerability, error) {
	key := eco + "\x00" + name
	if vs, ok := m.lookups[key]; ok {
		return vs, nil
	}
	vs, err := m.db.Lookup(ctx, eco, name)
	if err != nil {
		return nil, fmt.Errorf("look up %s package %s: %w", eco, name, err)
	}
	m.lookups[key] = vs
	return vs, nil
}

func (m *matcher) warn(p *model.Package, format string, args ...any) {
	w := model.Warning{Path: p.Location, Message: fmt.Sprintf(format, args...)}
	if p.Layer != nil {
		w.Layer = p.Layer.DiffID
	}
	m.warnings = append(m.warnings, w)
}

func (m *matcher) matchPackage(ctx context.Context, p *model.Package, eco string) ([]model.Finding, error) {
	e, ok := m.ecosystem(eco)
	if !ok {
		m.badEco[eco]++
		return nil, nil
	}
	scheme := e.SchemeFor(p)
	name, ver := e.Query(p)
	vulns, err := m.lookup(ctx, eco, name)
	if err != nil {
		return nil, err
	}
	// An installed version the scheme cannot read ("(devel)" of a Go main
	// module built from a checkout) can still be named in an advisory's
	// versions list; ranges cannot be evaluated for it. One warning for the
	// package, not one per advisory.
	_, perr := scheme.Parse(ver)
	if perr != nil && len(vulns) > 0 {
		m.warn(p, "%s %s (%s): version not comparable, only exact versions lists checked against %d advisories: %v", name, ver, eco, len(vulns), perr)
		if m.opts.NotComparable != nil {
			m.opts.NotComparable(p, eco)
		}
	}
	modular := p.Type == model.TypeRPM && (p.Modularity != "" || isModularEVR(ver))
	var hits []hit
	for vi := range vulns {
		v := &vulns[vi]
		if v.Withdrawn != nil {
			continue
		}
		var h *hit
		fixedBy := ""
		for ai := range v.Affected {
			a := &v.Affected[ai]
			if ecosystem.Normalize(a.Package.Ecosystem) != eco || e.PackageName(a.Package.Name) != name {
				continue
			}
			aff := *a
			if scheme.Name() == "rpm" {
				aff.Ranges = modularRanges(a.Ranges, modular)
			}
			ok, fixed, err := Affects(*v, aff, scheme, ver)
			if err != nil && perr != nil {
				continue // already said once for this package
			}
			if err != nil {
				m.warn(p, "match %s %s (%s) against %s: %v", name, ver, eco, v.ID, err)
				m.log.Debug("advisory not evaluated", "package", name, "version", ver, "advisory", v.ID, "error", err)
				continue
			}
			if !ok {
				if m.opts.Fixed != nil {
					if f, ok := FixedBy(*v, aff, scheme, ver); ok && (fixedBy == "" || lessVersion(scheme, fixedBy, f)) {
						fixedBy = f
					}
				}
				continue
			}
			sev, vector := severityOf(v, a)
			vendor := vendorSeverity(v, a)
			if vendor != "" {
				sev, vector = model.SeverityLow, ""
			}
			if h == nil {
				h = &hit{v: v, a: a, fixed: fixed, sev: sev, vector: vector, vendor: vendor, status: vendorStatus(a)}
				continue
			}
			// Several entries of one record: the lowest fix, the highest severity.
			if fixed != "" && (h.fixed == "" || lessVersion(scheme, fixed, h.fixed)) {
				h.fixed = fixed
			}
			if sev > h.sev {
				h.sev, h.vector, h.vendor = sev, vector, vendor
			}
			if st := vendorStatus(a); statusRank(st) < statusRank(h.status) {
				h.status = st
			}
		}
		if h == nil {
			if fixedBy != "" {
				m.opts.Fixed(p, v, fixedBy)
			}
			continue
		}
		if cves := upstreamCVEs(v); len(cves) > 1 {
			// A bundle (a DSA or DLA fixing several CVEs): one hit per CVE.
			for _, c := range cves {
				hc := *h
				hc.cve = c
				hits = append(hits, hc)
			}
			continue
		}
		hits = append(hits, *h)
	}
	return m.findings(p, name, ver, scheme, hits), nil
}

// upstreamCVEs are the distinct CVE IDs in a record's upstream list. OSV's
// upstream names the vulnerabilities a record is derived from: a
// distribution advisory that fixes several CVEs (osv.dev's DSA and DLA
// records, the Debian tracker's lists) names each there, and each is its
// own vulnerability. Aliases, by contrast, are other names of one
// vulnerability (a Go record with two CVE aliases stays one finding).
func upstreamCVEs(v *osv.Vulnerability) []string {
	var out []string
	for _, id := range v.Upstream {
		if strings.HasPrefix(id, "CVE-") && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// lessVersion orders two version strings with scheme; strings that do not
// parse are ordered as text.
func lessVersion(s version.Scheme, a, b string) bool {
	x, errA := s.Parse(a)
	y, errB := s.Parse(b)
	if errA != nil || errB != nil {
		return a < b
	}
	return s.Compare(x, y) < 0
}

func isModularEVR(evr string) bool {
	return strings.Contains(evr, "module_el") || strings.Contains(evr, "module+el")
}

// modularRanges keeps the ranges that apply to a package of the given
// modularity (see Match).
func modularRanges(rs []osv.Range, modular bool) []osv.Range {
	out := make([]osv.Range, 0, len(rs))
	for _, r := range rs {
		known, mod := false, false
		for _, e := range r.Events {
			for _, s := range []string{e.Introduced, e.Fixed, e.LastAffected, e.Limit} {
				if s == "" || s == "0" || s == "*" {
					continue
				}
				known = true
				if isModularEVR(s) {
					mod = true
				}
			}
		}
		if !known || mod == modular {
			out = append(out, r)
		}
	}
	return out
}

// recordIDs are the IDs a record is known by, for grouping aliases.
func recordIDs(v *osv.Vulnerability) []string {
	ids := append([]string{v.ID}, v.Aliases...)
	if len(v.Upstream) == 1 {
		ids = append(ids, v.Upstream[0])
	} else if cves := upstreamCVEs(v); len(cves) == 1 {
		// osv.dev's DLA-3008-1: upstream CVE-2022-1292 and DEBIAN-CVE-2022-1292.
		ids = append(ids, cves[0])
	}
	return ids
}

// groupIDs are the IDs that join a hit with others: its record's, or for
// one CVE of a bundle only that CVE (the bundle's own ID is shared by all
// its CVEs and must not join them).
func (h *hit) groupIDs() []string {
	if h.cve != "" {
		return []string{h.cve}
	}
	return recordIDs(h.v)
}

// shownIDs are the IDs a finding lists for a hit: groupIDs plus, for one
// CVE of a bundle, the bundle's own ID (so it can be ignored by it).
func (h *hit) shownIDs() []string {
	if h.cve != "" {
		return []string{h.cve, h.v.ID}
	}
	return recordIDs(h.v)
}

// findings groups the hits of one package by shared IDs and makes one
// finding per group.
func (m *matcher) findings(p *model.Package, name, ver string, scheme version.Scheme, hits []hit) []model.Finding {
	if len(hits) == 0 {
		return nil
	}
	// Union-find over hits sharing any ID.
	parent := make([]int, len(hits))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	owner := map[string]int{}
	for i := range hits {
		for _, id := range hits[i].groupIDs() {
			if j, ok := owner[id]; ok {
				parent[find(i)] = find(j)
			} else {
				owner[id] = i
			}
		}
	}
	groups := map[int][]int{}
	for i := range hits {
		r := find(i)
		groups[r] = append(groups[r], i)
	}
	var out []model.Finding
	for _, r := range slices.Sorted(maps.Keys(groups)) {
		f, keep := m.finding(p, ver, scheme, hits, groups[r])
		if keep {
			out = append(out, f)
		}
	}
	return out
}

func (m *matcher) finding(p *model.Package, ver string, scheme version.Scheme, hits []hit, group []int) (model.Finding, bool) {
	members := make([]*hit, len(group))
	for k, i := range group {
		members[k] = &hits[i]
	}
	slices.SortFunc(members, func(a, b *hit) int { return strings.Compare(a.v.ID, b.v.ID) })

	idSet := map[string]bool{}
	for _, h := range members {
		for _, id := range h.shownIDs() {
			idSet[id] = true
		}
	}
	ids := slices.Sorted(maps.Keys(idSet))
	ruleID := members[0].v.ID
	for _, id := range ids {
		if strings.HasPrefix(id, "CVE-") {
			ruleID = id
			break
		}
	}
	var aliases []string
	for _, id := range ids {
		if id != ruleID {
			aliases = append(aliases, id)
		}
	}
	primary := members[0]
	for _, h := range members {
		if h.v.ID == ruleID {
			primary = h
		}
	}

	best := members[0]
	fixed := ""
	for _, h := range members {
		if h.sev > best.sev {
			best = h
		}
		if h.fixed != "" && (fixed == "" || lessVersion(scheme, fixed, h.fixed)) {
			fixed = h.fixed
		}
	}
	if fixed == "" && m.opts.IgnoreUnfixed {
		return model.Finding{}, false
	}
	status := model.StatusUnfixed
	if fixed == "" {
		// The most actionable of the members' vendor statuses.
		status = members[0].status
		for _, h := range members[1:] {
			if statusRank(h.status) < statusRank(status) {
				status = h.status
			}
		}
		if status == model.StatusUnderInvestigation && !m.opts.ShowUnderInvestigation {
			return model.Finding{}, false
		}
		if status == "" {
			status = model.StatusUnfixed
		}
	}

	pkg := copyPackage(p)
	f := model.Finding{
		Kind:             model.KindVulnerability,
		RuleID:           ruleID,
		Aliases:          aliases,
		Title:            title(primary.v, members),
		Severity:         best.sev,
		Status:           status,
		VendorSeverity:   best.vendor,
		Subject:          p.Name + " " + p.Version,
		Scope:            "package",
		Package:          pkg,
		InstalledVersion: p.Version,
		FixedVersion:     fixed,
		Layer:            pkg.Layer,
		Location:         p.Location,
		References:       references(primary, members),
		CVSS:             best.vector,
		Source:           source(primary.v, primary.a),
		Remediation:      "no fix available",
	}
	if fixed != "" {
		f.Status = model.StatusFixed
		f.Remediation = "upgrade " + p.Name + " to " + fixed
	}
	if len(members) > 1 {
		f.Evidence = fmt.Sprintf("%s %s matched by %s", p.Name, ver, strings.Join(memberIDs(members), ", "))
	}
	if p.Type == model.TypeGolang && p.Metadata[gobinary.MetaGoVersion] != "" { // a module in a binary
		recs := make([]*osv.Vulnerability, len(members))
		for i, h := range members {
			recs[i] = h.v
		}
		f.Reachability = reachability(m.bins[p.Location], p.Name, ver, scheme, recs)
		if len(m.opts.GoReachability) > 0 && !slices.Contains(m.opts.GoReachability, f.Reachability.State) {
			return model.Finding{}, false
		}
	}
	return f, true
}

func memberIDs(ms []*hit) []string {
	out := make([]string, len(ms))
	for i, h := range ms {
		out[i] = h.v.ID
	}
	return out
}

func title(primary *osv.Vulnerability, members []*hit) string {
	if t := titleOf(primary); t != "" {
		return t
	}
	for _, h := range members {
		if t := titleOf(h.v); t != "" {
			return t
		}
	}
	return ""
}

func titleOf(v *osv.Vulnerability) string {
	if s := strings.TrimSpace(v.Summary); s != "" {
		return s
	}
	return firstParagraph(v.Details)
}

// maxTitle bounds a title taken from details, in bytes.
const maxTitle = 160

// firstParagraph is the text up to the first blank line, its lines joined
// with spaces: details are Markdown, and sources such as the Ubuntu CVE
// Tracker hard-wrap them, so the first line alone can stop mid-sentence.
// Past maxTitle it is cut at a word boundary and ends with "…".
func firstParagraph(s string) string {
	var words []string
	for line := range strings.Lines(strings.TrimSpace(s)) {
		if strings.TrimSpace(line) == "" {
			break
		}
		words = append(words, strings.Fields(line)...)
	}
	out := strings.Join(words, " ")
	if len(out) <= maxTitle {
		return out
	}
	n := 0
	for i, w := range words {
		if i > 0 && n+1+len(w) > maxTitle-len("…") {
			return strings.Join(words[:i], " ") + "…"
		}
		if i > 0 {
			n++
		}
		n += len(w)
	}
	return out
}

func references(primary *hit, members []*hit) []string {
	seen := map[string]bool{}
	var out []string
	add := func(v *osv.Vulnerability) {
		for _, r := range v.References {
			if r.URL != "" && !seen[r.URL] {
				seen[r.URL] = true
				out = append(out, r.URL)
			}
		}
	}
	add(primary.v)
	for _, h := range members {
		add(h.v)
	}
	return out
}

// source is database_specific.source of the record or, failing that, of
// the matching affected entry (Debian and Alpine put it there); else the
// prefix of the record ID ("GO", "GHSA", "ALSA").
func source(v *osv.Vulnerability, a *osv.Affected) string {
	for _, raw := range []json.RawMessage{v.DatabaseSpecific, a.DatabaseSpecific} {
		if len(raw) == 0 {
			continue
		}
		var ds struct {
			Source json.RawMessage `json:"source"`
		}
		if json.Unmarshal(raw, &ds) == nil && len(ds.Source) > 0 {
			var s string
			if json.Unmarshal(ds.Source, &s) == nil && s != "" {
				return s
			}
		}
	}
	prefix, _, _ := strings.Cut(v.ID, "-")
	return prefix
}

func copyPackage(p *model.Package) *model.Package {
	c := *p
	c.Licenses = slices.Clone(p.Licenses)
	c.Metadata = maps.Clone(p.Metadata)
	delete(c.Metadata, gobinary.MetaSymbols) // for matching only
	delete(c.Metadata, gobinary.MetaSymbolsError)
	if p.Layer != nil {
		l := *p.Layer
		c.Layer = &l
	}
	return &c
}

func sortFindings(fs []model.Finding) {
	slices.SortStableFunc(fs, func(a, b model.Finding) int {
		if c := cmp.Compare(b.Severity, a.Severity); c != 0 {
			return c
		}
		if c := strings.Compare(a.Package.Name, b.Package.Name); c != 0 {
			return c
		}
		if c := strings.Compare(a.Package.Version, b.Package.Version); c != 0 {
			return c
		}
		if c := strings.Compare(a.RuleID, b.RuleID); c != 0 {
			return c
		}
		if c := strings.Compare(a.Package.Location, b.Package.Location); c != 0 {
			return c
		}
		return strings.Compare(a.Package.ID, b.Package.ID)
	})
}

// vendorStatus is the status a converter put in an affected entry's
// database_specific (internal/vulndb/distro's VendorStatuses); "" is plainly
// affected.
func vendorStatus(a *osv.Affected) string {
	if len(a.DatabaseSpecific) == 0 {
		return ""
	}
	var ds struct {
		Status string `json:"status"`
	}
	if json.Unmarshal(a.DatabaseSpecific, &ds) != nil {
		return ""
	}
	switch ds.Status {
	case model.StatusFixDeferred, model.StatusWillNotFix, model.StatusEndOfLife, model.StatusUnderInvestigation:
		return ds.Status
	}
	return ""
}

// statusRank orders statuses without a fix from the most actionable:
// affected, fix deferred, will not fix, end of life, under investigation.
func statusRank(s string) int {
	switch s {
	case model.StatusFixDeferred:
		return 1
	case model.StatusWillNotFix:
		return 2
	case model.StatusEndOfLife:
		return 3
	case model.StatusUnderInvestigation:
		return 4
	}
	return 0
}
