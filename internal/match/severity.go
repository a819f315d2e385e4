package match

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	cvss40 "github.com/pandatix/go-cvss/40"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/osv"
)

// severityOf returns the severity of one record for one affected entry,
// and the CVSS vector it came from ("" when it did not come from one):
//
//  1. CVSS vectors in the affected entry's severity list, then in the
//     record's: CVSS v4 (scored with github.com/pandatix/go-cvss) before
//     CVSS v3.x (scored here with the specification's base formula);
//  2. the record's own words: a severity list entry of another type
//     ("Ubuntu": "medium"), database_specific.severity ("HIGH",
//     "MODERATE", GHSA), ecosystem_specific/database_specific "severity"
//     of the affected entry, and the "Important:"-style prefix of a
//     Red Hat-family summary (AlmaLinux, Rocky);
//  3. else UNKNOWN.
func severityOf(v *osv.Vulnerability, a *osv.Affected) (model.Severity, string) {
	for _, list := range [][]osv.Severity{a.Severity, v.Severity} {
		for _, typ := range []string{"CVSS_V4", "CVSS_V3"} {
			for _, s := range list {
				if s.Type != typ {
					continue
				}
				score, err := cvssScore(s.Score)
				if err != nil {
					continue
				}
				return scoreSeverity(score), s.Score
			}
		}
	}
	for _, list := range [][]osv.Severity{a.Severity, v.Severity} {
		for _, s := range list {
			if strings.HasPrefix(s.Type, "CVSS") {
				continue
			}
			if sev, ok := wordSeverity(s.Score); ok {
				return sev, ""
			}
		}
	}
	for _, raw := range []json.RawMessage{a.EcosystemSpecific, a.DatabaseSpecific, v.DatabaseSpecific} {
		if sev, ok := rawSeverity(raw); ok {
			return sev, ""
		}
	}
	if head, _, ok := strings.Cut(v.Summary, ":"); ok {
		if sev, ok := wordSeverity(head); ok {
			return sev, ""
		}
	}
	return model.SeverityUnknown, ""
}

// vendorSeverity is the vendor's severity word when it is one Lockdown has
// no level for and reports as LOW (the record's or the entry's severity
// list, database_specific or ecosystem_specific "severity" or "urgency"):
// Ubuntu's "negligible" priority, Debian's "unimportant" urgency. "" for
// any other.
func vendorSeverity(v *osv.Vulnerability, a *osv.Affected) string {
	low := func(w string) string {
		switch w = strings.ToLower(strings.TrimSpace(w)); w {
		case "negligible", "unimportant":
			return w
		}
		return ""
	}
	// The vendor's own word, the entry's before the record's, decides.
	for _, list := range [][]osv.Severity{a.Severity, v.Severity} {
		for _, s := range list {
			if !strings.HasPrefix(s.Type, "CVSS") {
				return low(s.Score)
			}
		}
	}
	for _, raw := range []json.RawMessage{a.EcosystemSpecific, a.DatabaseSpecific} {
		var m struct{ Severity, Urgency string }
		if len(raw) > 0 && json.Unmarshal(raw, &m) == nil {
			if w := low(m.Severity + m.Urgency); w != "" {
				return w
			}
		}
	}
	return ""
}

func rawSeverity(raw json.RawMessage) (model.Severity, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	var m struct {
		Severity json.RawMessage `json:"severity"`
	}
	if json.Unmarshal(raw, &m) != nil || len(m.Severity) == 0 {
		return 0, false
	}
	var s string
	if json.Unmarshal(m.Severity, &s) != nil {
		return 0, false
	}
	return wordSeverity(s)
}

// wordSeverity reads a severity word as advisories write it.
func wordSeverity(s string) (model.Severity, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical":
		return model.SeverityCritical, true
	case "high", "important":
		return model.SeverityHigh, true
	case "medium", "moderate":
		return model.SeverityMedium, true
	case "low":
		return model.SeverityLow, true
	case "negligible", "none", "informational":
		return model.SeverityNone, true
	}
	return 0, false
}

// scoreSeverity maps a CVSS score to its qualitative rating (CVSS v3.1
// specification §5, v4.0 §6): 0 none, 0.1-3.9 low, 4.0-6.9 medium, 7.0-8.9
// high, 9.0-10.0 critical.
func scoreSeverity(score float64) model.Severity {
	switch {
	case score <= 0:
		return model.SeverityNone
	case score < 4:
		return model.SeverityLow
	case score < 7:
		return model.SeverityMedium
	case score < 9:
		return model.SeverityHigh
	}
	return model.SeverityCritical
}

