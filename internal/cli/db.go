package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockdown-sec/lockdown/internal/termsafe"
	"github.com/lockdown-sec/lockdown/internal/vulndb"
)

func newDBCmd(g *globals) *cobra.Command {
	var dbPath string
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Manage the vulnerability database (update, status)",
		Args:  cobra.NoArgs,
	}
	cmd.PersistentFlags().StringVar(&dbPath, "db", "", "database `PATH` (default: the user cache dir's lockdown/db/lockdown.db)")
	cmd.AddCommand(newDBUpdateCmd(g, &dbPath), newDBStatusCmd(g, &dbPath))
	return cmd
}

func resolveDBPath(p string) (string, error) {
	if p != "" {
		return p, nil
	}
	p, err := vulndb.DefaultDBPath()
	if err != nil {
		return "", badInput(err)
	}
	return p, nil
}

func newDBUpdateCmd(g *globals, dbPath *string) *cobra.Command {
	var (
		sources    []string
		ecosystems []string
		mirror     string
		alpine     []string
		ubuntu     []string
		debian     []string
	)
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Build the vulnerability database from OSV exports and distribution data",
		Long: `Build the vulnerability database and swap it in atomically: a failed or
interrupted update leaves the previous database as it was.

With no source, the osv.dev exports (<mirror>/<ECOSYSTEM>/all.zip) of the
--ecosystem list are downloaded (default: ` + strings.Join(vulndb.DefaultEcosystems(), ", ") + `).
--ecosystem together with sources adds those exports to them.

--source accepts (repeat it for several):
  URL            an http(s) URL of an OSV zip (osv.dev all.zip or any zip)
  FILE.zip       a zip of OSV JSON files, at any depth
  FILE.json      one OSV record
  DIR            a directory of OSV JSON files and zips, at any depth
  DIR            laid out like distribution data: a directory holding
                 alpine-secdb/, ubuntu-cve-tracker/*.tar.gz and
                 debian-security-tracker/ reads each of them; a directory
                 of vN.N/ secdb folders is Alpine; one holding DSA-list,
                 DLA-list, DTSA-list (or DSA/list, …) is Debian
  FILE.tar.gz    an Ubuntu CVE Tracker tarball

Or name distribution data explicitly:
  --alpine-secdb DIR      Alpine secdb JSON (DIR/v3.10/main.json, …)
  --ubuntu-tracker TARGZ  Ubuntu CVE Tracker tarball (active/, retired/)
  --debian-tracker PATH   Debian DSA/DLA/DTSA list, or a directory of them

Distribution data becomes OSV records: ALPINE-CVE-…, UBUNTU-CVE-… and the
DSA/DLA/DTSA IDs (with the CVEs as aliases). Ubuntu ESM releases become
"Ubuntu:Pro:<version>"; upstream, devel and other tracker pseudo-releases
are skipped.`,
		Example: `  lockdown db update
  lockdown db update --ecosystem Go --ecosystem npm --mirror http://127.0.0.1:8080
  lockdown db update --source ./osv --source ./distro --db ./lockdown.db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := g.pickFormat("db", []string{"table", "json"}, "table")
			if err != nil {
				return err
			}
			path, err := resolveDBPath(*dbPath)
			if err != nil {
				return err
			}
			var srcs []vulndb.Source
			for _, s := range sources {
				d, err := vulndb.DetectSources(s)
				if err != nil {
					return badInput(err)
				}
				srcs = append(srcs, d...)
			}
			for _, group := range []struct {
				kind vulndb.Kind
				locs []string
			}{{vulndb.KindAlpineSecdb, alpine}, {vulndb.KindUbuntuTracker, ubuntu}, {vulndb.KindDebianTracker, debian}} {
				for _, l := range group.locs {
					srcs = append(srcs, vulndb.Source{Kind: group.kind, Location: l})
				}
			}
			if len(srcs) > 0 {
				for _, e := range ecosystems {
					srcs = append(srcs, vulndb.OSVExport(e))
				}
			}
			if mirror != "" && !strings.HasPrefix(mirror, "http://") && !strings.HasPrefix(mirror, "https://") {
				return badInput(fmt.Errorf("--mirror %q: want an http(s) URL", mirror))
			}
			opts := vulndb.UpdateOptions{BaseURL: mirror, Ecosystems: ecosystems, Logger: g.logger}
			if !g.quiet && isTerminal(g.stderr) {
				p := &progressLine{w: g.rawStderr}
				opts.Progress = p.update
				defer p.done()
			}
			st, err := vulndb.Update(cmd.Context(), path, srcs, opts)
			if err != nil {
				if cmd.Context().Err() != nil {
					return err // interrupted: exit 130
				}
				return badInput(err)
			}
			return writeDBStatus(g, format, st, true)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&sources, "source", nil, "advisory source: `URL|DIR|ZIP|FILE` (repeatable; see above)")
	f.StringArrayVar(&ecosystems, "ecosystem", nil, "osv.dev export to fetch, e.g. Go, npm, \"Rocky Linux\" (repeatable)")
	f.StringVar(&mirror, "mirror", "", "base `URL` of osv.dev exports (default "+vulndb.DefaultBaseURL+")")
	f.StringArrayVar(&alpine, "alpine-secdb", nil, "Alpine secdb `DIR` (v3.x/main.json, …)")
	f.StringArrayVar(&ubuntu, "ubuntu-tracker", nil, "Ubuntu CVE Tracker `TARGZ`")
	f.StringArrayVar(&debian, "debian-tracker", nil, "Debian security tracker list or `DIR` of DSA-list, DLA-list, DTSA-list")
	return cmd
}

func newDBStatusCmd(g *globals, dbPath *string) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the vulnerability database: path, schema, build time, age, sources, records per ecosystem",
		Long:  "Show the vulnerability database. --format table (default) or json.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := g.pickFormat("db", []string{"table", "json"}, "table")
			if err != nil {
				return err
			}
			path, err := resolveDBPath(*dbPath)
			if err != nil {
				return err
			}
			s, err := vulndb.Open(path, vulndb.OpenOptions{})
			if err != nil {
				return badInput(err)
			}
			defer s.Close()
			st, err := s.Status()
			if err != nil {
				return badInput(err)
			}
			return writeDBStatus(g, format, st, false)
		},
	}
}

// dbStatusJSON is the JSON shape of `db status` / `db update`: the status
// plus its age.
type dbStatusJSON struct {
	vulndb.Status
	Age vulndb.Duration `json:"age"`
}

func writeDBStatus(g *globals, format string, st vulndb.Status, update bool) error {
	return g.writeOutput(func(w io.Writer, _ bool) error {
		if format == "json" {
			return writeJSON(w, dbStatusJSON{Status: st, Age: vulndb.Duration(st.Age().Round(time.Second))})
		}
		writeDBTable(w, st, update)
		return nil
	})
}

func writeDBTable(w io.Writer, st vulndb.Status, update bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	safe := termsafe.String
	fmt.Fprintf(tw, "database\t%s\n", safe(st.Path))
	fmt.Fprintf(tw, "schema\t%d\n", st.Schema)
	fmt.Fprintf(tw, "built\t%s\n", st.Built.Local().Format(time.RFC3339))
	if update {
		fmt.Fprintf(tw, "elapsed\t%s\n", time.Duration(st.Elapsed).Round(time.Millisecond))
	} else {
		fmt.Fprintf(tw, "age\t%s\n", st.Age().Round(time.Second))
	}
	fmt.Fprintf(tw, "size\t%.1f MB\n", float64(st.Size)/1e6)
	fmt.Fprintf(tw, "records\t%d (%d withdrawn, %d without a package, %d duplicates resolved, %d rejected)\n",
		st.Records, st.Withdrawn, st.Unindexed, st.Duplicates, st.Rejected)
	tw.Flush()

	fmt.Fprintln(w, "\nsources:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range st.Sources {
		fmt.Fprintf(tw, "  %s\t%s\t%d records\t%d rejected\t%s\n", safe(string(s.Kind)), safe(s.Location), s.Records, s.Rejected,
			s.FetchedAt.Local().Format(time.RFC3339))
	}
	tw.Flush()

	fmt.Fprintln(w, "\necosystems:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, e := range st.Ecosystems {
		note := ""
		if !e.Known {
			note = "\tno version scheme known"
		}
		fmt.Fprintf(tw, "  %s\t%d records\t%d packages%s\n", safe(e.Name), e.Records, e.Packages, note)
	}
	tw.Flush()

	if len(st.Unknown) > 0 {
		fmt.Fprintln(w)
		counts := map[string]int{}
		for _, e := range st.Ecosystems {
			counts[e.Name] = e.Records
		}
		for _, u := range st.Unknown {
			fmt.Fprintf(w, "ecosystem %s: %d records, no version scheme known\n", safe(u), counts[u])
		}
	}
	if st.Rejected > 0 {
		fmt.Fprintf(w, "\nrejected: %d (first %d)\n", st.Rejected, len(st.Rejections))
		for _, r := range st.Rejections {
			fmt.Fprintf(w, "  %s: %s\n", safe(r.Where), safe(r.Reason))
		}
	}
}

// progressLine draws update progress on one terminal line, rewritten
// with \r, at most ten times a second.
type progressLine struct {
	mu    sync.Mutex
	w     io.Writer
	last  time.Time
	width int
}

func (p *progressLine) update(pr vulndb.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	name := termsafe.String(pr.Source)
	if len(name) > 60 {
		name = "…" + name[len(name)-59:]
	}
	var line string
	switch pr.Phase {
	case "download":
		if pr.Total > 0 {
			line = fmt.Sprintf("downloading %s  %.1f/%.1f MB", name, float64(pr.Bytes)/1e6, float64(pr.Total)/1e6)
		} else {
			line = fmt.Sprintf("downloading %s  %.1f MB", name, float64(pr.Bytes)/1e6)
		}
	case "write":
		line = fmt.Sprintf("writing %s  %d records", filepath.Base(name), pr.Records)
	default:
		line = fmt.Sprintf("reading %s  %d records", name, pr.Records)
	}
	pad := ""
	if n := p.width - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	p.width = len(line)
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
}

func (p *progressLine) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.width > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
	}
}
