package model

import (
	"fmt"
	"strings"
	"time"
)

// Severity orders findings. The zero value is SeverityUnknown.
type Severity int

const (
	SeverityUnknown Severity = iota
	SeverityNone             // informational: a passing check, a note
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = []string{"UNKNOWN", "NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return "UNKNOWN"
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name, case-insensitively ("high", "HIGH";
// "moderate" and "important" as their usual synonyms).
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "UNKNOWN":
		return SeverityUnknown, nil
	case "NONE", "INFO", "NEGLIGIBLE":
		return SeverityNone, nil
	case "LOW":
		return SeverityLow, nil
	case "MEDIUM", "MODERATE":
		return SeverityMedium, nil
	case "HIGH", "IMPORTANT":
		return SeverityHigh, nil
	case "CRITICAL":
		return SeverityCritical, nil
	}
	return SeverityUnknown, fmt.Errorf("unknown severity %q (want one of unknown, low, medium, high, critical)", s)
}

func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	*s = v
	return err
}

// Finding kinds.
const (
	KindVulnerability = "vulnerability"
	KindPosture       = "posture"
	KindPolicyLint    = "policy-lint"
	// KindMisconfig: a rule of `lockdown lint` (Dockerfile, Compose,
	// Kubernetes manifest) that the file breaks.
	KindMisconfig = "misconfiguration"
)

// Status values. Vulnerabilities use StatusFixed / StatusUnfixed (is a fix
// available); checks use the CIS-style PASS … SKIP.
const (
	StatusFixed   = "fixed"
	StatusUnfixed = "unfixed"
	// A vulnerability without a fix whose vendor says more (see
	// internal/vulndb/distro's vendor status table): it will not be fixed,
	// the fix is deferred, the release is at end of life, or whether the
	// package is affected is still being investigated (hidden by default).
	StatusWillNotFix         = "will_not_fix"
	StatusFixDeferred        = "fix_deferred"
	StatusEndOfLife          = "end_of_life"
	StatusUnderInvestigation = "under_investigation"
	// StatusResolved: the installed version has the fix (Report.Fixed).
	StatusResolved = "resolved"

	StatusPass = "PASS"
	StatusFail = "FAIL"
	StatusWarn = "WARN"
	StatusInfo = "INFO"
	StatusSkip = "SKIP"
)

// Finding is the one result shape for vulnerabilities, posture checks and
// policy lint, so every writer, metric and --fail-on treats them alike.
type Finding struct {
	Kind     string   `json:"kind"`              // KindVulnerability, KindPosture, KindPolicyLint
	RuleID   string   `json:"ruleID"`            // advisory ID (CVE preferred) or check ID
	Aliases  []string `json:"aliases,omitempty"` // other IDs for the same advisory
	Title    string   `json:"title,omitempty"`
	Severity Severity `json:"severity"`
	Status   string   `json:"status"`

	// Subject is what the finding is about: a package ("openssl 1.1.1q-r0"),
	// "daemon", a container or image name, a policy "ns/name".
	Subject string `json:"subject"`
	// Scope groups findings in reports: "package", "daemon", "host",
	// "container", "image", "policy".
	Scope string `json:"scope,omitempty"`

	Package          *Package  `json:"package,omitempty"`
	InstalledVersion string    `json:"installedVersion,omitempty"`
	FixedVersion     string    `json:"fixedVersion,omitempty"`
	Layer            *LayerRef `json:"layer,omitempty"`

	Evidence    string   `json:"evidence,omitempty"`    // what was seen (secrets redacted)
	Location    string   `json:"location,omitempty"`    // file[:line], API path
	Remediation string   `json:"remediation,omitempty"` // exact flag, key or version
	Rationale   string   `json:"rationale,omitempty"`
	References  []string `json:"references,omitempty"`
	CIS         string   `json:"cis,omitempty"` // CIS Docker Benchmark ID, posture only
	CVSS        string   `json:"cvss,omitempty"`
	Source      string   `json:"source,omitempty"` // where the advisory came from

	// VendorSeverity is the severity as the advisory's vendor wrote it when
	// it is not one of Lockdown's ("negligible", "unimportant"), kept next
	// to the normalised Severity.
	VendorSeverity string `json:"vendorSeverity,omitempty"`
	// Reachability says, for a Go finding, whether the vulnerable code is
	// in the binary; nil for every other finding.
	Reachability *Reachability `json:"reachability,omitempty"`
}

