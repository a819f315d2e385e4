// Package report writes Lockdown's results: SBOMs (table, JSON, CycloneDX,
// SPDX) and reports of findings from scan, audit and netpol lint (table,
// JSON, SARIF, CycloneDX). Every writer is deterministic: output depends
// only on the input (sorted copies; timestamps only from the model), so the
// same input gives byte-identical output. Writers never modify their input.
package report

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// ErrUnknownFormat is returned (wrapped, with the valid formats listed) for
// a format name that the writer does not know.
var ErrUnknownFormat = errors.New("unknown format")

// Options tune the writers. The zero value works: no colour, no truncation.
type Options struct {
	Color bool // ANSI colour in tables (severity colours); false when NO_COLOR / not a TTY
	Width int  // terminal width hint for tables; 0 = no truncation
	// ShowPassed lists passed, informational and skipped checks in audit
	// and lint tables too; by default they show only what needs fixing.
	ShowPassed bool
	// Tool names the producer in documents whose model carries no Tool.
	Tool model.Tool
}

// Format names.
const (
	FormatTable     = "table"
	FormatJSON      = "json"
	FormatCycloneDX = "cyclonedx-json"
	FormatSPDX      = "spdx-json"
	FormatSARIF     = "sarif"
	FormatOpenVEX   = "openvex"
)

// Report kinds (model.Report.Kind).
const (
	KindScan       = "scan"
	KindAudit      = "audit"
	KindNetpolLint = "netpol-lint"
	KindLint       = "lint" // lockdown lint: Dockerfiles, Compose files, Kubernetes manifests
)

// SBOMFormats lists the formats WriteSBOM accepts.
func SBOMFormats() []string {
	return []string{FormatTable, FormatJSON, FormatCycloneDX, FormatSPDX}
}

// ReportFormats lists the formats WriteReport accepts for a report kind
// ("scan", "audit", "netpol-lint"); nil for an unknown kind.
func ReportFormats(kind string) []string {
	switch kind {
	case KindScan:
		return []string{FormatTable, FormatJSON, FormatSARIF, FormatCycloneDX, FormatOpenVEX}
	case KindAudit, KindNetpolLint, KindLint:
		return []string{FormatTable, FormatJSON, FormatSARIF}
	}
	return nil
}

func unknownFormat(what, format string, valid []string) error {
	return fmt.Errorf("%w %q for %s (valid: %s)", ErrUnknownFormat, format, what, strings.Join(valid, ", "))
}

func normFormat(f string) string { return strings.ToLower(strings.TrimSpace(f)) }

// WriteSBOM writes s to w in format (one of SBOMFormats).
func WriteSBOM(w io.Writer, format string, s *model.SBOM, opts Options) error {
	f := normFormat(format)
	switch f {
	case FormatTable, FormatJSON, FormatCycloneDX, FormatSPDX:
	default:
		return unknownFormat("sbom", format, SBOMFormats())
	}
	if s == nil {
		return errors.New("write sbom: no sbom")
	}
	var err error
	switch f {
	case FormatTable:
		err = buffered(w, func(bw *bufio.Writer) error { return writeSBOMTable(bw, s, opts) })
	case FormatJSON:
		err = writeJSON(w, sortedSBOM(s))
	case FormatCycloneDX:
		err = writeCycloneDX(w, cdxInput{
			target: s.Target, distro: s.Distro, createdAt: s.CreatedAt,
			tool: toolOf(s.Tool, opts), packages: s.Packages, kind: "sbom",
		})
	case FormatSPDX:
		err = writeSPDX(w, s, opts)
	}
	if err != nil {
		return fmt.Errorf("write sbom %s: %w", f, err)
	}
	return nil
}

// WriteReport writes r to w in format (one of ReportFormats(r.Kind)).
func WriteReport(w io.Writer, format string, r *model.Report, opts Options) error {
	if r == nil {
		return errors.New("write report: no report")
	}
	valid := ReportFormats(r.Kind)
	if valid == nil {
		return fmt.Errorf("write report: unknown report kind %q (want %s, %s, %s or %s)", r.Kind, KindScan, KindAudit, KindNetpolLint, KindLint)
	}
	f := normFormat(format)
	ok := false
	for _, v := range valid {
		ok = ok || v == f
	}
	if !ok {
		return unknownFormat(r.Kind+" report", format, valid)
	}
	var err error
	switch f {
	case FormatTable:
		err = buffered(w, func(bw *bufio.Writer) error { return writeReportTable(bw, r, opts) })
	case FormatJSON:
		err = writeJSON(w, sortedReport(r))
	case FormatSARIF:
		err = writeSARIF(w, r, opts)
	case FormatCycloneDX:
		in := cdxInput{
			createdAt: r.CreatedAt, tool: toolOf(r.Tool, opts), distro: r.Distro,
			packages: r.Packages, findings: r.Findings, suppressed: r.Suppressed, kind: "scan",
			notChecked: r.NotChecked,
		}
		if r.Target != nil {
			in.target = *r.Target
		}
		err = writeCycloneDX(w, in)
	case FormatOpenVEX:
		err = writeOpenVEX(w, r, opts)
	}
	if err != nil {
		return fmt.Errorf("write %s report %s: %w", r.Kind, f, err)
	}
	return nil
}

// toolOf picks the producer: the model's Tool, else the options', else
// plain "lockdown".
func toolOf(t model.Tool, opts Options) model.Tool {
	if t.Name != "" {
		return t
	}
	if opts.Tool.Name != "" {
		return opts.Tool
	}
	return model.Tool{Name: "lockdown", Version: t.Version}
}

// buffered runs fn on a buffered writer over w and flushes it.
func buffered(w io.Writer, fn func(*bufio.Writer) error) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := fn(bw); err != nil {
		return err
	}
	return bw.Flush()
}
