package match

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/catalog/gobinary"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/osv"
	"github.com/lockdown-sec/lockdown/internal/version"
)

// goBinary is what reachability needs of one Go executable: its symbol
// index (or why there is none) and its target platform.
type goBinary struct {
	enc        string // the index as the package carries it, decoded on first use (index)
	syms       *gobinary.Symbols
	why        string // no index: why
	goos, arch string
}

// index is the binary's symbol index, decoded the first time a finding
// asks for it (a binary without Go findings is never decoded); nil with
// the reason when there is none.
func (b *goBinary) index() (*gobinary.Symbols, string) {
	if b.enc != "" {
		s, err := gobinary.DecodeSymbols(b.enc)
		if err != nil {
			b.why = err.Error()
		}
		b.syms, b.enc = s, ""
	}
	return b.syms, b.why
}

// goBinaries finds the symbol index of every Go executable among pkgs (it
// rides on one package per binary), by location.
func goBinaries(pkgs []model.Package) map[string]*goBinary {
	bins := map[string]*goBinary{}
	for i := range pkgs {
		p := &pkgs[i]
		if p.Type != model.TypeGolang {
			continue
		}
		enc, ok := p.Metadata[gobinary.MetaSymbols]
		why, bad := p.Metadata[gobinary.MetaSymbolsError]
		if !ok && !bad {
			continue
		}
		bins[p.Location] = &goBinary{enc: enc, why: why, goos: p.Metadata[gobinary.MetaGOOS], arch: p.Arch}
	}
	return bins
}

// goImport is one entry of a Go vulnerability record's
// affected[].ecosystem_specific.imports: a package, the platforms it is
// vulnerable on (empty: all) and its vulnerable functions (empty: all).
type goImport struct {
	Path    string   `json:"path"`
	GOOS    []string `json:"goos"`
	GOARCH  []string `json:"goarch"`
	Symbols []string `json:"symbols"`
}

// reachability tells whether the vulnerable code of the records in recs
// that affect Go module name at version ver is in binary b, with
// govulncheck -mode=binary's rules (golang.org/x/vuln,
// internal/vulncheck):
//
//   - only affected entries for this module whose ranges include ver count;
//     in each, only imports whose goos/goarch lists (empty: any) include the
//     binary's platform; an entry whose every import is for other platforms
//     does not count, and when no entry counts the finding is absent;
//   - an entry without imports makes the whole module vulnerable: present
//     when any package of the module is in the binary (any, for stdlib);
//   - an import without symbols makes its whole package vulnerable:
//     present when the package is in the binary;
//   - otherwise present when one of the import's symbols is.
//
// Present lists what was found ("golang.org/x/net/html.Parse", or the
// package or module). A binary without an index is unknown; so is one whose
// index holds only the functions compiled out of line (Symbols.Inlined
// false) when nothing was found, as an inlined function may be there.
func reachability(b *goBinary, name, ver string, scheme version.Scheme, recs []*osv.Vulnerability) *model.Reachability {
	if b == nil {
		return &model.Reachability{State: model.ReachUnknown, Reason: "no symbol information for this binary"}
	}
	syms, why := b.index()
	if syms == nil {
		return &model.Reachability{State: model.ReachUnknown, Reason: "no usable symbol information: " + why}
	}
	// The affected entries for this module and version, with their imports.
	// Records from the Go vulnerability database say which packages and
	// functions are vulnerable; when a finding joins one with records that
	// say nothing (a GHSA alias), the informed ones decide.
	type entry struct{ imports []goImport }
	var entries []entry
	informed := false
	for _, v := range recs {
		for ai := range v.Affected {
			a := &v.Affected[ai]
			if a.Package.Name != name || !isGo(a.Package.Ecosystem) {
				continue
			}
			if ok, _, err := Affects(*v, *a, scheme, ver); err != nil || !ok {
				continue
			}
			imports, err := goImports(a.EcosystemSpecific)
			if err != nil {
				continue
			}
			informed = informed || len(imports) > 0
			entries = append(entries, entry{imports})
		}
	}
	var found []string
	counted, wanted := 0, 0
	for _, e := range entries {
		if informed && len(e.imports) == 0 {
			continue
		}
		var onPlatform []goImport
		for _, imp := range e.imports {
			if platform(b.goos, imp.GOOS) && platform(b.arch, imp.GOARCH) {
				onPlatform = append(onPlatform, imp)
			}
		}
		if len(e.imports) > 0 && len(onPlatform) == 0 {
			continue
		}
		counted++
		if len(e.imports) == 0 {
			if name == gobinary.StdlibName || syms.HasModule(name) {
				found = append(found, name)
			}
			continue
		}
		for _, imp := range onPlatform {
			if len(imp.Symbols) == 0 {
				wanted++
				if syms.HasPackage(imp.Path) {
					found = append(found, imp.Path)
				}
				continue
			}
			for _, s := range imp.Symbols {
				wanted++
				if syms.Has(imp.Path, s) {
					found = append(found, imp.Path+"."+s)
				}
			}
		}
	}
	switch {
	case len(found) > 0:
		slices.Sort(found)
		return &model.Reachability{State: model.ReachPresent, Symbols: slices.Compact(found)}
	case len(entries) == 0:
		return &model.Reachability{State: model.ReachUnknown, Reason: "no affected entry of the advisory names this module version"}
	case counted == 0:
		return &model.Reachability{State: model.ReachAbsent,
			Reason: fmt.Sprintf("the advisory affects other platforms than %s/%s", b.goos, b.arch)}
	case !syms.Inlined:
		return &model.Reachability{State: model.ReachUnknown,
			Reason: fmt.Sprintf("none of %d vulnerable functions is compiled out of line, and the index does not hold inlined ones", wanted)}
	}
	return &model.Reachability{State: model.ReachAbsent, Reason: fmt.Sprintf("none of %d vulnerable functions is in the binary", wanted)}
}

func isGo(eco string) bool { return strings.EqualFold(strings.TrimSpace(eco), "Go") }

// platform: an empty list (or an unknown binary platform) matches.
func platform(have string, list []string) bool {
	return have == "" || len(list) == 0 || slices.Contains(list, have)
}

// goImports reads ecosystem_specific.imports (nil when absent).
func goImports(raw json.RawMessage) ([]goImport, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var es struct {
		Imports []goImport `json:"imports"`
	}
	if err := json.Unmarshal(raw, &es); err != nil {
		return nil, err
	}
	return es.Imports, nil
}
