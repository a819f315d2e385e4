package match

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/catalog/gobinary"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/osv"
	"github.com/lockdown-sec/lockdown/internal/version"
)

// goRec is a Go vulnerability record for module mod, affected below
// fixed, with ecosystem_specific imports (nil: none).
func goRec(id, mod, fixed string, imports []goImport) *osv.Vulnerability {
	a := osv.Affected{Package: osv.Package{Ecosystem: "Go", Name: mod},
		Ranges: []osv.Range{{Type: osv.RangeSemver, Events: []osv.Event{{Introduced: "0"}, {Fixed: fixed}}}}}
	if imports != nil {
		a.EcosystemSpecific, _ = json.Marshal(map[string]any{"imports": imports})
	}
	return &osv.Vulnerability{ID: id, Affected: []osv.Affected{a}}
}

// TestReachability covers each of govulncheck's rules on a binary built
// for linux/amd64 whose index holds a few functions of x/net (pure logic:
// TestGoReachabilityParity in internal/scan is the proof against
// govulncheck on real binaries).
func TestReachability(t *testing.T) {
	syms := gobinary.NewSymbols(true,
		"golang.org/x/net/html.Parse", "golang.org/x/net/html.(*Tokenizer).Next", "net/http.(*Client).Do")
	bin := &goBinary{syms: syms, goos: "linux", arch: "amd64"}
	outOfLine := &goBinary{syms: gobinary.NewSymbols(false, "golang.org/x/net/html.Parse"), goos: "linux", arch: "amd64"}
	semver := version.Go()
	const mod, ver = "golang.org/x/net", "v0.1.0"
	html := func(syms ...string) goImport { return goImport{Path: "golang.org/x/net/html", Symbols: syms} }
	for _, c := range []struct {
		name string
		bin  *goBinary
		recs []*osv.Vulnerability
		want model.Reachability
	}{
		{"symbol found", bin, []*osv.Vulnerability{goRec("GO-1", mod, "0.7.0", []goImport{html("Parse", "ParseFragment")})},
			model.Reachability{State: model.ReachPresent, Symbols: []string{"golang.org/x/net/html.Parse"}}},
		{"method found", bin, []*osv.Vulnerability{goRec("GO-1", mod, "0.7.0", []goImport{html("Tokenizer.Next")})},
			model.Reachability{State: model.ReachPresent, Symbols: []string{"golang.org/x/net/html.Tokenizer.Next"}}},
		{"symbols absent", bin, []*osv.Vulnerability{goRec("GO-1", mod, "0.7.0", []goImport{{Path: "golang.org/x/net/http2", Symbols: []string{"Server.ServeConn"}}})},
			model.Reachability{State: model.ReachAbsent, Reason: "none of 1 vulnerable functions is in the binary"}},
		{"package-wide, package linked", bin, []*osv.Vulnerability{goRec("GO-1", mod, "0.7.0", []goImport{html()})},
			model.Reachability{State: model.ReachPresent, Symbols: []string{"golang.org/x/net/html"}}},
		{"package-wide, package not linked", bin, []*osv.Vulnerability{goRec("GO-1", mod, "0.7.0", []goImport{{Path: "golang.org/x/net/http2"}})},
			model.Reachability{State: model.ReachAbsent, Reason: "none of 1 vulnerable functions is in the binary"}},
		{"module-wide", bin, []*osv.Vulnerability{goRec("GO-1", mod, "0.7.0", nil)},
			model.Reachability{State: model.ReachPresent, Symbols: []string{"golang.org/x/net"}}},
		{"other platform", bin, []*osv.Vulnerability{goRec("GO-1", mod, "0.7.0", []goImport{{Path: "golang.org/x/net/html", GOOS: []string{"windows"}, Symbols: []string{"Parse"}}})},
			model.Reachability{State: model.ReachAbsent, Reason: "the advisory affects other platforms than linux/amd64"}},
		{"this platform among others", bin, []*osv.Vulnerability{goRec("GO-1", mod, "0.7.0", []goImport{{Path: "golang.org/x/net/html", GOOS: []string{"windows", "linux"}, GOARCH: []string{"amd64"}, Symbols: []string{"Parse"}}})},
			model.Reachability{State: model.ReachPresent, Symbols: []string{"golang.org/x/net/html.Parse"}}},
		{"version not affected by the informed record", bin, []*osv.Vulnerability{goRec("GO-1", mod, "0.0.1", []goImport{html("Parse")})},
			model.Reachability{State: model.ReachUnknown, Reason: "no affected entry of the advisory names this module version"}},
		{"a GHSA alias without imports does not override", bin, []*osv.Vulnerability{
			goRec("GO-1", mod, "0.7.0", []goImport{{Path: "golang.org/x/net/http2", Symbols: []string{"Server.ServeConn"}}}),
			goRec("GHSA-x", mod, "0.7.0", nil)},
			model.Reachability{State: model.ReachAbsent, Reason: "none of 1 vulnerable functions is in the binary"}},
		{"stdlib module-wide", bin, []*osv.Vulnerability{goRec("GO-1", "stdlib", "1.99.0", nil)},
			model.Reachability{State: model.ReachPresent, Symbols: []string{"stdlib"}}},
		{"out-of-line index, found", outOfLine, []*osv.Vulnerability{goRec("GO-1", mod, "0.7.0", []goImport{html("Parse")})},
			model.Reachability{State: model.ReachPresent, Symbols: []string{"golang.org/x/net/html.Parse"}}},
		{"out-of-line index, not found", outOfLine, []*osv.Vulnerability{goRec("GO-1", mod, "0.7.0", []goImport{html("Tokenizer.Next")})},
			model.Reachability{State: model.ReachUnknown, Reason: "none of 1 vulnerable functions is compiled out of line, and the index does not hold inlined ones"}},
		{"no index", &goBinary{why: "damaged function table"}, []*osv.Vulnerability{goRec("GO-1", mod, "0.7.0", []goImport{html("Parse")})},
			model.Reachability{State: model.ReachUnknown, Reason: "no usable symbol information: damaged function table"}},
		{"index decoded on use", &goBinary{enc: gobinary.NewSymbols(true, "golang.org/x/net/html.Parse").Encode(), goos: "linux", arch: "amd64"},
			[]*osv.Vulnerability{goRec("GO-1", mod, "0.7.0", []goImport{html("Parse")})},
			model.Reachability{State: model.ReachPresent, Symbols: []string{"golang.org/x/net/html.Parse"}}},
		{"damaged index", &goBinary{enc: "s2:f:!!!!!!!!"}, []*osv.Vulnerability{goRec("GO-1", mod, "0.7.0", []goImport{html("Parse")})},
			model.Reachability{State: model.ReachUnknown, Reason: "no usable symbol information: decode go symbols: '!' at 0 is not base64"}},
		{"no binary", nil, []*osv.Vulnerability{goRec("GO-1", mod, "0.7.0", []goImport{html("Parse")})},
			model.Reachability{State: model.ReachUnknown, Reason: "no symbol information for this binary"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := mod
			v := ver
			if c.recs[0].Affected[0].Package.Name == "stdlib" {
				name, v = "stdlib", "1.22.0"
			}
			got := reachability(c.bin, name, v, semver, c.recs)
			if diff := cmp.Diff(&c.want, got); diff != "" {
				t.Errorf("reachability (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMatchGoReachability: Match marks Go findings of a binary, keeps them
// all by default, filters by --go-reachability, and leaves the index out of
// the findings' packages.
func TestMatchGoReachability(t *testing.T) {
	syms := gobinary.NewSymbols(true, "golang.org/x/net/html.Parse")
	meta := map[string]string{gobinary.MetaGoVersion: "go1.22.0"}
	pkgs := []model.Package{
		{Name: "golang.org/x/net", Version: "v0.1.0", Type: model.TypeGolang, Ecosystem: "Go", Location: "/app", Metadata: meta},
		{Name: "stdlib", Version: "1.22.0", Type: model.TypeGolang, Ecosystem: "Go", Location: "/app", Arch: "amd64",
			Metadata: map[string]string{gobinary.MetaGoVersion: "go1.22.0", gobinary.MetaGOOS: "linux", gobinary.MetaSymbols: syms.Encode()}},
	}
	recs := []osv.Vulnerability{
		*goRec("GO-2023-0001", "golang.org/x/net", "0.7.0", []goImport{{Path: "golang.org/x/net/html", Symbols: []string{"Parse"}}}),
		*goRec("GO-2023-0002", "golang.org/x/net", "0.7.0", []goImport{{Path: "golang.org/x/net/http2", Symbols: []string{"Server.ServeConn"}}}),
	}
	db := newMemSource(recs)
	for _, c := range []struct {
		keep []string
		want map[string]string
	}{
		{nil, map[string]string{"GO-2023-0001": model.ReachPresent, "GO-2023-0002": model.ReachAbsent}},
		{[]string{model.ReachPresent}, map[string]string{"GO-2023-0001": model.ReachPresent}},
		{[]string{model.ReachAbsent, model.ReachUnknown}, map[string]string{"GO-2023-0002": model.ReachAbsent}},
	} {
		fs, _, err := Match(t.Context(), db, pkgs, Options{GoReachability: c.keep})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, f := range fs {
			got[f.RuleID] = f.Reachability.State
			if _, leaked := f.Package.Metadata[gobinary.MetaSymbols]; leaked {
				t.Error("the symbol index leaked into a finding's package")
			}
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("Match(GoReachability %v) (-want +got):\n%s", c.keep, diff)
		}
	}
}
