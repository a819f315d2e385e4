// Package lint is `lockdown lint`: it finds the Dockerfiles, Compose files
// and Kubernetes manifests among its inputs, runs the rules of
// internal/lint/rule on them (packages dockerfile, compose and kube), applies
// inline suppressions and returns one model.Report of misconfiguration
// findings, each with file:line. Nothing in the inputs is run or fetched,
// and nothing is written.
package lint

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/lockdown-sec/lockdown/internal/check"
	"github.com/lockdown-sec/lockdown/internal/lint/compose"
	"github.com/lockdown-sec/lockdown/internal/lint/dockerfile"
	"github.com/lockdown-sec/lockdown/internal/lint/kube"
	"github.com/lockdown-sec/lockdown/internal/lint/rule"
	"github.com/lockdown-sec/lockdown/internal/model"
)

// File types.
const (
	TypeDockerfile = rule.ScopeDockerfile
	TypeCompose    = rule.ScopeCompose
	TypeKubernetes = rule.ScopeKubernetes
)

// Types lists the file types, for --type.
func Types() []string { return []string{TypeDockerfile, TypeCompose, TypeKubernetes} }

// ReportKind is the model.Report kind of a lint report.
const ReportKind = "lint"

// MaxFileSize bounds one input file.
const MaxFileSize = 16 << 20

// Config configures Run. The zero value lints every type with every rule.
type Config struct {
	// Type forces the type of every input file ("" detects it).
	Type string
	// Include and Exclude select rules (--check/--skip): rule IDs, scopes
	// (dockerfile, compose, kubernetes), tags (pss-baseline, secrets, …),
	// hadolint IDs (DL3006) or cis:ID.
	Include, Exclude []string
	// Env is the environment Compose files are interpolated with.
	Env map[string]string
	// Stdin is read for the path "-" (its type from Type or its content).
	Stdin io.Reader
	// Now is the time suppression expiry is compared with (zero: now).
	Now    time.Time
	Tool   model.Tool
	Logger *slog.Logger
}

// Errors lists every input that could not be linted, in input order.
type Errors struct{ Errs []error }

func (e *Errors) Error() string {
	if len(e.Errs) == 1 {
		return e.Errs[0].Error()
	}
	return fmt.Sprintf("%s (and %d more errors)", e.Errs[0], len(e.Errs)-1)
}

func (e *Errors) Unwrap() []error { return e.Errs }

// input is one file to lint.
type input struct {
	path string
	typ  string
	data []byte
}

// Select checks the rule selectors and returns the selected rules.
func Select(include, exclude []string) ([]rule.Rule, error) {
	return check.Select(rule.All(), func(r rule.Rule) check.Info { return r.Info }, include, exclude)
}

