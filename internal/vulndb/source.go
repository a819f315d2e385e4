package vulndb

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// DefaultBaseURL is where osv.dev publishes its per-ecosystem exports
// (<base>/<ecosystem>/all.zip).
const DefaultBaseURL = "https://osv-vulnerabilities.storage.googleapis.com"

// Kind is the format of a source.
type Kind string

// Source kinds.
const (
	// KindOSV is OSV JSON: an all.zip export or any zip of OSV JSON files
	// (any depth), a directory of OSV JSON files and zips, one JSON file,
	// or an http(s) URL of a zip.
	KindOSV Kind = "osv"
	// KindAlpineSecdb is a directory of Alpine secdb JSON files laid out
	// as on secdb.alpinelinux.org: v3.10/main.json, v3.10/community.json.
	KindAlpineSecdb Kind = "alpine-secdb"
	// KindWolfiSecdb and KindChainguardSecdb are the secdb JSON of Wolfi
	// (packages.wolfi.dev/os/security.json) and Chainguard
	// (packages.cgr.dev/chainguard/security.json): one file, or a
	// directory of them.
	KindWolfiSecdb      Kind = "wolfi-secdb"
	KindChainguardSecdb Kind = "chainguard-secdb"
	// KindUbuntuTracker is an Ubuntu CVE Tracker tar.gz (active/,
	// retired/ per-CVE files).
	KindUbuntuTracker Kind = "ubuntu-cve-tracker"
	// KindDebianTracker is Debian security tracker lists: a directory with
	// DSA-list, DLA-list, DTSA-list (or DSA/list, … as in the tracker's
	// data/ folder), or one such file.
	KindDebianTracker Kind = "debian-security-tracker"
)

// Source is one place advisories come from.
type Source struct {
	Kind Kind
	// Location is a file or directory path, or an http(s) URL (then
	// downloaded; a directory cannot be a URL).
	Location string
	// Ecosystem, with no Location, is osv.dev's export for that ecosystem:
	// <UpdateOptions.BaseURL>/<Ecosystem>/all.zip.
	Ecosystem string
}

// OSVExport is the osv.dev export of one ecosystem ("Go", "Rocky Linux").
func OSVExport(ecosystem string) Source {
	return Source{Kind: KindOSV, Ecosystem: ecosystem}
}

// ExportURL returns the URL of an ecosystem's all.zip under base.
func ExportURL(base, ecosystem string) string {
	if base == "" {
		base = DefaultBaseURL
	}
	return strings.TrimRight(base, "/") + "/" + url.PathEscape(ecosystem) + "/all.zip"
}

func (s Source) String() string {
	if s.Location == "" && s.Ecosystem != "" {
		return fmt.Sprintf("%s export %s", s.Kind, s.Ecosystem)
	}
	return fmt.Sprintf("%s %s", s.Kind, s.Location)
}

func isURL(loc string) bool {
	return strings.HasPrefix(loc, "http://") || strings.HasPrefix(loc, "https://")
}

