package report

// The audit and lint tables: a summary first (results by status and
// severity, the severity-weighted score, the fixes that clear the most
// severe failures), then what failed, worst first. A finding that repeats
// with the same evidence on many subjects (a host-level setting seen from
// every container, a limit missing on 200 containers) is one row with a
// count. Passed, informational and skipped results only with ShowPassed.

import (
	"bufio"
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/lockdown-sec/lockdown/internal/check"
	"github.com/lockdown-sec/lockdown/internal/model"
)

// topFixes is how many fixes the summary lists.
const topFixes = 10

// metaLabels are the header labels of known Meta keys; a key not here is
// shown in words ("baselineAccepted" → "Baseline accepted"). An empty label
// hides the key (shown elsewhere).
var metaLabels = map[string]string{
	"engine": "Engine", "engineVersion": "", "apiVersion": "API version", "containerdVersion": "containerd",
	"runcVersion": "runc", "endpoint": "Endpoint", "hostChecks": "Host checks", "swarm": "Swarm",
	"containers": "Containers audited", "images": "Images audited", "score": "",
	"baselineAccepted": "Accepted by the baseline", "policies": "Policies", "endpoints": "Endpoints", "rules": "Lint rules run",
	"felixConfigurations": "FelixConfigurations", "ipPools": "IP pools", "nodes": "Nodes", "underlayMTU": "Underlay MTU",
}

// metaOrder is the header order of known Meta keys; others follow.
var metaOrder = []string{"engine", "apiVersion", "containerdVersion", "runcVersion", "endpoint", "hostChecks", "swarm",
	"containers", "images", "policies", "endpoints", "rules", "baselineAccepted"}

func metaRank(k string) int {
	if i := slices.Index(metaOrder, k); i >= 0 {
		return i
	}
	return len(metaOrder)
}

