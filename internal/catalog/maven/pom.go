package maven

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
	"github.com/lockdown-sec/lockdown/internal/model"
)

// project is the part of a pom.xml read here. Element names match in any
// XML namespace.
type project struct {
	Parent       *parentRef   `xml:"parent"`
	GroupID      string       `xml:"groupId"`
	ArtifactID   string       `xml:"artifactId"`
	Version      string       `xml:"version"`
	Properties   properties   `xml:"properties"`
	Management   []dependency `xml:"dependencyManagement>dependencies>dependency"`
	Dependencies []dependency `xml:"dependencies>dependency"`
	Profiles     []profile    `xml:"profiles>profile"`
}

type parentRef struct {
	GroupID      string  `xml:"groupId"`
	ArtifactID   string  `xml:"artifactId"`
	Version      string  `xml:"version"`
	RelativePath *string `xml:"relativePath"` // nil: the default ../pom.xml; "": none
}

type dependency struct {
	GroupID    string `xml:"groupId"`
	ArtifactID string `xml:"artifactId"`
	Version    string `xml:"version"`
	Type       string `xml:"type"`
	Classifier string `xml:"classifier"`
	Scope      string `xml:"scope"`
	Optional   string `xml:"optional"`
}

type profile struct {
	ID              string       `xml:"id"`
	ActiveByDefault string       `xml:"activation>activeByDefault"`
	Properties      properties   `xml:"properties"`
	Management      []dependency `xml:"dependencyManagement>dependencies>dependency"`
	Dependencies    []dependency `xml:"dependencies>dependency"`
}

// properties keeps <properties> children in document order.
type properties [][2]string

func (p *properties) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			var v string
			if err := d.DecodeElement(&v, &t); err != nil {
				return err
			}
			*p = append(*p, [2]string{t.Name.Local, strings.TrimSpace(v)})
		case xml.EndElement:
			return nil
		}
	}
}

// parsedPOM is a pom as read from one file: the Pending state of its
// result, resolved against its parents by Resolve.
type parsedPOM struct {
	path     string
	proj     project
	warnings []model.Warning // from reading the file itself
}

// ParsePOM reads one pom.xml and resolves its dependencies as far as the
// file alone allows; the result is Pending so that Resolve can apply the
// parent poms found in the same target.
func ParsePOM(location string, data []byte) (extract.Result, error) {
	pp, err := readPOM(location, data)
	if err != nil {
		return extract.Result{}, err
	}
	res := resolvePOM(pp, nil)
	res.Pending = pp
	return res, nil
}

func readPOM(location string, data []byte) (*parsedPOM, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.CharsetReader = charsetReader
	var proj project
	if err := d.Decode(&proj); err != nil {
		return nil, fmt.Errorf("parse pom %s: %w", location, err)
	}
	return &parsedPOM{path: location, proj: proj}, nil
}

// charsetReader accepts the single-byte encodings poms are written in
// besides UTF-8.
func charsetReader(charset string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return in, nil
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "windows-1252", "cp1252":
		b, err := io.ReadAll(in)
		if err != nil {
			return nil, err
		}
		out := make([]byte, 0, len(b))
		for _, c := range b {
			out = utf8.AppendRune(out, rune(c))
		}
		return bytes.NewReader(out), nil
	}
	return nil, fmt.Errorf("unsupported charset %q", charset)
}

// Resolve implements extract.Resolver: every pom is resolved again with
// its parents (by relativePath, default ../pom.xml, else by coordinates)
// and any imported BOM found among the poms of the target.
func (Extractor) Resolve(results map[string]extract.Result) map[string]extract.Result {
	poms := map[string]*parsedPOM{}
	for p, r := range results {
		if pp, ok := r.Pending.(*parsedPOM); ok {
			poms[p] = pp
		}
	}
	idx := newIndex(poms)
	out := make(map[string]extract.Result, len(poms))
	for p, pp := range poms {
		out[p] = resolvePOM(pp, idx)
	}
	return out
}

