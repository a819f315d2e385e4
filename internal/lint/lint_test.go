package lint

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/check"
	"github.com/lockdown-sec/lockdown/internal/lint/rule"
	"github.com/lockdown-sec/lockdown/internal/model"
)

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func ids(fs []model.Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.RuleID+"@"+f.Location)
	}
	slices.Sort(out)
	return out
}

// TestRules: the one rule list is valid (IDs unique, scopes known, a
// title each), every PSS control of both levels is there by its PSS
// name, and every rule is exercised by the corpus.
func TestRules(t *testing.T) {
	if err := check.Validate(rule.Infos(), Types()...); err != nil {
		t.Fatal(err)
	}
	var baseline, restricted []string
	for _, r := range rule.All() {
		switch r.PSSLevel {
		case rule.LevelBaseline:
			baseline = append(baseline, r.PSS)
		case rule.LevelRestricted:
			restricted = append(restricted, r.PSS)
		}
		if r.PSS != "" && r.Title != "PSS "+r.PSSLevel+": "+r.PSS {
			t.Errorf("%s: title %q, want PSS %s: %s", r.ID, r.Title, r.PSSLevel, r.PSS)
		}
	}
	wantB := []string{"HostProcess", "Host Namespaces", "Privileged Containers", "Capabilities", "HostPath Volumes", "Host Ports",
		"AppArmor", "SELinux", "/proc Mount Type", "Seccomp", "Sysctls"}
	wantR := []string{"Volume Types", "Privilege Escalation", "Running as Non-root", "Running as Non-root user", "Seccomp", "Capabilities"}
	if diff := cmp.Diff(wantB, baseline); diff != "" {
		t.Errorf("baseline controls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantR, restricted); diff != "" {
		t.Errorf("restricted controls (-want +got):\n%s", diff)
	}
	if got := len(rule.Level(rule.LevelRestricted)); got != 17 {
		t.Errorf("restricted level = %d rules, want 17 (11 baseline + 6)", got)
	}
	// Every rule is expected somewhere in the corpus.
	seen := map[string]bool{}
	filepath.WalkDir("testdata/corpus", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		for _, ln := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(ln, "# want:"); ok {
				for _, w := range strings.Fields(rest) {
					id, _, _ := strings.Cut(w, "@")
					seen[id] = true
				}
			}
		}
		return nil
	})
	for _, r := range rule.All() {
		if !seen[r.ID] {
			t.Errorf("%s (%s) is expected by no corpus file", r.ID, r.Title)
		}
	}
}

// TestCoverageAcrossFiles: policies in one file select workloads in
// another; namespaces count, and so do namespace labels.
func TestCoverageAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "workloads.yaml", `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: web:1}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: db:1}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: batch, namespace: jobs}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: b, image: b:1}]
`)
	write(t, dir, "policies/shop.yaml", `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: wrong-namespace, namespace: other}
spec:
  podSelector: {}
`)
	rep, err := Run(context.Background(), []string{dir}, Config{Include: []string{rule.K8sNoNetworkPolicy}})
	if err != nil {
		t.Fatal(err)
	}
	wl := filepath.Join(dir, "workloads.yaml")
	want := []string{"LD-K8S-331@" + wl + ":17", "LD-K8S-331@" + wl + ":25"}
	if diff := cmp.Diff(want, ids(rep.Findings)); diff != "" {
		t.Errorf("uncovered (-want +got):\n%s", diff)
	}
}

