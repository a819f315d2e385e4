package report

import (
	"cmp"
	"errors"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// OpenVEX 0.2.0, only the statements a scan can make:
//
//   - affected: every finding, with the upgrade that fixes it as the
//     action statement;
//   - not_affected (vulnerable_code_not_present): a Go finding whose
//     vulnerable symbols are not in the binary (Reachability absent);
//   - fixed: an advisory that names an installed package whose version
//     already has the fix (Report.Fixed).
//
// The product is the image by its pkg:oci PURL with the package as a
// subcomponent, or the package itself when the image has no manifest
// digest. Findings of packages without a PURL, and suppressed findings,
// are left out: Lockdown did not decide those.

const openVEXContext = "https://openvex.dev/ns/v0.2.0"

// errNoStatements: OpenVEX needs at least one statement.
var errNoStatements = errors.New("nothing to state in OpenVEX: no finding and no fixed advisory names a package with a PURL")

type vexDoc struct {
	Context    string         `json:"@context"`
	ID         string         `json:"@id"`
	Author     string         `json:"author"`
	Timestamp  string         `json:"timestamp"`
	Version    int            `json:"version"`
	Tooling    string         `json:"tooling,omitempty"`
	Statements []vexStatement `json:"statements"`
}

type vexStatement struct {
	Vulnerability   vexVuln        `json:"vulnerability"`
	Products        []vexComponent `json:"products"`
	Status          string         `json:"status"`
	StatusNotes     string         `json:"status_notes,omitempty"`
	Justification   string         `json:"justification,omitempty"`
	ActionStatement string         `json:"action_statement,omitempty"`
}

type vexVuln struct {
	Name    string   `json:"name"`
	Aliases []string `json:"aliases,omitempty"`
}

type vexComponent struct {
	ID            string         `json:"@id"`
	Subcomponents []vexComponent `json:"subcomponents,omitempty"`
}

func buildOpenVEX(r *model.Report, opts Options) (*vexDoc, error) {
	tool := toolOf(r.Tool, opts)
	var t model.Target
	if r.Target != nil {
		t = *r.Target
	}
	image := t.PURL()
	if !isAbsURI(image) {
		image = ""
	}
	product := func(p *model.Package) []vexComponent {
		if image == "" {
			return []vexComponent{{ID: p.PURL}}
		}
		return []vexComponent{{ID: image, Subcomponents: []vexComponent{{ID: p.PURL}}}}
	}
	// One statement per vulnerability and package, whatever name it goes
	// by: the first wins, and findings come before fixed advisories, so a
	// CVE one record still affects is never also stated fixed.
	type key struct{ id, purl string }
	seen := map[key]bool{}
	var sts []vexStatement
	add := func(f *model.Finding, st vexStatement) {
		if f.Package == nil || !isAbsURI(f.Package.PURL) {
			return
		}
		ids := append([]string{f.RuleID}, f.Aliases...)
		for _, id := range ids {
			if seen[key{id, f.Package.PURL}] {
				return
			}
		}
		for _, id := range ids {
			seen[key{id, f.Package.PURL}] = true
		}
		st.Vulnerability = vexVuln{Name: f.RuleID, Aliases: vexAliases(f)}
		st.Products = product(f.Package)
		sts = append(sts, st)
	}
	for _, f := range sortedFindings(r.Findings) {
		if f.Kind != model.KindVulnerability {
			continue
		}
		if rc := f.Reachability; rc != nil && rc.State == model.ReachAbsent {
			add(&f, vexStatement{Status: "not_affected", Justification: "vulnerable_code_not_present",
				StatusNotes: strings.TrimSpace("none of the vulnerable symbols the advisory names is in the binary " + rc.Reason)})
			continue
		}
		action := "No fixed version is known yet: remove " + f.Package.Name + " or mitigate the vulnerability."
		if f.FixedVersion != "" {
			action = "Upgrade " + f.Package.Name + " to " + f.FixedVersion + " or later."
		}
		add(&f, vexStatement{Status: "affected", ActionStatement: action})
	}
	for _, f := range sortedFindings(r.Fixed) {
		add(&f, vexStatement{Status: "fixed",
			StatusNotes: f.Package.Name + " " + cmp.Or(f.InstalledVersion, f.Package.Version) + " has the fix (fixed in " + f.FixedVersion + ")"})
	}
	if len(sts) == 0 {
		return nil, errNoStatements
	}
	created := r.CreatedAt
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	return &vexDoc{
		Context:    openVEXContext,
		ID:         "urn:uuid:" + documentUUID("openvex", t, r.Packages, append(slices.Clone(r.Findings), r.Fixed...)),
		Author:     tool.Name,
		Timestamp:  created.UTC().Format(time.RFC3339),
		Version:    1,
		Tooling:    strings.TrimSpace(tool.Name + " " + tool.Version),
		Statements: sts,
	}, nil
}

// isAbsURI reports whether s is an absolute URI (a PURL is one), as an
// OpenVEX @id must be; one built from hostile names may not be.
func isAbsURI(s string) bool {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\\' }) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.IsAbs() && !strings.Contains(u.Hostname(), ":")
}

// vexAliases are a finding's other IDs, each once, without its own.
func vexAliases(f *model.Finding) []string {
	var out []string
	for _, a := range slices.Sorted(slices.Values(f.Aliases)) {
		if a != "" && a != f.RuleID && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func writeOpenVEX(w io.Writer, r *model.Report, opts Options) error {
	doc, err := buildOpenVEX(r, opts)
	if err != nil {
		return err
	}
	return writeJSON(w, doc)
}