// index finds poms by path and by coordinates.
type index struct {
	byPath  map[string]*parsedPOM
	byCoord map[string]*parsedPOM // "g:a:v" as written (or inherited) in the pom
}

func newIndex(poms map[string]*parsedPOM) *index {
	idx := &index{byPath: poms, byCoord: map[string]*parsedPOM{}}
	for _, pp := range poms {
		if c := pp.coord(); c != "" {
			if old, ok := idx.byCoord[c]; !ok || pp.path < old.path {
				idx.byCoord[c] = pp // deterministic when two files claim one coordinate
			}
		}
	}
	return idx
}

// coord is the pom's own "groupId:artifactId:version", inheriting groupId
// and version from the parent reference; "" when not literal.
func (pp *parsedPOM) coord() string {
	g, v := pp.proj.GroupID, pp.proj.Version
	if par := pp.proj.Parent; par != nil {
		g, v = orElse(g, par.GroupID), orElse(v, par.Version)
	}
	a := pp.proj.ArtifactID
	if !validCoord(g) || !validCoord(a) || !validCoord(v) {
		return ""
	}
	return g + ":" + a + ":" + v
}

func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// maxDepth bounds parent chains and BOM imports.
const maxDepth = 32

// parentOf finds the parent pom of pp in idx: at relativePath when the pom
// there has the referenced coordinates, else by coordinates. why explains a
// miss.
func (idx *index) parentOf(pp *parsedPOM) (parent *parsedPOM, why string) {
	ref := pp.proj.Parent
	want := strings.TrimSpace(ref.GroupID) + ":" + strings.TrimSpace(ref.ArtifactID) + ":" + strings.TrimSpace(ref.Version)
	rel := "../pom.xml"
	if ref.RelativePath != nil {
		rel = strings.TrimSpace(*ref.RelativePath)
	}
	looked := ""
	if rel != "" && idx != nil {
		p := path.Join(path.Dir(pp.path), rel)
		if !strings.HasSuffix(p, ".xml") {
			p = path.Join(p, "pom.xml")
		}
		looked = p
		if c, ok := idx.byPath[p]; ok && c.coord() == want {
			return c, ""
		}
	}
	if idx != nil {
		if c, ok := idx.byCoord[want]; ok && c != pp {
			return c, ""
		}
	}
	if looked != "" {
		return nil, fmt.Sprintf("parent %s not in the target (looked at %s)", want, looked)
	}
	return nil, fmt.Sprintf("parent %s not in the target", want)
}

