package report

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// SARIF 2.1.0, only the parts Lockdown writes. GitHub code scanning reads
// rules[].properties.security-severity, result level, locations and
// partialFingerprints.

const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
	toolInfoURI  = "https://github.com/lockdown-sec/lockdown"
	// fingerprintKey names Lockdown's partial fingerprint (versioned: a
	// change of what goes into it changes the key).
	fingerprintKey = "lockdownFindingHash/v1"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations,omitempty"`
	Results     []sarifResult     `json:"results"`
}

// sarifInvocation carries what the run could not do: a scan's packages
// that were not checked, as tool execution notifications.
type sarifInvocation struct {
	ExecutionSuccessful bool                `json:"executionSuccessful"`
	Notifications       []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Descriptor sarifDescriptorRef     `json:"descriptor"`
	Level      string                 `json:"level"`
	Message    sarifText              `json:"message"`
	Locations  []sarifLocation        `json:"locations,omitempty"`
	Properties sarifNotificationProps `json:"properties"`
}

type sarifDescriptorRef struct {
	ID string `json:"id"`
}

type sarifNotificationProps struct {
	Reason    string `json:"reason"`
	Ecosystem string `json:"ecosystem,omitempty"`
	Packages  int    `json:"packages"`
	Layer     string `json:"layerDiffID,omitempty"`
}

// notCheckedID prefixes the descriptor IDs of not-checked notifications.
const notCheckedID = "lockdown/not-checked/"

// sarifNotChecked turns a scan's NotChecked groups into notifications.
func sarifNotChecked(ncs []model.NotChecked) []sarifNotification {
	out := make([]sarifNotification, 0, len(ncs))
	for _, nc := range ncs {
		n := sarifNotification{
			Descriptor: sarifDescriptorRef{ID: notCheckedID + nc.Reason},
			Level:      "warning",
			Message:    sarifText{Text: nc.Message},
			Properties: sarifNotificationProps{Reason: nc.Reason, Ecosystem: nc.Ecosystem, Packages: nc.Packages, Layer: nc.Layer},
		}
		if uri := artifactURI(nc.Path); uri != "" {
			n.Locations = []sarifLocation{{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri}}}}
		}
		out = append(out, n)
	}
	return out
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifHelp struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name,omitempty"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      *sarifText     `json:"fullDescription,omitempty"`
	HelpURI              string         `json:"helpUri,omitempty"`
	Help                 sarifHelp      `json:"help"`
	DefaultConfiguration sarifRuleConf  `json:"defaultConfiguration"`
	Properties           sarifRuleProps `json:"properties"`
}

type sarifRuleConf struct {
	Level string `json:"level"`
}

type sarifRuleProps struct {
	Tags             []string `json:"tags"`
	SecuritySeverity string   `json:"security-severity"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Level               string             `json:"level"`
	Message             sarifText          `json:"message"`
	Locations           []sarifLocation    `json:"locations"`
	PartialFingerprints map[string]string  `json:"partialFingerprints"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	Properties          *sarifResultProps  `json:"properties,omitempty"`
}

