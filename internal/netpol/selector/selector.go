// Package selector implements Calico's label selector language: parsing with
// positioned errors, evaluation against a label map, a canonical string form,
// and the rewrites Calico applies when it turns v3 resources into the
// selectors its dataplane evaluates (label prefixes for namespace and service
// account labels, all() and global() inside namespace selectors).
//
// Grammar (as Calico's tokenizer and parser accept it):
//
//	expr    = and { "||" and }
//	and     = unary { "&&" unary }
//	unary   = { "!" } primary
//	primary = "all()" | "global()" | "has(" label ")" | "(" expr ")"
//	        | label ( "==" | "!=" | "contains" | "starts with" | "ends with" ) string
//	        | label ( "in" | "not in" ) "{" [ string { "," string } ] "}"
//	label   = [a-zA-Z0-9_./-]+
//	string  = "'" chars "'" | '"' chars '"'
//
// The empty selector is all().
package selector

import (
	"fmt"
	"slices"
	"strings"
)

// Labels is a set of labels.
type Labels = map[string]string

// Selector is a parsed, immutable selector expression. The zero value and
// nil match everything (all()).
type Selector struct {
	root node
	str  string
}

// Error is a parse error with the byte offset in the input where it was found.
type Error struct {
	Input string
	Pos   int // 0-based byte offset
	Msg   string
}

func (e *Error) Error() string {
	return fmt.Sprintf("invalid selector %q: %s at position %d", e.Input, e.Msg, e.Pos+1)
}

// Parse parses a Calico selector expression.
func Parse(s string) (*Selector, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &parser{in: s, toks: toks}
	var n node
	if p.peek().kind == tokEOF {
		n = allNode{}
	} else {
		n, err = p.parseOr(0)
		if err != nil {
			return nil, err
		}
		if t := p.peek(); t.kind != tokEOF {
			return nil, p.errAt(t, "unexpected %s after end of expression", t.describe())
		}
	}
	return newSelector(n), nil
}

// MustParse is Parse for selectors known to be valid (tests, constants).
func MustParse(s string) *Selector {
	sel, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return sel
}

// All returns the selector that matches everything.
func All() *Selector { return newSelector(allNode{}) }

func newSelector(n node) *Selector {
	var b strings.Builder
	n.write(&b)
	return &Selector{root: n, str: b.String()}
}

// Matches reports whether labels satisfy the selector.
func (s *Selector) Matches(labels Labels) bool {
	if s == nil || s.root == nil {
		return true
	}
	return s.root.eval(labels)
}

// String returns the canonical form: the same expression always prints the
// same way (sets sorted, redundant parentheses dropped), so it is usable as
// a map key.
func (s *Selector) String() string {
	if s == nil || s.root == nil {
		return "all()"
	}
	return s.str
}

// IsAll reports whether the selector is exactly all() (or empty).
func (s *Selector) IsAll() bool {
	if s == nil || s.root == nil {
		return true
	}
	_, ok := s.root.(allNode)
	return ok
}

// Conjuncts returns the canonical strings of the top-level && terms. all()
// contributes no term. A selector whose conjuncts are a subset of another's
// matches a superset of what the other matches.
func (s *Selector) Conjuncts() []string {
	if s == nil || s.root == nil {
		return nil
	}
	var out []string
	var walk func(n node)
	walk = func(n node) {
		switch n := n.(type) {
		case andNode:
			for _, c := range n {
				walk(c)
			}
		case allNode:
		default:
			var b strings.Builder
			n.write(&b)
			out = append(out, b.String())
		}
	}
	walk(s.root)
	slices.Sort(out)
	return slices.Compact(out)
}

// LabelKeys returns the label keys the selector reads, sorted.
func (s *Selector) LabelKeys() []string {
	if s == nil || s.root == nil {
		return nil
	}
	var keys []string
	s.root.visit(func(n node) {
		if k := n.key(); k != "" {
			keys = append(keys, k)
		}
	})
	slices.Sort(keys)
	return slices.Compact(keys)
}

// And returns the conjunction of the selectors; nil operands are skipped.
func And(sels ...*Selector) *Selector {
	var parts andNode
	for _, s := range sels {
		if s == nil || s.root == nil {
			continue
		}
		if a, ok := s.root.(andNode); ok {
			parts = append(parts, a...)
			continue
		}
		if _, ok := s.root.(allNode); ok {
			continue
		}
		parts = append(parts, s.root)
	}
	switch len(parts) {
	case 0:
		return All()
	case 1:
		return newSelector(parts[0])
	}
	return newSelector(parts)
}

// WithPrefix returns the selector with prefix put in front of every label
// key it reads: Calico's parseSelectorAttachPrefix ("pcns.", "pcsa.").
func (s *Selector) WithPrefix(prefix string) *Selector {
	if s == nil || s.root == nil {
		return All()
	}
	return newSelector(s.root.rewrite(func(n node) node { return n.withKey(prefix) }))
}

// Replace returns the selector with every all() replaced by ifAll and every
// global() by ifGlobal; a nil replacement leaves that node alone. Calico
// rewrites namespace selectors this way: all() becomes
// has(projectcalico.org/namespace) and global() its negation.
func (s *Selector) Replace(ifAll, ifGlobal *Selector) *Selector {
	if s == nil || s.root == nil {
		s = All()
	}
	return newSelector(s.root.rewrite(func(n node) node {
		switch n.(type) {
		case allNode:
			if ifAll != nil {
				return ifAll.root
			}
		case globalNode:
			if ifGlobal != nil {
				return ifGlobal.root
			}
		}
		return n
	}))
}

// Has returns the selector has(key).
func Has(key string) *Selector { return newSelector(hasNode(key)) }

// Not returns the negation of s.
func Not(s *Selector) *Selector {
	if s == nil || s.root == nil {
		s = All()
	}
	return newSelector(mkNot(s.root))
}

// Eq returns the selector key == value.
func Eq(key, value string) *Selector { return newSelector(cmpNode{op: opEq, k: key, v: value}) }

// In returns the selector key in {values}.
func In(key string, values ...string) *Selector {
	return newSelector(setNode{k: key, vals: sortedSet(values)})
}

// NotIn returns the selector key not in {values}.
func NotIn(key string, values ...string) *Selector {
	return newSelector(setNode{k: key, vals: sortedSet(values), not: true})
}

func sortedSet(v []string) []string {
	out := slices.Clone(v)
	slices.Sort(out)
	return slices.Compact(out)
}

// RequiredEq returns a label key and value that every match must have (a
// top-level "key == value" conjunct). When several qualify, it picks the
// one with the fewest entries in index (label key and value → candidates),
// so callers can test only those candidates.
func (s *Selector) RequiredEq(index map[[2]string][]int) (key, value string, ok bool) {
	if s == nil || s.root == nil {
		return "", "", false
	}
	best := -1
	consider := func(n node) {
		c, isCmp := n.(cmpNode)
		if !isCmp || c.op != opEq {
			return
		}
		size := len(index[[2]string{c.k, c.v}])
		if best < 0 || size < best {
			best, key, value, ok = size, c.k, c.v, true
		}
	}
	if a, isAnd := s.root.(andNode); isAnd {
		for _, n := range a {
			consider(n)
		}
	} else {
		consider(s.root)
	}
	return key, value, ok
}