// metaLabel is the human-readable header label of a Meta key.
func metaLabel(k string) string {
	if l, ok := metaLabels[k]; ok {
		return l
	}
	// camelCase to words; a run of capitals is an acronym ("maxMTUSize" →
	// "Max MTU size").
	rs := []rune(k)
	var b strings.Builder
	for i, r := range rs {
		upper := unicode.IsUpper(r)
		switch {
		case i == 0:
			b.WriteRune(unicode.ToUpper(r))
			continue
		case !upper:
			b.WriteRune(r)
			continue
		}
		prevUpper := unicode.IsUpper(rs[i-1])
		nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
		acronym := prevUpper || (i+1 < len(rs) && unicode.IsUpper(rs[i+1]))
		if !prevUpper || nextLower {
			b.WriteByte(' ')
		}
		if acronym && !(nextLower && prevUpper) {
			b.WriteRune(r)
		} else {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// checkGroup is one row: findings of one check with the same status,
// severity, evidence and fix, on one or more subjects.
type checkGroup struct {
	f        *model.Finding // the first; the others differ only in subject
	subjects []string       // "container web", "daemon"
	scope    string
}

func groupKey(f *model.Finding) string {
	return strings.Join([]string{f.RuleID, f.Status, f.Severity.String(), f.Evidence, f.Remediation, f.Title, f.Location}, "\x00")
}

// groupFindings collapses findings that differ only in subject.
func groupFindings(fs []model.Finding) []*checkGroup {
	byKey := map[string]*checkGroup{}
	var out []*checkGroup
	for i := range fs {
		f := &fs[i]
		k := groupKey(f)
		g, ok := byKey[k]
		if !ok {
			g = &checkGroup{f: f, scope: f.Scope}
			byKey[k] = g
			out = append(out, g)
		}
		if g.scope != f.Scope {
			g.scope = ""
		}
		g.subjects = append(g.subjects, f.Subject)
	}
	return out
}

func statusRank(s string) int {
	switch s {
	case model.StatusFail:
		return 0
	case model.StatusWarn:
		return 1
	case model.StatusInfo:
		return 2
	case model.StatusPass:
		return 3
	}
	return 4
}

// compareGroups: worst first (status, then severity), then most subjects,
// then CIS and check ID.
func compareGroups(a, b *checkGroup) int {
	return cmp.Or(
		cmp.Compare(statusRank(a.f.Status), statusRank(b.f.Status)),
		cmp.Compare(b.f.Severity, a.f.Severity),
		cmp.Compare(len(b.subjects), len(a.subjects)),
		compareCIS(a.f.CIS, b.f.CIS),
		naturalCompare(a.f.RuleID, b.f.RuleID),
		strings.Compare(a.f.Evidence, b.f.Evidence),
	)
}

// plurals of subject scopes.
var scopePlural = map[string]string{"container": "containers", "image": "images", "policy": "policies"}

// where names the subjects of a row: "daemon", "container web",
// "3 containers: a, b, c", "12 containers: a, b, c, …".
func where(scope string, subjects []string) string {
	if len(subjects) == 1 {
		return groupTitle(scope, subjects[0])
	}
	noun := cmp.Or(scopePlural[scope], clean(scope)+"s")
	if scope == "" {
		noun = "subjects"
	}
	names := subjects
	more := ""
	if len(names) > 3 {
		names, more = names[:3], ", …"
	}
	return fmt.Sprintf("%d %s: %s%s", len(subjects), noun, clean(strings.Join(names, ", ")), more)
}

// countSubjects is "2 containers", "the daemon", "1 image".
func countSubjects(scope string, n int) string {
	switch {
	case scope == "daemon" || scope == "host" || scope == "swarm":
		return "the " + scope
	case scope == "":
		return plural(n, "subject", "subjects")
	}
	return plural(n, clean(scope), cmp.Or(scopePlural[scope], clean(scope)+"s"))
}

// writeChecksTable writes an audit or lint report: header, summary, the
// fixes to make first, failures worst first, then (with ShowPassed) the
// rest.
func writeChecksTable(w *bufio.Writer, r *model.Report, opts Options) {
	kv := targetHeader(r.Target, r.Distro, false)
	keys := slices.Sorted(maps.Keys(r.Meta))
	slices.SortStableFunc(keys, func(a, b string) int { return cmp.Compare(metaRank(a), metaRank(b)) })
	for _, k := range keys {
		if l := metaLabel(k); l != "" {
			kv = append(kv, [2]string{l, r.Meta[k]})
		}
	}
	if len(kv) > 0 {
		writeHeader(w, kv)
		w.WriteByte('\n')
	}
	fs := sortedFindings(r.Findings)
	if len(fs) == 0 {
		if r.Kind == KindAudit {
			w.WriteString("No checks ran.\n")
		} else {
			w.WriteString("No problems found.\n")
		}
		writeWarnings(w, r.Warnings, opts)
		return
	}
	var bad, rest []model.Finding
	for _, f := range fs {
		if f.Status == model.StatusFail || f.Status == model.StatusWarn || f.Status == "" {
			bad = append(bad, f)
		} else {
			rest = append(rest, f)
		}
	}
	writeSummary(w, r.Kind, fs, bad, opts)

	// Lint rules have no CIS IDs: no CIS column then.
	hasCIS := slices.ContainsFunc(fs, func(f model.Finding) bool { return f.CIS != "" })
	cols := []string{"SEVERITY", "STATUS", "CHECK", "CIS", "TITLE"}
	g := grid{indent: "  ", flex: 4}
	if !hasCIS {
		cols = slices.Delete(cols, 3, 4)
		g.flex = 3
	}
	section := func(title string, fs []model.Finding, notes func(*checkGroup) bool) {
		g.text("")
		g.heading(title)
		g.headerRow(cols...)
		groups := groupFindings(fs)
		slices.SortStableFunc(groups, compareGroups)
		for _, gr := range groups {
			groupRow(&g, gr, hasCIS, notes(gr))
		}
	}
	if len(bad) > 0 {
		section("Failures, worst first", bad, func(*checkGroup) bool { return true })
	}
	if opts.ShowPassed && len(rest) > 0 {
		section("Passed, informational and skipped", rest, func(gr *checkGroup) bool { return gr.f.Status != model.StatusPass })
	}
	g.write(w, opts)
	if !opts.ShowPassed && len(rest) > 0 {
		fmt.Fprintf(w, "\n%s not listed (--show-passed lists them).\n", plural(len(rest), "passed, informational or skipped result", "passed, informational or skipped results"))
	}
	writeWarnings(w, r.Warnings, opts)
}

func groupRow(g *grid, gr *checkGroup, withCIS, withNotes bool) {
	f := gr.f
	cells := []cell{
		{text: f.Severity.String(), color: severityColor(f.Severity)},
		{text: clean(cmp.Or(f.Status, model.StatusFail)), color: statusColor(f.Status)},
		{text: clean(f.RuleID)},
		{text: clean(cmp.Or(f.CIS, "-"))},
		{text: clean(f.Title)},
	}
	if !withCIS {
		cells = slices.Delete(cells, 3, 4)
	}
	g.row(cells...)
	on := where(gr.scope, gr.subjects)
	if f.Location != "" && (f.Kind == model.KindPolicyLint || f.Kind == model.KindMisconfig) {
		on += " at " + clean(f.Location)
	}
	g.text("      on: " + on)
	if withNotes {
		one := *f
		one.Remediation = nameFix(f.Remediation, gr.scope, gr.subjects)
		notes(g, &one)
	}
}

// writeSummary writes the counts, the score and the fixes to make first.
func writeSummary(w *bufio.Writer, kind string, all, bad []model.Finding, opts Options) {
	by := map[string]int{}
	for _, f := range all {
		by[cmp.Or(f.Status, model.StatusFail)]++
	}
	var parts []string
	for _, s := range []string{model.StatusFail, model.StatusWarn, model.StatusPass, model.StatusInfo, model.StatusSkip} {
		if by[s] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, by[s]))
		}
	}
	kv := [][2]string{{"Results", fmt.Sprintf("%d (%s)", len(all), strings.Join(parts, ", "))}}
	kv = append(kv, [2]string{"To fix", toFixCounts(bad)})
	if kind == KindAudit {
		score := "n/a (no check passed or failed)"
		if s, ok := check.Score(all); ok {
			score = fmt.Sprintf("%d/100", s)
		}
		kv = append(kv, [2]string{"Score", score + " (severity-weighted: a failed CRITICAL check costs 10, HIGH 5, MEDIUM 3, LOW 1; a WARN half)"})
	}
	w.WriteString("Summary\n")
	writeIndentedHeader(w, "  ", kv)

	fixes := topFixList(bad, kind == KindNetpolLint || kind == KindLint)
	if len(fixes) == 0 {
		return
	}
	w.WriteString("\n")
	g := grid{indent: "  ", flex: 4}
	g.heading(fmt.Sprintf("Fix first (the %s that clear the most severe failures)", plural(len(fixes), "fix", "fixes")))
	g.headerRow("#", "SEVERITY", "CHECK", "FIXES", "TITLE")
	for i, fx := range fixes {
		g.row(
			cell{text: strconv.Itoa(i + 1)},
			cell{text: fx.severity.String(), color: severityColor(fx.severity)},
			cell{text: clean(fx.id)},
			cell{text: countSubjects(fx.scope, fx.subjects)},
			cell{text: clean(fx.title)},
		)
		for j, l := range cleanLines(fx.remediation) {
			label := "fix: "
			if j > 0 {
				label = "     "
			}
			g.text("      " + label + l)
		}
	}
	g.write(w, opts)
}