// cvssScore returns the base score of a CVSS v3.0/v3.1 or v4.0 vector.
func cvssScore(vector string) (float64, error) {
	switch {
	case strings.HasPrefix(vector, "CVSS:4.0/"):
		c, err := cvss40.ParseVector(vector)
		if err != nil {
			return 0, fmt.Errorf("parse CVSS v4 vector %q: %w", vector, err)
		}
		return c.Score(), nil
	case strings.HasPrefix(vector, "CVSS:3.0/"), strings.HasPrefix(vector, "CVSS:3.1/"):
		return cvss3BaseScore(vector)
	}
	return 0, fmt.Errorf("parse CVSS vector %q: not CVSS v3 or v4", vector)
}

// cvss3BaseScore computes the CVSS v3.x base score with the formula of the
// CVSS v3.1 specification §7.1 (identical for 3.0 except Roundup, §Appendix
// A; the 3.1 Roundup is used for both, as NVD does). Temporal and
// environmental metrics may be present and are ignored; every base metric
// must appear exactly once.
func cvss3BaseScore(vector string) (float64, error) {
	_, rest, _ := strings.Cut(vector, "/")
	weights := map[string]map[string]float64{
		"AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
		"AC": {"L": 0.77, "H": 0.44},
		"PR": {"N": 0.85, "L": 0.62, "H": 0.27},
		"UI": {"N": 0.85, "R": 0.62},
		"S":  {"U": 0, "C": 1},
		"C":  {"H": 0.56, "L": 0.22, "N": 0},
		"I":  {"H": 0.56, "L": 0.22, "N": 0},
		"A":  {"H": 0.56, "L": 0.22, "N": 0},
	}
	other := map[string]bool{"E": true, "RL": true, "RC": true, "CR": true, "IR": true, "AR": true,
		"MAV": true, "MAC": true, "MPR": true, "MUI": true, "MS": true, "MC": true, "MI": true, "MA": true}
	got := map[string]string{}
	for _, part := range strings.Split(rest, "/") {
		k, val, ok := strings.Cut(part, ":")
		if !ok {
			return 0, fmt.Errorf("parse CVSS v3 vector %q: bad part %q", vector, part)
		}
		if _, seen := got[k]; seen {
			return 0, fmt.Errorf("parse CVSS v3 vector %q: metric %s twice", vector, k)
		}
		if w, ok := weights[k]; ok {
			if _, ok := w[val]; !ok {
				return 0, fmt.Errorf("parse CVSS v3 vector %q: bad value %s:%s", vector, k, val)
			}
		} else if !other[k] {
			return 0, fmt.Errorf("parse CVSS v3 vector %q: unknown metric %s", vector, k)
		}
		got[k] = val
	}
	for k := range weights {
		if _, ok := got[k]; !ok {
			return 0, fmt.Errorf("parse CVSS v3 vector %q: base metric %s missing", vector, k)
		}
	}
	changed := got["S"] == "C"
	pr := weights["PR"][got["PR"]]
	if changed {
		switch got["PR"] {
		case "L":
			pr = 0.68
		case "H":
			pr = 0.5
		}
	}
	iss := 1 - (1-weights["C"][got["C"]])*(1-weights["I"][got["I"]])*(1-weights["A"][got["A"]])
	var impact float64
	if changed {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	} else {
		impact = 6.42 * iss
	}
	expl := 8.22 * weights["AV"][got["AV"]] * weights["AC"][got["AC"]] * pr * weights["UI"][got["UI"]]
	if impact <= 0 {
		return 0, nil
	}
	if changed {
		return roundup(math.Min(1.08*(impact+expl), 10)), nil
	}
	return roundup(math.Min(impact+expl, 10)), nil
}

// roundup is CVSS v3.1 Appendix A's Roundup: the smallest number with one
// decimal that is >= x, computed on integers to avoid float error.
func roundup(x float64) float64 {
	i := int64(math.Round(x * 100000))
	if i%10000 == 0 {
		return float64(i) / 100000
	}
	return float64(i/10000+1) / 10
}
