package report

import (
	"bufio"
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// writeHeader writes "Key: value" lines with the values aligned.
func writeHeader(w *bufio.Writer, kv [][2]string) { writeIndentedHeader(w, "", kv) }

// writeIndentedHeader is writeHeader with every line indented.
func writeIndentedHeader(w *bufio.Writer, indent string, kv [][2]string) {
	n := 0
	for _, p := range kv {
		n = max(n, textWidth(clean(p[0])))
	}
	for _, p := range kv {
		k := clean(p[0])
		fmt.Fprintf(w, "%s%s:%s %s\n", indent, k, strings.Repeat(" ", n-textWidth(k)), clean(p[1]))
	}
}

func targetHeader(t *model.Target, d *model.Distro, withDistro bool) [][2]string {
	var kv [][2]string
	if t != nil {
		name := cmp.Or(t.Name, t.Input)
		if t.Kind != "" {
			name += " (" + t.Kind + ")"
		}
		kv = append(kv, [2]string{"Target", name})
		if t.Digest != "" {
			kv = append(kv, [2]string{"Digest", t.Digest})
		} else if t.ImageID != "" {
			kv = append(kv, [2]string{"Image ID", t.ImageID})
		}
		if t.Platform != "" {
			kv = append(kv, [2]string{"Platform", t.Platform})
		}
	}
	if d != nil || (t != nil && withDistro) {
		kv = append(kv, [2]string{"Distro", distroText(d)})
	}
	return kv
}

func distroText(d *model.Distro) string {
	if d == nil {
		return "unknown"
	}
	return cmp.Or(d.PrettyName, strings.TrimSpace(d.ID+" "+d.VersionID), "unknown")
}

// sourceText is "name (version)" when the source package differs from the
// package, else "".
func sourceText(p *model.Package) string {
	if p.SourceName == "" {
		return ""
	}
	if p.SourceName == p.Name && (p.SourceVersion == "" || p.SourceVersion == p.Version) {
		return ""
	}
	if p.SourceVersion == "" {
		return p.SourceName
	}
	return p.SourceName + " (" + p.SourceVersion + ")"
}

func writeWarnings(w *bufio.Writer, ws []model.Warning) {
	if len(ws) == 0 {
		return
	}
	fmt.Fprintf(w, "\nWarnings: %d\n", len(ws))
	for _, x := range sortedWarnings(ws) {
		where := strings.TrimSpace(shortDigest(x.Layer) + " " + x.Path)
		if where != "" {
			where += ": "
		}
		fmt.Fprintf(w, "  %s%s\n", clean(where), clean(x.Message))
	}
}

// writeSBOMTable: a header, then one row per package. It has no
// severities, so no colour.
func writeSBOMTable(w *bufio.Writer, s *model.SBOM, opts Options) error {
	kv := targetHeader(&s.Target, s.Distro, true)
	kv = append(kv, [2]string{"Packages", strconv.Itoa(len(s.Packages))})
	writeHeader(w, kv)
	w.WriteByte('\n')

	pkgs := sortedPackages(s.Packages)
	rows := make([][6]string, 0, len(pkgs)+1)
	rows = append(rows, [6]string{"NAME", "VERSION", "TYPE", "SOURCE", "LAYER", "LOCATION"})
	for i := range pkgs {
		p := &pkgs[i]
		rows = append(rows, [6]string{
			clean(p.Name), clean(p.Version), clean(p.Type), clean(sourceText(p)),
			clean(layerText(p.Layer)), cmp.Or(clean(p.Location), "-"),
		})
	}
	if opts.Width > 0 {
		// LOCATION, the last column, gives way to the width hint.
		var widths [6]int
		for _, r := range rows {
			for i, c := range r {
				widths[i] = max(widths[i], textWidth(c))
			}
		}
		used := 5 * 2
		for _, wd := range widths[:5] {
			used += wd
		}
		for i := range rows {
			rows[i][5] = truncate(rows[i][5], max(opts.Width-used, 10))
		}
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r[0], r[1], r[2], r[3], r[4], r[5])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	writeWarnings(w, s.Warnings)
	return nil
}

// writeReportTable writes a header (target, distro, meta) and the findings
// laid out for the report's kind.
func writeReportTable(w *bufio.Writer, r *model.Report, opts Options) error {
	if r.Kind == KindAudit || r.Kind == KindNetpolLint {
		writeChecksTable(w, r, opts)
		return nil
	}
	kv := targetHeader(r.Target, r.Distro, r.Kind == KindScan)
	for _, k := range slices.Sorted(maps.Keys(r.Meta)) {
		kv = append(kv, [2]string{k, r.Meta[k]})
	}
	if len(kv) > 0 {
		writeHeader(w, kv)
		w.WriteByte('\n')
	}
	findings := sortedFindings(r.Findings)
	switch r.Kind {
	case KindScan:
		writeScanTable(w, findings, r.Suppressed, opts)
	}
	writeWarnings(w, r.Warnings)
	return nil
}

// groupTitle names an audit or lint group: "container web", "daemon".
func groupTitle(scope, subject string) string {
	switch {
	case scope == "":
		return clean(subject)
	case subject == "" || subject == scope:
		return clean(scope)
	}
	return clean(scope + " " + subject)
}

// pkgHeading is the group heading of a package in a scan table:
// "openssl 1.1.1q-r0 (apk) — layer 0 (0123456789ab) — /lib/apk/db/installed".
func pkgHeading(f *model.Finding) string {
	p := f.Package
	if p == nil {
		return clean(f.Subject)
	}
	s := p.Name + " " + p.Version
	if p.Type != "" {
		s += " (" + p.Type + ")"
	}
	layer := f.Layer
	if layer == nil {
		layer = p.Layer
	}
	if layer != nil {
		s += " — layer " + layerText(layer)
	}
	if p.Location != "" {
		s += " — " + p.Location
	}
	return clean(s)
}

func sameGroupPackage(a, b *model.Finding) bool {
	if a.Package == nil || b.Package == nil {
		return a.Package == nil && b.Package == nil && a.Subject == b.Subject
	}
	return comparePackages(a.Package, b.Package) == 0
}

// severityCounts lists "CRITICAL: n, HIGH: n, MEDIUM: n, LOW: n, UNKNOWN: n"
// (NONE only when there are some).
func severityCounts(fs []model.Finding) string {
	var n [model.SeverityCritical + 1]int
	for _, f := range fs {
		if f.Severity >= 0 && f.Severity <= model.SeverityCritical {
			n[f.Severity]++
		} else {
			n[model.SeverityUnknown]++
		}
	}
	var parts []string
	for s := model.SeverityCritical; s >= model.SeverityUnknown; s-- {
		if s == model.SeverityNone && n[s] == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %d", s, n[s]))
	}
	return strings.Join(parts, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func writeScanTable(w *bufio.Writer, fs []model.Finding, suppressed []model.Suppressed, opts Options) {
	g := grid{indent: "  ", flex: 5}
	groups := 0
	for i := range fs {
		f := &fs[i]
		if i == 0 || !sameGroupPackage(&fs[i-1], f) {
			if i > 0 {
				g.text("")
			}
			groups++
			g.heading(pkgHeading(f))
			g.headerRow("SEVERITY", "ID", "INSTALLED", "FIXED IN", "STATUS", "TITLE")
		}
		installed := f.InstalledVersion
		if installed == "" && f.Package != nil {
			installed = f.Package.Version
		}
		sev, status := f.Severity.String(), f.Status
		if f.VendorSeverity != "" {
			sev += " (" + f.VendorSeverity + ")"
		}
		if f.Reachability != nil {
			status += ", code " + f.Reachability.State // Go: is the vulnerable code in the binary
		}
		g.row(
			cell{text: clean(sev), color: severityColor(f.Severity)},
			cell{text: clean(f.RuleID)},
			cell{text: clean(installed)},
			cell{text: clean(f.FixedVersion)},
			cell{text: clean(status)},
			cell{text: clean(f.Title)},
		)
	}
	if len(fs) == 0 {
		g.text("No vulnerabilities found.")
	}
	g.write(w, opts)
	fmt.Fprintf(w, "\nTotal: %s in %s (%s)\n",
		plural(len(fs), "vulnerability", "vulnerabilities"), plural(groups, "package", "packages"), severityCounts(fs))
	writeSuppressedCount(w, suppressed)
}

func writeSuppressedCount(w *bufio.Writer, ss []model.Suppressed) {
	if len(ss) == 0 {
		return
	}
	by := map[string]int{}
	for _, s := range ss {
		by[cmp.Or(s.By, "other")]++
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(by)) {
		parts = append(parts, fmt.Sprintf("%s: %d", clean(k), by[k]))
	}
	fmt.Fprintf(w, "Suppressed: %d (%s)\n", len(ss), strings.Join(parts, ", "))
}

// notes adds evidence and remediation as indented lines under a row.
func notes(g *grid, f *model.Finding) {
	for i, l := range cleanLines(f.Evidence) {
		label := "evidence: "
		if i > 0 {
			label = "          "
		}
		g.text("      " + label + l)
	}
	for i, l := range cleanLines(f.Remediation) {
		label := "fix: "
		if i > 0 {
			label = "     "
		}
		g.text("      " + label + l)
	}
}
