package distro

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/osv"
)

// DebianReleases maps Debian release codenames to the version used in the
// OSV ecosystem ("Debian:<version>"). Releases before etch are numbered
// major.minor (woody 3.0 and sarge 3.1 are different releases); from etch on
// the major number alone names a release.
func DebianReleases() map[string]string {
	return map[string]string{
		"buzz": "1.1", "rex": "1.2", "bo": "1.3", "hamm": "2.0", "slink": "2.1", "potato": "2.2",
		"woody": "3.0", "sarge": "3.1", "etch": "4", "lenny": "5", "squeeze": "6", "wheezy": "7",
		"jessie": "8", "stretch": "9", "buster": "10", "bullseye": "11", "bookworm": "12",
		"trixie": "13", "forky": "14", "duke": "15",
	}
}

var (
	debHeaderRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^\[([^\]]+)\]\s+([A-Z][A-Z0-9]*-[0-9][0-9-]*)(?:\s+(.*))?$`)
	})
	debReleaseRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^\[([a-z][a-z0-9-]*)\]\s+-\s+(\S+)(?:\s+(\S+))?(?:\s+\((.*)\))?\s*$`)
	})
	ordinalRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(\d+)(st|nd|rd|th),`) })
)

// ParseDebianList converts one Debian security tracker list (data/DSA/list,
// DLA/list, DTSA/list; file names the file for provenance and messages) to
// one OSV record per advisory: upstream lists the CVEs (several distinct
// vulnerabilities, as in osv.dev's DSA records), one affected entry per
// (release, source package) with an ECOSYSTEM range "introduced 0, fixed V".
// States follow VendorStatuses: <not-affected> and <removed> give no entry;
// <unfixed>, <no-dsa>, <postponed>, <ignored> and <end-of-life> give
// "introduced 0" only, the last three with database_specific.status
// fix_deferred, will_not_fix and end_of_life. An advisory with no affected
// entry left is not emitted.
func ParseDebianList(ctx context.Context, r io.Reader, file string, emit Emit, reject Reject) error {
	releases := DebianReleases()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	var (
		cur *osv.Vulnerability
		set affectedSet
		bad bool
	)
	flush := func() error {
		if cur == nil {
			return nil
		}
		v := cur
		cur = nil
		if bad {
			return nil
		}
		v.Affected = set.list()
		set = affectedSet{}
		if len(v.Affected) == 0 {
			return nil
		}
		return emit(*v)
	}
	lineNo := 0
	for sc.Scan() {
		lineNo++
		if lineNo%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line := strings.TrimRight(strings.ToValidUTF8(sc.Text(), "\uFFFD"), " \t\r")
		trimmed := strings.TrimLeft(line, " \t")
		where := fmt.Sprintf("%s:%d", file, lineNo)
		switch {
		case trimmed == "":
			continue
		case line[0] != ' ' && line[0] != '\t': // a new advisory
			if err := flush(); err != nil {
				return err
			}
			m := debHeaderRE().FindStringSubmatch(line)
			if m == nil {
				reject.call(where, fmt.Errorf("malformed advisory line %q", line))
				cur, bad = &osv.Vulnerability{}, true // skip its body
				continue
			}
			v := &osv.Vulnerability{
				ID:               m[2],
				Summary:          strings.TrimSpace(m[3]),
				DatabaseSpecific: provenance("source", SourceDebian, "file", file),
				References: []osv.Reference{{
					Type: "ADVISORY", URL: "https://security-tracker.debian.org/tracker/" + m[2],
				}},
			}
			if t, err := parseDebianDate(m[1]); err == nil {
				v.Published, v.Modified = t, t
			} else {
				reject.call(where, fmt.Errorf("advisory %s: %w (kept without a date)", m[2], err))
			}
			cur, bad, set = v, false, affectedSet{}
		case cur == nil:
			reject.call(where, fmt.Errorf("line outside any advisory: %q", trimmed))
		case bad:
			continue
		case trimmed[0] == '{':
			// The CVEs an advisory fixes are distinct vulnerabilities, not
			// other names of it: upstream, as osv.dev writes DSA/DLA records
			// (aliases would make them one finding).
			ids := strings.Fields(strings.Trim(trimmed, "{}"))
			cur.Upstream = append(cur.Upstream, ids...)
		case strings.HasPrefix(trimmed, "NOTE:"):
			continue
		case trimmed[0] == '[':
			m := debReleaseRE().FindStringSubmatch(trimmed)
			if m == nil || m[3] == "" {
				reject.call(where, fmt.Errorf("%s: malformed release line %q", cur.ID, trimmed))
				continue
			}
			rel, pkg, ver := m[1], m[2], m[3]
			num, ok := releases[rel]
			if !ok {
				reject.call(where, fmt.Errorf("%s: unknown release %q", cur.ID, rel))
				continue
			}
			var fixed, status string
			if strings.HasPrefix(ver, "<") {
				vs, known := vendorStatus("Debian", ver)
				if !known {
					reject.call(where, fmt.Errorf("%s: unknown state %s", cur.ID, ver))
					continue
				}
				if !vs.Affected {
					continue
				}
				if vs.Status != model.StatusUnfixed {
					status = vs.Status
				}
			} else {
				fixed = ver
			}
			a := set.get("Debian:"+num, pkg)
			if status != "" && a.DatabaseSpecific == nil {
				a.DatabaseSpecific = provenance(statusField, status)
			}
			addRange(a, ecosystemRange(fixed))
		default:
			reject.call(where, fmt.Errorf("%s: unrecognised line %q", cur.ID, trimmed))
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s line %d: %w", file, lineNo+1, err)
	}
	return flush()
}

// parseDebianDate reads "29 Mar 2023" and the DTSA form "August 26th, 2005".
func parseDebianDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse("2 Jan 2006", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("January 2, 2006", ordinalRE().ReplaceAllString(s, "$1,")); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("unreadable date %q", s)
}
