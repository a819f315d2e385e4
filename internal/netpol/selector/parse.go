package selector

import (
	"fmt"
	"strings"
)

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokLabel
	tokString
	tokLBrace
	tokRBrace
	tokComma
	tokEq
	tokNe
	tokIn
	tokNotIn
	tokContains
	tokStarts
	tokEnds
	tokNot
	tokAll
	tokGlobal
	tokHas
	tokLParen
	tokRParen
	tokAnd
	tokOr
)

var tokNames = [...]string{
	tokEOF: "end of selector", tokLabel: "label", tokString: "string", tokLBrace: "'{'", tokRBrace: "'}'",
	tokComma: "','", tokEq: "'=='", tokNe: "'!='", tokIn: "'in'", tokNotIn: "'not in'",
	tokContains: "'contains'", tokStarts: "'starts with'", tokEnds: "'ends with'", tokNot: "'!'",
	tokAll: "'all()'", tokGlobal: "'global()'", tokHas: "'has()'", tokLParen: "'('", tokRParen: "')'",
	tokAnd: "'&&'", tokOr: "'||'",
}

type token struct {
	kind tokKind
	val  string
	pos  int
}

func (t token) describe() string {
	switch t.kind {
	case tokLabel:
		return fmt.Sprintf("label %q", t.val)
	case tokString:
		return fmt.Sprintf("string %q", t.val)
	}
	return tokNames[t.kind]
}

func isLabelChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '/' || c == '-'
}

func labelAt(s string, i int) string {
	j := i
	for j < len(s) && isLabelChar(s[j]) {
		j++
	}
	return s[i:j]
}

// Calico validates selector labels as Kubernetes label keys: an optional
// DNS-subdomain prefix of at most 253 characters and "/", then a name of at
// most 63 (k8s.io/apimachinery validation.IsQualifiedName).
const (
	maxLabelName   = 63
	maxLabelPrefix = 253
)

// checkLabel refuses a label longer than Calico accepts; the error is a
// message, placed by the caller.
func checkLabel(label string) string {
	prefix, name, ok := strings.Cut(label, "/")
	if !ok {
		prefix, name = "", label
	}
	if len(name) > maxLabelName {
		return fmt.Sprintf("label %q: name longer than %d characters", label, maxLabelName)
	}
	if len(prefix) > maxLabelPrefix {
		return fmt.Sprintf("label %q: prefix longer than %d characters", label, maxLabelPrefix)
	}
	return ""
}