// Reachability states.
const (
	// ReachPresent: a symbol the advisory names is in the binary.
	ReachPresent = "present"
	// ReachAbsent: the advisory names symbols and none is in the binary.
	ReachAbsent = "absent"
	// ReachUnknown: the advisory names no symbol, or the binary has no
	// usable symbol information.
	ReachUnknown = "unknown"
)

// Reachability is whether a Go binary contains the vulnerable code of a
// finding, and the evidence: the advisory's symbols found in the binary.
type Reachability struct {
	State   string   `json:"state"`             // ReachPresent, ReachAbsent, ReachUnknown
	Symbols []string `json:"symbols,omitempty"` // matched symbols ("golang.org/x/net/html.Parse")
	Reason  string   `json:"reason,omitempty"`  // why unknown, or what was checked for absent
}

// Failing reports whether f counts towards --fail-on at threshold t: a
// vulnerability at or above t, or a failed/warned check at or above t.
func (f Finding) Failing(t Severity) bool {
	if f.Severity < t {
		return false
	}
	switch f.Kind {
	case KindVulnerability:
		return true
	default:
		return f.Status == StatusFail || f.Status == StatusWarn || f.Status == ""
	}
}

// Suppressed is a finding hidden by an ignore file, a VEX statement or a
// baseline, with the reason.
type Suppressed struct {
	Finding Finding `json:"finding"`
	Reason  string  `json:"reason"`
	By      string  `json:"by"` // "ignore-file", "vex", "baseline"
}

// Report is what scan, audit and lint hand to the writers.
type Report struct {
	Kind       string       `json:"kind"` // "scan", "audit", "netpol-lint"
	Tool       Tool         `json:"tool"`
	CreatedAt  time.Time    `json:"createdAt"`
	Target     *Target      `json:"target,omitempty"`
	Distro     *Distro      `json:"distro,omitempty"`
	Packages   []Package    `json:"packages,omitempty"` // scan: what was matched (CycloneDX needs them)
	Findings   []Finding    `json:"findings"`
	Suppressed []Suppressed `json:"suppressed,omitempty"`
	Warnings   []Warning    `json:"warnings,omitempty"`
	// NotChecked lists, for a scan, the packages that were not checked for
	// vulnerabilities and why: a clean result must never hide them.
	NotChecked []NotChecked `json:"notChecked,omitempty"`
	// Fixed lists, for a scan that asked for them, the advisories that name
	// an installed package whose version already has the fix (Status
	// StatusResolved, FixedVersion the fix): OpenVEX "fixed" statements.
	Fixed []Finding `json:"fixed,omitempty"`
	// Meta carries small facts for the header: DB build time, engine version, score.
	Meta map[string]string `json:"meta,omitempty"`
}

// Reasons a scan did not check packages (NotChecked.Reason).
const (
	// NotCheckedNoAdvisories: the database holds no advisory for the
	// packages' ecosystem or release ("Debian:12"); a database update or
	// another source would check them.
	NotCheckedNoAdvisories = "no-advisories"
	// NotCheckedUnsupported: the packages have no ecosystem, or one whose
	// versions Lockdown cannot compare.
	NotCheckedUnsupported = "unsupported-ecosystem"
	// NotCheckedUnparsableVersion: advisories name the package but its
	// installed version cannot be parsed: only exact version lists were
	// compared, no ranges.
	NotCheckedUnparsableVersion = "unparsable-version"
	// NotCheckedUnreadable: a package database, lock file or executable
	// could not be read: how many packages it lists is unknown.
	NotCheckedUnreadable = "unreadable-file"
)

// NotChecked is one group of packages that a scan did not check, with the
// reason.
type NotChecked struct {
	Reason string `json:"reason"` // NotCheckedNoAdvisories, …
	// Ecosystem is the packages' OSV ecosystem ("Debian:12"), or their
	// package type when they have no ecosystem.
	Ecosystem string `json:"ecosystem,omitempty"`
	// Packages is how many packages the group holds; 0 for an unreadable
	// file (unknown).
	Packages int `json:"packages"`
	// Path and Layer name the unreadable file (NotCheckedUnreadable).
	Path  string `json:"path,omitempty"`
	Layer string `json:"layer,omitempty"`
	// Message says it in one line, with what to do about it.
	Message string `json:"message"`
}

// Unchecked counts what a scan did not check: the packages of its
// NotChecked groups and the files that could not be read.
func (r *Report) Unchecked() (packages, files int) {
	for _, nc := range r.NotChecked {
		packages += nc.Packages
		if nc.Reason == NotCheckedUnreadable {
			files++
		}
	}
	return packages, files
}
