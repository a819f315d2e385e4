package distro

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/osv"
)

// UbuntuReleases maps Ubuntu codenames to release versions, the part after
// "Ubuntu:" in the OSV ecosystem.
func UbuntuReleases() map[string]string {
	return map[string]string{
		"warty": "4.10", "hoary": "5.04", "breezy": "5.10", "dapper": "6.06", "edgy": "6.10",
		"feisty": "7.04", "gutsy": "7.10", "hardy": "8.04", "intrepid": "8.10", "jaunty": "9.04",
		"karmic": "9.10", "lucid": "10.04", "maverick": "10.10", "natty": "11.04", "oneiric": "11.10",
		"precise": "12.04", "quantal": "12.10", "raring": "13.04", "saucy": "13.10", "trusty": "14.04",
		"utopic": "14.10", "vivid": "15.04", "wily": "15.10", "xenial": "16.04", "yakkety": "16.10",
		"zesty": "17.04", "artful": "17.10", "bionic": "18.04", "cosmic": "18.10", "disco": "19.04",
		"eoan": "19.10", "focal": "20.04", "groovy": "20.10", "hirsute": "21.04", "impish": "21.10",
		"jammy": "22.04", "kinetic": "22.10", "lunar": "23.04", "mantic": "23.10", "noble": "24.04",
		"oracular": "24.10", "plucky": "25.04", "questing": "25.10",
	}
}

// uctSkipReleases are tracker "releases" that are no Ubuntu release.
var uctSkipReleases = map[string]bool{"upstream": true, "devel": true, "product": true, "snap": true}

var debVersionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9][A-Za-z0-9.+~:_-]*$`) })

// maxUCTFile bounds one tracker file; real ones are a few kB.
const maxUCTFile = 4 << 20

// ParseUCT streams an Ubuntu CVE Tracker tarball (tar.gz holding active/
// and retired/ per-CVE files; file names it in messages) and emits one
// record per CVE that leaves at least one affected package (see
// ParseUCTFile). Nothing is extracted to disk.
func ParseUCT(ctx context.Context, r io.Reader, file string, emit Emit, reject Reject) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("read ubuntu tracker %s: %w", file, err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	last := "(start)"
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read ubuntu tracker %s after entry %s: %w", file, last, err)
		}
		last = h.Name
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		dir, base := path.Split(name)
		dir = path.Base(strings.TrimSuffix(dir, "/"))
		if (dir != "active" && dir != "retired") || !strings.HasPrefix(base, "CVE-") {
			continue
		}
		where := file + ": " + name
		if h.Size > maxUCTFile {
			reject.call(where, fmt.Errorf("file of %d bytes is too large", h.Size))
			continue
		}
		data, err := io.ReadAll(io.LimitReader(tr, maxUCTFile))
		if err != nil {
			return fmt.Errorf("read ubuntu tracker %s entry %s: %w", file, h.Name, err)
		}
		v, ok, err := ParseUCTFile(data, dir+"/"+base, h.ModTime, reject)
		if err != nil {
			reject.call(where, err)
			continue
		}
		if !ok {
			continue
		}
		if err := emit(v); err != nil {
			return err
		}
	}
}

// ParseUCTFile converts one tracker file (name is its path, "active/CVE-…")
// to an OSV record "UBUNTU-<CVE>"; modified is the record's modified time.
// ok is false when no package is affected.
//
// Per `release_srcpkg: status (note)` line, as VendorStatuses says:
// `released (V)` and `pending (V)` give "introduced 0, fixed V"; `needed`,
// `pending` without a version, `deferred`, `ignored` and `needs-triage`
// give "introduced 0" (affected, no fix), the last three with
// database_specific.status fix_deferred, will_not_fix and
// under_investigation; `not-affected`, `DNE` and `released` without a
// version give no entry.
// Releases map to "Ubuntu:<version>" (bionic: "Ubuntu:18.04"); ESM
// releases (`trusty/esm`) to "Ubuntu:Pro:<version>"; upstream, devel,
// product, snap and other overlays (`vivid/ubuntu-core`) are skipped.
// Priority goes to severity (type "Ubuntu") and database_specific.severity,
// negligible included: a negligible priority is a (low) severity, not "not
// affected".
func ParseUCTFile(data []byte, name string, modified time.Time, reject Reject) (osv.Vulnerability, bool, error) {
	releases := UbuntuReleases()
	var (
		fields   = map[string][]string{} // multi-line fields by key
		key      string
		pkgPrio  = map[string]string{}
		set      affectedSet
		lineNo   int
		statuses [][3]string // release, package, status text
		lines    []int
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), maxUCTFile)
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(strings.ToValidUTF8(sc.Text(), "\uFFFD"), " \t\r")
		if line == "" || line[0] == '#' || strings.HasPrefix(line, "--") {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if key != "" {
				fields[key] = append(fields[key], strings.TrimSpace(line))
			}
			continue
		}
		k, val, ok := strings.Cut(line, ":")
		if !ok {
			reject.call(fmt.Sprintf("%s:%d", name, lineNo), fmt.Errorf("unrecognised line %q", line))
			key = ""
			continue
		}
		val = strings.TrimSpace(val)
		key = k
		switch {
		case strings.HasPrefix(k, "Patches_") || strings.HasPrefix(k, "Tags_"):
			key = "" // not needed
		case strings.HasPrefix(k, "Priority_"):
			pkgPrio[strings.TrimPrefix(k, "Priority_")] = firstWord(val)
		case strings.Contains(k, "_"):
			rel, pkg, _ := strings.Cut(k, "_")
			statuses = append(statuses, [3]string{rel, pkg, val})
			lines = append(lines, lineNo)
			key = ""
		default:
			if val != "" {
				fields[k] = append(fields[k], val)
			} else if fields[k] == nil {
				fields[k] = []string{}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return osv.Vulnerability{}, false, fmt.Errorf("read %s: %w", name, err)
	}

	cve := firstWord(strings.Join(fields["Candidate"], " "))
	if cve == "" {
		cve = path.Base(name)
	}
	if !cveRE().MatchString(cve) {
		return osv.Vulnerability{}, false, fmt.Errorf("candidate %q is not a CVE ID", cve)
	}
	priority := strings.ToLower(firstWord(strings.Join(fields["Priority"], " ")))

	for i, st := range statuses {
		rel, pkg, text := st[0], st[1], st[2]
		where := fmt.Sprintf("%s:%d", name, lines[i])
		if pkg == "" {
			reject.call(where, fmt.Errorf("no package in %q", rel+"_"))
			continue
		}
		eco, ok := ubuntuEcosystem(rel, releases)
		if !ok {
			if !uctSkipReleases[strings.Split(rel, "/")[0]] && !strings.Contains(rel, "/") {
				reject.call(where, fmt.Errorf("unknown release %q", rel))
			}
			continue
		}
		word, note := splitStatus(text)
		if word == "" {
			continue
		}
		vs, known := vendorStatus("Ubuntu", word)
		if !known {
			reject.call(where, fmt.Errorf("unknown status %q", text))
			continue
		}
		if !vs.Affected {
			continue
		}
		var fixed, status string
		switch {
		case (word == "released" || word == "pending") && debVersionRE().MatchString(note):
			fixed = note
		case word == "released":
			continue // fixed, but in which version is not known
		case vs.Status != model.StatusUnfixed:
			status = vs.Status
		}
		a := set.get(eco, pkg)
		p := pkgPrio[pkg]
		if p != "" && p != priority && a.Severity == nil {
			a.Severity = []osv.Severity{{Type: "Ubuntu", Score: p}}
		} else {
			p = ""
		}
		if a.DatabaseSpecific == nil {
			a.DatabaseSpecific = provenance("severity", p, statusField, status)
			if string(a.DatabaseSpecific) == "{}" {
				a.DatabaseSpecific = nil
			}
		}
		addRange(a, ecosystemRange(fixed))
	}
	affected := set.list()
	if len(affected) == 0 {
		return osv.Vulnerability{}, false, nil
	}

	v := osv.Vulnerability{
		ID:       "UBUNTU-" + cve,
		Modified: modified.UTC(),
		Aliases:  []string{cve},
		Upstream: []string{cve},
		Details:  cleanText(fields["Description"]),
		Affected: affected,
	}
	if v.Details == "" {
		v.Details = cleanText(fields["Ubuntu-Description"])
	}
	if t, ok := parseUCTDate(strings.Join(fields["PublicDate"], " ")); ok {
		v.Published = t
	}
	if priority != "" && priority != "untriaged" {
		v.Severity = append(v.Severity, osv.Severity{Type: "Ubuntu", Score: priority})
	}
	for _, l := range fields["CVSS"] {
		_, vec, _ := strings.Cut(l, ":")
		vec = firstWord(strings.TrimSpace(vec))
		if strings.HasPrefix(vec, "CVSS:3.") {
			s := osv.Severity{Type: "CVSS_V3", Score: vec}
			if !containsSeverity(v.Severity, s) {
				v.Severity = append(v.Severity, s)
			}
		}
	}
	v.References = append(v.References, osv.Reference{Type: "ADVISORY", URL: "https://ubuntu.com/security/" + cve})
	for _, l := range fields["References"] {
		for _, u := range strings.Fields(l) {
			if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
				v.References = append(v.References, osv.Reference{Type: "WEB", URL: u})
			}
		}
	}
	v.DatabaseSpecific = provenance("source", SourceUbuntu, "file", name, "severity", priority)
	return v, true, nil
}

func ubuntuEcosystem(rel string, releases map[string]string) (string, bool) {
	base, suffix, hasSuffix := strings.Cut(rel, "/")
	ver, ok := releases[base]
	if !ok {
		return "", false
	}
	if !hasSuffix {
		return "Ubuntu:" + ver, true
	}
	if suffix == "esm" {
		return "Ubuntu:Pro:" + ver, true
	}
	return "", false
}

// splitStatus splits "released (1.2-3)" into "released" and "1.2-3".
func splitStatus(s string) (word, note string) {
	word, rest, _ := strings.Cut(strings.TrimSpace(s), " ")
	rest = strings.TrimSpace(rest)
	if strings.HasPrefix(rest, "(") && strings.HasSuffix(rest, ")") {
		rest = strings.TrimSpace(rest[1 : len(rest)-1])
	}
	return word, rest
}

func firstWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func parseUCTDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02 15:04:05 MST", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func containsSeverity(list []osv.Severity, s osv.Severity) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