type sarifResultProps struct {
	Kind             string   `json:"kind"`
	Severity         string   `json:"severity"`
	Status           string   `json:"status,omitempty"`
	Subject          string   `json:"subject,omitempty"`
	Scope            string   `json:"scope,omitempty"`
	PURL             string   `json:"purl,omitempty"`
	InstalledVersion string   `json:"installedVersion,omitempty"`
	FixedVersion     string   `json:"fixedVersion,omitempty"`
	Layer            string   `json:"layerDiffID,omitempty"`
	CIS              string   `json:"cis,omitempty"`
	Aliases          []string `json:"aliases,omitempty"`
	VendorSeverity   string   `json:"vendorSeverity,omitempty"`
	// Reachability: a Go finding's present, absent or unknown, with the
	// vulnerable functions found in the binary.
	Reachability        string   `json:"reachability,omitempty"`
	ReachabilitySymbols []string `json:"reachabilitySymbols,omitempty"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Status        string `json:"status"`
	Justification string `json:"justification,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

// securitySeverity is the CVSS-like score GitHub ranks alerts by.
func securitySeverity(s model.Severity) string {
	switch s {
	case model.SeverityCritical:
		return "9.5"
	case model.SeverityHigh:
		return "8.0"
	case model.SeverityMedium:
		return "5.5"
	case model.SeverityLow:
		return "2.0"
	}
	return "0.0"
}

func sarifLevel(s model.Severity) string {
	switch s {
	case model.SeverityCritical, model.SeverityHigh:
		return "error"
	case model.SeverityMedium:
		return "warning"
	}
	return "note"
}

// splitLocation splits "path:line" or "path:line:column" into its parts;
// line and column are 0 when absent or not positive numbers.
func splitLocation(loc string) (path string, line, col int) {
	path = loc
	num := func(s string) int {
		if s == "" || len(s) > 9 {
			return 0
		}
		for i := 0; i < len(s); i++ {
			if !isDigit(s[i]) {
				return 0
			}
		}
		n, _ := strconv.Atoi(s)
		return n
	}
	i := strings.LastIndexByte(path, ':')
	if i < 0 {
		return path, 0, 0
	}
	n := num(path[i+1:])
	if n == 0 {
		return path, 0, 0
	}
	if j := strings.LastIndexByte(path[:i], ':'); j >= 0 {
		if m := num(path[j+1 : i]); m > 0 {
			return path[:j], m, n
		}
	}
	return path[:i], n, 0
}

// artifactURI makes a relative URI reference from a path: no leading "/",
// spaces and the like escaped, a colon in the first segment kept from being
// read as a scheme.
func artifactURI(p string) string {
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return ""
	}
	return (&url.URL{Path: p}).String()
}

// includeInSARIF: every vulnerability, and checks or lint findings that
// failed or warned (lint findings often carry no status: they are problems).
func includeInSARIF(f *model.Finding) bool {
	if f.Kind == model.KindVulnerability {
		return true
	}
	switch f.Status {
	case model.StatusFail, model.StatusWarn, "":
		return true
	}
	return false
}

func fingerprint(f *model.Finding) string {
	h := sha256.New()
	pkg := ""
	if f.Package != nil {
		pkg = cmp.Or(f.Package.PURL, f.Package.Name+"@"+f.Package.Version) + "|" + f.Package.Location
	}
	for _, s := range []string{f.Kind, f.RuleID, f.Scope, f.Subject, pkg, f.Location} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// resultLocation picks where a result points: the finding's location, the
// package's file, else the target (or subject) itself.
func resultLocation(f *model.Finding, t *model.Target) sarifLocation {
	loc := f.Location
	if loc == "" && f.Package != nil {
		loc = f.Package.Location
	}
	path, line, col := splitLocation(loc)
	uri := artifactURI(path)
	if uri == "" && t != nil {
		uri = artifactURI(cmp.Or(t.Name, t.Input))
	}
	if uri == "" {
		uri = artifactURI(cmp.Or(f.Subject, f.Scope, "unknown"))
	}
	pl := sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri}}
	if line > 0 {
		pl.Region = &sarifRegion{StartLine: line, StartColumn: col}
	}
	return sarifLocation{PhysicalLocation: pl}
}

func resultMessage(f *model.Finding) string {
	title := strings.TrimSpace(f.Title)
	switch f.Kind {
	case model.KindVulnerability:
		var b strings.Builder
		if f.Package != nil {
			installed := cmp.Or(f.InstalledVersion, f.Package.Version)
			fmt.Fprintf(&b, "%s %s: ", f.Package.Name, installed)
		} else if f.Subject != "" {
			fmt.Fprintf(&b, "%s: ", f.Subject)
		}
		fmt.Fprintf(&b, "%s (%s)", f.RuleID, f.Severity)
		if f.FixedVersion != "" {
			fmt.Fprintf(&b, ", fixed in %s", f.FixedVersion)
		} else {
			b.WriteString(", no fix available")
		}
		if title != "" {
			b.WriteString(": " + title)
		}
		if f.Layer != nil && f.Layer.DiffID != "" {
			fmt.Fprintf(&b, " [layer %d %s]", f.Layer.Index, f.Layer.DiffID)
		}
		return b.String()
	default:
		s := cmp.Or(title, f.RuleID)
		if f.Subject != "" {
			s = groupTitle(f.Scope, f.Subject) + ": " + s
		}
		if f.Status != "" {
			s = f.Status + " " + s
		}
		if ev := strings.TrimSpace(f.Evidence); ev != "" {
			s += " (" + ev + ")"
		}
		return s
	}
}