// Run lints paths (files, directories walked for the files lint reads, or
// "-" for standard input). Bad input (a file that does not parse, a path
// that cannot be read) is an *Errors listing every problem, and no report.
func Run(ctx context.Context, paths []string, cfg Config) (*model.Report, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Type != "" && !slices.Contains(Types(), cfg.Type) {
		return nil, fmt.Errorf("unknown --type %q: want %s", cfg.Type, strings.Join(Types(), ", "))
	}
	rules, err := Select(cfg.Include, cfg.Exclude)
	if err != nil {
		return nil, err
	}
	selected := map[string]rule.Rule{}
	for _, r := range rules {
		selected[r.ID] = r
	}
	now := cfg.Now
	if now.IsZero() {
		now = time.Now()
	}
	rep := &model.Report{Kind: ReportKind, Tool: cfg.Tool, CreatedAt: now.UTC(), Findings: []model.Finding{}}
	var errs []error
	inputs, warns, err := collect(ctx, paths, cfg)
	if err != nil {
		var list *Errors
		if !errors.As(err, &list) {
			return nil, err
		}
		errs = append(errs, list.Errs...)
	}
	for _, w := range warns {
		rep.Warnings = append(rep.Warnings, model.Warning{Message: w})
	}
	var allowed []string
	for _, in := range inputs {
		if in.typ == TypeCompose {
			if abs, err := filepath.Abs(in.path); err == nil {
				allowed = append(allowed, filepath.Clean(abs))
			}
		}
	}
	type fileHits struct {
		in   input
		hits []rule.Hit
	}
	var results []fileHits
	var kubeFiles []*kube.File
	kubeIndex := map[*kube.File]int{}
	for _, in := range inputs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		switch in.typ {
		case TypeDockerfile:
			hits, err := dockerfile.Lint(in.path, in.data)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			results = append(results, fileHits{in, hits})
		case TypeCompose:
			res, err := compose.Lint(ctx, in.path, in.data, compose.Options{Env: cfg.Env, Allowed: allowed})
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, w := range res.Warnings {
				rep.Warnings = append(rep.Warnings, model.Warning{Path: in.path, Message: w})
			}
			results = append(results, fileHits{in, res.Hits})
		case TypeKubernetes:
			f, err := kube.Parse(in.path, in.data)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			kubeIndex[f] = len(results)
			kubeFiles = append(kubeFiles, f)
			results = append(results, fileHits{in, f.Check()})
		}
	}
	if len(errs) > 0 {
		return nil, &Errors{Errs: errs}
	}
	if _, ok := selected[rule.K8sNoNetworkPolicy]; ok && len(kubeFiles) > 0 {
		uncovered, err := kube.Uncovered(kubeFiles)
		if err != nil {
			rep.Warnings = append(rep.Warnings, model.Warning{Message: fmt.Sprintf("%s not checked: %v (run lockdown netpol validate)", rule.K8sNoNetworkPolicy, err)})
		}
		for _, w := range uncovered {
			for _, f := range kubeFiles {
				if slices.Contains(f.Workloads, w) {
					i := kubeIndex[f]
					results[i].hits = append(results[i].hits, w.Locate(kube.CoverageHit(w)))
				}
			}
		}
	}
	files := 0
	for _, fh := range results {
		files++
		igs, iwarns, err := parseIgnores(fh.in.path, string(fh.in.data), fh.in.typ != TypeDockerfile)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, w := range iwarns {
			rep.Warnings = append(rep.Warnings, model.Warning{Path: fh.in.path, Message: w})
		}
		expired := map[int]bool{}
		for _, h := range fh.hits {
			r, ok := selected[h.ID]
			if !ok {
				continue
			}
			f := finding(r, fh.in.path, h)
			if ig, ok := suppressedBy(igs, h, now, expired); ok {
				reason := cmp.Or(ig.reason, fmt.Sprintf("lockdown:ignore at %s:%d", fh.in.path, ig.line))
				if ig.expires != "" {
					reason += " (until " + ig.expires + ")"
				}
				rep.Suppressed = append(rep.Suppressed, model.Suppressed{Finding: f, Reason: reason, By: "inline"})
				continue
			}
			rep.Findings = append(rep.Findings, f)
		}
		for _, ig := range igs {
			if expired[ig.line] {
				rep.Warnings = append(rep.Warnings, model.Warning{Path: fh.in.path + ":" + strconv.Itoa(ig.line),
					Message: "inline " + expiredMessage(ig.ids)})
			}
		}
	}
	if len(errs) > 0 {
		return nil, &Errors{Errs: errs}
	}
	rep.Meta = map[string]string{"files": strconv.Itoa(files), "rules": strconv.Itoa(len(rules))}
	log.Debug("lint done", "files", files, "findings", len(rep.Findings), "suppressed", len(rep.Suppressed))
	return rep, nil
}

func expiredMessage(ids []string) string {
	return fmt.Sprintf("ignore rule for %s has expired; it no longer suppresses anything", strings.Join(ids, ","))
}

// suppressedBy returns the suppression covering h, noting expired ones.
func suppressedBy(igs []ignore, h rule.Hit, now time.Time, expired map[int]bool) (ignore, bool) {
	for _, ig := range igs {
		if !ig.covers(h.ID, h.Line) {
			continue
		}
		if !ig.until.IsZero() && !now.Before(ig.until) {
			expired[ig.line] = true
			continue
		}
		return ig, true
	}
	return ignore{}, false
}

// findingScope names what a finding is about, per file type, for the
// report's grouping ("on: service web", "3 workloads").
var findingScope = map[string]string{TypeDockerfile: "dockerfile", TypeCompose: "service", TypeKubernetes: "workload"}

func finding(r rule.Rule, file string, h rule.Hit) model.Finding {
	loc := file
	if h.Line > 0 {
		loc = file + ":" + strconv.Itoa(h.Line)
	}
	f := model.Finding{
		Kind: model.KindMisconfig, RuleID: r.ID, Title: r.Title, Severity: r.Severity, Status: model.StatusFail,
		Subject: h.Subject, Scope: findingScope[r.Scope], Evidence: h.Evidence, Location: loc,
		Remediation: cmp.Or(h.Fix, r.Remediation), Rationale: r.Rationale, CIS: r.CIS,
	}
	for _, id := range r.Hadolint {
		f.Aliases = append(f.Aliases, id)
	}
	return f
}

// ---- finding the inputs

