package vulndb

import (
	"fmt"
	"time"
)

// Status describes a database: what Update built, and what Open found.
type Status struct {
	Path    string    `json:"path"`
	Schema  int       `json:"schema"`
	Built   time.Time `json:"built"`
	Size    int64     `json:"size"`              // bytes on disk
	Elapsed Duration  `json:"elapsed,omitempty"` // how long the update took

	Sources    []SourceStatus   `json:"sources"`
	Ecosystems []EcosystemCount `json:"ecosystems"` // sorted by name

	Records    int `json:"records"`    // distinct records stored
	Withdrawn  int `json:"withdrawn"`  // of which withdrawn
	Unindexed  int `json:"unindexed"`  // records naming no package (GIT-only)
	Duplicates int `json:"duplicates"` // records read more than once; the newest `modified` is kept
	Rejected   int `json:"rejected"`   // records (and distribution advisory lines) skipped as malformed

	// Rejections are the first few rejected records, with the reason.
	Rejections []Rejection `json:"rejections,omitempty"`
	// Unknown lists ecosystems whose version scheme Lockdown does not know:
	// their records are stored and indexed, but matching cannot compare
	// their versions.
	Unknown []string `json:"unknownEcosystems,omitempty"`
}

// SourceStatus is one source of an update.
type SourceStatus struct {
	Kind      Kind      `json:"kind"`
	Location  string    `json:"location"` // path or URL
	Records   int       `json:"records"`  // records read (before de-duplication)
	Rejected  int       `json:"rejected"`
	FetchedAt time.Time `json:"fetchedAt"`
}

// EcosystemCount counts, per normalised ecosystem, the distinct records
// that name at least one package in it and the distinct package names.
type EcosystemCount struct {
	Name      string `json:"name"`
	Records   int    `json:"records"`
	Withdrawn int    `json:"withdrawn"`
	Packages  int    `json:"packages"`
	Known     bool   `json:"known"` // Lockdown knows its version scheme
}

// Rejection is one skipped record or line.
type Rejection struct {
	Where  string `json:"where"` // file, zip entry, file:line
	Reason string `json:"reason"`
}

// Age is how long ago the database was built.
func (s Status) Age() time.Duration {
	if s.Built.IsZero() {
		return 0
	}
	return time.Since(s.Built)
}

// Duration is a time.Duration that reads as "1.5s" in JSON.
type Duration time.Duration

func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: %w", b, err)
	}
	*d = Duration(v)
	return nil
}