// nameFix puts the container's name for NAME in a fix that is for one
// container.
func nameFix(rem, scope string, subjects []string) string {
	if scope == "container" && len(subjects) == 1 {
		return strings.ReplaceAll(rem, "NAME", subjects[0])
	}
	return rem
}

// fix is one entry of the "fix first" list: one check, what it clears.
type fix struct {
	id, title, remediation, scope string
	severity                      model.Severity
	subjects                      int
	first                         string // the first subject
	titles                        map[string]bool
}

// topFixList ranks the checks that failed by the most severe failure they
// clear, then by how many subjects they fix. Lint findings are warnings:
// with warnings set, they count too.
func topFixList(bad []model.Finding, warnings bool) []fix {
	byID := map[string]*fix{}
	seen := map[string]bool{}
	remCount := map[string]map[string]int{}
	var out []*fix
	for i := range bad {
		f := &bad[i]
		if f.Status != model.StatusFail && f.Status != "" && !(warnings && f.Status == model.StatusWarn) {
			continue
		}
		x, ok := byID[f.RuleID]
		if !ok {
			x = &fix{id: f.RuleID, title: f.Title, scope: f.Scope, titles: map[string]bool{}}
			byID[f.RuleID] = x
			remCount[f.RuleID] = map[string]int{}
			out = append(out, x)
		}
		if f.Severity > x.severity {
			x.severity, x.title = f.Severity, f.Title // the worst as the example
		}
		if x.scope != f.Scope {
			x.scope = ""
		}
		if k := f.RuleID + "\x00" + f.Subject; !seen[k] {
			seen[k] = true
			x.subjects++
			if x.first == "" {
				x.first = f.Subject
			}
		}
		remCount[f.RuleID][f.Remediation]++
		x.titles[f.Title] = true
	}
	for _, x := range out {
		// The fix most of its failures name (ties: the shortest, then in
		// order), so that the line fits the common case.
		rems := slices.Collect(maps.Keys(remCount[x.id]))
		slices.SortFunc(rems, func(a, b string) int {
			return cmp.Or(cmp.Compare(remCount[x.id][b], remCount[x.id][a]), cmp.Compare(len(a), len(b)), strings.Compare(a, b))
		})
		x.remediation = rems[0]
		if x.subjects == 1 {
			x.remediation = nameFix(x.remediation, x.scope, []string{x.first})
		}
		if n := len(x.titles); n > 1 {
			// Lint titles name the rule that failed: one example.
			x.title += fmt.Sprintf(" (and %d more)", n-1)
		}
	}
	slices.SortStableFunc(out, func(a, b *fix) int {
		return cmp.Or(cmp.Compare(b.severity, a.severity), cmp.Compare(b.subjects, a.subjects), naturalCompare(a.id, b.id))
	})
	n := min(len(out), topFixes)
	res := make([]fix, n)
	for i := range n {
		res[i] = *out[i]
	}
	return res
}

// toFixCounts is "1 CRITICAL, 3 MEDIUM, 1 LOW" (only severities that
// occur), or "nothing".
func toFixCounts(fs []model.Finding) string {
	var n [model.SeverityCritical + 1]int
	for _, f := range fs {
		n[max(min(f.Severity, model.SeverityCritical), model.SeverityUnknown)]++
	}
	var parts []string
	for s := model.SeverityCritical; s >= model.SeverityUnknown; s-- {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}
