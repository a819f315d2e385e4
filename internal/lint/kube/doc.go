// Package kube lints Kubernetes manifests: workloads (Pod, Deployment,
// StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob,
// PodTemplate, and the items of a List), multi-document YAML or JSON as
// kubectl, Kustomize (`kustomize build`) and Helm (`helm template`) write
// them. It checks the Pod Security Standards baseline and restricted
// controls (CheckPod, shared with the admission webhook), image pinning,
// limits and literal secrets, and with Coverage which workloads no
// NetworkPolicy selects (the netpol engine's evaluation).
package kube

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lockdown-sec/lockdown/internal/lint/rule"
	"github.com/lockdown-sec/lockdown/internal/netpol/load"
	"github.com/lockdown-sec/lockdown/internal/yamlnode"
)

// Workload is one pod (or pod template) found in a manifest.
type Workload struct {
	Kind, Name, Namespace string
	// Meta is the pod's (template's) metadata, Spec its spec; MetaPath and
	// SpecPath are where they are in the document.
	Meta               *metav1.ObjectMeta
	Spec               *corev1.PodSpec
	MetaPath, SpecPath []any
	Line               int // the document's first line

	node *yaml.Node
}

// ID is "Kind namespace/name" ("Kind name" without a namespace).
func (w *Workload) ID() string {
	if w.Namespace != "" {
		return w.Kind + " " + w.Namespace + "/" + w.Name
	}
	return w.Kind + " " + w.Name
}

// LineOf is the line of the field at path (relative to the document), or
// of its nearest ancestor that exists.
func (w *Workload) LineOf(path []any) int {
	return yamlnode.LineOf(w.node, path, w.Line)
}

// File is one parsed manifest file.
type File struct {
	Path      string
	Workloads []*Workload
	// Objects are the documents the netpol engine reads (NetworkPolicies,
	// Namespaces, ServiceAccounts, Calico policies), for Coverage.
	Objects []*load.Object
	// Kinds counts every document by kind, read or not.
	Kinds map[string]int

	netpolDocs []*yaml.Node // documents for the netpol loader
}

// podPaths says where a workload kind keeps its pod template.
var podPaths = map[string]struct {
	apiVersions []string
	meta, spec  []any
	new         func() any
}{
	"Pod":                   {[]string{"v1"}, []any{"metadata"}, []any{"spec"}, func() any { return new(corev1.Pod) }},
	"PodTemplate":           {[]string{"v1"}, []any{"template", "metadata"}, []any{"template", "spec"}, func() any { return new(corev1.PodTemplate) }},
	"ReplicationController": {[]string{"v1"}, []any{"spec", "template", "metadata"}, []any{"spec", "template", "spec"}, func() any { return new(corev1.ReplicationController) }},
	"Deployment":            {[]string{"apps/v1"}, []any{"spec", "template", "metadata"}, []any{"spec", "template", "spec"}, func() any { return new(appsv1.Deployment) }},
	"StatefulSet":           {[]string{"apps/v1"}, []any{"spec", "template", "metadata"}, []any{"spec", "template", "spec"}, func() any { return new(appsv1.StatefulSet) }},
	"DaemonSet":             {[]string{"apps/v1"}, []any{"spec", "template", "metadata"}, []any{"spec", "template", "spec"}, func() any { return new(appsv1.DaemonSet) }},
	"ReplicaSet":            {[]string{"apps/v1"}, []any{"spec", "template", "metadata"}, []any{"spec", "template", "spec"}, func() any { return new(appsv1.ReplicaSet) }},
	"Job":                   {[]string{"batch/v1"}, []any{"spec", "template", "metadata"}, []any{"spec", "template", "spec"}, func() any { return new(batchv1.Job) }},
	"CronJob":               {[]string{"batch/v1"}, []any{"spec", "jobTemplate", "spec", "template", "metadata"}, []any{"spec", "jobTemplate", "spec", "template", "spec"}, func() any { return new(batchv1.CronJob) }},
}

// netpolKinds are the kinds Coverage needs, read by the netpol loader.
var netpolKinds = map[string]bool{
	"NetworkPolicy": true, "GlobalNetworkPolicy": true, "Namespace": true, "ServiceAccount": true,
	"Tier": true, "Profile": true, "NetworkSet": true, "GlobalNetworkSet": true,
}