// wordEnd reports whether a keyword that ends at i is a whole word: Calico's
// tokenizer matches operator words with a word boundary after them ("in\b",
// "ends\s*with\b"), so "a inx {…}" is not "in".
func wordEnd(s string, i int) bool {
	if i >= len(s) {
		return true
	}
	c := s[i]
	return !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z')
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// tokenize follows Calico's tokenizer: operator words are recognised only
// right after a label; has(, all( and global( are written without a space
// before the parenthesis.
func tokenize(s string) ([]token, error) {
	var toks []token
	errAt := func(pos int, format string, args ...any) error {
		return &Error{Input: s, Pos: pos, Msg: fmt.Sprintf(format, args...)}
	}
	i := 0
	for {
		i = skipSpace(s, i)
		if i >= len(s) {
			toks = append(toks, token{kind: tokEOF, pos: len(s)})
			return toks, nil
		}
		start := i
		afterLabel := len(toks) > 0 && toks[len(toks)-1].kind == tokLabel
		add := func(k tokKind, n int) {
			toks = append(toks, token{kind: k, pos: start})
			i += n
		}
		switch c := s[i]; c {
		case '(':
			add(tokLParen, 1)
		case ')':
			add(tokRParen, 1)
		case '{':
			add(tokLBrace, 1)
		case '}':
			add(tokRBrace, 1)
		case ',':
			add(tokComma, 1)
		case '"', '\'':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return nil, errAt(start, "unterminated string")
			}
			toks = append(toks, token{kind: tokString, val: s[i+1 : i+1+end], pos: start})
			i += end + 2
		case '=':
			if i+1 < len(s) && s[i+1] == '=' {
				add(tokEq, 2)
			} else {
				return nil, errAt(start, "expected '=='")
			}
		case '!':
			if i+1 < len(s) && s[i+1] == '=' {
				add(tokNe, 2)
			} else {
				add(tokNot, 1)
			}
		case '&':
			if i+1 < len(s) && s[i+1] == '&' {
				add(tokAnd, 2)
			} else {
				return nil, errAt(start, "expected '&&'")
			}
		case '|':
			if i+1 < len(s) && s[i+1] == '|' {
				add(tokOr, 2)
			} else {
				return nil, errAt(start, "expected '||'")
			}
		default:
			rest := s[i:]
			switch {
			case afterLabel:
				label := toks[len(toks)-1].val
				word := func(w string) bool { return strings.HasPrefix(s[i:], w) }
				twoWords := func(first, second string, k tokKind) error {
					j := skipSpace(s, i+len(first))
					if !strings.HasPrefix(s[j:], second) || !wordEnd(s, j+len(second)) {
						return errAt(j, "expected %q after %q", second, first)
					}
					toks = append(toks, token{kind: k, pos: start})
					i = j + len(second)
					return nil
				}
				var err error
				switch {
				case word("contains") && wordEnd(s, i+len("contains")):
					add(tokContains, len("contains"))
				case word("starts"):
					err = twoWords("starts", "with", tokStarts)
				case word("ends"):
					err = twoWords("ends", "with", tokEnds)
				case word("not"):
					err = twoWords("not", "in", tokNotIn)
				case word("in") && wordEnd(s, i+2):
					add(tokIn, 2)
				default:
					return nil, errAt(start, "expected an operator (==, !=, in, not in, contains, starts with, ends with) after label %q", label)
				}
				if err != nil {
					return nil, err
				}
			case strings.HasPrefix(rest, "has("):
				j := skipSpace(s, i+4)
				key := labelAt(s, j)
				if key == "" {
					return nil, errAt(j, "expected a label name in has()")
				}
				if msg := checkLabel(key); msg != "" {
					return nil, errAt(j, "%s", msg)
				}
				j = skipSpace(s, j+len(key))
				if j >= len(s) || s[j] != ')' {
					return nil, errAt(j, "expected ')' to close has(")
				}
				toks = append(toks, token{kind: tokHas, val: key, pos: start})
				i = j + 1
			case strings.HasPrefix(rest, "all("), strings.HasPrefix(rest, "global("):
				k, n := tokAll, len("all(")
				if rest[0] == 'g' {
					k, n = tokGlobal, len("global(")
				}
				j := skipSpace(s, i+n)
				if j >= len(s) || s[j] != ')' {
					return nil, errAt(j, "expected ')' after %s", rest[:n])
				}
				toks = append(toks, token{kind: k, pos: start})
				i = j + 1
			default:
				key := labelAt(s, i)
				if key == "" {
					return nil, errAt(start, "unexpected character %q", rest[0])
				}
				if msg := checkLabel(key); msg != "" {
					return nil, errAt(start, "%s", msg)
				}
				toks = append(toks, token{kind: tokLabel, val: key, pos: start})
				i += len(key)
			}
		}
	}
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 200

type parser struct {
	in   string
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) errAt(t token, format string, args ...any) error {
	return &Error{Input: p.in, Pos: t.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) parseOr(depth int) (node, error) {
	first, err := p.parseAnd(depth)
	if err != nil {
		return nil, err
	}
	terms := orNode{first}
	for p.peek().kind == tokOr {
		p.next()
		n, err := p.parseAnd(depth)
		if err != nil {
			return nil, err
		}
		terms = append(terms, n)
	}
	if len(terms) == 1 {
		return first, nil
	}
	return terms, nil
}

func (p *parser) parseAnd(depth int) (node, error) {
	first, err := p.parseUnary(depth)
	if err != nil {
		return nil, err
	}
	terms := andNode{first}
	for p.peek().kind == tokAnd {
		p.next()
		n, err := p.parseUnary(depth)
		if err != nil {
			return nil, err
		}
		terms = append(terms, n)
	}
	if len(terms) == 1 {
		return first, nil
	}
	return terms, nil
}

func (p *parser) parseUnary(depth int) (node, error) {
	neg := false
	for p.peek().kind == tokNot {
		p.next()
		neg = !neg
	}
	n, err := p.parsePrimary(depth)
	if err != nil {
		return nil, err
	}
	if neg {
		return mkNot(n), nil
	}
	return n, nil
}

func (p *parser) parsePrimary(depth int) (node, error) {
	t := p.next()
	switch t.kind {
	case tokAll:
		return allNode{}, nil
	case tokGlobal:
		return globalNode{}, nil
	case tokHas:
		return hasNode(t.val), nil
	case tokLParen:
		if depth >= maxDepth {
			return nil, p.errAt(t, "expression nested too deeply")
		}
		n, err := p.parseOr(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tokRParen {
			return nil, p.errAt(c, "expected ')' but found %s", c.describe())
		}
		return n, nil
	case tokLabel:
		op := p.next()
		switch op.kind {
		case tokEq, tokNe, tokContains, tokStarts, tokEnds:
			v := p.next()
			if v.kind != tokString {
				return nil, p.errAt(v, "expected a quoted string after %s but found %s", tokNames[op.kind], v.describe())
			}
			co := map[tokKind]cmpOp{tokEq: opEq, tokNe: opNe, tokContains: opContains, tokStarts: opStarts, tokEnds: opEnds}[op.kind]
			return cmpNode{op: co, k: t.val, v: v.val}, nil
		case tokIn, tokNotIn:
			lb := p.next()
			if lb.kind != tokLBrace {
				return nil, p.errAt(lb, "expected '{' after %s but found %s", tokNames[op.kind], lb.describe())
			}
			var vals []string
			for p.peek().kind == tokString {
				vals = append(vals, p.next().val)
				if p.peek().kind != tokComma {
					break
				}
				p.next()
			}
			if rb := p.next(); rb.kind != tokRBrace {
				return nil, p.errAt(rb, "expected '}' or a quoted string but found %s", rb.describe())
			}
			return setNode{k: t.val, vals: sortedSet(vals), not: op.kind == tokNotIn}, nil
		default:
			return nil, p.errAt(op, "expected an operator after label %q but found %s", t.val, op.describe())
		}
	}
	return nil, p.errAt(t, "unexpected %s", t.describe())
}
