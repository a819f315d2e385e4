package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// BaselineVersion is the format version of baseline files.
const BaselineVersion = 1

// Baseline is a set of accepted FAIL/WARN results. A later run moves the
// results that match an entry (same check, scope, subject, status and
// evidence) to the report's Suppressed list, so only what changed shows.
type Baseline struct {
	Version   int             `json:"version"`
	CreatedAt time.Time       `json:"createdAt"`
	Entries   []BaselineEntry `json:"entries"`
}

// BaselineEntry identifies one accepted result. Evidence is stored as a
// hash so that a baseline never holds more than the report did.
type BaselineEntry struct {
	RuleID   string `json:"ruleID"`
	Scope    string `json:"scope"`
	Subject  string `json:"subject"`
	Status   string `json:"status"`
	Evidence string `json:"evidence"` // sha256 of the finding's evidence, hex
	Title    string `json:"title,omitempty"`
}

func evidenceHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func entryOf(f model.Finding) BaselineEntry {
	return BaselineEntry{RuleID: f.RuleID, Scope: f.Scope, Subject: f.Subject, Status: f.Status, Evidence: evidenceHash(f.Evidence), Title: f.Title}
}

func (e BaselineEntry) key() string {
	return strings.Join([]string{e.RuleID, e.Scope, e.Subject, e.Status, e.Evidence}, "\x00")
}

// NewBaseline accepts every FAIL and WARN result of r.
func NewBaseline(r *model.Report, now time.Time) Baseline {
	b := Baseline{Version: BaselineVersion, CreatedAt: now.UTC()}
	seen := map[string]bool{}
	for _, f := range r.Findings {
		if f.Status != model.StatusFail && f.Status != model.StatusWarn {
			continue
		}
		e := entryOf(f)
		if !seen[e.key()] {
			seen[e.key()] = true
			b.Entries = append(b.Entries, e)
		}
	}
	slices.SortFunc(b.Entries, func(a, c BaselineEntry) int { return strings.Compare(a.key(), c.key()) })
	return b
}

// ParseBaseline reads a baseline file's contents.
func ParseBaseline(data []byte) (Baseline, error) {
	var b Baseline
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return Baseline{}, fmt.Errorf("parse baseline: %w", err)
	}
	if b.Version != BaselineVersion {
		return Baseline{}, fmt.Errorf("parse baseline: version %d, want %d", b.Version, BaselineVersion)
	}
	for i, e := range b.Entries {
		if e.RuleID == "" || e.Subject == "" || e.Status == "" || len(e.Evidence) != 64 {
			return Baseline{}, fmt.Errorf("parse baseline: entry %d: ruleID, subject, status and a sha256 evidence hash are required", i)
		}
	}
	return b, nil
}

// ReadBaseline reads a baseline file.
func ReadBaseline(path string) (Baseline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Baseline{}, fmt.Errorf("read baseline %s: %w", path, err)
	}
	b, err := ParseBaseline(data)
	if err != nil {
		return Baseline{}, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// Write writes b as indented JSON.
func (b Baseline) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(b)
}

// WriteFile writes b to path atomically (a temporary file in the same
// directory, then rename).
func (b Baseline) WriteFile(path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".baseline-*")
	if err != nil {
		return fmt.Errorf("write baseline %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if err := b.Write(f); err != nil {
		f.Close()
		return fmt.Errorf("write baseline %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write baseline %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write baseline %s: %w", path, err)
	}
	return nil
}

// Apply returns a copy of r in which every result matching an entry of b
// is moved to Suppressed (By "baseline"). r is not modified.
func (b Baseline) Apply(r *model.Report) *model.Report {
	keys := make(map[string]bool, len(b.Entries))
	for _, e := range b.Entries {
		keys[e.key()] = true
	}
	out := *r
	out.Findings = nil
	out.Suppressed = slices.Clone(r.Suppressed)
	for _, f := range r.Findings {
		if (f.Status == model.StatusFail || f.Status == model.StatusWarn) && keys[entryOf(f).key()] {
			out.Suppressed = append(out.Suppressed, model.Suppressed{Finding: f, Reason: "accepted in baseline", By: "baseline"})
			continue
		}
		out.Findings = append(out.Findings, f)
	}
	if out.Findings == nil {
		out.Findings = []model.Finding{}
	}
	if len(r.Meta) > 0 {
		out.Meta = make(map[string]string, len(r.Meta)+1)
		for k, v := range r.Meta {
			out.Meta[k] = v
		}
		out.Meta["baselineAccepted"] = fmt.Sprint(len(out.Suppressed) - len(r.Suppressed))
	}
	return &out
}
