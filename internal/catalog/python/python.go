// Package python reads Python packages: pinned requirements files
// (requirements*.txt), Pipfile.lock, poetry.lock, uv.lock, and installed
// distributions (*.dist-info/METADATA, *.egg-info/PKG-INFO or an .egg-info
// file).
package python

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
	"github.com/lockdown-sec/lockdown/internal/model"
)

// Extractor reads Python lock files and installed distributions. The zero
// value is ready to use.
type Extractor struct{}

var _ extract.Extractor = Extractor{}

// Name implements extract.Extractor.
func (Extractor) Name() string { return "python" }

// Version implements extract.Extractor.
func (Extractor) Version() int { return 1 }

// kind tells which format a path holds; "" when none.
func kind(p string) string {
	base, dir := path.Base(p), path.Base(path.Dir(p))
	switch {
	case base == "Pipfile.lock", base == "poetry.lock", base == "uv.lock":
		return base
	case strings.HasPrefix(base, "requirements") && strings.HasSuffix(base, ".txt"):
		return "requirements"
	case base == "METADATA" && strings.HasSuffix(dir, ".dist-info"):
		return "metadata"
	case base == "PKG-INFO" && (strings.HasSuffix(dir, ".egg-info") || dir == "EGG-INFO"):
		return "metadata"
	case strings.HasSuffix(base, ".egg-info"):
		return "metadata" // distutils writes PKG-INFO as a file of this name
	}
	return ""
}

// Wants implements extract.Extractor.
func (Extractor) Wants(p string, mode fs.FileMode, size int64) bool {
	return mode.IsRegular() && kind(p) != ""
}

// Extract implements extract.Extractor.
func (Extractor) Extract(ctx context.Context, in extract.Input) (extract.Result, error) {
	data, err := extract.ReadAll(ctx, in, extract.MaxLockFileBytes)
	if err != nil {
		return extract.Result{}, err
	}
	return Parse(in.Path, data)
}

// Parse reads one file, its format chosen by its path. Packages keep the
// name as written (matching compares PEP 503 forms) and come back sorted,
// one per name and version.
func Parse(location string, data []byte) (extract.Result, error) {
	s := &pkgSet{location: location, index: map[[2]string]int{}, warns: extract.Warnings{Path: location}}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var err error
	switch kind(location) {
	case "requirements":
		err = s.requirements(data)
	case "Pipfile.lock":
		err = s.pipfileLock(data)
	case "poetry.lock":
		err = s.poetryLock(data)
	case "uv.lock":
		err = s.uvLock(data)
	case "metadata":
		s.metadata(data)
	default:
		return extract.Result{}, fmt.Errorf("python: %s: not a file this extractor reads", location)
	}
	if err != nil {
		return extract.Result{}, err
	}
	slices.SortFunc(s.res.Packages, func(a, b model.Package) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})
	s.res.Warnings = s.warns.List()
	return s.res, nil
}

type pkgSet struct {
	location string
	index    map[[2]string]int
	res      extract.Result
	warns    extract.Warnings
}