// resolvePOM builds the effective dependency list of pp: its parents'
// properties, dependencyManagement and dependencies inherited, its own (and
// its active profiles') overriding them, then ${…} interpolated. idx nil
// means no other file is available.
func resolvePOM(pp *parsedPOM, idx *index) extract.Result {
	s := newSet(pp.path)
	for _, w := range pp.warnings {
		s.warns.Add(w)
	}

	// The lineage, child first.
	chain := []*parsedPOM{pp}
	missing := ""
	for cur := pp; cur.proj.Parent != nil; {
		if len(chain) > maxDepth {
			missing = "parent chain too long"
			break
		}
		par, why := idx.parentOf(cur)
		if par == nil {
			missing = why
			break
		}
		if containsPOM(chain, par) {
			missing = "parent chain loops at " + par.path
			break
		}
		chain = append(chain, par)
		cur = par
	}

	props := map[string]string{}
	mgmt := map[string]dependency{}
	var mgmtOrder []string
	deps := map[string]dependency{}
	var depOrder []string
	// Oldest ancestor first, so that descendants override.
	for i := len(chain) - 1; i >= 0; i-- {
		proj := chain[i].proj
		for _, kv := range proj.Properties {
			props[kv[0]] = kv[1]
		}
		mg, dp := proj.Management, proj.Dependencies
		for _, pr := range proj.Profiles {
			if strings.TrimSpace(pr.ActiveByDefault) != "true" {
				continue
			}
			for _, kv := range pr.Properties {
				props[kv[0]] = kv[1]
			}
			mg = append(mg[:len(mg):len(mg)], pr.Management...)
			dp = append(dp[:len(dp):len(dp)], pr.Dependencies...)
		}
		for _, d := range mg {
			k := rawKey(d)
			if _, ok := mgmt[k]; !ok {
				mgmtOrder = append(mgmtOrder, k)
			}
			mgmt[k] = d
		}
		for _, d := range dp {
			k := rawKey(d)
			if _, ok := deps[k]; !ok {
				depOrder = append(depOrder, k)
			}
			deps[k] = d
		}
	}
	// project.* from the pom itself, inheriting from its parent reference.
	self := pp.proj
	g, v := self.GroupID, self.Version
	if par := self.Parent; par != nil {
		g, v = orElse(g, par.GroupID), orElse(v, par.Version)
		for _, pre := range []string{"project.parent.", "parent."} {
			props[pre+"groupId"] = strings.TrimSpace(par.GroupID)
			props[pre+"artifactId"] = strings.TrimSpace(par.ArtifactID)
			props[pre+"version"] = strings.TrimSpace(par.Version)
		}
	}
	for _, pre := range []string{"project.", "pom."} {
		props[pre+"groupId"] = strings.TrimSpace(g)
		props[pre+"artifactId"] = strings.TrimSpace(self.ArtifactID)
		props[pre+"version"] = strings.TrimSpace(v)
	}
	in := interpolator{props: props}

	// Managed versions by interpolated key; imported BOMs expanded.
	managed := map[string]dependency{}
	for _, k := range mgmtOrder {
		d := in.dep(mgmt[k])
		if d.Scope == "import" && orElse(d.Type, "jar") == "pom" {
			importBOM(managed, d, idx, 1)
			continue
		}
		managed[key(d)] = d
	}

	for _, k := range depOrder {
		d := in.dep(deps[k])
		name := d.GroupID + ":" + d.ArtifactID
		if !validCoord(d.GroupID) || !validCoord(d.ArtifactID) {
			s.warn("pom dependency %s: groupId or artifactId not resolved%s", name, because(missing))
			continue
		}
		if m, ok := managed[key(d)]; ok {
			if d.Version == "" {
				d.Version = m.Version
			}
			if d.Scope == "" {
				d.Scope = m.Scope
			}
			if d.Optional == "" {
				d.Optional = m.Optional
			}
		}
		switch {
		case d.Version == "":
			s.warn("pom dependency %s: no version, and none in dependencyManagement%s", name, because(missing))
			continue
		case strings.Contains(d.Version, "${"):
			s.warn("pom dependency %s: version %s not resolved%s", name, d.Version, because(missing))
			continue
		case !validVersion(d.Version):
			s.warn("pom dependency %s: version %q is not a single version", name, d.Version)
			continue
		}
		var meta map[string]string
		if (d.Scope != "" && d.Scope != "compile") || d.Optional == "true" {
			meta = map[string]string{}
			if d.Scope != "" && d.Scope != "compile" {
				meta["scope"] = d.Scope
			}
			if d.Optional == "true" {
				meta["optional"] = "true"
			}
		}
		s.add(name, d.Version, meta)
	}
	return s.result()
}

func because(missing string) string {
	if missing == "" {
		return ""
	}
	return " (" + missing + ")"
}

func containsPOM(chain []*parsedPOM, pp *parsedPOM) bool {
	for _, c := range chain {
		if c == pp {
			return true
		}
	}
	return false
}

// importBOM adds the dependencyManagement of the BOM d names, when that
// pom is in the target, to managed (entries already there win, as the
// first declaration does in Maven).
func importBOM(managed map[string]dependency, d dependency, idx *index, depth int) {
	if idx == nil || depth > maxDepth {
		return
	}
	bom, ok := idx.byCoord[d.GroupID+":"+d.ArtifactID+":"+d.Version]
	if !ok {
		return
	}
	// The BOM's versions are interpolated with its own properties.
	res := effectiveManagement(bom, idx, depth)
	for k, m := range res {
		if _, ok := managed[k]; !ok {
			managed[k] = m
		}
	}
}

