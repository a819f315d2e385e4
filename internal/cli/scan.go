package cli

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/report"
	"github.com/lockdown-sec/lockdown/internal/scan"
	"github.com/lockdown-sec/lockdown/internal/suppress"
	"github.com/lockdown-sec/lockdown/internal/termsafe"
	"github.com/lockdown-sec/lockdown/internal/vulndb"
)

// defaultIgnoreFile is read from the working directory when present.
const defaultIgnoreFile = ".lockdownignore"

type scanFlags struct {
	tf              targetFlags
	dbPath          string
	dbSources       []string
	maxDBAge        time.Duration
	failOn          string
	failOnUnchecked bool
	severities      []string
	ignoreUnfixed   bool
	goReachability  []string
	underInvest     bool
	ignoreFile      string
	vexFiles        []string
}

func newScanCmd(g *globals) *cobra.Command {
	var sf scanFlags
	cmd := &cobra.Command{
		Use:   "scan TARGET",
		Short: "Find the known vulnerabilities in an image or root filesystem",
		Long: `Catalog TARGET (as lockdown sbom does) and match every package against the
advisory database: distribution packages by source package (Debian, Ubuntu) or
origin (Alpine) and only against their own release, Go modules and the Go
toolchain against the Go advisories.

When the database does not exist yet it is built first, from --db-source when
given (a directory, zip or URL, as for lockdown db update --source), else from
osv.dev's exports.

Suppress accepted findings with an ignore file (default ./.lockdownignore when
present) and OpenVEX documents (--vex); suppressed findings are listed, with the
reason, in the JSON output.

Packages that could not be checked are never silently left out: the
table's first lines, the JSON "notChecked", SARIF tool notifications and
CycloneDX properties count them by reason (no advisories for their
distribution release, unknown ecosystem, unparsable version, unreadable
package file).

Formats: table (default on a terminal), json (default otherwise), sarif,
cyclonedx-json, openvex (affected, not_affected for Go code absent from the
binary, fixed for advisories the installed version already fixes). Exit 1
when a finding reaches --fail-on, or when packages were not checked and
--fail-on-unchecked is given.`,
		Example: `  lockdown scan dir:/
  lockdown scan docker-archive:app.tar --fail-on high --ignore-unfixed
  lockdown scan registry:127.0.0.1:5000/app:1.0 --insecure-registry 127.0.0.1:5000 --format sarif -o app.sarif`,
		Args: exactlyOneTarget,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.runScan(cmd, args[0], &sf)
		},
	}
	sf.tf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&sf.dbPath, "db", "", "vulnerability database `PATH` (default: the user cache dir's lockdown/db/lockdown.db)")
	f.StringArrayVar(&sf.dbSources, "db-source", nil, "when the database is missing, build it from this `URL|DIR|ZIP` (repeatable)")
	f.DurationVar(&sf.maxDBAge, "max-db-age", 7*24*time.Hour, "warn when the database is older than this")
	f.StringSliceVar(&sf.severities, "severity", nil, "report only findings of these `SEVERITY,...` (unknown, low, medium, high, critical)")
	addFailOn(cmd, &sf.failOn)
	f.BoolVar(&sf.failOnUnchecked, "fail-on-unchecked", false, "exit 1 when some packages were not checked (no advisories for their ecosystem or release, unknown ecosystem, unparsable version, unreadable package file)")
	f.BoolVar(&sf.ignoreUnfixed, "ignore-unfixed", false, "hide vulnerabilities that have no fixed version")
	f.BoolVar(&sf.underInvest, "show-under-investigation", false, "also report vulnerabilities the vendor is still triaging (Ubuntu needs-triage)")
	f.StringSliceVar(&sf.goReachability, "go-reachability", nil, "report Go findings only when the vulnerable code's presence in the binary is one of `STATE,...` (present, absent, unknown)")
	f.StringVar(&sf.ignoreFile, "ignorefile", "", "ignore file `PATH` (default ./"+defaultIgnoreFile+" when present)")
	f.StringArrayVar(&sf.vexFiles, "vex", nil, "OpenVEX document `FILE` whose not_affected/fixed statements suppress findings (repeatable)")
	return cmd
}

