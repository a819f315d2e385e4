package compose

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// TestNoSchemaPackages: the binary must not link compose-go's loader or
// schema, nor the JSON-Schema package they bring (its init compiles
// metaschemas in every lockdown process).
func TestNoSchemaPackages(t *testing.T) {
	goCmd := testutil.RequireCmd(t, "go")
	cmd := exec.Command(goCmd, "list", "-deps", "./cmd/lockdown")
	cmd.Dir = testutil.RepoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/lockdown: %v", err)
	}
	if !strings.Contains(string(out), "github.com/compose-spec/compose-go/v2/types\n") {
		t.Fatalf("go list -deps ./cmd/lockdown does not list compose-go/v2/types: is this the right module?\n%s", out)
	}
	if bad := regexp.MustCompile(`(?m)^.*(jsonschema|compose-go/v2/(loader|schema)).*$`).FindAllString(string(out), -1); bad != nil {
		t.Errorf("./cmd/lockdown links %v, want none of them", bad)
	}
}

// hard is a service that passes every rule: the cases add what they test.
const hard = `
    image: example/app:1.0@sha256:0000000000000000000000000000000000000000000000000000000000000001
    user: "10001:10001"
    read_only: true
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    pids_limit: 10
    mem_limit: 64m
    cpus: 1`

