package selector

import (
	"slices"
	"strings"
)

type node interface {
	eval(Labels) bool
	write(*strings.Builder)
	// rewrite applies f bottom-up and returns the new tree.
	rewrite(f func(node) node) node
	visit(f func(node))
	key() string                // label key read by a leaf, "" otherwise
	withKey(prefix string) node // leaf with prefixed key; other nodes unchanged
}

type allNode struct{}

func (allNode) eval(Labels) bool                 { return true }
func (allNode) write(b *strings.Builder)         { b.WriteString("all()") }
func (n allNode) rewrite(f func(node) node) node { return f(n) }
func (n allNode) visit(f func(node))             { f(n) }
func (allNode) key() string                      { return "" }
func (n allNode) withKey(string) node            { return n }

// globalNode is global(): true on its own; inside namespace selectors Calico
// rewrites it to !has(projectcalico.org/namespace).
type globalNode struct{}

func (globalNode) eval(Labels) bool                 { return true }
func (globalNode) write(b *strings.Builder)         { b.WriteString("global()") }
func (n globalNode) rewrite(f func(node) node) node { return f(n) }
func (n globalNode) visit(f func(node))             { f(n) }
func (globalNode) key() string                      { return "" }
func (n globalNode) withKey(string) node            { return n }

type hasNode string

func (n hasNode) eval(l Labels) bool {
	_, ok := l[string(n)]
	return ok
}
func (n hasNode) write(b *strings.Builder) {
	b.WriteString("has(")
	b.WriteString(string(n))
	b.WriteString(")")
}
func (n hasNode) rewrite(f func(node) node) node { return f(n) }
func (n hasNode) visit(f func(node))             { f(n) }
func (n hasNode) key() string                    { return string(n) }
func (n hasNode) withKey(p string) node          { return hasNode(p + string(n)) }

type cmpOp uint8

const (
	opEq cmpOp = iota
	opNe
	opContains
	opStarts
	opEnds
)

var opText = [...]string{" == ", " != ", " contains ", " starts with ", " ends with "}

type cmpNode struct {
	op   cmpOp
	k, v string
}

func (n cmpNode) eval(l Labels) bool {
	v, ok := l[n.k]
	switch n.op {
	case opEq:
		return ok && v == n.v
	case opNe:
		// As in Calico: a missing label is "not equal".
		return !ok || v != n.v
	case opContains:
		return ok && strings.Contains(v, n.v)
	case opStarts:
		return ok && strings.HasPrefix(v, n.v)
	case opEnds:
		return ok && strings.HasSuffix(v, n.v)
	}
	return false
}
func (n cmpNode) write(b *strings.Builder) {
	b.WriteString(n.k)
	b.WriteString(opText[n.op])
	writeString(b, n.v)
}
func (n cmpNode) rewrite(f func(node) node) node { return f(n) }
func (n cmpNode) visit(f func(node))             { f(n) }
func (n cmpNode) key() string                    { return n.k }
func (n cmpNode) withKey(p string) node          { n.k = p + n.k; return n }

func writeString(b *strings.Builder, s string) {
	q := `"`
	if strings.Contains(s, `"`) {
		q = `'`
	}
	b.WriteString(q)
	b.WriteString(s)
	b.WriteString(q)
}

type setNode struct {
	k    string
	vals []string // sorted, unique
	not  bool
}

func (n setNode) eval(l Labels) bool {
	v, ok := l[n.k]
	if !ok {
		return n.not // "not in" matches a missing label, as in Calico
	}
	_, found := slices.BinarySearch(n.vals, v)
	return found != n.not
}
func (n setNode) write(b *strings.Builder) {
	b.WriteString(n.k)
	if n.not {
		b.WriteString(" not in {")
	} else {
		b.WriteString(" in {")
	}
	for i, v := range n.vals {
		if i > 0 {
			b.WriteString(", ")
		}
		writeString(b, v)
	}
	b.WriteString("}")
}
func (n setNode) rewrite(f func(node) node) node { return f(n) }
func (n setNode) visit(f func(node))             { f(n) }
func (n setNode) key() string                    { return n.k }
func (n setNode) withKey(p string) node          { n.k = p + n.k; return n }

type notNode struct{ x node }

func (n notNode) eval(l Labels) bool { return !n.x.eval(l) }
func (n notNode) write(b *strings.Builder) {
	b.WriteString("!")
	writeOperand(b, n.x)
}
func (n notNode) rewrite(f func(node) node) node { return f(mkNot(n.x.rewrite(f))) }

// mkNot negates x, collapsing a double negation as Calico's parser does.
func mkNot(x node) node {
	if n, ok := x.(notNode); ok {
		return n.x
	}
	return notNode{x}
}
func (n notNode) visit(f func(node))  { f(n); n.x.visit(f) }
func (notNode) key() string           { return "" }
func (n notNode) withKey(string) node { return n }

// writeOperand parenthesises composite operands.
func writeOperand(b *strings.Builder, n node) {
	switch n.(type) {
	case andNode, orNode:
		b.WriteString("(")
		n.write(b)
		b.WriteString(")")
	case cmpNode, setNode:
		b.WriteString("(")
		n.write(b)
		b.WriteString(")")
	default:
		n.write(b)
	}
}

type andNode []node

func (n andNode) eval(l Labels) bool {
	for _, x := range n {
		if !x.eval(l) {
			return false
		}
	}
	return true
}
func (n andNode) write(b *strings.Builder) {
	for i, x := range n {
		if i > 0 {
			b.WriteString(" && ")
		}
		if _, ok := x.(orNode); ok {
			b.WriteString("(")
			x.write(b)
			b.WriteString(")")
		} else {
			x.write(b)
		}
	}
}
func (n andNode) rewrite(f func(node) node) node {
	out := make(andNode, len(n))
	for i, x := range n {
		out[i] = x.rewrite(f)
	}
	return f(out)
}
func (n andNode) visit(f func(node)) {
	f(n)
	for _, x := range n {
		x.visit(f)
	}
}
func (andNode) key() string           { return "" }
func (n andNode) withKey(string) node { return n }

type orNode []node

func (n orNode) eval(l Labels) bool {
	for _, x := range n {
		if x.eval(l) {
			return true
		}
	}
	return false
}
func (n orNode) write(b *strings.Builder) {
	for i, x := range n {
		if i > 0 {
			b.WriteString(" || ")
		}
		x.write(b)
	}
}
func (n orNode) rewrite(f func(node) node) node {
	out := make(orNode, len(n))
	for i, x := range n {
		out[i] = x.rewrite(f)
	}
	return f(out)
}
func (n orNode) visit(f func(node)) {
	f(n)
	for _, x := range n {
		x.visit(f)
	}
}
func (orNode) key() string           { return "" }
func (n orNode) withKey(string) node { return n }