func (g *globals) runScan(cmd *cobra.Command, target string, sf *scanFlags) error {
	ctx := cmd.Context()
	var only map[model.Severity]bool
	for _, name := range sf.severities {
		s, err := model.ParseSeverity(name)
		if err != nil {
			return badInput(fmt.Errorf("--severity: %w", err))
		}
		if only == nil {
			only = map[model.Severity]bool{}
		}
		only[s] = true
	}
	reach, err := parseReachability(sf.goReachability)
	if err != nil {
		return err
	}
	fail, err := parseFailOn(sf.failOn)
	if err != nil {
		return err
	}
	fail.unchecked = sf.failOnUnchecked
	format, err := g.pickFormat("scan", report.ReportFormats(report.KindScan), defaultByTerminal)
	if err != nil {
		return err
	}
	filter, err := loadFilter(sf)
	if err != nil {
		return badInput(err)
	}

	store, err := g.openDB(cmd, sf)
	if err != nil {
		return err
	}
	defer store.Close()
	st, err := store.Status()
	if err != nil {
		return badInput(err)
	}
	if age := time.Since(st.Built); sf.maxDBAge > 0 && age > sf.maxDBAge {
		g.logger.Warn("the vulnerability database is older than --max-db-age; run lockdown db update",
			"built", st.Built.Format(time.RFC3339), "age", roundAge(age).String(), "max", sf.maxDBAge.String())
	}

	opts := g.scanOptions(&sf.tf)
	opts.IgnoreUnfixed = sf.ignoreUnfixed
	opts.GoReachability = reach
	opts.ShowUnderInvestigation = sf.underInvest
	opts.CollectFixed = format == report.FormatOpenVEX
	opts.Filter = filter
	opts.Meta = map[string]string{
		"db":        store.Path(),
		"dbBuilt":   st.Built.UTC().Format(time.RFC3339),
		"dbRecords": strconv.Itoa(st.Records),
	}
	r, err := scan.Run(ctx, target, store, opts)
	if err != nil {
		return inputErr(err)
	}
	if only != nil {
		var shown []model.Finding
		for _, f := range r.Findings {
			if only[f.Severity] {
				shown = append(shown, f)
			}
		}
		r.Findings = append([]model.Finding{}, shown...)
	}
	return afterOutput(g.emitReport(r, format, fail), func() { g.notices(format, r.NotChecked, r.Warnings, true) })
}

// openDB opens the advisory store, building it first when it is missing.
func (g *globals) openDB(cmd *cobra.Command, sf *scanFlags) (*vulndb.Store, error) {
	path, err := resolveDBPath(sf.dbPath)
	if err != nil {
		return nil, err
	}
	store, err := vulndb.Open(path, vulndb.OpenOptions{})
	if err == nil {
		return store, nil
	}
	if !errors.Is(err, vulndb.ErrNoDB) {
		return nil, badInput(err)
	}
	var srcs []vulndb.Source
	for _, s := range sf.dbSources {
		d, err := vulndb.DetectSources(s)
		if err != nil {
			return nil, badInput(fmt.Errorf("--db-source: %w", err))
		}
		srcs = append(srcs, d...)
	}
	g.logger.Info("no vulnerability database yet: building it", "path", path, "sources", len(srcs))
	if !g.quiet {
		fmt.Fprintf(g.stderr, "lockdown: building the vulnerability database at %s (first run)\n", termsafe.String(path))
	}
	if _, err := vulndb.Update(cmd.Context(), path, srcs, vulndb.UpdateOptions{Logger: g.logger}); err != nil {
		if cmd.Context().Err() != nil {
			return nil, err
		}
		return nil, badInput(fmt.Errorf("build the vulnerability database: %w", err))
	}
	store, err = vulndb.Open(path, vulndb.OpenOptions{})
	if err != nil {
		return nil, badInput(err)
	}
	return store, nil
}

func loadFilter(sf *scanFlags) (suppress.Filter, error) {
	var f suppress.Filter
	path := sf.ignoreFile
	if path == "" {
		if _, err := os.Stat(defaultIgnoreFile); err == nil {
			path = defaultIgnoreFile
		}
	}
	if path != "" {
		ig, err := suppress.LoadIgnoreFile(path)
		if err != nil {
			return f, err
		}
		f.Ignore = ig
	}
	for _, p := range sf.vexFiles {
		doc, err := suppress.LoadVEX(p)
		if err != nil {
			return f, err
		}
		f.VEX = append(f.VEX, doc)
	}
	return f, nil
}

// roundAge keeps an age readable: whole hours past an hour, seconds below.
func roundAge(d time.Duration) time.Duration {
	if d >= time.Hour {
		return d.Round(time.Hour)
	}
	return d.Round(time.Second)
}

// parseReachability checks --go-reachability: each state must be one of
// present, absent, unknown.
func parseReachability(states []string) ([]string, error) {
	var out []string
	for _, s := range states {
		s = strings.ToLower(strings.TrimSpace(s))
		switch s {
		case model.ReachPresent, model.ReachAbsent, model.ReachUnknown:
			out = append(out, s)
		default:
			return nil, badInput(fmt.Errorf("--go-reachability: unknown state %q (want present, absent or unknown)", s))
		}
	}
	return out, nil
}
