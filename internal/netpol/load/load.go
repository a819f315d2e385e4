// Package load reads Calico v3 and Kubernetes manifests (YAML or JSON,
// multi-document, files or directories) into typed objects that remember
// the file and line of every field, so later checks can point at the line
// that is wrong.
package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/lockdown-sec/lockdown/internal/netpol/calicov3"
	"github.com/lockdown-sec/lockdown/internal/yamlnode"
)

// Source is a position in an input file.
type Source struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

func (s Source) String() string {
	if s.Line <= 0 {
		return s.File
	}
	return fmt.Sprintf("%s:%d", s.File, s.Line)
}

// Error is bad input at a position.
type Error struct {
	Source
	Msg string
	Err error
}

func (e *Error) Error() string {
	msg := e.Msg
	if e.Err != nil {
		if msg != "" {
			msg += ": "
		}
		msg += e.Err.Error()
	}
	return e.Source.String() + ": " + msg
}

func (e *Error) Unwrap() error { return e.Err }

// MaxErrors is how many errors Load (and netpol.Build) collect before they
// only count the rest.
const MaxErrors = 100

// Errors is every problem found in one run, in input order: Load keeps going
// past a bad document (a YAML syntax error ends its file) and past a file it
// cannot read. At most MaxErrors are kept; More counts the rest.
type Errors struct {
	Errs []error
	More int
}

// Add records err (an *Errors is flattened).
func (e *Errors) Add(err error) {
	if err == nil {
		return
	}
	var list *Errors
	if errors.As(err, &list) {
		for _, x := range list.Errs {
			e.Add(x)
		}
		e.More += list.More
		return
	}
	if len(e.Errs) < MaxErrors {
		e.Errs = append(e.Errs, err)
		return
	}
	e.More++
}

// Len is the number of errors found, kept or not.
func (e *Errors) Len() int { return len(e.Errs) + e.More }

// Err returns e, or nil when nothing was recorded.
func (e *Errors) Err() error {
	if e.Len() == 0 {
		return nil
	}
	return e
}

// Error is the first error, and how many more there are.
func (e *Errors) Error() string {
	switch {
	case len(e.Errs) == 0:
		return fmt.Sprintf("%d errors", e.More)
	case e.Len() == 1:
		return e.Errs[0].Error()
	}
	return fmt.Sprintf("%s (and %d more errors)", e.Errs[0], e.Len()-1)
}

// Lines is one line per kept error ("file:line: message"), then
// "… and N more errors" when some were not kept.
func (e *Errors) Lines() []string {
	out := make([]string, 0, len(e.Errs)+1)
	for _, x := range e.Errs {
		out = append(out, x.Error())
	}
	if e.More > 0 {
		out = append(out, fmt.Sprintf("… and %d more errors", e.More))
	}
	return out
}

// Unwrap returns the kept errors.
func (e *Errors) Unwrap() []error { return e.Errs }

// Errorf returns an *Error at src.
func Errorf(src Source, format string, args ...any) error {
	return &Error{Source: src, Msg: fmt.Sprintf(format, args...)}
}

// Object is one decoded resource.
type Object struct {
	Source     Source // where the document (or List item) starts
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
	// Obj is one of *calicov3.NetworkPolicy, *calicov3.GlobalNetworkPolicy,
	// *calicov3.StagedNetworkPolicy, *calicov3.StagedGlobalNetworkPolicy,
	// *calicov3.NetworkSet, *calicov3.GlobalNetworkSet, *calicov3.Tier,
	// *calicov3.HostEndpoint, *calicov3.Profile, *networkingv1.NetworkPolicy,
	// *corev1.Pod, *corev1.Namespace, *corev1.ServiceAccount, and the
	// cluster configuration *calicov3.FelixConfiguration, *calicov3.IPPool,
	// *calicov3.BGPConfiguration, *calicov3.BGPPeer, *calicov3.Node.
	Obj  any
	node *yaml.Node
}

// ID is "Kind namespace/name" or "Kind name".
func (o *Object) ID() string {
	if o.Namespace != "" {
		return o.Kind + " " + o.Namespace + "/" + o.Name
	}
	return o.Kind + " " + o.Name
}

// At returns the position of the field at path (map keys as strings,
// sequence indexes as ints), or of its nearest ancestor that exists.
func (o *Object) At(path ...any) Source {
	return Source{File: o.Source.File, Line: yamlnode.LineOf(o.node, path, o.Source.Line)}
}

// Errorf returns an *Error at the field at path, prefixed with the object's ID
// and the field path.
func (o *Object) Errorf(path []any, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if p := PathString(path); p != "" {
		msg = p + ": " + msg
	}
	return &Error{Source: o.At(path...), Msg: o.ID() + ": " + msg}
}

