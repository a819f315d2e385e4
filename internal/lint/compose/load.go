package compose

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/interpolation"
	"github.com/compose-spec/compose-go/v2/override"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/transform"
	"github.com/compose-spec/compose-go/v2/tree"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/go-viper/mapstructure/v2"
	"go.yaml.in/yaml/v3"

	"github.com/lockdown-sec/lockdown/internal/lint/rule"
	"github.com/lockdown-sec/lockdown/internal/yamlnode"
)

// loader does, with compose-go's schema-free packages, what its loader
// does for one file (compose-go/v2/loader links a JSON-Schema validator
// whose package init costs every lockdown process ~8 ms): interpolation,
// extends, canonical form, defaults, then the types. The schema's checks
// that matter are kept: wrong types and unknown keys are errors naming the
// Compose path.
type loader struct {
	ctx     context.Context
	main    string   // absolute path of the file being linted
	allowed []string // the other files extends may name
	interp  interpolation.Options
	files   map[string]map[string]any // services of the files loaded, by absolute path
}

// load turns the decoded main file into a project, every profile enabled.
func (l *loader) load(raw map[string]any) (p *types.Project, err error) {
	// compose-go's transforms and types assume input the schema has
	// checked (they assert types): what slips through is a bad file.
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("not a valid Compose file (%v)", r)
		}
	}()
	dict, services, err := l.interpolate(l.main, raw)
	if err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(services)) {
		if _, err := l.extend(l.main, services, name, nil); err != nil {
			return nil, err
		}
	}
	if dict, err = transform.Canonical(dict, false); err != nil {
		return nil, err
	}
	if dict, err = override.EnforceUnicity(dict); err != nil {
		return nil, err
	}
	if dict, err = transform.SetDefaultValues(dict); err != nil {
		return nil, err
	}
	if p, err = decode(dict); err != nil {
		return nil, err
	}
	return p.WithProfiles([]string{"*"})
}

// extend resolves the extends of service name of file (chain: the
// services that led here) and returns it merged over its base.
func (l *loader) extend(file string, services map[string]any, name string, chain []string) (map[string]any, error) {
	fail := func(format string, args ...any) error {
		err := fmt.Errorf("services.%s"+format, append([]any{name}, args...)...)
		if file != l.main {
			err = fmt.Errorf("%s: %w", file, err)
		}
		return err
	}
	s, ok := services[name].(map[string]any)
	if !ok {
		return nil, fail(": must be a mapping")
	}
	ext, ok := s["extends"]
	if !ok {
		return s, nil
	}
	ref, _ := ext.(string)
	baseFile, base := file, services
	if m, ok := ext.(map[string]any); ok {
		ref, _ = m["service"].(string)
		if f, ok := m["file"].(string); ok {
			var err error
			if baseFile, base, err = l.other(file, f); err != nil {
				return nil, fail(".extends: %w", err)
			}
		}
	}
	if _, ok := base[ref]; !ok || ref == "" {
		return nil, fail(".extends: no service %q in %s", ref, baseFile)
	}
	chain = append(chain, l.ref(file, name))
	if key := l.ref(baseFile, ref); slices.Contains(chain, key) {
		return nil, fail(".extends: a cycle: %s", strings.Join(append(chain, key), " extends "))
	}
	parent, err := l.extend(baseFile, base, ref, chain)
	if err != nil {
		return nil, err
	}
	merged, err := override.ExtendService(deepCopy(parent).(map[string]any), s)
	if err != nil {
		return nil, fail(".extends: %w", err)
	}
	delete(merged, "extends")
	services[name] = merged
	return merged, nil
}

// other loads the services of a file extends names: only an input of the
// same run is read.
func (l *loader) other(from, name string) (string, map[string]any, error) {
	abs := name
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(filepath.Dir(from), name)
	}
	abs = filepath.Clean(abs)
	if s, ok := l.files[abs]; ok {
		return abs, s, nil
	}
	if !slices.Contains(l.allowed, abs) {
		return "", nil, fmt.Errorf("%s is not among the files given: lockdown lint reads only its inputs (give it too)", name)
	}
	if err := l.ctx.Err(); err != nil {
		return "", nil, err
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return "", nil, fmt.Errorf("read %s: %w", name, err)
	}
	_, raw, err := parse(abs, data)
	if err != nil {
		return "", nil, err
	}
	_, s, err := l.interpolate(abs, raw)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", abs, err)
	}
	return abs, s, nil
}