// TestFixWithRealValues: a Compose port published on every interface gets
// a fix with its own ports (and protocol), not the rule's example.
func TestFixWithRealValues(t *testing.T) {
	dir := t.TempDir()
	file := write(t, dir, "compose.yaml", "services:\n  web:\n    image: nginx:1.27\n    ports: [\"8080:80\", \"5353:53/udp\"]\n")
	rep, err := Run(context.Background(), []string{file}, Config{Include: []string{rule.CmpAllInterfaces}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range rep.Findings {
		got = append(got, f.Remediation)
	}
	want := []string{"bind the port to one address: `127.0.0.1:8080:80`", "bind the port to one address: `127.0.0.1:5353:53/udp`"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fixes (-want +got):\n%s", diff)
	}
}

func TestSuppressions(t *testing.T) {
	dir := t.TempDir()
	f := write(t, dir, "pod.yaml", `# lockdown:ignore=LD-K8S-331 exp:2026-05-31 the mesh enforces policy
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  hostPID: true # lockdown:ignore=LD-K8S-302
  containers:
    # lockdown:ignore=LD-K8S-303,LD-K8S-999 debugging
    - name: a
      image: a:1
      securityContext: {privileged: true}
    - name: b
      image: b:1
      securityContext: {privileged: true}
`)
	cfg := Config{Include: []string{rule.K8sHostNamespaces, rule.K8sPrivileged, rule.K8sNoNetworkPolicy}}
	// Through the day of the expiry the document-wide suppression holds.
	cfg.Now = time.Date(2026, 5, 31, 23, 0, 0, 0, time.UTC)
	rep, err := Run(context.Background(), []string{f}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"LD-K8S-303@" + f + ":14"}, ids(rep.Findings)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	var sup []string
	for _, s := range rep.Suppressed {
		sup = append(sup, s.Finding.RuleID+" "+s.By+" "+s.Reason)
	}
	slices.Sort(sup)
	wantSup := []string{
		"LD-K8S-302 inline lockdown:ignore at " + f + ":6",
		"LD-K8S-303 inline debugging",
		"LD-K8S-331 inline the mesh enforces policy (until 2026-05-31)",
	}
	if diff := cmp.Diff(wantSup, sup); diff != "" {
		t.Errorf("suppressed (-want +got):\n%s", diff)
	}
	var warns []string
	for _, w := range rep.Warnings {
		warns = append(warns, w.Message)
	}
	wantW := []string{f + ":8: lockdown:ignore names LD-K8S-999, which is not a lint rule (see lockdown lint --list-checks)"}
	if diff := cmp.Diff(wantW, warns); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	// The day after, it has expired: the finding is back, with a warning.
	cfg.Now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	rep, err = Run(context.Background(), []string{f}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"LD-K8S-303@" + f + ":14", "LD-K8S-331@" + f + ":4"}, ids(rep.Findings)); diff != "" {
		t.Errorf("after expiry (-want +got):\n%s", diff)
	}
	found := false
	for _, w := range rep.Warnings {
		found = found || w.Path == f+":1" && w.Message == "inline ignore rule for LD-K8S-331 has expired; it no longer suppresses anything"
	}
	if !found {
		t.Errorf("warnings = %+v, want the expiry of %s:1", rep.Warnings, f)
	}
	// A malformed expiry is bad input.
	bad := write(t, dir, "bad/Dockerfile", "# lockdown:ignore=LD-DF-101 exp:31-12-2026\nFROM alpine:3.20\n")
	_, err = Run(context.Background(), []string{bad}, Config{})
	if err == nil || err.Error() != bad+`:1: lockdown:ignore: expiry "31-12-2026" is not YYYY-MM-DD` {
		t.Errorf("bad expiry: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	notYAML := write(t, dir, "broken.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n    labels: x\n")
	wrongType := write(t, dir, "typed.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: a\n      image: a\n      ports: 80\n")
	badDocker := write(t, dir, "Dockerfile", "FROM alpine:3.20\nHEALTHCHECK --interval=abc CMD true\nFROM\n")
	notDocker := write(t, dir, "x/Dockerfile", "# just a comment\n")
	other := write(t, dir, "notes.txt", "hello")
	badCompose := write(t, dir, "compose.yaml", "services:\n  web:\n    image: nginx\n    ports: {a: b}\n")
	tests := []struct {
		path string
		want string
	}{
		{notYAML, notYAML + ":5: invalid YAML: mapping values are not allowed in this context"},
		{wrongType, wrongType + ":8: Pod p: spec.containers.ports: got number, want a list"},
		{notDocker, notDocker + ": file with no instructions"},
		{other, other + ": not a Dockerfile, Compose file or Kubernetes manifest (give --type)"},
		{filepath.Join(dir, "missing.yaml"), "read " + filepath.Join(dir, "missing.yaml") + ": stat " + filepath.Join(dir, "missing.yaml") + ": no such file or directory"},
		{badCompose, badCompose + ":4: services.web.ports: invalid type mapping for port"},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			_, err := Run(context.Background(), []string{tc.path}, Config{})
			var list *Errors
			if !errors.As(err, &list) || len(list.Errs) != 1 || list.Errs[0].Error() != tc.want {
				t.Errorf("Run(%s) = %v, want %q", tc.path, err, tc.want)
			}
		})
	}
	_, err := Run(context.Background(), []string{badDocker}, Config{})
	if err == nil || !strings.HasPrefix(err.Error(), badDocker+":") {
		t.Errorf("Run(%s) = %v, want an error at its line", badDocker, err)
	}
	// Every problem of a run is listed.
	_, err = Run(context.Background(), []string{notYAML, wrongType, other}, Config{})
	var list *Errors
	if !errors.As(err, &list) || len(list.Errs) != 3 {
		t.Errorf("three bad inputs: %v, want 3 errors", err)
	}
	if _, err := Run(context.Background(), []string{dir}, Config{Include: []string{"nope"}}); err == nil || err.Error() != `--check/--skip "nope" matches no check ID, scope, tag or cis:ID` {
		t.Errorf("unknown selector: %v", err)
	}
}

func TestDirectoryAndStdin(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "app/Dockerfile.prod", "FROM alpine:3.20@sha256:0000000000000000000000000000000000000000000000000000000000000001\nHEALTHCHECK NONE\nUSER 1\n")
	write(t, dir, "chart/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n")
	write(t, dir, "chart/templates/deployment.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n")
	write(t, dir, ".github/workflows/ci.yaml", "on: push\njobs: {}\n")
	write(t, dir, "values.yaml", "replicaCount: 1\n")
	write(t, dir, "node_modules/x/Dockerfile", "FROM node\n")
	rep, err := Run(context.Background(), []string{dir}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Meta["files"] != "1" || len(rep.Findings) != 0 {
		t.Errorf("files = %s, findings = %v; want 1 file (the Dockerfile), none", rep.Meta["files"], ids(rep.Findings))
	}
	if len(rep.Warnings) != 1 || rep.Warnings[0].Message != filepath.Join(dir, "chart/templates")+": Helm chart templates skipped: lint the output of `helm template` instead" {
		t.Errorf("warnings = %+v, want the Helm templates note", rep.Warnings)
	}
	rep, err = Run(context.Background(), []string{"-"}, Config{Stdin: strings.NewReader("FROM alpine\nUSER 1\nHEALTHCHECK NONE\n"), Type: TypeDockerfile})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"LD-DF-108@-:1", "LD-DF-110@-:1"}, ids(rep.Findings)); diff != "" {
		t.Errorf("stdin (-want +got):\n%s", diff)
	}
	// Hadolint IDs select rules.
	rep, err = Run(context.Background(), []string{"-"}, Config{Stdin: strings.NewReader("FROM alpine\n"), Include: []string{"DL3006"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"LD-DF-108@-:1"}, ids(rep.Findings)); diff != "" {
		t.Errorf("--check DL3006 (-want +got):\n%s", diff)
	}
}