// PathString renders a field path: spec.ingress[0].source.nets[1].
func PathString(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch p := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", p)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, p)
		}
	}
	return b.String()
}

// Options tune loading. The zero value is strict.
type Options struct {
	// SkipUnknownKinds turns documents of kinds Lockdown does not read
	// (Deployments, Services, …) into warnings instead of errors.
	SkipUnknownKinds bool
}

// Result is what Load read.
type Result struct {
	Objects  []*Object
	Files    []string
	Warnings []Error
}

// maxFileSize bounds one input file.
const maxFileSize = 64 << 20

// Load reads every path (a file, or a directory walked for *.yaml, *.yml and
// *.json files in lexical order). "-" reads standard input from stdin.
//
// Load keeps going past bad input: when some paths cannot be read or some
// documents are invalid, it returns everything that loaded fine together
// with an *Errors listing every problem in input order. Only a cancelled ctx
// returns a nil Result.
func Load(ctx context.Context, paths []string, stdin io.Reader, opts Options) (*Result, error) {
	res := &Result{}
	var errs Errors
	for _, p := range paths {
		files, err := expand(p)
		if err != nil {
			errs.Add(err)
			continue
		}
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			var data []byte
			if f == "-" {
				if stdin == nil {
					errs.Add(errors.New("read -: no standard input"))
					continue
				}
				data, err = io.ReadAll(io.LimitReader(stdin, maxFileSize+1))
			} else {
				data, err = readFile(f)
			}
			if err != nil {
				errs.Add(fmt.Errorf("read %s: %w", f, err))
				continue
			}
			if len(data) > maxFileSize {
				errs.Add(fmt.Errorf("read %s: larger than %d MiB", f, maxFileSize>>20))
				continue
			}
			objs, warns, err := parse(f, data, opts)
			errs.Add(err)
			res.Files = append(res.Files, f)
			res.Objects = append(res.Objects, objs...)
			res.Warnings = append(res.Warnings, warns...)
		}
	}
	return res, errs.Err()
}

func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxFileSize+1))
}

func expand(p string) ([]string, error) {
	if p == "-" {
		return []string{"-"}, nil
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read directory %s: %w", p, err)
	}
	slices.Sort(files)
	return files, nil
}

// Parse decodes the documents in data, naming them after file. Like Load it
// keeps going past a bad document (a YAML syntax error ends the file) and
// returns the good objects with an *Errors listing every problem.
func Parse(file string, data []byte, opts Options) ([]*Object, []Error, error) {
	return parse(file, data, opts)
}

func parse(file string, data []byte, opts Options) ([]*Object, []Error, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var objs []*Object
	var warns []Error
	var errs Errors
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line, msg := yamlnode.SyntaxError(err)
			// The decoder cannot resynchronise: the rest of the file is lost.
			errs.Add(&Error{Source: Source{File: file, Line: line}, Msg: msg})
			break
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue // an empty document
		}
		got, w := decodeDoc(file, root, opts, 0, &errs)
		objs = append(objs, got...)
		warns = append(warns, w...)
	}
	return objs, warns, errs.Err()
}

type kindInfo struct {
	apiVersions []string
	namespaced  bool
	new         func() any
}

// kinds lists every kind Lockdown reads, explicitly.
var kinds = map[string]kindInfo{
	calicov3.KindGlobalNetworkPolicy:       {[]string{calicov3.APIVersion}, false, func() any { return new(calicov3.GlobalNetworkPolicy) }},
	calicov3.KindStagedNetworkPolicy:       {[]string{calicov3.APIVersion}, true, func() any { return new(calicov3.StagedNetworkPolicy) }},
	calicov3.KindStagedGlobalNetworkPolicy: {[]string{calicov3.APIVersion}, false, func() any { return new(calicov3.StagedGlobalNetworkPolicy) }},
	calicov3.KindNetworkSet:                {[]string{calicov3.APIVersion}, true, func() any { return new(calicov3.NetworkSet) }},
	calicov3.KindGlobalNetworkSet:          {[]string{calicov3.APIVersion}, false, func() any { return new(calicov3.GlobalNetworkSet) }},
	calicov3.KindTier:                      {[]string{calicov3.APIVersion}, false, func() any { return new(calicov3.Tier) }},
	calicov3.KindHostEndpoint:              {[]string{calicov3.APIVersion}, false, func() any { return new(calicov3.HostEndpoint) }},
	calicov3.KindProfile:                   {[]string{calicov3.APIVersion}, false, func() any { return new(calicov3.Profile) }},
	"Pod":                                  {[]string{"v1"}, true, func() any { return new(corev1.Pod) }},
	"Namespace":                            {[]string{"v1"}, false, func() any { return new(corev1.Namespace) }},
	"ServiceAccount":                       {[]string{"v1"}, true, func() any { return new(corev1.ServiceAccount) }},
	"Service":                              {[]string{"v1"}, true, func() any { return new(corev1.Service) }},
	// Cluster configuration (lockdown audit calico), also as CRDs.
	calicov3.KindFelixConfiguration: {calicoConfig, false, func() any { return new(calicov3.FelixConfiguration) }},
	calicov3.KindIPPool:             {calicoConfig, false, func() any { return new(calicov3.IPPool) }},
	calicov3.KindBGPConfiguration:   {calicoConfig, false, func() any { return new(calicov3.BGPConfiguration) }},
	calicov3.KindBGPPeer:            {calicoConfig, false, func() any { return new(calicov3.BGPPeer) }},
	calicov3.KindNode:               {calicoConfig, false, func() any { return new(calicov3.Node) }},
}

