// Package suppress hides findings that the user has accepted: an ignore file
// (IDs with a reason and an optional expiry date) and OpenVEX documents
// (`not_affected` and `fixed` statements). What it hides is returned with the
// reason, never dropped silently.
package suppress

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/openvex/go-vex/pkg/vex"
	"github.com/package-url/packageurl-go"
	"sigs.k8s.io/yaml"

	"github.com/lockdown-sec/lockdown/internal/ecosystem"
	"github.com/lockdown-sec/lockdown/internal/model"
)

// Rule is one entry of an ignore file.
type Rule struct {
	ID      string `json:"id"`
	Reason  string `json:"reason,omitempty"`
	Expires string `json:"expires,omitempty"` // YYYY-MM-DD: the rule stops applying after that day
	// Packages limits the rule to these package names or PURLs; empty means every package.
	Packages []string `json:"packages,omitempty"`

	expires time.Time
	line    int
}

// IgnoreFile is a parsed ignore file.
type IgnoreFile struct {
	Path  string
	Rules []Rule
}

type yamlIgnore struct {
	Ignore []Rule `json:"ignore"`
}

// LoadIgnoreFile reads an ignore file. Two forms are accepted:
//
//	# YAML
//	ignore:
//	  - id: CVE-2023-0001
//	    reason: the vulnerable function is never called
//	    expires: 2027-01-31
//	    packages: [openssl]
//
// or one ID a line, with an optional reason after `#` and an optional
// `exp:YYYY-MM-DD` (as in .trivyignore):
//
//	CVE-2023-0001 exp:2027-01-31 # not reachable
func LoadIgnoreFile(path string) (*IgnoreFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ignore file %s: %w", path, err)
	}
	return ParseIgnoreFile(path, data)
}

// ParseIgnoreFile parses an ignore file's content; path is used in errors.
func ParseIgnoreFile(path string, data []byte) (*IgnoreFile, error) {
	f := &IgnoreFile{Path: path}
	if isYAML(data) {
		var y yamlIgnore
		if err := yaml.UnmarshalStrict(data, &y); err != nil {
			return nil, fmt.Errorf("ignore file %s: %w", path, err)
		}
		for i, r := range y.Ignore {
			r.line = 0
			if err := r.finish(); err != nil {
				return nil, fmt.Errorf("ignore file %s: entry %d: %w", path, i+1, err)
			}
			f.Rules = append(f.Rules, r)
		}
		return f, nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		var reason string
		if i := strings.Index(line, "#"); i >= 0 {
			reason = strings.TrimSpace(line[i+1:])
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		fields := strings.Fields(line)
		r := Rule{ID: fields[0], Reason: reason, line: n}
		for _, fld := range fields[1:] {
			switch {
			case strings.HasPrefix(fld, "exp:"):
				r.Expires = strings.TrimPrefix(fld, "exp:")
			case strings.HasPrefix(fld, "pkg:") || !strings.Contains(fld, ":"):
				r.Packages = append(r.Packages, fld)
			default:
				return nil, fmt.Errorf("ignore file %s:%d: unknown field %q", path, n, fld)
			}
		}
		if err := r.finish(); err != nil {
			return nil, fmt.Errorf("ignore file %s:%d: %w", path, n, err)
		}
		f.Rules = append(f.Rules, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("ignore file %s: %w", path, err)
	}
	return f, nil
}

func isYAML(data []byte) bool {
	for _, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		return strings.HasPrefix(t, "ignore:") || strings.HasPrefix(t, "{")
	}
	return false
}

func (r *Rule) finish() error {
	r.ID = strings.TrimSpace(r.ID)
	if r.ID == "" {
		return fmt.Errorf("rule without an id")
	}
	if r.Expires != "" {
		t, err := ParseExpiry(r.Expires)
		if err != nil {
			return fmt.Errorf("rule %s: %w", r.ID, err)
		}
		r.expires = t
	}
	return nil
}

// ParseExpiry reads an expiry date (YYYY-MM-DD) and returns the instant it
// ends: a rule is valid through the whole day and stops applying at the
// returned time. Ignore files and inline `lockdown:ignore` comments share it.
func ParseExpiry(s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("expiry %q is not YYYY-MM-DD", s)
	}
	return t.AddDate(0, 0, 1), nil
}

// ExpiredMessage is the warning for a rule whose expiry has passed.
func ExpiredMessage(id string) string {
	return fmt.Sprintf("ignore rule for %s has expired; it no longer suppresses anything", id)
}

// Filter applies an ignore file and VEX documents to findings.
type Filter struct {
	Ignore *IgnoreFile
	VEX    []*vex.VEX
	// Products identify the scanned artifact for VEX product matching: the
	// image reference, its digest, its pkg:oci PURL.
	Products []string
	Now      time.Time // zero means time.Now()
}

// LoadVEX reads an OpenVEX document (JSON).
func LoadVEX(path string) (*vex.VEX, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("vex %s: %w", path, err)
	}
	doc, err := vex.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("vex %s: not an OpenVEX document: %w", path, err)
	}
	// Any JSON object parses; without the OpenVEX @context it is some other
	// document (CycloneDX, CSAF) whose statements would be silently lost.
	if !strings.HasPrefix(doc.Context, vex.Context) {
		return nil, fmt.Errorf("vex %s: not an OpenVEX document: @context is %q, want %s/v…", path, doc.Context, vex.Context)
	}
	for i := range doc.Statements {
		if err := doc.Statements[i].Validate(); err != nil {
			return nil, fmt.Errorf("vex %s: statement %d: %w", path, i+1, err)
		}
	}
	canonicalVEX(doc)
	return doc, nil
}

