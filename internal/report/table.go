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

// writeWarnings lists the warnings grouped (GroupWarnings), most
// important first. A scan leaves out the unreadable files: its NOT CHECKED
// lines name them.
func writeWarnings(w *bufio.Writer, ws []model.Warning, opts Options) {
	if len(ws) == 0 {
		return
	}
	fmt.Fprintf(w, "\nWarnings: %d\n", len(ws))
	for _, g := range GroupWarnings(ws) {
		line := g.String()
		if opts.Width > 2 {
			line = truncate(line, opts.Width-2)
		}
		fmt.Fprintf(w, "  %s\n", line)
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
	writeWarnings(w, s.Warnings, opts)
	return nil
}

// writeReportTable writes a header (target, distro, meta) and the findings
// laid out for the report's kind. A scan's first lines say what was not
// checked.
func writeReportTable(w *bufio.Writer, r *model.Report, opts Options) error {
	if r.Kind == KindAudit || r.Kind == KindNetpolLint || r.Kind == KindLint {
		writeChecksTable(w, r, opts)
		return nil
	}
	if r.Kind == KindScan {
		writeNotChecked(w, r.NotChecked, opts)
		fmt.Fprintf(w, "%s\n", clean(scanSummary(r)))
	}
	kv := targetHeader(r.Target, r.Distro, r.Kind == KindScan)
	for _, k := range slices.Sorted(maps.Keys(r.Meta)) {
		kv = append(kv, [2]string{k, r.Meta[k]})
	}
	if len(kv) > 0 {
		if r.Kind == KindScan {
			w.WriteByte('\n')
		}
		writeHeader(w, kv)
	}
	if len(kv) > 0 && (r.Kind != KindScan || len(r.Findings) > 0) {
		w.WriteByte('\n')
	}
	findings := sortedFindings(r.Findings)
	warnings := r.Warnings
	switch r.Kind {
	case KindScan:
		writeScanTable(w, r, findings, opts)
		warnings = slices.DeleteFunc(slices.Clone(warnings), func(x model.Warning) bool { return x.Kind == model.WarnUnreadable })
	}
	writeWarnings(w, warnings, opts)
	return nil
}

// writeNotChecked writes one line per group of packages a scan did not
// check, before anything else.
func writeNotChecked(w *bufio.Writer, ncs []model.NotChecked, opts Options) {
	for _, nc := range ncs {
		line := clean(nc.Message)
		if opts.Color {
			line = ansiBold + ansiYellow + line + ansiReset
		}
		w.WriteString(line + "\n")
	}
}

// scanSummary is a scan's result in one line: what was found, in how many
// of the packages, what was suppressed and what was not checked. It never
// says "no vulnerabilities" without saying what was not checked.
func scanSummary(r *model.Report) string {
	unchecked, files := r.Unchecked()
	checked := max(len(r.Packages)-unchecked, 0)
	var b strings.Builder
	if len(r.Findings) == 0 {
		fmt.Fprintf(&b, "No vulnerabilities found in %s", plural(checked, "package", "packages"))
		if unchecked > 0 || files > 0 {
			b.WriteString(" checked")
		}
	} else {
		pkgs := map[string]bool{}
		for i := range r.Findings {
			f := &r.Findings[i]
			if f.Package != nil {
				pkgs[packageRef(f.Package)] = true
			} else {
				pkgs[f.Subject] = true
			}
		}
		fmt.Fprintf(&b, "%s in %d of %s checked (%s)", plural(len(r.Findings), "vulnerability", "vulnerabilities"),
			len(pkgs), plural(checked, "package", "packages"), severityCounts(r.Findings))
	}
	if unchecked > 0 {
		fmt.Fprintf(&b, "; %s NOT CHECKED", plural(unchecked, "package", "packages"))
	}
	if files > 0 {
		fmt.Fprintf(&b, "; %s NOT READ", plural(files, "package file", "package files"))
	}
	if len(r.Suppressed) > 0 {
		fmt.Fprintf(&b, "; %d suppressed (%s)", len(r.Suppressed), suppressedCounts(r.Suppressed))
	}
	return b.String()
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

// writeScanTable writes one row per finding, most
// severe first, then by package. The LAYER column is left out for a
// dir: target (one pseudo layer), the LOCATION column when every finding
// comes from one file.
func writeScanTable(w *bufio.Writer, r *model.Report, fs []model.Finding, opts Options) {
	if len(fs) == 0 {
		return
	}
	withLayer := r.Target == nil || r.Target.Kind != "dir"
	locs := map[string]bool{}
	for i := range fs {
		if p := fs[i].Package; p != nil {
			locs[p.Location] = true
		}
	}
	withLoc := len(locs) > 1
	cols := []string{"SEVERITY", "ID", "PACKAGE", "INSTALLED", "FIXED IN"}
	if withLayer {
		cols = append(cols, "LAYER")
	}
	if withLoc {
		cols = append(cols, "LOCATION")
	}
	cols = append(cols, "TITLE")
	g := grid{flex: len(cols) - 1}
	g.headerRow(cols...)
	for i := range fs {
		f := &fs[i]
		name, installed, location := f.Subject, f.InstalledVersion, f.Location
		layer := f.Layer
		if p := f.Package; p != nil {
			name = p.Name
			installed = cmp.Or(installed, p.Version)
			location = cmp.Or(location, p.Location)
			if layer == nil {
				layer = p.Layer
			}
		}
		fixed := f.FixedVersion
		if fixed == "" {
			fixed = "(no fix)"
			if f.Status != "" && f.Status != model.StatusUnfixed {
				fixed = "(" + f.Status + ")" // the vendor's: will_not_fix, fix_deferred, …
			}
		}
		sev, title := f.Severity.String(), f.Title
		if f.VendorSeverity != "" {
			sev += " (" + f.VendorSeverity + ")"
		}
		if f.Reachability != nil {
			title = "[code " + f.Reachability.State + "] " + title // Go: is the vulnerable code in the binary
		}
		cells := []cell{
			{text: clean(sev), color: severityColor(f.Severity)},
			{text: clean(f.RuleID)},
			{text: clean(name)},
			{text: clean(installed)},
			{text: clean(fixed)},
		}
		if withLayer {
			cells = append(cells, cell{text: clean(layerText(layer))})
		}
		if withLoc {
			cells = append(cells, cell{text: clean(location)})
		}
		cells = append(cells, cell{text: clean(title)})
		g.row(cells...)
	}
	g.write(w, opts)
}

func suppressedCounts(ss []model.Suppressed) string {
	by := map[string]int{}
	for _, s := range ss {
		by[cmp.Or(s.By, "other")]++
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(by)) {
		parts = append(parts, fmt.Sprintf("%s: %d", clean(k), by[k]))
	}
	return strings.Join(parts, ", ")
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