// calicoConfig are the apiVersions of Calico's configuration kinds.
var calicoConfig = []string{calicov3.APIVersion, calicov3.CRDAPIVersion}

// NetworkPolicy exists in both APIs; the apiVersion picks the type.
const k8sNetworkingV1 = "networking.k8s.io/v1"

// KnownKinds lists the kinds Load reads, for messages.
func KnownKinds() []string {
	out := []string{calicov3.KindNetworkPolicy}
	for k := range kinds {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

const maxListDepth = 4

// decodeDoc decodes one document or List item, recording problems in errs
// and going on with the next List item.
func decodeDoc(file string, root *yaml.Node, opts Options, depth int, errs *Errors) ([]*Object, []Error) {
	objs, warns, items, err := decodeOne(file, root, opts, depth)
	errs.Add(err)
	for _, it := range items {
		o, w := decodeDoc(file, it, opts, depth+1, errs)
		objs = append(objs, o...)
		warns = append(warns, w...)
	}
	return objs, warns
}

// decodeOne decodes one resource, or returns a List's items.
func decodeOne(file string, root *yaml.Node, opts Options, depth int) ([]*Object, []Error, []*yaml.Node, error) {
	src := Source{File: file, Line: root.Line}
	if root.Kind != yaml.MappingNode {
		return nil, nil, nil, &Error{Source: src, Msg: "expected a resource (a mapping with apiVersion and kind)"}
	}
	apiVersion := yamlnode.Scalar(root, "apiVersion")
	kind := yamlnode.Scalar(root, "kind")
	if kind == "" {
		return nil, nil, nil, &Error{Source: src, Msg: "missing kind"}
	}
	if apiVersion == "" {
		return nil, nil, nil, &Error{Source: Source{File: file, Line: yamlnode.KeyLine(root, "kind", root.Line)}, Msg: fmt.Sprintf("%s: missing apiVersion", kind)}
	}
	kindSrc := Source{File: file, Line: yamlnode.KeyLine(root, "kind", root.Line)}
	apiSrc := Source{File: file, Line: yamlnode.KeyLine(root, "apiVersion", root.Line)}

	if strings.HasSuffix(kind, "List") {
		if depth >= maxListDepth {
			return nil, nil, nil, &Error{Source: kindSrc, Msg: "lists nested too deeply"}
		}
		items := yamlnode.Value(root, "items")
		if items == nil {
			return nil, nil, nil, nil
		}
		if items.Kind != yaml.SequenceNode {
			return nil, nil, nil, &Error{Source: Source{File: file, Line: items.Line}, Msg: kind + ": items: expected a list"}
		}
		return nil, nil, items.Content, nil
	}

	var target any
	namespaced := false
	if kind == calicov3.KindNetworkPolicy {
		switch apiVersion {
		case calicov3.APIVersion:
			target, namespaced = new(calicov3.NetworkPolicy), true
		case k8sNetworkingV1:
			target, namespaced = new(networkingv1.NetworkPolicy), true
		default:
			return nil, nil, nil, &Error{Source: apiSrc, Msg: fmt.Sprintf("NetworkPolicy: unsupported apiVersion %q (want %s or %s)", apiVersion, calicov3.APIVersion, k8sNetworkingV1)}
		}
	} else {
		ki, ok := kinds[kind]
		if !ok {
			e := Error{Source: kindSrc, Msg: fmt.Sprintf("unknown kind %q (apiVersion %s); want one of %s", kind, apiVersion, strings.Join(KnownKinds(), ", "))}
			if opts.SkipUnknownKinds {
				e.Msg = fmt.Sprintf("skipped kind %q (apiVersion %s)", kind, apiVersion)
				return nil, []Error{e}, nil, nil
			}
			return nil, nil, nil, &e
		}
		if !slices.Contains(ki.apiVersions, apiVersion) {
			return nil, nil, nil, &Error{Source: apiSrc, Msg: fmt.Sprintf("%s: unsupported apiVersion %q (want %s)", kind, apiVersion, strings.Join(ki.apiVersions, " or "))}
		}
		target, namespaced = ki.new(), ki.namespaced
	}

	var generic any
	if err := root.Decode(&generic); err != nil {
		return nil, nil, nil, &Error{Source: src, Msg: kind + ": " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	js, err := json.Marshal(generic)
	if err != nil {
		return nil, nil, nil, &Error{Source: src, Msg: kind + ": cannot convert to JSON: " + err.Error()}
	}
	o := &Object{Source: src, APIVersion: apiVersion, Kind: kind, node: root}
	md := yamlnode.Value(root, "metadata")
	o.Name = yamlnode.Scalar(md, "name")
	o.Namespace = yamlnode.Scalar(md, "namespace")
	if err := decodeStrict(js, target); err != nil {
		return nil, nil, nil, o.jsonError(err)
	}
	o.Obj = target
	if o.Name == "" {
		return nil, nil, nil, &Error{Source: o.At("metadata"), Msg: kind + ": metadata.name is required"}
	}
	if namespaced && o.Namespace == "" {
		o.Namespace = "default" // as kubectl and calicoctl do
	}
	if !namespaced && o.Namespace != "" {
		o.Namespace = ""
		return nil, nil, nil, o.Errorf([]any{"metadata", "namespace"}, "%s is not namespaced", kind)
	}
	return []*Object{o}, nil, nil, nil
}

func decodeStrict(js []byte, target any) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	return dec.Decode(target)
}

var unknownFieldRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^json: unknown field "(.*)"$`) })

// jsonError maps a JSON decoding error back to a line.
func (o *Object) jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		path := strings.Split(te.Field, ".")
		line := findPath(o.node, path)
		if line == 0 {
			line = o.Source.Line
		}
		want := te.Type.String()
		switch te.Type.Kind().String() {
		case "int", "int32", "int64", "uint8", "uint16", "uint32", "float64":
			want = "a number"
		case "string":
			want = "a string"
		case "slice":
			want = "a list"
		case "struct", "map":
			want = "a mapping"
		case "bool":
			want = "true or false"
		}
		return &Error{Source: Source{File: o.Source.File, Line: line}, Msg: fmt.Sprintf("%s: %s: got %s, want %s", o.ID(), te.Field, te.Value, want)}
	}
	if m := unknownFieldRe().FindStringSubmatch(err.Error()); m != nil {
		line := findKey(o.node, m[1])
		if line == 0 {
			line = o.Source.Line
		}
		return &Error{Source: Source{File: o.Source.File, Line: line}, Msg: fmt.Sprintf("%s: unknown field %q", o.ID(), m[1])}
	}
	return &Error{Source: o.Source, Msg: o.ID() + ": " + strings.TrimPrefix(err.Error(), "json: ")}
}

// ---- node helpers

// findPath follows dotted JSON field names (no indexes: in a sequence, the
// first item holding the next key is taken).
func findPath(n *yaml.Node, path []string) int {
	line := 0
	for _, key := range path {
		n = yamlnode.Deref(n)
		for n != nil && n.Kind == yaml.SequenceNode {
			var next *yaml.Node
			for _, it := range n.Content {
				if yamlnode.Value(yamlnode.Deref(it), key) != nil {
					next = yamlnode.Deref(it)
					break
				}
			}
			n = next
		}
		if n == nil || n.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				line = n.Content[i].Line
				n = n.Content[i+1]
				found = true
				break
			}
		}
		if !found {
			return line
		}
	}
	return line
}

// findKey returns the line of the first mapping key named key (depth first).
func findKey(n *yaml.Node, key string) int {
	seen := 0
	var walk func(n *yaml.Node) int
	walk = func(n *yaml.Node) int {
		if n == nil || seen > 100000 {
			return 0
		}
		seen++
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					return n.Content[i].Line
				}
			}
		}
		if n.Kind == yaml.AliasNode {
			return 0
		}
		for _, c := range n.Content {
			if l := walk(c); l != 0 {
				return l
			}
		}
		return 0
	}
	return walk(n)
}