func TestLint(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // a.yaml is linted; all are inputs
		env   map[string]string
		hits  []string // ID subject@line
		warns []string
		err   string // with "DIR" for the directory of the files
	}{
		{
			name:  "extends chain across two inputs",
			files: map[string]string{"a.yaml": "services:\n  web:\n    extends: {file: b.yaml, service: mid}\n    cap_add: [SYS_ADMIN]\n", "b.yaml": "services:\n  base:" + hard + "\n  mid:\n    extends: base\n    privileged: true\n"},
			hits:  []string{"LD-CMP-201 web@2", "LD-CMP-205 web@4"},
		},
		{
			name:  "extends of a file that is not an input",
			files: map[string]string{"a.yaml": "services:\n  web:\n    extends: {file: c.yaml, service: x}\n"},
			err:   "a.yaml:3: services.web.extends: c.yaml is not among the files given: lockdown lint reads only its inputs (give it too)",
		},
		{
			name:  "extends cycle",
			files: map[string]string{"a.yaml": "services:\n  web:\n    extends: one\n  one:\n    extends: two\n  two:\n    extends: web\n"},
			err:   "a.yaml:3: services.web.extends: a cycle: one extends two extends web extends one",
		},
		{
			name:  "extends cycle across inputs",
			files: map[string]string{"a.yaml": "services:\n  web:\n    extends: {file: b.yaml, service: x}\n", "b.yaml": "services:\n  x:\n    extends: {file: a.yaml, service: web}\n"},
			err:   "a.yaml: DIR/b.yaml: services.x.extends: a cycle: web extends x (DIR/b.yaml) extends web",
		},
		{
			name:  "extends a service that does not exist",
			files: map[string]string{"a.yaml": "services:\n  web:\n    extends: nope\n"},
			err:   "a.yaml:3: services.web.extends: no service \"nope\" in a.yaml",
		},
		{
			name:  "unknown key in a service",
			files: map[string]string{"a.yaml": "services:\n  web:" + hard + "\n    privilegd: true\n"},
			err:   "a.yaml:11: services.web.privilegd: unknown key",
		},
		{
			name:  "unknown key at the top",
			files: map[string]string{"a.yaml": "services: {}\nvolume:\n  data: {}\n"},
			err:   "a.yaml:2: volume: unknown key",
		},
		{
			name:  "wrong type",
			files: map[string]string{"a.yaml": "services:\n  web:" + hard + "\n    privileged: [true]\n"},
			err:   "a.yaml:11: services.web.privileged: got a list, want a boolean",
		},
		{
			name:  "wrong item type",
			files: map[string]string{"a.yaml": "services:\n  web:" + hard + "\n    command: [sleep, 10]\n"},
			err:   "a.yaml:11: services.web.command: item 1: got an integer, want a string",
		},
		{
			name:  "service not a mapping",
			files: map[string]string{"a.yaml": "services:\n  web: nginx\n"},
			err:   "a.yaml:2: services.web: must be a mapping",
		},
		{
			name:  "x- extensions anywhere",
			files: map[string]string{"a.yaml": "x-top: {a: 1}\nservices:\n  web:" + hard + "\n    x-note: hi\n    ports: [{target: 80, published: 8080, x-why: test}]\n    deploy: {x-team: a}\nnetworks:\n  n: {x-owner: me}\n"},
			hits:  []string{"LD-CMP-213 web@13"},
		},
		{
			name:  "interpolation cast",
			files: map[string]string{"a.yaml": "services:\n  web:" + hard + "\n    privileged: ${P:-true}\n    cpu_shares: ${SHARES}\n"},
			env:   map[string]string{"SHARES": "512"},
			hits:  []string{"LD-CMP-201 web@11"},
			warns: []string{`variable P is not set: its default "true" is used`},
		},
		{
			name:  "interpolation cast to false",
			files: map[string]string{"a.yaml": "services:\n  web:" + hard + "\n    privileged: ${P:-true}\n"},
			env:   map[string]string{"P": "no"},
		},
		{
			name:  "required and missing variables",
			files: map[string]string{"a.yaml": "services:\n  web:" + hard + "\n    hostname: ${HOST:?give a hostname}\n    domainname: ${U}\n"},
			warns: []string{"required variable HOST is not set: linted with a placeholder value", "variable U is not set: defaulting to a blank string"},
		},
		{
			name:  "bad interpolated boolean",
			files: map[string]string{"a.yaml": "services:\n  web:\n    read_only: ${RO:-maybe}\n"},
			err:   "a.yaml: error while interpolating services.web.read_only: failed to cast to expected type: invalid boolean: maybe",
		},
		{
			name:  "version ignored, include dropped",
			files: map[string]string{"a.yaml": "version: '3.8'\ninclude: [other.yaml]\nservices:\n  web:" + hard + "\n"},
			warns: []string{"include is not followed: lint the included files too"},
		},
		{
			name:  "non-string key",
			files: map[string]string{"a.yaml": "services:\n  web:\n    sysctls: {1: 2}\n"},
			err:   "a.yaml:3: key \"1\" is not a string",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var allowed []string
			for name, body := range tc.files {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
				allowed = append(allowed, p)
			}
			t.Chdir(dir)
			res, err := Lint(context.Background(), "a.yaml", []byte(tc.files["a.yaml"]), Options{Env: tc.env, Allowed: allowed})
			if want := strings.ReplaceAll(tc.err, "DIR", dir); tc.err != "" || err != nil {
				if err == nil || err.Error() != want {
					t.Fatalf("Lint(a.yaml) error = %v, want %q", err, want)
				}
				return
			}
			got := []string{}
			for _, h := range res.Hits {
				got = append(got, fmt.Sprintf("%s %s@%d", h.ID, h.Subject, h.Line))
			}
			if tc.hits == nil {
				tc.hits = []string{}
			}
			if diff := cmp.Diff(tc.hits, got); diff != "" {
				t.Errorf("Lint(a.yaml) hits (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.warns, res.Warnings); diff != "" {
				t.Errorf("Lint(a.yaml) warnings (-want +got):\n%s", diff)
			}
		})
	}
}

// BenchmarkLint loads and checks a Compose file of 20 services (extends,
// interpolation, short and long syntax).
func BenchmarkLint(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("x-hard: &hard\n  read_only: true\n  cap_drop: [ALL]\n  security_opt: [\"no-new-privileges:true\"]\nservices:\n  base:\n    <<: *hard\n    image: example/base:1.0\n    mem_limit: ${MEM:-64m}\n")
	for i := range 20 {
		fmt.Fprintf(&sb, "  app%d:\n    extends: base\n    image: ${REG:-registry.example.com}/app%d:1.%d\n    privileged: ${PRIV:-false}\n    ports: [\"%d:80\", {target: 443, published: %d, host_ip: 127.0.0.1}]\n    volumes: [\"/srv/app%d:/data:ro\", {type: volume, source: v%d, target: /cache}]\n    environment: {API_TOKEN: abc%d, MODE: prod}\n    cap_add: [NET_ADMIN]\n    cpus: 0.5\n", i, i, i, 8000+i, 9000+i, i, i, i)
	}
	data := []byte(sb.String())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Lint(context.Background(), "compose.yaml", data, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