// DockerfileName reports whether a file name is a Dockerfile's:
// Dockerfile, Containerfile, Dockerfile.* / *.Dockerfile (any case).
func DockerfileName(name string) bool {
	n := strings.ToLower(filepath.Base(name))
	for _, base := range []string{"dockerfile", "containerfile"} {
		if n == base || strings.HasPrefix(n, base+".") || strings.HasSuffix(n, "."+base) {
			return true
		}
	}
	return false
}

// composeNames are the file names `docker compose` looks for.
func composeName(name string) bool {
	n := strings.ToLower(filepath.Base(name))
	for _, base := range []string{"compose", "docker-compose"} {
		if n == base+".yaml" || n == base+".yml" || strings.HasPrefix(n, base+".") && (strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) {
			return true
		}
	}
	return false
}

func yamlName(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// detect picks the type of a file from its name and content; "" when it
// is none of them.
func detect(name string, data []byte) string {
	switch {
	case DockerfileName(name):
		return TypeDockerfile
	case composeName(name):
		return TypeCompose
	case kube.IsManifest(data):
		return TypeKubernetes
	case compose.IsCompose(data):
		return TypeCompose
	case yamlName(name) && !kube.ParsesAsYAML(data):
		return TypeKubernetes // the parser reports where the YAML breaks
	case dockerfile.Looks(data):
		return TypeDockerfile
	}
	return ""
}

// kustomizePatches lists the patch files the kustomization in dir names
// (patches[].path, patchesStrategicMerge).
func kustomizePatches(dir string) []string {
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		var k struct {
			Patches []struct {
				Path string `json:"path"`
			} `json:"patches"`
			PatchesStrategicMerge []string `json:"patchesStrategicMerge"`
		}
		if yaml.Unmarshal(data, &k) != nil {
			return nil
		}
		var out []string
		for _, p := range k.Patches {
			if p.Path != "" {
				out = append(out, filepath.Join(dir, p.Path))
			}
		}
		for _, p := range k.PatchesStrategicMerge {
			if !strings.Contains(p, "\n") {
				out = append(out, filepath.Join(dir, p))
			}
		}
		return out
	}
	return nil
}

func readInput(path string, r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("read %s: larger than %d MiB", path, MaxFileSize>>20)
	}
	return data, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	return readInput(path, f)
}

// collect expands paths into typed inputs. Files named on the command
// line must be of a known type; files found in directories are kept when
// their name or content says what they are (Helm chart templates, which
// are not YAML before `helm template`, are skipped with a warning).
func collect(ctx context.Context, paths []string, cfg Config) ([]input, []string, error) {
	var out []input
	var warns []string
	var errs []error
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if p == "-" {
			if cfg.Stdin == nil {
				errs = append(errs, errors.New("read -: no standard input"))
				continue
			}
			data, err := readInput("-", cfg.Stdin)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			typ := cmp.Or(cfg.Type, detect("-", data))
			if typ == "" {
				errs = append(errs, errors.New("-: standard input is not a Dockerfile, Compose file or Kubernetes manifest (give --type)"))
				continue
			}
			out = append(out, input{"-", typ, data})
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", p, err))
			continue
		}
		if !st.IsDir() {
			data, err := readFile(p)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			typ := cmp.Or(cfg.Type, detect(p, data))
			if typ == "" {
				errs = append(errs, fmt.Errorf("%s: not a Dockerfile, Compose file or Kubernetes manifest (give --type)", p))
				continue
			}
			out = append(out, input{p, typ, data})
			continue
		}
		var files []string
		patches := map[string]bool{}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != p && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "vendor") {
					return filepath.SkipDir
				}
				for _, pf := range kustomizePatches(path) {
					patches[pf] = true
				}
				if d.Name() == "templates" {
					if _, err := os.Stat(filepath.Join(filepath.Dir(path), "Chart.yaml")); err == nil {
						warns = append(warns, fmt.Sprintf("%s: Helm chart templates skipped: lint the output of `helm template` instead", path))
						return filepath.SkipDir
					}
				}
				return nil
			}
			if d.Type().IsRegular() && (DockerfileName(path) || yamlName(path)) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("read directory %s: %w", p, err))
			continue
		}
		slices.Sort(files)
		for _, f := range files {
			if patches[f] {
				continue // a Kustomize patch is a partial object: lint `kustomize build` output
			}
			data, err := readFile(f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			typ := detect(f, data)
			if cfg.Type != "" && typ != "" {
				typ = cfg.Type
			}
			if typ == "" {
				continue // some other YAML (CI config, Helm values)
			}
			out = append(out, input{f, typ, data})
		}
	}
	if len(errs) > 0 {
		return out, warns, &Errors{Errs: errs}
	}
	return out, warns, nil
}