// interpolate interpolates a decoded file and notes its services.
func (l *loader) interpolate(abs string, raw map[string]any) (map[string]any, map[string]any, error) {
	dict, err := interpolation.Interpolate(raw, l.interp)
	if err != nil {
		return nil, nil, err
	}
	services, ok := dict["services"].(map[string]any)
	if _, set := dict["services"]; set && !ok {
		return nil, nil, errors.New("services: must be a mapping")
	}
	l.files[abs] = services
	return dict, services, nil
}

// ref names service name of file in messages.
func (l *loader) ref(file, name string) string {
	if file == l.main {
		return name
	}
	return name + " (" + file + ")"
}

// decode binds the canonical map to compose-go's types (mapstructure with
// their own DecodeMapstructure methods, strings cast where a number or a
// boolean goes); a wrong type or an unknown key (x- keys are extensions)
// is an error naming the Compose path.
func decode(dict map[string]any) (*types.Project, error) {
	var p types.Project
	var md mapstructure.Metadata
	d, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(selfDecode, castHook),
		Result:     &p, TagName: "yaml", Squash: true, Metadata: &md,
	})
	if err != nil {
		return nil, err
	}
	if err := d.Decode(dict); err != nil {
		var de *mapstructure.DecodeError
		if !errors.As(err, &de) {
			return nil, err
		}
		msg := de.Unwrap().Error()
		if ue := (*mapstructure.UnconvertibleTypeError)(nil); errors.As(de, &ue) {
			msg = "got " + kindName(reflect.TypeOf(ue.Value)) + ", want " + kindName(ue.Expected.Type())
		}
		return nil, fmt.Errorf("%s: %s", composePath(de.Name()), msg)
	}
	slices.Sort(md.Unused)
	for _, k := range md.Unused {
		if !strings.Contains("."+k, ".x-") {
			return nil, fmt.Errorf("%s: unknown key", composePath(k))
		}
	}
	return &p, nil
}

// selfDecode lets a type decode itself with its DecodeMapstructure method.
func selfDecode(from, to reflect.Value) (any, error) {
	type decoder interface{ DecodeMapstructure(any) error }
	d, ok := to.Interface().(decoder)
	if !ok && to.CanAddr() {
		d, ok = to.Addr().Interface().(decoder)
	}
	if !ok {
		return from.Interface(), nil
	}
	if list, ok := from.Interface().([]any); ok && reflect.Indirect(to).Kind() == reflect.Slice {
		for i, e := range list { // command, entrypoint, healthcheck.test
			if _, ok := e.(string); !ok && reflect.Indirect(to).Type().Elem().Kind() == reflect.String {
				return nil, fmt.Errorf("item %d: got %s, want a string", i, kindName(reflect.TypeOf(e)))
			}
		}
	}
	if to.Kind() == reflect.Pointer && to.IsNil() {
		to.Set(reflect.New(to.Type().Elem()))
		d = to.Interface().(decoder)
	}
	if err := d.DecodeMapstructure(from.Interface()); err != nil {
		return nil, err
	}
	return to.Interface(), nil
}

// castHook turns a string into the boolean or number the field holds, an
// integer into a string.
func castHook(from, to reflect.Value) (any, error) {
	switch {
	case from.Kind() == reflect.String:
		return castString(to.Kind(), from.String())
	case from.Kind() == reflect.Int && to.Kind() == reflect.String:
		return strconv.FormatInt(from.Int(), 10), nil
	}
	return from.Interface(), nil
}

// castString reads s as a value of kind k (YAML 1.1 booleans included);
// other kinds keep the string.
func castString(k reflect.Kind, s string) (any, error) {
	switch k {
	case reflect.Bool:
		switch strings.ToLower(s) {
		case "true", "y", "yes", "on":
			return true, nil
		case "false", "n", "no", "off":
			return false, nil
		}
		return nil, fmt.Errorf("invalid boolean: %s", s)
	case reflect.Int:
		return strconv.Atoi(s)
	case reflect.Int64:
		return strconv.ParseInt(s, 10, 64)
	case reflect.Float32:
		f, err := strconv.ParseFloat(s, 32)
		return float32(f), err
	case reflect.Float64:
		return strconv.ParseFloat(s, 64)
	}
	return s, nil
}

