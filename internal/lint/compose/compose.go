// Package compose lints Docker Compose files, loaded with the Compose
// specification's own packages (compose-spec/compose-go, without its
// loader: see load.go): interpolation with the given environment, `extends`
// within the file (or from files that are themselves inputs), profiles all
// enabled. It reads no other file (no
// env_file, label_file, .env or include) and fetches nothing. The checks
// are those `audit docker` runs on live containers (CIS section 5).
package compose

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/interpolation"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/lockdown-sec/lockdown/internal/lint/rule"
	"github.com/lockdown-sec/lockdown/internal/posture"
	"github.com/lockdown-sec/lockdown/internal/yamlnode"
)

// Options tune loading; the zero value interpolates with an empty
// environment (so `${VAR:-default}` takes its default).
type Options struct {
	// Env is the environment for interpolation.
	Env map[string]string
	// Allowed lists the other files `extends: file:` may name (absolute,
	// cleaned): the other inputs of the same run.
	Allowed []string
}

// Result is what Lint found in one file.
type Result struct {
	Hits []rule.Hit
	// Warnings are problems that do not stop the lint (a variable that is
	// not set, an include that is not followed).
	Warnings []string
}

// IsCompose reports whether data looks like a Compose file: a mapping with
// a services key and no apiVersion/kind.
func IsCompose(data []byte) bool {
	var root yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&root); err != nil || len(root.Content) == 0 {
		return false
	}
	m := root.Content[0]
	return m.Kind == yaml.MappingNode && yamlnode.Value(m, "services") != nil && yamlnode.Value(m, "kind") == nil
}

// Lint loads one Compose file and checks every service.
func Lint(ctx context.Context, file string, data []byte, opts Options) (*Result, error) {
	root, raw, err := parse(file, data)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	// `version` is obsolete and ignored.
	delete(raw, "version")
	if _, ok := raw["include"]; ok {
		res.Warnings = append(res.Warnings, "include is not followed: lint the included files too")
		delete(raw, "include")
	}
	if len(raw) == 0 {
		return nil, &rule.Error{File: file, Msg: "empty Compose file"}
	}
	missing := map[string]bool{}
	abs, err := filepath.Abs(file)
	if err != nil {
		abs = file
	}
	env := maps.Clone(opts.Env)
	if env == nil {
		env = map[string]string{}
	}
	l := &loader{ctx: ctx, main: filepath.Clean(abs), allowed: opts.Allowed, files: map[string]map[string]any{}, interp: interpolation.Options{
		LookupValue:     lookup(env, missing),
		Substitute:      required(env, missing, func(w string) { res.Warnings = append(res.Warnings, w) }),
		TypeCastMapping: casts(),
	}}
	vars := template.ExtractVariables(raw, nil) // before load: merging changes raw
	project, err := l.load(raw)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, loadError(file, abs, root, err)
	}
	for _, k := range slices.Sorted(maps.Keys(missing)) {
		if d := vars[k].DefaultValue; d != "" {
			res.Warnings = append(res.Warnings, fmt.Sprintf("variable %s is not set: its default %q is used", k, d))
		} else {
			res.Warnings = append(res.Warnings, fmt.Sprintf("variable %s is not set: defaulting to a blank string", k))
		}
	}
	services := project.AllServices()
	for _, name := range slices.Sorted(maps.Keys(services)) {
		c := &svcLinter{name: name, svc: services[name], node: yamlnode.Value(yamlnode.Value(root, "services"), name), root: root}
		c.check()
		res.Hits = append(res.Hits, c.hits...)
	}
	return res, nil
}

// parse decodes a Compose file: a mapping whose keys are all strings.
func parse(file string, data []byte) (*yaml.Node, map[string]any, error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, &rule.Error{File: file, Msg: "empty Compose file"}
		}
		line, msg := yamlnode.SyntaxError(err)
		return nil, nil, &rule.Error{File: file, Line: line, Msg: msg}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, &rule.Error{File: file, Msg: "not a Compose file: the top level must be a mapping"}
	}
	root := doc.Content[0]
	if k := badKey(root); k != nil {
		return nil, nil, &rule.Error{File: file, Line: k.Line, Msg: fmt.Sprintf("key %q is not a string", k.Value)}
	}
	var raw map[string]any
	if err := root.Decode(&raw); err != nil {
		return nil, nil, &rule.Error{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	return root, raw, nil
}

// badKey finds a mapping key that is not a string (merge keys aside).
func badKey(n *yaml.Node) *yaml.Node {
	for i, c := range n.Content {
		if k := yamlnode.Deref(c); n.Kind == yaml.MappingNode && i%2 == 0 && k.ShortTag() != "!!str" && k.ShortTag() != "!!merge" {
			return c
		}
		if k := badKey(c); k != nil {
			return k
		}
	}
	return nil
}

// lookup resolves variables from env; one that is not set is blank (as
// Compose does) and noted in missing.
func lookup(env map[string]string, missing map[string]bool) func(string) (string, bool) {
	return func(k string) (string, bool) {
		if v, ok := env[k]; ok {
			return v, true
		}
		missing[k] = true
		return "", true
	}
}

// deepCopy copies a decoded YAML tree: merging changes what it is given.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = deepCopy(x)
		}
		return s
	}
	return v
}

