package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lockdown-sec/lockdown/internal/atomicfile"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/report"
)

// This file is the one path by which every command writes its result:
// pick and check --format and --output before the work, write the result
// (to standard output, or atomically to --output) after it, and turn
// --fail-on into the exit code.

// defaultByTerminal as the default of pickFormat: table when the output is
// a terminal, json otherwise.
const defaultByTerminal = ""

// pickFormat returns --format, lower-cased, checked against valid (or def
// when no --format was given), and checks that --output can be created. It
// runs before the work, so that a typo costs nothing.
func (g *globals) pickFormat(what string, valid []string, def string) (string, error) {
	if err := g.checkOutput(); err != nil {
		return "", err
	}
	format := strings.ToLower(strings.TrimSpace(g.format))
	if format == "" {
		format = def
		if def == defaultByTerminal {
			format = g.terminalDefault()
		}
	}
	for _, v := range valid {
		if v == format {
			return format, nil
		}
	}
	return "", badInput(fmt.Errorf("unknown --format %q: %s writes %s", format, what, strings.Join(valid, ", ")))
}

// checkOutput fails early when --output names a file in a directory that
// does not exist.
func (g *globals) checkOutput() error {
	if g.output == "" || g.output == "-" {
		return nil
	}
	dir := filepath.Dir(g.output)
	fi, err := os.Stat(dir)
	if err != nil {
		return badInput(fmt.Errorf("output %s: %w", g.output, err))
	}
	if !fi.IsDir() {
		return badInput(fmt.Errorf("output %s: %s is not a directory", g.output, dir))
	}
	return nil
}

// terminalDefault is table when the output is a terminal, json otherwise,
// found without creating the output file.
func (g *globals) terminalDefault() string {
	if g.output == "" || g.output == "-" {
		return defaultFormat(g.stdout)
	}
	if fi, err := os.Stat(g.output); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		if f, err := os.OpenFile(g.output, os.O_WRONLY, 0); err == nil {
			defer f.Close()
			return defaultFormat(f)
		}
	}
	return report.FormatJSON
}

// defaultFormat is table on a terminal, json otherwise.
func defaultFormat(w any) string {
	if ww, ok := w.(io.Writer); ok {
		w = unwrapWriter(ww)
	}
	if f, ok := w.(interface{ Fd() uintptr }); ok && isTerminalFd(f.Fd()) {
		return report.FormatTable
	}
	return report.FormatJSON
}

// writeOutput runs write against standard output or --output. A file is
// written to a temporary name beside it and renamed into place only when
// write succeeded, so a failed or interrupted run leaves an earlier file
// as it was. color tells write whether table output may use colour.
func (g *globals) writeOutput(write func(w io.Writer, color bool) error) error {
	if g.output == "" || g.output == "-" {
		if err := write(g.stdout, g.color(g.stdout)); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		return nil
	}
	// Devices and pipes (-o /dev/stderr) are written in place.
	if fi, err := os.Stat(g.output); err == nil && !fi.Mode().IsRegular() {
		f, err := os.OpenFile(g.output, os.O_WRONLY, 0)
		if err != nil {
			return badInput(fmt.Errorf("output %s: %w", g.output, err))
		}
		werr := write(f, g.color(f))
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("write %s: %w", g.output, werr)
		}
		return nil
	}
	if err := atomicfile.Write(g.output, 0o644, func(w io.Writer) error { return write(w, false) }); err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return badInput(fmt.Errorf("output %s: %w", g.output, err))
		}
		return err
	}
	return nil
}

// failOn is a parsed --fail-on (and, for a scan, --fail-on-unchecked);
// the zero value fails on nothing.
type failOn struct {
	set       bool
	threshold model.Severity
	// unchecked fails a scan that did not check some packages.
	unchecked bool
}

// addFailOn registers --fail-on on cmd.
func addFailOn(cmd *cobra.Command, raw *string) {
	cmd.Flags().StringVar(raw, "fail-on", "", "exit 1 when a finding is at or above `SEVERITY` (low, medium, high, critical)")
}