// ruleHelp is a rule's help: title, rationale, remediation (for a
// vulnerability, every "package to version" upgrade its findings name),
// CIS ID and references.
func ruleHelp(f *model.Finding, upgrades []string) sarifHelp {
	var text, md []string
	if t := strings.TrimSpace(f.Title); t != "" {
		text = append(text, t)
		md = append(md, "**"+t+"**")
	}
	if r := strings.TrimSpace(f.Rationale); r != "" {
		text = append(text, r)
		md = append(md, r)
	}
	switch {
	case f.Kind == model.KindVulnerability && len(upgrades) > 0:
		s := "Remediation: upgrade " + strings.Join(upgrades, "; ") + " or later."
		text, md = append(text, s), append(md, s)
	case f.Kind == model.KindVulnerability && strings.TrimSpace(f.Remediation) == "":
		s := "Remediation: no fixed version is known yet."
		text, md = append(text, s), append(md, s)
	case strings.TrimSpace(f.Remediation) != "":
		r := strings.TrimSpace(f.Remediation)
		text = append(text, "Remediation: "+r)
		md = append(md, "Remediation: "+r)
	}
	if f.CIS != "" {
		s := "CIS Docker Benchmark " + f.CIS
		text, md = append(text, s), append(md, s)
	}
	if len(f.References) > 0 {
		refs := make([]string, 0, len(f.References))
		for _, r := range f.References {
			refs = append(refs, "- "+r)
		}
		text = append(text, "References:\n"+strings.Join(refs, "\n"))
		md = append(md, "References:\n"+strings.Join(refs, "\n"))
	}
	if len(text) == 0 {
		text = []string{f.RuleID}
		md = []string{f.RuleID}
	}
	return sarifHelp{Text: strings.Join(text, "\n\n"), Markdown: strings.Join(md, "\n\n")}
}

func ruleTags(f *model.Finding) []string {
	tags := []string{"security", f.Kind}
	if f.Scope != "" && f.Scope != f.Kind {
		tags = append(tags, f.Scope)
	}
	if f.Package != nil && f.Package.Type != "" {
		tags = append(tags, f.Package.Type)
	}
	if f.CIS != "" {
		tags = append(tags, "cis-docker")
	}
	slices.Sort(tags)
	return slices.Compact(tags)
}