// nameRE is PEP 508's distribution name.
var nameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`) })

func validVersion(v string) bool {
	return v != "" && !strings.ContainsAny(v, " \t\r\n,;*<>=!~()[]{}@/\\")
}

// add records name==version; dev stays only while every occurrence is dev.
func (s *pkgSet) add(name, version string, dev bool, licenses []string) {
	k := [2]string{normalize(name), version}
	if i, ok := s.index[k]; ok {
		if !dev {
			s.res.Packages[i].Metadata = nil
		}
		return
	}
	if extract.Full(len(s.res.Packages)) {
		return
	}
	p := model.Package{Name: name, Version: version, Type: model.TypePyPI, Licenses: licenses}
	if dev {
		p.Metadata = map[string]string{"dev": "true"}
	}
	s.index[k] = len(s.res.Packages)
	s.res.Packages = append(s.res.Packages, p)
}

func (s *pkgSet) warn(format string, args ...any) {
	s.warns.Addf(format, args...)
}

// normalize is PEP 503's normal form, for deduplication only.
func normalize(name string) string {
	var b strings.Builder
	sep := false
	for _, c := range strings.ToLower(name) {
		if c == '-' || c == '_' || c == '.' {
			if !sep {
				b.WriteByte('-')
			}
			sep = true
			continue
		}
		sep = false
		b.WriteRune(c)
	}
	return b.String()
}

// requirements reads pip's requirements format: only exact "==" pins
// count; -r/-c includes are not followed (a warning); URLs, editable and
// local requirements are not PyPI releases.
func (s *pkgSet) requirements(data []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	n, start := 0, 0
	var logical strings.Builder
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if logical.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(line, `\`) {
			logical.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		logical.WriteString(line)
		s.requirement(logical.String(), start)
		logical.Reset()
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("parse requirements %s: line %d: %w", s.location, n+1, err)
	}
	if logical.Len() > 0 {
		s.requirement(logical.String(), start)
	}
	return nil
}

func (s *pkgSet) requirement(line string, n int) {
	if i := strings.Index(line, "#"); i == 0 || (i > 0 && (line[i-1] == ' ' || line[i-1] == '\t')) {
		line = line[:i]
	}
	line = strings.TrimSpace(line)
	if line == "" {
		return
	}
	if strings.HasPrefix(line, "-") {
		opt, arg, _ := strings.Cut(strings.ReplaceAll(line, "=", " "), " ")
		switch opt {
		case "-r", "--requirement", "-c", "--constraint":
			s.warn("requirements line %d: %s %s not followed (only this file is read)", n, opt, strings.TrimSpace(arg))
		}
		return
	}
	if i := strings.IndexByte(line, ';'); i >= 0 {
		line = line[:i] // environment markers
	}
	if i := strings.Index(line, " -"); i >= 0 {
		line = line[:i] // per-requirement options: --hash=…
	}
	line = strings.TrimSpace(line)
	if strings.Contains(line, "://") || strings.Contains(line, " @ ") || strings.HasPrefix(line, ".") || strings.HasPrefix(line, "/") {
		return // a URL or a local path
	}
	end := strings.IndexAny(line, "[<>=!~ (")
	if end < 0 {
		return // no version: not pinned
	}
	name := line[:end]
	rest := strings.TrimSpace(line[end:])
	if rest != "" && !strings.ContainsRune("[<>=!~(", rune(rest[0])) {
		s.warn("requirements line %d: cannot read %q", n, line)
		return
	}
	if strings.HasPrefix(rest, "[") {
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			s.warn("requirements line %d: unclosed extras in %q", n, line)
			return
		}
		rest = strings.TrimSpace(rest[j+1:])
	}
	rest = strings.Trim(rest, "() ")
	version, ok := strings.CutPrefix(rest, "===")
	if !ok {
		version, ok = strings.CutPrefix(rest, "==")
	}
	if !ok {
		return // a range, not a pin
	}
	version = strings.TrimSpace(version)
	if !nameRE().MatchString(name) {
		s.warn("requirements line %d: bad name %q", n, name)
		return
	}
	if !validVersion(version) {
		return // "==1.*" or several specifiers: not one version
	}
	s.add(name, version, false, nil)
}

// pipfileLock reads Pipfile.lock: "default" and "develop" (dev).
func (s *pkgSet) pipfileLock(data []byte) error {
	var lock map[string]json.RawMessage
	if err := json.Unmarshal(data, &lock); err != nil {
		return fmt.Errorf("parse Pipfile.lock %s: %w", s.location, err)
	}
	for _, sec := range []string{"default", "develop"} {
		raw, ok := lock[sec]
		if !ok {
			continue
		}
		var entries map[string]json.RawMessage
		if err := json.Unmarshal(raw, &entries); err != nil {
			s.warn("Pipfile.lock %s: %v", sec, err)
			continue
		}
		names := slices.Sorted(func(yield func(string) bool) {
			for k := range entries {
				if !yield(k) {
					return
				}
			}
		})
		for _, name := range names {
			var e struct {
				Version string `json:"version"`
			}
			if err := json.Unmarshal(entries[name], &e); err != nil {
				s.warn("Pipfile.lock %s %q: %v", sec, name, err)
				continue
			}
			if e.Version == "" {
				continue // git, path or editable: not a PyPI release
			}
			v, ok := strings.CutPrefix(e.Version, "==")
			if !ok || !validVersion(v) || !nameRE().MatchString(name) {
				s.warn("Pipfile.lock %s %q: bad name or version %q", sec, name, e.Version)
				continue
			}
			s.add(name, v, sec == "develop", nil)
		}
	}
	return nil
}

// tomlLock is the shape poetry.lock and uv.lock share.
type tomlLock struct {
	Package []struct {
		Name     string         `toml:"name"`
		Version  string         `toml:"version"`
		Category string         `toml:"category"` // poetry 1: "main" or "dev"
		Groups   []string       `toml:"groups"`   // poetry 2
		Source   toml.Primitive `toml:"source"`   // poetry: table with "type"; uv: inline table
	} `toml:"package"`
}

// poetryLock reads poetry.lock. Packages from a directory, file, URL or git
// are not PyPI releases; dev: category "dev" (poetry 1) or no "main" group
// (poetry 2).
func (s *pkgSet) poetryLock(data []byte) error {
	var lock tomlLock
	md, err := toml.Decode(string(data), &lock)
	if err != nil {
		return fmt.Errorf("parse poetry.lock %s: %w", s.location, err)
	}
	for i, p := range lock.Package {
		var src struct {
			Type string `toml:"type"`
		}
		_ = md.PrimitiveDecode(p.Source, &src) // absent: from PyPI
		switch src.Type {
		case "directory", "file", "url", "git":
			continue
		}
		if !nameRE().MatchString(p.Name) || !validVersion(p.Version) {
			s.warn("poetry.lock package %d: bad name or version %q %q", i+1, p.Name, p.Version)
			continue
		}
		dev := p.Category == "dev" || (len(p.Groups) > 0 && !slices.Contains(p.Groups, "main"))
		s.add(p.Name, p.Version, dev, nil)
	}
	return nil
}

// uvLock reads uv.lock: only packages whose source is a registry (the
// project itself is "virtual" or "editable").
func (s *pkgSet) uvLock(data []byte) error {
	var lock tomlLock
	md, err := toml.Decode(string(data), &lock)
	if err != nil {
		return fmt.Errorf("parse uv.lock %s: %w", s.location, err)
	}
	for i, p := range lock.Package {
		var src map[string]any
		if err := md.PrimitiveDecode(p.Source, &src); err != nil || src["registry"] == nil {
			continue
		}
		if !nameRE().MatchString(p.Name) || !validVersion(p.Version) {
			s.warn("uv.lock package %d: bad name or version %q %q", i+1, p.Name, p.Version)
			continue
		}
		s.add(p.Name, p.Version, false, nil)
	}
	return nil
}

// metadata reads the header of a METADATA or PKG-INFO file (RFC 822
// style, up to the first blank line): Name, Version, License.
func (s *pkgSet) metadata(data []byte) {
	var name, version, license string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "name":
			if name == "" {
				name = v
			}
		case "version":
			if version == "" {
				version = v
			}
		case "license-expression":
			license = v
		case "license":
			if license == "" && v != "UNKNOWN" && !strings.Contains(v, "\n") && len(v) < 100 {
				license = v
			}
		}
	}
	if !nameRE().MatchString(name) || !validVersion(version) {
		s.warn("package metadata: bad name or version %q %q", name, version)
		return
	}
	var licenses []string
	if license != "" {
		licenses = []string{license}
	}
	s.add(name, version, false, licenses)
}
