package catalog

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/catalog/apk"
	"github.com/lockdown-sec/lockdown/internal/catalog/cargo"
	"github.com/lockdown-sec/lockdown/internal/catalog/composer"
	"github.com/lockdown-sec/lockdown/internal/catalog/dpkg"
	"github.com/lockdown-sec/lockdown/internal/catalog/gem"
	"github.com/lockdown-sec/lockdown/internal/catalog/gobinary"
	"github.com/lockdown-sec/lockdown/internal/catalog/gomod"
	"github.com/lockdown-sec/lockdown/internal/catalog/maven"
	"github.com/lockdown-sec/lockdown/internal/catalog/npm"
	"github.com/lockdown-sec/lockdown/internal/catalog/nuget"
	"github.com/lockdown-sec/lockdown/internal/catalog/python"
	"github.com/lockdown-sec/lockdown/internal/catalog/rpm"
)

// Default returns the built-in extractors: the one explicit list. The
// distribution (os-release and friends) is not an extractor: the cataloger
// always reads it, from the final filesystem.
func Default() []Extractor {
	return []Extractor{
		dpkg.Extractor{},
		apk.Extractor{},
		rpm.Extractor{},
		gobinary.Extractor{},
		npm.Extractor{},
		maven.Extractor{},
		python.Extractor{},
		gomod.Extractor{},
		cargo.Extractor{},
		composer.Extractor{},
		gem.Extractor{},
		nuget.Extractor{},
	}
}

// Cataloger runs a fixed set of extractors over images. It holds no state
// between runs and is safe for concurrent use.
type Cataloger struct {
	exts []Extractor
}

// New returns a cataloger for exts (use Default() for the built-in ones).
// Every extractor needs a name, and names are unique.
func New(exts ...Extractor) (*Cataloger, error) {
	seen := map[string]bool{}
	for i, e := range exts {
		if e == nil {
			return nil, fmt.Errorf("catalog: extractor %d is nil", i)
		}
		name := e.Name()
		if name == "" || strings.TrimSpace(name) != name {
			return nil, fmt.Errorf("catalog: extractor %d has an invalid name %q", i, name)
		}
		if seen[name] {
			return nil, fmt.Errorf("catalog: duplicate extractor name %q", name)
		}
		seen[name] = true
	}
	return &Cataloger{exts: slices.Clone(exts)}, nil
}

// Names lists the cataloger's extractor names, in order.
func (c *Cataloger) Names() []string {
	names := make([]string, len(c.exts))
	for i, e := range c.exts {
		names[i] = e.Name()
	}
	return names
}

// ErrUnknownExtractor is returned when a selection names no extractor.
var ErrUnknownExtractor = errors.New("unknown extractor")

// Select returns the extractors named (all of them when names is empty), in
// the cataloger's order.
func (c *Cataloger) Select(names []string) ([]Extractor, error) {
	if len(names) == 0 {
		return slices.Clone(c.exts), nil
	}
	want := map[string]bool{}
	for _, n := range names {
		if !slices.ContainsFunc(c.exts, func(e Extractor) bool { return e.Name() == n }) {
			return nil, fmt.Errorf("%w %q (have %s)", ErrUnknownExtractor, n, strings.Join(c.Names(), ", "))
		}
		want[n] = true
	}
	var out []Extractor
	for _, e := range c.exts {
		if want[e.Name()] {
			out = append(out, e)
		}
	}
	return out, nil
}