// effectiveManagement is the interpolated dependencyManagement of a pom
// used as a BOM (its parents applied).
func effectiveManagement(pp *parsedPOM, idx *index, depth int) map[string]dependency {
	chain := []*parsedPOM{pp}
	for cur := pp; cur.proj.Parent != nil && len(chain) <= maxDepth; {
		par, _ := idx.parentOf(cur)
		if par == nil || containsPOM(chain, par) {
			break
		}
		chain = append(chain, par)
		cur = par
	}
	props := map[string]string{}
	var mg []dependency
	for i := len(chain) - 1; i >= 0; i-- {
		for _, kv := range chain[i].proj.Properties {
			props[kv[0]] = kv[1]
		}
		mg = append(mg, chain[i].proj.Management...)
	}
	g, v := pp.proj.GroupID, pp.proj.Version
	if par := pp.proj.Parent; par != nil {
		g, v = orElse(g, par.GroupID), orElse(v, par.Version)
	}
	props["project.groupId"], props["project.artifactId"], props["project.version"] = g, pp.proj.ArtifactID, v
	in := interpolator{props: props}
	out := map[string]dependency{}
	for i := len(mg) - 1; i >= 0; i-- { // descendants (later) first: they win
		d := in.dep(mg[i])
		if d.Scope == "import" && orElse(d.Type, "jar") == "pom" {
			importBOM(out, d, idx, depth+1)
			continue
		}
		if _, ok := out[key(d)]; !ok {
			out[key(d)] = d
		}
	}
	return out
}

// rawKey identifies a dependency before interpolation (for inheritance).
func rawKey(d dependency) string {
	return strings.TrimSpace(d.GroupID) + ":" + strings.TrimSpace(d.ArtifactID) + ":" +
		orElse(strings.TrimSpace(d.Type), "jar") + ":" + strings.TrimSpace(d.Classifier)
}

// key is Maven's management key: groupId:artifactId:type:classifier.
func key(d dependency) string {
	return d.GroupID + ":" + d.ArtifactID + ":" + orElse(d.Type, "jar") + ":" + d.Classifier
}

// validVersion rejects version ranges and anything validCoord rejects.
func validVersion(v string) bool {
	return validCoord(v) && !strings.ContainsAny(v, "[](),")
}

// interpolator expands ${name} from properties, recursively.
type interpolator struct {
	props map[string]string
}

func (in interpolator) dep(d dependency) dependency {
	return dependency{
		GroupID:    in.expand(d.GroupID),
		ArtifactID: in.expand(d.ArtifactID),
		Version:    in.expand(d.Version),
		Type:       in.expand(d.Type),
		Classifier: in.expand(d.Classifier),
		Scope:      in.expand(d.Scope),
		Optional:   in.expand(d.Optional),
	}
}

// maxExpand bounds the work of one expansion (nesting and output size).
const (
	maxExpandDepth = 16
	maxExpandLen   = 4096
)

// expand replaces every ${name} whose property is known; unknown ones (and
// cycles) stay as written, so the caller can tell.
func (in interpolator) expand(s string) string {
	return in.expandDepth(strings.TrimSpace(s), 0)
}

func (in interpolator) expandDepth(s string, depth int) string {
	if !strings.Contains(s, "${") || depth > maxExpandDepth {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			break
		}
		name := s[i+2 : i+j]
		b.WriteString(s[:i])
		if v, ok := in.props[name]; ok && depth < maxExpandDepth {
			b.WriteString(in.expandDepth(v, depth+1))
		} else {
			b.WriteString(s[i : i+j+1])
		}
		s = s[i+j+1:]
		if b.Len() > maxExpandLen {
			break
		}
	}
	return strings.TrimSpace(b.String())
}
