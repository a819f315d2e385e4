package report

import (
	"cmp"
	"encoding/json"
	"io"
	"slices"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// writeJSON writes v as indented JSON without HTML escaping.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// sortedSBOM returns a shallow copy of s with its lists sorted.
func sortedSBOM(s *model.SBOM) *model.SBOM {
	c := *s
	c.Packages = sortedPackages(s.Packages)
	c.Layers = slices.Clone(s.Layers)
	slices.SortStableFunc(c.Layers, func(a, b model.LayerRef) int { return cmp.Compare(a.Index, b.Index) })
	c.Warnings = sortedWarnings(s.Warnings)
	return &c
}

// sortedReport returns a shallow copy of r with its lists sorted.
func sortedReport(r *model.Report) *model.Report {
	c := *r
	c.Findings = sortedFindings(r.Findings)
	c.Packages = nilIfEmpty(sortedPackages(r.Packages))
	c.Suppressed = nilIfEmpty(sortedSuppressed(r.Suppressed))
	c.Warnings = nilIfEmpty(sortedWarnings(r.Warnings))
	return &c
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// sortedCopy returns a sorted copy of s, never nil. It sorts pointers and
// copies each (large) element once.
func sortedCopy[T any](s []T, compare func(a, b *T) int) []T {
	ptrs := make([]*T, len(s))
	for i := range s {
		ptrs[i] = &s[i]
	}
	slices.SortStableFunc(ptrs, compare)
	c := make([]T, len(s))
	for i, p := range ptrs {
		c[i] = *p
	}
	return c
}

// sortedPackages returns a sorted copy, never nil.
func sortedPackages(ps []model.Package) []model.Package {
	return sortedCopy(ps, comparePackages)
}

func comparePackages(a, b *model.Package) int {
	return cmp.Or(
		strings.Compare(a.Name, b.Name),
		naturalCompare(a.Version, b.Version),
		strings.Compare(a.Type, b.Type),
		strings.Compare(a.Arch, b.Arch),
		strings.Compare(a.Location, b.Location),
		compareLayers(a.Layer, b.Layer),
		strings.Compare(a.ID, b.ID),
	)
}

func compareLayers(a, b *model.LayerRef) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return cmp.Or(cmp.Compare(a.Index, b.Index), strings.Compare(a.DiffID, b.DiffID))
}

// sortedFindings returns a sorted copy, never nil.
func sortedFindings(fs []model.Finding) []model.Finding {
	return sortedCopy(fs, compareFindings)
}

func sortedSuppressed(ss []model.Suppressed) []model.Suppressed {
	return sortedCopy(ss, func(a, b *model.Suppressed) int {
		return cmp.Or(compareFindings(&a.Finding, &b.Finding), strings.Compare(a.By, b.By), strings.Compare(a.Reason, b.Reason))
	})
}

func sortedWarnings(ws []model.Warning) []model.Warning {
	c := slices.Clone(ws)
	slices.SortStableFunc(c, func(a, b model.Warning) int {
		return cmp.Or(strings.Compare(a.Layer, b.Layer), strings.Compare(a.Path, b.Path), strings.Compare(a.Message, b.Message))
	})
	return c
}

// scopeRank orders audit groups: daemon, host, containers, images, then
// anything else alphabetically.
func scopeRank(s string) int {
	switch s {
	case "daemon":
		return 0
	case "host":
		return 1
	case "container":
		return 2
	case "image":
		return 3
	}
	return 4
}

// compareFindings is the one order every writer uses:
//   - vulnerabilities most severe first, then by package, then ID;
//   - posture checks by scope and subject, then CIS ID (1.1.2 < 1.1.10),
//     then check ID;
//   - lint by policy, then most severe first, then rule and location.
func compareFindings(a, b *model.Finding) int {
	if c := strings.Compare(a.Kind, b.Kind); c != 0 {
		return c
	}
	var c int
	switch a.Kind {
	case model.KindVulnerability:
		c = cmp.Or(
			cmp.Compare(b.Severity, a.Severity),
			compareFindingPackages(a, b),
			naturalCompare(a.RuleID, b.RuleID),
		)
	case model.KindPosture:
		c = cmp.Or(
			cmp.Compare(scopeRank(a.Scope), scopeRank(b.Scope)),
			strings.Compare(a.Scope, b.Scope),
			strings.Compare(a.Subject, b.Subject),
			compareCIS(a.CIS, b.CIS),
			naturalCompare(a.RuleID, b.RuleID),
		)
	default:
		c = cmp.Or(
			strings.Compare(a.Scope, b.Scope),
			strings.Compare(a.Subject, b.Subject),
			cmp.Compare(b.Severity, a.Severity),
			naturalCompare(a.RuleID, b.RuleID),
			naturalCompare(a.Location, b.Location),
		)
	}
	return cmp.Or(c,
		strings.Compare(a.Subject, b.Subject),
		naturalCompare(a.RuleID, b.RuleID),
		cmp.Compare(b.Severity, a.Severity),
		strings.Compare(a.Status, b.Status),
		naturalCompare(a.Location, b.Location),
		strings.Compare(a.InstalledVersion, b.InstalledVersion),
		strings.Compare(a.FixedVersion, b.FixedVersion),
		strings.Compare(a.Title, b.Title),
		strings.Compare(a.Evidence, b.Evidence),
	)
}

// compareCIS orders CIS IDs naturally, checks without one last.
func compareCIS(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return 1
	case b == "":
		return -1
	}
	return naturalCompare(a, b)
}

// compareFindingPackages orders vulnerability findings by the package they
// are about (a finding without a package sorts by its subject).
func compareFindingPackages(a, b *model.Finding) int {
	switch {
	case a.Package == nil && b.Package == nil:
		return strings.Compare(a.Subject, b.Subject)
	case a.Package == nil:
		return -1
	case b.Package == nil:
		return 1
	}
	return comparePackages(a.Package, b.Package)
}

// naturalCompare compares strings with runs of digits compared as numbers:
// "1.1.2" < "1.1.10", "CVE-2023-999" < "CVE-2023-1000".
func naturalCompare(a, b string) int {
	if c := naturalCompare1(a, b); c != 0 {
		return c
	}
	return strings.Compare(a, b) // "01" and "1": equal as numbers, not as text
}

func naturalCompare1(a, b string) int {
	for a != "" && b != "" {
		ad, bd := isDigit(a[0]), isDigit(b[0])
		if ad && bd {
			na, ra := digitRun(a)
			nb, rb := digitRun(b)
			ta, tb := strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
			if c := cmp.Or(cmp.Compare(len(ta), len(tb)), strings.Compare(ta, tb)); c != 0 {
				return c
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func digitRun(s string) (run, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}