// DetectSources works out what loc holds:
//   - an http(s) URL: an OSV zip; on packages.wolfi.dev or packages.cgr.dev
//     a Wolfi or Chainguard secdb (security.json);
//   - a .zip or .json file: OSV; a .tar.gz/.tgz file: an Ubuntu tracker
//     tarball; a file named DSA-list, DLA-list, DTSA-list or
//     {DSA,DLA,DTSA}/list: a Debian tracker list;
//   - a .json file that is a Wolfi or Chainguard secdb (its urlprefix or
//     apkurl names packages.wolfi.dev or packages.cgr.dev): that secdb;
//   - a directory holding alpine-secdb/, wolfi-secdb/, chainguard-secdb/,
//     ubuntu-cve-tracker/ (a tar.gz inside) or debian-security-tracker/:
//     each of those (the layout of Lockdown's shared test data "distro/");
//   - a directory with vN.N/ sub-directories of secdb JSON: Alpine secdb;
//   - a directory with Debian tracker lists: Debian;
//   - any other directory: OSV JSON files and zips, at any depth.
func DetectSources(loc string) ([]Source, error) {
	if loc == "" {
		return nil, errors.New("empty source")
	}
	if isURL(loc) {
		if _, err := url.Parse(loc); err != nil {
			return nil, fmt.Errorf("source %s: %w", loc, err)
		}
		kind := KindOSV
		switch {
		case strings.Contains(loc, "://packages.wolfi.dev/"):
			kind = KindWolfiSecdb
		case strings.Contains(loc, "://packages.cgr.dev/"):
			kind = KindChainguardSecdb
		}
		return []Source{{Kind: kind, Location: loc}}, nil
	}
	fi, err := os.Stat(loc)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", loc, err)
	}
	if !fi.IsDir() {
		k, err := fileKind(loc)
		if err != nil {
			return nil, err
		}
		return []Source{{Kind: k, Location: loc}}, nil
	}
	var out []Source
	for _, sub := range []struct {
		name string
		kind Kind
	}{{"alpine-secdb", KindAlpineSecdb}, {"wolfi-secdb", KindWolfiSecdb}, {"chainguard-secdb", KindChainguardSecdb},
		{"ubuntu-cve-tracker", KindUbuntuTracker}, {"debian-security-tracker", KindDebianTracker}} {
		p := filepath.Join(loc, sub.name)
		if st, err := os.Stat(p); err != nil || !st.IsDir() {
			continue
		}
		if sub.kind == KindUbuntuTracker {
			tars, _ := filepath.Glob(filepath.Join(p, "*.tar.gz"))
			tgz, _ := filepath.Glob(filepath.Join(p, "*.tgz"))
			for _, t := range append(tars, tgz...) {
				out = append(out, Source{Kind: KindUbuntuTracker, Location: t})
			}
			continue
		}
		out = append(out, Source{Kind: sub.kind, Location: p})
	}
	if len(out) > 0 {
		return out, nil
	}
	switch {
	case len(alpineBranches(loc)) > 0:
		return []Source{{Kind: KindAlpineSecdb, Location: loc}}, nil
	case len(debianLists(loc)) > 0:
		return []Source{{Kind: KindDebianTracker, Location: loc}}, nil
	}
	return []Source{{Kind: KindOSV, Location: loc}}, nil
}

func fileKind(p string) (Kind, error) {
	base := filepath.Base(p)
	lower := strings.ToLower(base)
	switch {
	case strings.HasSuffix(lower, ".json"):
		return jsonKind(p), nil
	case strings.HasSuffix(lower, ".zip"):
		return KindOSV, nil
	case strings.HasSuffix(lower, ".tar.gz"), strings.HasSuffix(lower, ".tgz"):
		return KindUbuntuTracker, nil
	case debianListName(p) != "":
		return KindDebianTracker, nil
	}
	return "", fmt.Errorf("source %s: cannot tell its format (want a .zip or .json of OSV records, an Ubuntu tracker .tar.gz, a Debian DSA/DLA/DTSA list, or a directory)", p)
}

// debianListName returns "DSA-list" for …/DSA-list and …/DSA/list, else "".
func debianListName(p string) string {
	base := filepath.Base(p)
	for _, k := range []string{"DSA", "DLA", "DTSA"} {
		if base == k+"-list" || (base == "list" && filepath.Base(filepath.Dir(p)) == k) {
			return k + "-list"
		}
	}
	return ""
}

// debianLists returns the Debian tracker lists in dir.
func debianLists(dir string) []string {
	var out []string
	for _, k := range []string{"DSA", "DLA", "DTSA"} {
		for _, p := range []string{filepath.Join(dir, k+"-list"), filepath.Join(dir, k, "list")} {
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// alpineVersionRE is an Alpine branch number without its "v": 3.16.
var alpineVersionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]+\.[0-9]+$`) })

// alpineBranches returns the vN.N (or edge) directories in dir.
func alpineBranches(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && (alpineVersionRE().MatchString(strings.TrimPrefix(e.Name(), "v")) && strings.HasPrefix(e.Name(), "v") || e.Name() == "edge") {
			out = append(out, e.Name())
		}
	}
	return out
}

// jsonKind tells a Wolfi or Chainguard secdb file from OSV JSON by its
// urlprefix/apkurl (read from the first 64 KiB); anything else is OSV.
func jsonKind(p string) Kind {
	f, err := os.Open(p)
	if err != nil {
		return KindOSV // the OSV reader reports the error
	}
	defer f.Close()
	var head struct {
		APKURL    string `json:"apkurl"`
		URLPrefix string `json:"urlprefix"`
	}
	if json.NewDecoder(io.LimitReader(f, 64<<10)).Decode(&head) != nil {
		return KindOSV
	}
	switch u := head.URLPrefix + " " + head.APKURL; {
	case strings.Contains(u, "packages.wolfi.dev"):
		return KindWolfiSecdb
	case strings.Contains(u, "packages.cgr.dev"):
		return KindChainguardSecdb
	}
	return KindOSV
}