type svcLinter struct {
	name string
	svc  types.ServiceConfig
	node *yaml.Node // the service's raw mapping ("" when it came from extends only)
	root *yaml.Node
	hits []rule.Hit
}

// hit records a failure of rule id at path; the caller may set its Fix.
func (c *svcLinter) hit(id string, path []any, format string, args ...any) *rule.Hit {
	def := c.root.Line
	if k := yamlnode.Key(yamlnode.Value(c.root, "services"), c.name); k != nil {
		def = k.Line
	}
	full := append([]any{"services", c.name}, path...)
	c.hits = append(c.hits, rule.Hit{ID: id, Path: full, Line: yamlnode.LineOf(c.node, path, def), Subject: c.name, Evidence: fmt.Sprintf(format, args...)})
	return &c.hits[len(c.hits)-1]
}

func (c *svcLinter) check() {
	s := &c.svc
	if s.Privileged {
		c.hit(rule.CmpPrivileged, []any{"privileged"}, "privileged: true")
	}
	var ns []string
	var nsKey string
	for _, x := range []struct{ key, val string }{{"network_mode", s.NetworkMode}, {"pid", s.Pid}, {"ipc", s.Ipc}, {"uts", s.Uts}, {"userns_mode", s.UserNSMode}} {
		if x.val == "host" {
			ns = append(ns, x.key+": host")
			if nsKey == "" {
				nsKey = x.key
			}
		}
	}
	if len(ns) > 0 {
		c.hit(rule.CmpHostNamespace, []any{nsKey}, "%s", strings.Join(ns, ", "))
	}
	for i, v := range s.Volumes {
		if v.Type != types.VolumeTypeBind && !(v.Type == "" && strings.HasPrefix(v.Source, "/")) {
			continue
		}
		src := path.Clean(v.Source)
		base := path.Base(src)
		vp := []any{"volumes", i}
		switch {
		case base == "docker.sock" || base == "containerd.sock" || base == "podman.sock" || base == "crio.sock":
			c.hit(rule.CmpDockerSock, vp, "volume %s:%s", v.Source, v.Target)
			continue
		case src == "/run" || src == "/var/run" || src == "/run/containerd" || src == "/var/run/docker":
			c.hit(rule.CmpDockerSock, vp, "volume %s:%s (the directory holding the socket)", v.Source, v.Target)
			continue
		}
		if posture.SensitiveMount(src, !v.ReadOnly) {
			mode := "rw"
			if v.ReadOnly {
				mode = "ro"
			}
			c.hit(rule.CmpSensitiveMount, vp, "volume %s:%s (%s)", v.Source, v.Target, mode)
		}
	}
	var bad []string
	for _, cp := range s.CapAdd {
		if posture.DangerousCap(cp) {
			bad = append(bad, posture.NormCap(cp))
		}
	}
	if len(bad) > 0 {
		c.hit(rule.CmpCapAdd, []any{"cap_add"}, "cap_add: %s", strings.Join(bad, ", "))
	}
	dropped := slices.ContainsFunc(s.CapDrop, func(x string) bool { n := posture.NormCap(x); return n == "ALL" || n == "NET_RAW" })
	readded := slices.ContainsFunc(s.CapAdd, func(x string) bool { n := posture.NormCap(x); return n == "ALL" || n == "NET_RAW" })
	if !s.Privileged && (!dropped || readded) {
		c.hit(rule.CmpNetRaw, []any{"cap_drop"}, "NET_RAW is kept (cap_drop: %s)", listOrNone(s.CapDrop))
	}
	if !s.ReadOnly {
		c.hit(rule.CmpReadOnly, []any{"read_only"}, "read_only is not true")
	}
	var lim *types.Resource
	if s.Deploy != nil {
		lim = s.Deploy.Resources.Limits
	}
	if s.MemLimit == 0 && (lim == nil || lim.MemoryBytes == 0) {
		c.hit(rule.CmpMemory, []any{"mem_limit"}, "no mem_limit or deploy.resources.limits.memory")
	}
	if s.CPUS == 0 && s.CPUQuota == 0 && (lim == nil || lim.NanoCPUs == 0) {
		c.hit(rule.CmpCPU, []any{"cpus"}, "no cpus or deploy.resources.limits.cpus")
	}
	if s.PidsLimit <= 0 && (lim == nil || lim.Pids <= 0) {
		c.hit(rule.CmpPids, []any{"pids_limit"}, "no pids_limit")
	}
	if u, _, _ := strings.Cut(s.User, ":"); u == "" || u == "root" || u == "0" {
		if s.User == "" {
			c.hit(rule.CmpUser, []any{"user"}, "no user: runs as the image's USER (root unless the image sets one)")
		} else {
			c.hit(rule.CmpUser, []any{"user"}, "user: %s", s.User)
		}
	}
	for i, p := range s.Ports {
		if p.Published == "" {
			continue
		}
		pp := []any{"ports", c.portIndex(p, i)}
		all := p.HostIP == "" || p.HostIP == "0.0.0.0" || p.HostIP == "::" || p.HostIP == "[::]"
		if !all {
			continue
		}
		lo, _, _ := strings.Cut(p.Published, "-")
		if n, err := strconv.Atoi(lo); err == nil && n > 0 && n < 1024 {
			c.hit(rule.CmpPrivPort, pp, "port %s:%d/%s is published on every interface", p.Published, p.Target, protoOf(p))
		} else {
			spec := fmt.Sprintf("127.0.0.1:%s:%d", p.Published, p.Target)
			if protoOf(p) != "tcp" {
				spec += "/" + protoOf(p)
			}
			c.hit(rule.CmpAllInterfaces, pp, "port %s:%d/%s is published on every interface", p.Published, p.Target, protoOf(p)).Fix =
				"bind the port to one address: `" + spec + "`"
		}
	}
	c.secretEnv()
	var unconfined []string
	nnp := false
	for _, o := range s.SecurityOpt {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			k, v, _ = strings.Cut(o, ":")
		}
		switch {
		case (k == "seccomp" || k == "apparmor") && v == "unconfined", k == "label" && v == "disable", k == "label:disable":
			unconfined = append(unconfined, o)
		case k == "no-new-privileges" && (v == "" || v == "true"):
			nnp = true
		}
	}
	if len(unconfined) > 0 {
		c.hit(rule.CmpUnconfined, []any{"security_opt"}, "security_opt: %s", strings.Join(unconfined, ", "))
	}
	if !nnp {
		c.hit(rule.CmpNoNewPrivs, []any{"security_opt"}, "no-new-privileges is not set")
	}
	if len(s.Devices) > 0 {
		var ds []string
		for _, d := range s.Devices {
			ds = append(ds, d.Source+":"+d.Target)
		}
		c.hit(rule.CmpDevices, []any{"devices"}, "devices: %s", strings.Join(ds, ", "))
	}
	if s.Image != "" && !strings.Contains(s.Image, "@sha256:") {
		last := s.Image[strings.LastIndex(s.Image, "/")+1:]
		i := strings.LastIndex(last, ":")
		switch {
		case i < 0:
			c.hit(rule.CmpImageTag, []any{"image"}, "image %s has no tag (means :latest)", s.Image)
		case last[i+1:] == "latest":
			c.hit(rule.CmpImageTag, []any{"image"}, "image %s", s.Image)
		}
	}
}