// Apply splits findings into those kept and those suppressed. Expired ignore
// rules suppress nothing and come back as warnings.
func (f Filter) Apply(findings []model.Finding) (kept []model.Finding, suppressed []model.Suppressed, warnings []model.Warning) {
	now := f.Now
	if now.IsZero() {
		now = time.Now()
	}
	expired := map[string]bool{}
	for _, fd := range findings {
		if reason, ok := f.ignored(fd, now, expired); ok {
			suppressed = append(suppressed, model.Suppressed{Finding: fd, Reason: reason, By: "ignore-file"})
			continue
		}
		if reason, ok := f.vexed(fd); ok {
			suppressed = append(suppressed, model.Suppressed{Finding: fd, Reason: reason, By: "vex"})
			continue
		}
		kept = append(kept, fd)
	}
	for _, id := range slices.Sorted(mapsKeys(expired)) {
		warnings = append(warnings, model.Warning{Path: f.Ignore.Path, Message: ExpiredMessage(id)})
	}
	return kept, suppressed, warnings
}

func mapsKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func ids(fd model.Finding) []string {
	return append([]string{fd.RuleID}, fd.Aliases...)
}

func (f Filter) ignored(fd model.Finding, now time.Time, expired map[string]bool) (string, bool) {
	if f.Ignore == nil {
		return "", false
	}
	for _, r := range f.Ignore.Rules {
		if !slices.Contains(ids(fd), r.ID) {
			continue
		}
		if len(r.Packages) > 0 && !packageIn(fd.Package, r.Packages) {
			continue
		}
		if !r.expires.IsZero() && !now.Before(r.expires) {
			expired[r.ID] = true
			continue
		}
		reason := r.Reason
		if reason == "" {
			reason = "listed in " + f.Ignore.Path
		}
		if r.Expires != "" {
			reason += " (until " + r.Expires + ")"
		}
		return reason, true
	}
	return "", false
}

// packageIn reports whether a rule's package list names p: by name or
// source name, compared in the form p's ecosystem compares names in (PyPI
// "Django" = "django"), or by PURL.
func packageIn(p *model.Package, names []string) bool {
	if p == nil {
		return false
	}
	e, _ := ecosystem.Lookup(p.Ecosystem)
	for _, n := range names {
		if strings.HasPrefix(n, "pkg:") {
			if vex.PurlMatches(canonicalPURL(n), p.PURL) {
				return true
			}
			continue
		}
		if n == p.Name || n == p.SourceName || e.PackageName(n) == e.PackageName(p.Name) {
			return true
		}
	}
	return false
}

// canonicalPURL spells a package URL with its name in the normal form of
// its ecosystem, as Lockdown writes PURLs (pkg:pypi/Django@4.2 ->
// pkg:pypi/django@4.2), so that one written by hand matches. Anything else
// comes back as it was.
func canonicalPURL(s string) string {
	u, err := packageurl.FromString(s)
	if err != nil {
		return s
	}
	e, ok := ecosystem.Lookup(ecosystem.ForPackage(u.Type, nil))
	if !ok || e.PackageName(u.Name) == u.Name {
		return s
	}
	u.Name = e.PackageName(u.Name)
	return u.ToString()
}

// canonicalVEX rewrites the PURLs of doc's products and subcomponents
// with canonicalPURL.
func canonicalVEX(doc *vex.VEX) {
	fix := func(c *vex.Component) {
		if strings.HasPrefix(c.ID, "pkg:") {
			c.ID = canonicalPURL(c.ID)
		}
		if id, ok := c.Identifiers[vex.PURL]; ok {
			c.Identifiers[vex.PURL] = canonicalPURL(id)
		}
	}
	for i := range doc.Statements {
		st := &doc.Statements[i]
		for j := range st.Products {
			fix(&st.Products[j].Component)
			for k := range st.Products[j].Subcomponents {
				fix(&st.Products[j].Subcomponents[k].Component)
			}
		}
	}
}

func (f Filter) vexed(fd model.Finding) (string, bool) {
	if len(f.VEX) == 0 {
		return "", false
	}
	var subs []string
	if fd.Package != nil && fd.Package.PURL != "" {
		subs = []string{fd.Package.PURL}
	}
	var best *vex.Statement
	var bestDoc *vex.VEX
	consider := func(doc *vex.VEX, st []vex.Statement) {
		// Matches sorts oldest first: the last one is the newest.
		if len(st) == 0 {
			return
		}
		s := st[len(st)-1]
		if best == nil || stmtTime(doc, &s).After(stmtTime(bestDoc, best)) {
			best, bestDoc = &s, doc
		}
	}
	for _, doc := range f.VEX {
		for _, id := range ids(fd) {
			for _, sub := range subs {
				// The package itself named as the product …
				consider(doc, doc.Matches(id, sub, nil))
			}
			// … or the image as the product, the package as a subcomponent.
			for _, prod := range f.Products {
				consider(doc, doc.Matches(id, prod, subs))
			}
		}
	}
	if best == nil {
		return "", false
	}
	switch best.Status {
	case vex.StatusNotAffected, vex.StatusFixed:
		reason := "vex: " + string(best.Status)
		if best.Justification != "" {
			reason += " (" + string(best.Justification) + ")"
		}
		if best.ImpactStatement != "" {
			reason += ": " + best.ImpactStatement
		}
		return reason, true
	}
	return "", false
}

func stmtTime(doc *vex.VEX, s *vex.Statement) time.Time {
	if s.Timestamp != nil {
		return *s.Timestamp
	}
	if doc != nil && doc.Timestamp != nil {
		return *doc.Timestamp
	}
	return time.Time{}
}