// IsManifest reports whether data looks like Kubernetes manifests: a
// document (or List) with apiVersion and kind at the top.
func IsManifest(data []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for range 64 {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			return false
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind != yaml.MappingNode {
			continue
		}
		if yamlnode.Scalar(root, "apiVersion") != "" && yamlnode.Scalar(root, "kind") != "" {
			return true
		}
	}
	return false
}

// ParsesAsYAML reports whether every document of data is valid YAML.
func ParsesAsYAML(data []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// Parse reads the documents of one file. Documents of kinds it does not
// lint (Services, ConfigMaps, CRDs) are counted and skipped; a workload
// that does not decode into its API type is an error at its line.
func Parse(path string, data []byte) (*File, error) {
	f := &File{Path: path, Kinds: map[string]int{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var errs []error
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line, msg := yamlnode.SyntaxError(err)
			errs = append(errs, &rule.Error{File: path, Line: line, Msg: msg})
			break
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue
		}
		errs = append(errs, f.decode(root, 0)...)
	}
	if len(errs) > 0 {
		return f, errors.Join(errs...)
	}
	if len(f.netpolDocs) > 0 {
		// The netpol loader reads those documents (only those) again.
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		for _, d := range f.netpolDocs {
			if err := enc.Encode(d); err != nil {
				return f, &rule.Error{File: path, Line: d.Line, Msg: err.Error()}
			}
		}
		enc.Close()
		objs, _, err := load.Parse(path, buf.Bytes(), load.Options{SkipUnknownKinds: true})
		if err != nil {
			return f, err
		}
		for _, o := range objs {
			if netpolKinds[o.Kind] {
				f.Objects = append(f.Objects, o)
			}
		}
	}
	return f, nil
}

const maxListDepth = 4

func (f *File) decode(root *yaml.Node, depth int) []error {
	if root.Kind != yaml.MappingNode {
		return []error{&rule.Error{File: f.Path, Line: root.Line, Msg: "expected a resource (a mapping with apiVersion and kind)"}}
	}
	apiVersion, kind := yamlnode.Scalar(root, "apiVersion"), yamlnode.Scalar(root, "kind")
	if kind == "" || apiVersion == "" {
		return []error{&rule.Error{File: f.Path, Line: root.Line, Msg: "expected a resource: apiVersion and kind are required"}}
	}
	f.Kinds[kind]++
	if strings.HasSuffix(kind, "List") && yamlnode.Value(root, "items") != nil {
		if depth >= maxListDepth {
			return []error{&rule.Error{File: f.Path, Line: root.Line, Msg: "lists nested too deeply"}}
		}
		items := yamlnode.Value(root, "items")
		if items.Kind != yaml.SequenceNode {
			return []error{&rule.Error{File: f.Path, Line: items.Line, Msg: kind + ": items: expected a list"}}
		}
		var errs []error
		for _, it := range items.Content {
			errs = append(errs, f.decode(it, depth+1)...)
		}
		return errs
	}
	if netpolKinds[kind] {
		f.netpolDocs = append(f.netpolDocs, root)
		return nil
	}
	pp, ok := podPaths[kind]
	if !ok {
		return nil
	}
	md := yamlnode.Value(root, "metadata")
	name, ns := yamlnode.Scalar(md, "name"), yamlnode.Scalar(md, "namespace")
	id := kind + " " + name
	if !contains(pp.apiVersions, apiVersion) {
		return []error{&rule.Error{File: f.Path, Line: yamlnode.KeyLine(root, "apiVersion", root.Line), Msg: fmt.Sprintf("%s: unsupported apiVersion %q (want %s)", id, apiVersion, strings.Join(pp.apiVersions, " or "))}}
	}
	var generic any
	if err := root.Decode(&generic); err != nil {
		return []error{&rule.Error{File: f.Path, Line: root.Line, Msg: id + ": " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	js, err := json.Marshal(generic)
	if err != nil {
		return []error{&rule.Error{File: f.Path, Line: root.Line, Msg: id + ": cannot convert to JSON: " + err.Error()}}
	}
	obj := pp.new()
	if err := json.Unmarshal(js, obj); err != nil {
		line := root.Line
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			line = lineOfField(root, fieldPath(te.Field), root.Line)
			return []error{&rule.Error{File: f.Path, Line: line, Msg: fmt.Sprintf("%s: %s: got %s, want %s", id, te.Field, te.Value, typeWord(te))}}
		}
		return []error{&rule.Error{File: f.Path, Line: line, Msg: id + ": " + strings.TrimPrefix(err.Error(), "json: ")}}
	}
	w := &Workload{Kind: kind, Name: name, Namespace: ns, MetaPath: pp.meta, SpecPath: pp.spec, Line: root.Line, node: root}
	w.Meta, w.Spec = podOf(obj)
	f.Workloads = append(f.Workloads, w)
	return nil
}

func podOf(obj any) (*metav1.ObjectMeta, *corev1.PodSpec) {
	switch o := obj.(type) {
	case *corev1.Pod:
		return &o.ObjectMeta, &o.Spec
	case *corev1.PodTemplate:
		return &o.Template.ObjectMeta, &o.Template.Spec
	case *corev1.ReplicationController:
		if o.Spec.Template == nil {
			return &metav1.ObjectMeta{}, &corev1.PodSpec{}
		}
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec
	case *appsv1.Deployment:
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec
	case *appsv1.StatefulSet:
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec
	case *appsv1.DaemonSet:
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec
	case *appsv1.ReplicaSet:
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec
	case *batchv1.Job:
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec
	case *batchv1.CronJob:
		return &o.Spec.JobTemplate.Spec.Template.ObjectMeta, &o.Spec.JobTemplate.Spec.Template.Spec
	}
	panic(fmt.Sprintf("kube: no pod template in %T", obj))
}

func typeWord(te *json.UnmarshalTypeError) string {
	switch te.Type.Kind().String() {
	case "int", "int32", "int64", "uint8", "uint16", "uint32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "slice":
		return "a list"
	case "struct", "map":
		return "a mapping"
	case "bool":
		return "true or false"
	}
	return te.Type.String()
}

// fieldPath turns a JSON error's "spec.template.spec.containers" into a
// path (list indexes are not in it).
func fieldPath(field string) []any {
	var out []any
	for _, p := range strings.Split(field, ".") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ---- YAML node helpers

// Decode reads one object of a workload kind from JSON (an admission
// review's object); ok is false for kinds that hold no pod.
func Decode(kind string, raw []byte) (w *Workload, ok bool, err error) {
	pp, known := podPaths[kind]
	if !known {
		return nil, false, nil
	}
	obj := pp.new()
	if err := json.Unmarshal(raw, obj); err != nil {
		return nil, true, fmt.Errorf("decode %s: %w", kind, err)
	}
	var om metav1.ObjectMeta
	if m, ok := obj.(interface{ GetObjectMeta() metav1.Object }); ok {
		if x, ok := m.GetObjectMeta().(*metav1.ObjectMeta); ok {
			om = *x
		}
	}
	w = &Workload{Kind: kind, Name: om.Name, Namespace: om.Namespace, MetaPath: pp.meta, SpecPath: pp.spec}
	if w.Name == "" {
		w.Name = om.GenerateName
	}
	w.Meta, w.Spec = podOf(obj)
	return w, true, nil
}

// lineOfField is lineOf for a JSON error's field path, which has no list
// indexes: at a list it looks for the rest of the path in each item.
func lineOfField(n *yaml.Node, path []any, def int) int {
	n = yamlnode.Deref(n)
	if n == nil || len(path) == 0 {
		return def
	}
	switch n.Kind {
	case yaml.SequenceNode:
		for _, it := range n.Content {
			if l := lineOfField(it, path, 0); l > 0 {
				return l
			}
		}
		return def
	case yaml.MappingNode:
		key, _ := path[0].(string)
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return lineOfField(n.Content[i+1], path[1:], n.Content[i].Line)
			}
		}
	}
	return def
}

// Kinds lists the workload kinds lint and the admission webhook read.
func Kinds() []string {
	out := make([]string, 0, len(podPaths))
	for k := range podPaths {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