func buildSARIF(r *model.Report, opts Options) *sarifLog {
	tool := toolOf(r.Tool, opts)
	type entry struct {
		f   model.Finding
		fp  string
		sup *model.Suppressed
	}
	// Findings with the same fingerprint are one result: the first, in
	// sorted order; a finding both reported and suppressed is reported.
	var entries []entry
	seen := map[string]bool{}
	for _, f := range sortedFindings(r.Findings) {
		if fp := fingerprint(&f); includeInSARIF(&f) && !seen[fp] {
			seen[fp] = true
			entries = append(entries, entry{f: f, fp: fp})
		}
	}
	for _, s := range sortedSuppressed(r.Suppressed) {
		if fp := fingerprint(&s.Finding); includeInSARIF(&s.Finding) && !seen[fp] {
			seen[fp] = true
			entries = append(entries, entry{f: s.Finding, fp: fp, sup: &s})
		}
	}

	// One rule per rule ID, described by its first (sorted) finding, at the
	// highest severity any of its findings has.
	type ruleAcc struct {
		first    *model.Finding
		sev      model.Severity
		upgrades []string
	}
	byID := map[string]int{}
	var accs []*ruleAcc
	for i := range entries {
		f := &entries[i].f
		f.RuleID = cmp.Or(f.RuleID, "unknown")
		j, ok := byID[f.RuleID]
		if !ok {
			j = len(accs)
			byID[f.RuleID] = j
			accs = append(accs, &ruleAcc{first: f, sev: f.Severity})
		}
		a := accs[j]
		a.sev = max(a.sev, f.Severity)
		if f.Kind == model.KindVulnerability && f.FixedVersion != "" {
			name := f.Subject
			if f.Package != nil {
				name = f.Package.Name
			}
			up := strings.TrimSpace(name + " to " + f.FixedVersion)
			if !slices.Contains(a.upgrades, up) {
				a.upgrades = append(a.upgrades, up)
			}
		}
	}
	rules := make([]sarifRule, 0, len(accs))
	ruleSev := make([]model.Severity, 0, len(accs))
	for _, a := range accs {
		f := a.first
		slices.Sort(a.upgrades)
		rule := sarifRule{
			ID:               f.RuleID,
			ShortDescription: sarifText{Text: cmp.Or(strings.TrimSpace(f.Title), f.RuleID)},
			Help:             ruleHelp(f, a.upgrades),
			Properties:       sarifRuleProps{Tags: ruleTags(f)},
		}
		if f.Rationale != "" {
			rule.FullDescription = &sarifText{Text: f.Rationale}
		}
		for _, ref := range f.References {
			if isWebURL(ref) {
				rule.HelpURI = ref
				break
			}
		}
		rules = append(rules, rule)
		ruleSev = append(ruleSev, a.sev)
	}
	// Rules sorted by ID; results keep the finding order and point at them.
	order := make([]int, len(rules))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return naturalCompare(rules[a].ID, rules[b].ID) })
	newIndex := make([]int, len(rules))
	sortedRules := make([]sarifRule, len(rules))
	for to, from := range order {
		newIndex[from] = to
		rl := rules[from]
		rl.DefaultConfiguration = sarifRuleConf{Level: sarifLevel(ruleSev[from])}
		rl.Properties.SecuritySeverity = securitySeverity(ruleSev[from])
		sortedRules[to] = rl
	}

	results := make([]sarifResult, 0, len(entries))
	for _, e := range entries {
		f := &e.f
		res := sarifResult{
			RuleID:              f.RuleID,
			RuleIndex:           newIndex[byID[f.RuleID]],
			Level:               sarifLevel(f.Severity),
			Message:             sarifText{Text: resultMessage(f)},
			Locations:           []sarifLocation{resultLocation(f, r.Target)},
			PartialFingerprints: map[string]string{fingerprintKey: e.fp},
			Properties: &sarifResultProps{
				Kind:             f.Kind,
				Severity:         f.Severity.String(),
				Status:           f.Status,
				Subject:          f.Subject,
				Scope:            f.Scope,
				InstalledVersion: f.InstalledVersion,
				FixedVersion:     f.FixedVersion,
				CIS:              f.CIS,
				Aliases:          f.Aliases,
				VendorSeverity:   f.VendorSeverity,
			},
		}
		if r := f.Reachability; r != nil {
			res.Properties.Reachability, res.Properties.ReachabilitySymbols = r.State, r.Symbols
		}
		if f.Package != nil {
			res.Properties.PURL = f.Package.PURL
			if res.Properties.InstalledVersion == "" {
				res.Properties.InstalledVersion = f.Package.Version
			}
		}
		if f.Layer != nil {
			res.Properties.Layer = f.Layer.DiffID
		}
		if e.sup != nil {
			just := e.sup.Reason
			if e.sup.By != "" {
				just = strings.TrimSpace(e.sup.By + ": " + e.sup.Reason)
			}
			res.Suppressions = []sarifSuppression{{Kind: "external", Status: "accepted", Justification: just}}
		}
		results = append(results, res)
	}
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name:           "lockdown",
			Version:        tool.Version,
			InformationURI: toolInfoURI,
			Rules:          sortedRules,
		}},
		Results: results,
	}
	if r.Kind == KindScan {
		run.Invocations = []sarifInvocation{{ExecutionSuccessful: true, Notifications: sarifNotChecked(r.NotChecked)}}
	}
	return &sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}}
}

func writeSARIF(w io.Writer, r *model.Report, opts Options) error {
	return writeJSON(w, buildSARIF(r, opts))
}