func protoOf(p types.ServicePortConfig) string {
	if p.Protocol == "" {
		return "tcp"
	}
	return p.Protocol
}

// portIndex finds the raw ports item a loaded port came from (short
// syntax ranges expand into several), else the loaded index.
func (c *svcLinter) portIndex(p types.ServicePortConfig, i int) int {
	seq := yamlnode.Deref(yamlnode.Value(c.node, "ports"))
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return i
	}
	target := strconv.Itoa(int(p.Target))
	for j, it := range seq.Content {
		it = yamlnode.Deref(it)
		switch it.Kind {
		case yaml.ScalarNode:
			if strings.Contains(it.Value, p.Published) && strings.Contains(it.Value, target) {
				return j
			}
		case yaml.MappingNode:
			if v := yamlnode.Value(it, "target"); v != nil && v.Value == target {
				return j
			}
		}
	}
	return i
}

// secretEnv looks at the environment as written: a literal value for a
// secret-named variable (interpolated values are the environment's).
func (c *svcLinter) secretEnv() {
	env := yamlnode.Deref(yamlnode.Value(c.node, "environment"))
	if env == nil {
		return
	}
	check := func(k, v string, path []any) {
		if v != "" && !strings.Contains(v, "$") && rule.SecretName(k) {
			c.hit(rule.CmpSecretEnv, path, "environment %s=%s", k, rule.Redact(v))
		}
	}
	switch env.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(env.Content); i += 2 {
			v := yamlnode.Deref(env.Content[i+1])
			if v.Kind == yaml.ScalarNode && v.Tag != "!!null" {
				check(env.Content[i].Value, v.Value, []any{"environment", env.Content[i].Value})
			}
		}
	case yaml.SequenceNode:
		for i, it := range env.Content {
			if k, v, ok := strings.Cut(yamlnode.Deref(it).Value, "="); ok {
				check(k, v, []any{"environment", i})
			}
		}
	}
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// ---- YAML node helpers