// casts are the paths whose interpolated strings become numbers and
// booleans (the fields the Compose specification types so).
func casts() map[tree.Path]interpolation.Cast {
	m := map[tree.Path]interpolation.Cast{}
	add := func(k reflect.Kind, prefixes []string, keys ...string) {
		for _, p := range prefixes {
			for _, key := range keys {
				m[tree.Path(p+key)] = func(s string) (any, error) { return castString(k, s) }
			}
		}
	}
	add(reflect.Bool, []string{"networks.*.", "volumes.*.", "secrets.*.", "configs.*."}, "external")
	add(reflect.Bool, []string{"networks.*."}, "internal", "attachable", "enable_ipv4", "enable_ipv6")
	container := []string{"services.*.", "jobs.*.", "services.*.pre_start.*."}
	add(reflect.Int64, container, "cpu_count", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "cpu_shares", "oom_score_adj", "pids_limit")
	add(reflect.Float64, container, "cpu_percent")
	add(reflect.Float32, container, "cpus")
	add(reflect.Int, container, "ulimits.*", "ulimits.*.hard", "ulimits.*.soft")
	add(reflect.Bool, container, "init", "networks.*.use_service_name_alias", "oom_kill_disable", "privileged", "read_only", "volumes.[].read_only", "volumes.[].volume.nocopy")
	workload := container[:2]
	add(reflect.Bool, workload, "depends_on.*.required", "depends_on.*.restart", "healthcheck.disable", "stdin_open", "tty")
	add(reflect.Int, workload, "healthcheck.retries", "ports.[].target")
	service := container[:1]
	add(reflect.Int, service, "scale", "deploy.replicas", "deploy.update_config.parallelism", "deploy.rollback_config.parallelism", "deploy.restart_policy.max_attempts", "deploy.placement.max_replicas_per_node")
	add(reflect.Float64, service, "deploy.update_config.max_failure_ratio", "deploy.rollback_config.max_failure_ratio")
	for _, p := range container {
		// a leading 0 (or 0o) makes a umask octal, as in YAML
		m[tree.Path(p+"umask")] = func(s string) (any, error) { return strconv.ParseUint(s, 0, 32) }
	}
	return m
}

// required substitutes like template.Substitute, but a required variable
// that is not set (${X:?msg}) gets a placeholder value, noted in warn.
func required(env map[string]string, missing map[string]bool, warn func(string)) func(string, template.Mapping) (string, error) {
	return func(s string, m template.Mapping) (string, error) {
		for {
			out, err := template.Substitute(s, m)
			var re *template.MissingRequiredError
			if !errors.As(err, &re) || env[re.Variable] != "" {
				return out, err
			}
			env[re.Variable] = "lockdown-lint-placeholder"
			delete(missing, re.Variable)
			warn(fmt.Sprintf("required variable %s is not set: linted with a placeholder value", re.Variable))
		}
	}
}

// kindName names a Go type as a YAML value.
func kindName(t reflect.Type) string {
	if t == nil {
		return "null"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch k := t.Kind(); {
	case k == reflect.Bool:
		return "a boolean"
	case k == reflect.String:
		return "a string"
	case k == reflect.Slice:
		return "a list"
	case k == reflect.Map || k == reflect.Struct:
		return "a mapping"
	case k == reflect.Float32 || k == reflect.Float64:
		return "a number"
	case k >= reflect.Int && k <= reflect.Uint64:
		return "an integer"
	}
	return t.String()
}

// composePath turns mapstructure's services[web].ports[0] into
// services.web.ports.0.
func composePath(name string) string {
	return strings.NewReplacer("[", ".", "]", "").Replace(name)
}

// loadError words an error of the loader as the file's error, at the line
// of the Compose path it starts with (services.web.ports: …).
func loadError(file, abs string, root *yaml.Node, err error) error {
	msg := strings.ReplaceAll(err.Error(), abs, file)
	msg = strings.NewReplacer("map[string]interface {}", "mapping", "[]interface {}", "list", "<nil>", "null").Replace(msg)
	line := 0
	if p, _, ok := strings.Cut(msg, ": "); ok && !strings.ContainsAny(p, " \n") {
		var path []any // an index stops the walk at its list's key: close enough
		for _, s := range strings.Split(p, ".") {
			path = append(path, s)
		}
		line = yamlnode.LineOf(root, path, 0)
	}
	return &rule.Error{File: file, Line: line, Msg: msg}
}
