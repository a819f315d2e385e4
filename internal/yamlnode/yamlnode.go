// Package yamlnode reads YAML node trees (go.yaml.in/yaml/v3) for the
// loaders that report file:line positions: netpol's policy loader and the
// linters of Compose files and Kubernetes manifests.
package yamlnode

import (
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// maxAliasHops bounds alias chains (a crafted document may loop).
const maxAliasHops = 16

// Deref follows aliases to the node they stand for.
func Deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxAliasHops; i++ {
		n = n.Alias
	}
	return n
}

// Key returns the key node of key in mapping n, or nil.
func Key(n *yaml.Node, key string) *yaml.Node {
	n = Deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i]
		}
	}
	return nil
}

// Value returns the value node of key in mapping n, or nil.
func Value(n *yaml.Node, key string) *yaml.Node {
	n = Deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// KeyLine is the line of key in mapping n, or def.
func KeyLine(n *yaml.Node, key string, def int) int {
	if k := Key(n, key); k != nil {
		return k.Line
	}
	return def
}

// Scalar is the scalar value of key in mapping n, or "".
func Scalar(n *yaml.Node, key string) string {
	v := Deref(Value(n, key))
	if v == nil || v.Kind != yaml.ScalarNode {
		return ""
	}
	return v.Value
}

// LineOf walks path (map keys as strings, sequence indexes as ints) from
// n and returns the line of the deepest node found: a key's line for a
// key, an item's line for an index; def when not even the first is there.
func LineOf(n *yaml.Node, path []any, def int) int {
	line := def
	for _, p := range path {
		n = Deref(n)
		if n == nil {
			return line
		}
		switch p := p.(type) {
		case string:
			k := Key(n, p)
			if k == nil {
				return line
			}
			line, n = k.Line, Value(n, p)
		case int:
			if n.Kind != yaml.SequenceNode || p < 0 || p >= len(n.Content) {
				return line
			}
			n = n.Content[p]
			line = n.Line
		default:
			return line
		}
	}
	return line
}

var lineRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`line (\d+)`) })

// SyntaxError words a YAML decoder error as the line it names (0 when
// none) and a message without the line: "invalid YAML: mapping values
// are not allowed in this context".
func SyntaxError(err error) (line int, msg string) {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := lineRe().FindStringSubmatch(s); m != nil {
		line, _ = strconv.Atoi(m[1])
		s = strings.TrimLeft(lineRe().ReplaceAllString(s, ""), ": ")
	}
	return line, "invalid YAML: " + s
}