// parseFailOn reads a --fail-on value ("" = not set).
func parseFailOn(raw string) (failOn, error) {
	if raw == "" {
		return failOn{}, nil
	}
	s, err := model.ParseSeverity(raw)
	if err != nil {
		return failOn{}, badInput(fmt.Errorf("--fail-on: %w", err))
	}
	return failOn{set: true, threshold: s}, nil
}

// reached reports whether a finding of r reaches the threshold, or r left
// packages unchecked when that fails too.
func (f failOn) reached(r *model.Report) bool {
	if f.unchecked && len(r.NotChecked) > 0 {
		return true
	}
	if !f.set {
		return false
	}
	for _, x := range r.Findings {
		if x.Failing(f.threshold) {
			return true
		}
	}
	return false
}

// emitReport writes r in format (see pickFormat) and returns the exit
// error for --fail-on: exit 1 when a finding reaches it.
func (g *globals) emitReport(r *model.Report, format string, fail failOn) error {
	return g.emitReportWith(r, format, fail, report.Options{})
}

// emitReportWith is emitReport with writer options (colour and the tool
// are filled in here).
func (g *globals) emitReportWith(r *model.Report, format string, fail failOn, opts report.Options) error {
	if r.Findings == nil {
		r.Findings = []model.Finding{}
	}
	err := g.writeOutput(func(w io.Writer, color bool) error {
		o := opts
		o.Color, o.Width, o.Tool = color, termWidth(w), r.Tool
		return report.WriteReport(w, format, r, o)
	})
	if err != nil {
		return err
	}
	if fail.reached(r) {
		return findingsExit()
	}
	return nil
}

// maxNoticeGroups bounds the warning lines notices prints; the report
// holds every warning.
const maxNoticeGroups = 20

// notices prints, once, what a result holds that a person must see even
// when it went to a file or a program: the groups of packages a scan did
// not check, then its warnings grouped and counted, most important first
// (report.GroupWarnings). A table on standard output shows them already,
// so then nothing is printed here. Warnings about unreadable files are
// left out when notChecked is given: its lines name those files.
func (g *globals) notices(format string, notChecked []model.NotChecked, ws []model.Warning, scan bool) {
	if format == report.FormatTable && (g.output == "" || g.output == "-") {
		return
	}
	for _, nc := range notChecked {
		g.logger.Warn(nc.Message)
	}
	if scan {
		ws = slices.DeleteFunc(slices.Clone(ws), func(w model.Warning) bool { return w.Kind == model.WarnUnreadable })
	}
	groups := report.GroupWarnings(ws)
	for i, grp := range groups {
		if i == maxNoticeGroups {
			g.logger.Warn(fmt.Sprintf("%d more kinds of warnings: the report lists them", len(groups)-i))
			break
		}
		g.logger.Warn(grp.String())
	}
}

// afterOutput runs fn when err (of emitReport) says the output was
// written: no error, or the exit for findings.
func afterOutput(err error, fn func()) error {
	var ee *exitError
	if err == nil || errors.As(err, &ee) && ee.code == ExitFindings {
		fn()
	}
	return err
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// addCheckFlags registers --check, --skip, --list-checks and --show-passed,
// the same for every checker; what names what the selectors match.
func addCheckFlags(cmd *cobra.Command, include, exclude *[]string, list, showPassed *bool, what string) {
	fl := cmd.Flags()
	fl.StringSliceVar(include, "check", nil, "run only these checks: `ID`s, "+what+", comma-separated")
	fl.StringSliceVar(exclude, "skip", nil, "skip these checks (same selectors as --check)")
	fl.BoolVar(list, "list-checks", false, "list the checks and exit")
	fl.BoolVar(showPassed, "show-passed", false, "table: list passed and skipped checks too (JSON and SARIF always have every result)")
}
