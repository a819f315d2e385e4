package deploy_test

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// ---- a small Dockerfile parser: instructions with their flags, stages,
// continuation lines, comments and the escape directive.

type instruction struct {
	Line  int
	Cmd   string   // upper case: FROM, RUN, …
	Flags []string // leading --flags (--from=build, --interval=30s)
	Args  string   // the rest, continuation lines joined
}

type stage struct {
	From   instruction
	Base   string // image as written (may hold ${ARG})
	Name   string // AS name, lower case
	Instrs []instruction
}

type dockerfile struct {
	Args   map[string]string // global ARG defaults (before the first FROM)
	Stages []stage
}

func parseDockerfile(src string) (*dockerfile, error) {
	escape := byte('\\')
	lines := strings.Split(src, "\n")
	// Parser directives come first, as "# key=value" comments.
	for _, l := range lines {
		m := regexp.MustCompile(`^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$`).FindStringSubmatch(l)
		if m == nil {
			break
		}
		if strings.EqualFold(m[1], "escape") {
			if m[2] != "\\" && m[2] != "`" {
				return nil, fmt.Errorf("line 1: escape directive %q, want \\ or `", m[2])
			}
			escape = m[2][0]
		}
	}
	var instrs []instruction
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		start := i + 1
		var b strings.Builder
		for {
			cont := strings.HasSuffix(l, string(escape))
			if cont {
				l = strings.TrimSuffix(l, string(escape))
			}
			b.WriteString(l)
			if !cont {
				break
			}
			b.WriteByte(' ')
			// Comment and empty lines inside a continuation are skipped.
			for i++; i < len(lines); i++ {
				l = strings.TrimSpace(lines[i])
				if l != "" && !strings.HasPrefix(l, "#") {
					break
				}
			}
			if i >= len(lines) {
				return nil, fmt.Errorf("line %d: continuation at the end of the file", start)
			}
		}
		cmd, rest, _ := strings.Cut(strings.TrimSpace(b.String()), " ")
		in := instruction{Line: start, Cmd: strings.ToUpper(cmd)}
		rest = strings.TrimSpace(rest)
		for strings.HasPrefix(rest, "--") {
			f, r, _ := strings.Cut(rest, " ")
			in.Flags = append(in.Flags, f)
			rest = strings.TrimSpace(r)
		}
		in.Args = rest
		if !regexp.MustCompile(`^[A-Z]+$`).MatchString(in.Cmd) {
			return nil, fmt.Errorf("line %d: %q is not an instruction", start, cmd)
		}
		instrs = append(instrs, in)
	}
	df := &dockerfile{Args: map[string]string{}}
	for _, in := range instrs {
		if in.Cmd == "FROM" {
			f := strings.Fields(in.Args)
			st := stage{From: in}
			switch {
			case len(f) == 1:
			case len(f) == 3 && strings.EqualFold(f[1], "AS"):
				st.Name = strings.ToLower(f[2])
			default:
				return nil, fmt.Errorf("line %d: FROM %q, want IMAGE [AS NAME]", in.Line, in.Args)
			}
			if len(f) == 0 {
				return nil, fmt.Errorf("line %d: FROM without an image", in.Line)
			}
			st.Base = f[0]
			df.Stages = append(df.Stages, st)
			continue
		}
		if len(df.Stages) == 0 {
			if in.Cmd != "ARG" {
				return nil, fmt.Errorf("line %d: %s before the first FROM (only ARG may be)", in.Line, in.Cmd)
			}
			name, def, _ := strings.Cut(in.Args, "=")
			df.Args[strings.TrimSpace(name)] = strings.Trim(strings.TrimSpace(def), `"`)
			continue
		}
		last := &df.Stages[len(df.Stages)-1]
		last.Instrs = append(last.Instrs, in)
	}
	if len(df.Stages) == 0 {
		return nil, errors.New("no FROM")
	}
	return df, nil
}

var argRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// base resolves a stage's image with the global ARG defaults overridden by
// build args.
func (df *dockerfile) base(s stage, buildArgs map[string]string) string {
	return argRef.ReplaceAllStringFunc(s.Base, func(m string) string {
		sm := argRef.FindStringSubmatch(m)
		name := sm[1] + sm[2]
		if v, ok := buildArgs[name]; ok {
			return v
		}
		return df.Args[name]
	})
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.Instrs {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

func TestParseDockerfile(t *testing.T) {
	src := "# escape=\\\n# comment\nARG A=x:1\nARG B\nFROM ${A} AS Build\nRUN a \\\n  # inner comment\n\n  b\nCOPY --from=build --chown=1:1 /x /y\nFROM scratch\nUSER 1\n"
	df, err := parseDockerfile(src)
	if err != nil {
		t.Fatalf("parseDockerfile: %v", err)
	}
	want := &dockerfile{
		Args: map[string]string{"A": "x:1", "B": ""},
		Stages: []stage{
			{From: instruction{Line: 5, Cmd: "FROM", Args: "${A} AS Build"}, Base: "${A}", Name: "build", Instrs: []instruction{
				{Line: 6, Cmd: "RUN", Args: "a  b"},
				{Line: 10, Cmd: "COPY", Flags: []string{"--from=build", "--chown=1:1"}, Args: "/x /y"},
			}},
			{From: instruction{Line: 11, Cmd: "FROM", Args: "scratch"}, Base: "scratch", Instrs: []instruction{{Line: 12, Cmd: "USER", Args: "1"}}},
		},
	}
	if diff := cmp.Diff(want, df); diff != "" {
		t.Errorf("parseDockerfile (-want +got):\n%s", diff)
	}
	if got := df.base(df.Stages[0], nil); got != "x:1" {
		t.Errorf("base(stage 0) = %q, want x:1", got)
	}
	if got := df.base(df.Stages[0], map[string]string{"A": "y"}); got != "y" {
		t.Errorf("base(stage 0, A=y) = %q, want y", got)
	}
	for _, bad := range []string{"", "RUN x\n", "FROM a b\n", "FROM a\nRUN x \\\n", "FROM a\n123 x\n"} {
		if _, err := parseDockerfile(bad); err == nil {
			t.Errorf("parseDockerfile(%q) = no error, want one", bad)
		}
	}
}

func FuzzParseDockerfile(f *testing.F) {
	f.Add(string(readFile(f, "Dockerfile")))
	f.Add("# escape=`\nFROM a AS b\nRUN x `\n y\n")
	f.Add("ARG X=1\nFROM $X\nHEALTHCHECK NONE\n")
	f.Add("FROM a\nRUN \\\n")
	f.Fuzz(func(t *testing.T, src string) {
		df, err := parseDockerfile(src)
		if err != nil {
			return
		}
		for _, s := range df.Stages {
			if s.From.Cmd != "FROM" || s.Base == "" {
				t.Fatalf("parseDockerfile(%q): stage %+v without a base", src, s)
			}
			df.base(s, nil)
		}
	})
}

// TestDockerfile checks the recipe without building it.
func TestDockerfile(t *testing.T) {
	df, err := parseDockerfile(string(readFile(t, "Dockerfile")))
	if err != nil {
		t.Fatalf("parse deploy/Dockerfile: %v", err)
	}
	if got := df.Args["BUILDER_IMAGE"]; got != "golang:1.26-bookworm" {
		t.Errorf("ARG BUILDER_IMAGE default = %q, want golang:1.26-bookworm", got)
	}
	if len(df.Stages) != 2 {
		t.Fatalf("stages = %d, want a build stage and a runtime stage", len(df.Stages))
	}
	build, final := df.Stages[0], df.Stages[len(df.Stages)-1]
	if build.Name != "build" || df.base(build, nil) != "golang:1.26-bookworm" {
		t.Errorf("first stage = %s AS %s, want golang:1.26-bookworm AS build", df.base(build, nil), build.Name)
	}
	if b := df.base(final, nil); b != "scratch" && !strings.HasPrefix(b, "gcr.io/distroless/") {
		t.Errorf("final stage FROM %s, want scratch or distroless", b)
	}
	var runs []string
	for _, in := range build.all("RUN") {
		runs = append(runs, in.Args)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/lockdown", "${PREBUILT}"} {
		if !strings.Contains(strings.Join(runs, "\n"), want) {
			t.Errorf("build stage RUNs lack %s", want)
		}
	}
	for _, s := range df.Stages {
		for _, in := range s.Instrs {
			if in.Cmd == "ADD" {
				t.Errorf("line %d: ADD %s: use COPY (ADD fetches URLs and unpacks archives)", in.Line, in.Args)
			}
		}
	}

	// The runtime stage: only files from the build stage, no shell.
	if runs := final.all("RUN"); len(runs) > 0 {
		t.Errorf("final stage RUNs at line %d: the runtime image has no shell", runs[0].Line)
	}
	for _, in := range final.all("COPY") {
		if !slices.Contains(in.Flags, "--from=build") {
			t.Errorf("line %d: COPY %s into the runtime image not from the build stage", in.Line, in.Args)
		}
	}
	users := final.all("USER")
	if len(users) != 1 {
		t.Fatalf("final stage has %d USER instructions, want 1", len(users))
	}
	uid, _, _ := strings.Cut(users[0].Args, ":")
	if uid == "root" || uid == "0" || !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(uid) {
		t.Errorf("USER %s: want a numeric non-root uid (Kubernetes runAsNonRoot checks it)", users[0].Args)
	}
	hc := final.all("HEALTHCHECK")
	if len(hc) != 1 || !strings.HasPrefix(hc[0].Args, "CMD [") || strings.Contains(hc[0].Args, "NONE") {
		t.Fatalf("HEALTHCHECK = %+v, want one in exec form", hc)
	}
	var hcCmd []string
	if err := json.Unmarshal([]byte(strings.TrimPrefix(hc[0].Args, "CMD ")), &hcCmd); err != nil || !slices.Equal(hcCmd, []string{"/lockdown", "healthcheck"}) {
		t.Errorf("HEALTHCHECK CMD %s = %q, %v; want [/lockdown healthcheck]", hc[0].Args, hcCmd, err)
	}
	for cmd, want := range map[string]string{"ENTRYPOINT": `["/lockdown"]`, "EXPOSE": "8080", "VOLUME": `["/tmp", "/cache"]`} {
		if got := final.all(cmd); len(got) != 1 || got[0].Args != want {
			t.Errorf("final stage %s = %+v, want %s", cmd, got, want)
		}
	}
	env := ""
	for _, in := range final.all("ENV") {
		env += " " + in.Args
	}
	for _, want := range []string{"XDG_CACHE_HOME=/cache", "TMPDIR=/tmp", "HOME=/tmp"} {
		if !strings.Contains(env, want) {
			t.Errorf("final stage ENV lacks %s: writes would go to the read-only root", want)
		}
	}
}

// helpFlags returns the long flags `lockdown ARGS... --help` lists.
func helpFlags(t *testing.T, bin string, args ...string) []string {
	t.Helper()
	out, err := exec.Command(bin, append(args, "--help")...).CombinedOutput()
	if err != nil {
		t.Fatalf("lockdown %s --help: %v\n%s", strings.Join(args, " "), err, out)
	}
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^\s+(?:-[a-zA-Z], )?--([a-z0-9-]+)`).FindAllStringSubmatch(string(out), -1) {
		flags = append(flags, m[1])
	}
	return flags
}

// checkArgs fails for every --flag in args that the command does not have.
func checkArgs(t *testing.T, where string, args, flags []string) {
	t.Helper()
	for _, a := range args {
		if !strings.HasPrefix(a, "--") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !slices.Contains(flags, name) {
			t.Errorf("%s: lockdown has no flag --%s (known: %v)", where, name, flags)
		}
	}
}

// TestCommandLines checks every lockdown command line in the deploy files
// against the real binary's flags.
func TestCommandLines(t *testing.T) {
	bin := lockdownBinary(t)
	m := loadManifests(t)
	df, err := parseDockerfile(string(readFile(t, "Dockerfile")))
	if err != nil {
		t.Fatal(err)
	}
	serve := helpFlags(t, bin, "serve")
	final := df.Stages[len(df.Stages)-1]
	var cmd []string
	if c := final.all("CMD"); len(c) != 1 || json.Unmarshal([]byte(c[0].Args), &cmd) != nil || len(cmd) == 0 || cmd[0] != "serve" {
		t.Errorf("Dockerfile CMD = %+v, want an exec-form serve command", c)
	} else {
		checkArgs(t, "Dockerfile CMD", cmd[1:], serve)
	}
	spec := m.deployment.Spec.Template.Spec
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		switch {
		case len(c.Args) > 0 && c.Args[0] == "serve":
			checkArgs(t, "container "+c.Name, c.Args[1:], serve)
		case len(c.Args) > 1 && c.Args[0] == "db" && c.Args[1] == "update":
			checkArgs(t, "container "+c.Name, c.Args[2:], helpFlags(t, bin, "db", "update"))
		default:
			t.Errorf("container %s: args %q, want serve or db update", c.Name, c.Args)
		}
	}
}

// ---- the image, built and run on the real Docker engine

func docker(t *testing.T, args ...string) string {
	t.Helper()
	return testutil.Docker(t, args...)
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// buildImage builds deploy/Dockerfile in prebuilt-binary mode, with the
// Alpine minirootfs (imported, never pulled) as the builder; the runtime
// stage is the real one (FROM scratch needs no pull).
func buildImage(t *testing.T) string {
	t.Helper()
	testutil.RequireDocker(t)
	builder := testutil.AlpineImage(t, "lockdown-test/alpine:3.20.3")
	bin := lockdownBinary(t)
	ctxDir := t.TempDir()
	copyFile(t, bin, filepath.Join(ctxDir, "lockdown"), 0o755)
	root := testutil.RepoRoot(t)
	copyFile(t, filepath.Join(root, "go.mod"), filepath.Join(ctxDir, "go.mod"), 0o644)
	copyFile(t, filepath.Join(root, "go.sum"), filepath.Join(ctxDir, "go.sum"), 0o644)

	tag := "lockdown-deploy-test:" + randomHex(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := testutil.DockerBuild(ctx, nil, "--rm", "-f", filepath.Join(deployDir(t), "Dockerfile"),
		"--build-arg", "PREBUILT=lockdown", "--build-arg", "BUILDER_IMAGE="+builder, "-t", tag, ctxDir)
	// The classic builder leaves the build stage's images behind: remove
	// the ones this build made (others' are in use and refuse removal).
	var made []string
	for _, m := range regexp.MustCompile(`(?m)^ ---> ([0-9a-f]{12})$`).FindAllStringSubmatch(string(out), -1) {
		made = append(made, m[1])
	}
	t.Cleanup(func() {
		exec.Command("docker", "rmi", tag).Run()
		for _, id := range slices.Backward(made) {
			exec.Command("docker", "rmi", id).Run()
		}
	})
	if err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	return tag
}

func TestDockerImage(t *testing.T) {
	img := buildImage(t)

	// Image configuration.
	var cfg struct {
		User         string
		Entrypoint   []string
		Cmd          []string
		Env          []string
		Volumes      map[string]struct{}
		ExposedPorts map[string]struct{}
		Healthcheck  struct{ Test []string }
	}
	if err := json.Unmarshal([]byte(docker(t, "image", "inspect", "--format", "{{json .Config}}", img)), &cfg); err != nil {
		t.Fatalf("inspect %s: %v", img, err)
	}
	if cfg.User != "65532:65532" {
		t.Errorf("User = %q, want 65532:65532", cfg.User)
	}
	if !slices.Equal(cfg.Healthcheck.Test, []string{"CMD", "/lockdown", "healthcheck"}) {
		t.Errorf("Healthcheck = %q, want [CMD /lockdown healthcheck]", cfg.Healthcheck.Test)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/lockdown"}) || len(cfg.Cmd) == 0 || cfg.Cmd[0] != "serve" {
		t.Errorf("Entrypoint, Cmd = %q, %q; want [/lockdown], [serve …]", cfg.Entrypoint, cfg.Cmd)
	}
	if diff := cmp.Diff([]string{"/cache", "/tmp"}, keys(cfg.Volumes)); diff != "" {
		t.Errorf("Volumes (-want +got):\n%s", diff)
	}
	if _, ok := cfg.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("ExposedPorts = %v, want 8080/tcp", cfg.ExposedPorts)
	}

	// The whole filesystem: the binary, CA certificates, passwd and group,
	// and the two writable directories. Nothing else.
	t.Run("filesystem", func(t *testing.T) {
		name := "lockdown-deploy-fs-" + randomHex(t)
		docker(t, "create", "--name", name, img)
		t.Cleanup(func() { exec.Command("docker", "rm", "-v", name).Run() })
		cmd := exec.Command("docker", "export", name)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var got []string
		tr := tar.NewReader(stdout)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("docker export: %v", err)
			}
			n := strings.TrimSuffix(h.Name, "/")
			// Added by the engine to every container, not in the image.
			if n == ".dockerenv" || n == "dev" || strings.HasPrefix(n, "dev/") || n == "proc" || n == "sys" ||
				n == "etc/hostname" || n == "etc/hosts" || n == "etc/resolv.conf" || n == "etc/mtab" {
				continue
			}
			got = append(got, fmt.Sprintf("%s %o %d:%d", n, h.Mode&0o7777, h.Uid, h.Gid))
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("docker export: %v", err)
		}
		slices.Sort(got)
		want := []string{
			"cache 755 65532:65532",
			"etc 755 0:0",
			"etc/group 644 0:0",
			"etc/passwd 644 0:0",
			"etc/ssl 755 0:0",
			"etc/ssl/certs 755 0:0",
			"etc/ssl/certs/ca-certificates.crt 644 0:0",
			"lockdown 555 0:0",
			"tmp 1777 0:0",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("image files (-want +got):\n%s", diff)
		}
	})

	// `version` under the restrictions the
	// manifests use: read-only root, uid 65532, no network, no capabilities.
	t.Run("version", func(t *testing.T) {
		want := fmt.Sprintf("lockdown %s (%s, linux/%s)", testVersion, runtime.Version(), runtime.GOARCH)
		for _, args := range [][]string{
			{"--user", "65532"},
			{}, // the image's own USER
		} {
			run := append([]string{"run", "--rm", "--read-only", "--network", "none", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"}, args...)
			if got := docker(t, append(run, img, "version")...); got != want {
				t.Errorf("docker run %v %s version = %q, want %q", args, img, got, want)
			}
		}
	})

	// The vulnerability database is written to the /cache volume while the
	// root stays read-only.
	t.Run("db update", func(t *testing.T) {
		osv := filepath.Dir(testutil.Data(t, "osv/mixed-samples.zip"))
		vol := "lockdown-deploy-cache-" + randomHex(t)
		docker(t, "volume", "create", vol)
		t.Cleanup(func() { exec.Command("docker", "volume", "rm", vol).Run() })
		run := []string{"run", "--rm", "--read-only", "--network", "none", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
			"-v", osv + ":/data:ro", "-v", vol + ":/cache"}
		docker(t, append(run, img, "db", "update", "--quiet", "--source", "/data/mixed-samples.zip")...)
		var st struct {
			Path    string
			Sources []struct {
				Location string
				Records  int
			}
		}
		out := docker(t, append(run, img, "db", "status", "--format", "json")...)
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("db status: %v\n%s", err, out)
		}
		if st.Path != "/cache/lockdown/db/lockdown.db" || len(st.Sources) != 1 || st.Sources[0].Records != 28 {
			t.Errorf("db status = %+v, want /cache/lockdown/db/lockdown.db from 1 source of 28 records", st)
		}
	})

	// The default command, serve, runs read-only as 65532; Docker's
	// HEALTHCHECK passes; SIGTERM stops it cleanly.
	t.Run("serve", func(t *testing.T) {
		osv := filepath.Dir(testutil.Data(t, "osv/mixed-samples.zip"))
		token := randomHex(t) + randomHex(t)
		name := "lockdown-deploy-serve-" + randomHex(t)
		// Published on the default bridge: a host without one skips this.
		testutil.RunContainer(t, name, "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
			"-e", "LOCKDOWN_TOKEN="+token, "-v", osv+":/data:ro", "-p", "127.0.0.1::8080",
			"--health-interval", "1s", "--health-timeout", "5s", "--health-start-period", "0s",
			img, "serve", "--listen", "0.0.0.0:8080", "--public-health", "--public-metrics", "--db-source", "/data/mixed-samples.zip")
		logs := func() string {
			out, _ := exec.Command("docker", "logs", name).CombinedOutput()
			return string(out)
		}
		waitHealthy(t, name)
		hostPort := strings.SplitN(docker(t, "port", name, "8080/tcp"), "\n", 2)[0]
		if !strings.HasPrefix(hostPort, "127.0.0.1:") {
			t.Fatalf("published on %q, want 127.0.0.1 only", hostPort)
		}
		base := "http://" + hostPort
		client := &http.Client{Timeout: 10 * time.Second}
		get := func(path, token string) (int, string) {
			req, _ := http.NewRequest(http.MethodGet, base+path, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			code, body := get("/readyz", "")
			if code == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET /readyz = %d %s after 60s\n%s", code, body, logs())
			}
			time.Sleep(500 * time.Millisecond)
		}
		if code, body := get("/healthz", ""); code != http.StatusOK {
			t.Errorf("GET /healthz = %d %s, want 200", code, body)
		}
		if code, _ := get("/v1/images", ""); code != http.StatusUnauthorized {
			t.Errorf("GET /v1/images without a token = %d, want 401", code)
		}
		if code, body := get("/v1/images", token); code != http.StatusOK {
			t.Errorf("GET /v1/images with the token = %d %s, want 200", code, body)
		}
		code, metrics := get("/metrics", "")
		if code != http.StatusOK {
			t.Fatalf("GET /metrics = %d", code)
		}
		var have []string
		sc := bufio.NewScanner(strings.NewReader(metrics))
		for sc.Scan() {
			have = append(have, sc.Text())
		}
		for _, want := range []string{
			fmt.Sprintf(`lockdown_build_info{goversion=%q,version=%q} 1`, runtime.Version(), testVersion),
			// The DB the container built in /cache from mixed-samples.zip.
			`lockdown_db_records{ecosystem="Debian:9"} 4`,
		} {
			if !slices.Contains(have, want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}

		docker(t, "stop", "--time", "20", name)
		if got := docker(t, "inspect", "--format", "{{.State.ExitCode}}", name); got != "0" {
			t.Errorf("exit code after SIGTERM = %s, want 0\n%s", got, logs())
		}
	})

	// serve --tls-cert: the same HEALTHCHECK probes HTTPS when told so by
	// the environment, verifying the certificate against its CA.
	t.Run("serve with TLS", func(t *testing.T) {
		osv := filepath.Dir(testutil.Data(t, "osv/mixed-samples.zip"))
		tlsDir := writeServingCert(t)
		name := "lockdown-deploy-serve-tls-" + randomHex(t)
		testutil.RunContainer(t, name, "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
			"-e", "LOCKDOWN_TOKEN="+randomHex(t)+randomHex(t)+randomHex(t)+randomHex(t), "-v", osv+":/data:ro", "-v", tlsDir+":/tls:ro",
			"-e", "LOCKDOWN_HEALTHCHECK_URL=https://127.0.0.1:8080/healthz", "-e", "LOCKDOWN_HEALTHCHECK_CACERT=/tls/ca.crt",
			"--health-interval", "1s", "--health-timeout", "5s", "--health-start-period", "0s",
			img, "serve", "--listen", "0.0.0.0:8080", "--public-health", "--db-source", "/data/mixed-samples.zip",
			"--tls-cert", "/tls/tls.crt", "--tls-key", "/tls/tls.key")
		waitHealthy(t, name)
		// The probe's own verdict, as Docker recorded it.
		out := docker(t, "inspect", "--format", "{{range .State.Health.Log}}{{.ExitCode}} {{.Output}}{{end}}", name)
		if !strings.Contains(out, "0 healthy: https://127.0.0.1:8080/healthz answered 200 OK") {
			t.Errorf("health log = %q, want a 0 exit with \"healthy: https://127.0.0.1:8080/healthz answered 200 OK\"", out)
		}
	})
}

// waitHealthy waits until Docker's HEALTHCHECK reports the container
// healthy (90 s at most).
func waitHealthy(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		state := docker(t, "inspect", "--format", "{{.State.Status}} {{.State.Health.Status}}", name)
		if state == "running healthy" {
			return
		}
		if !strings.HasPrefix(state, "running") || time.Now().After(deadline) {
			out, _ := exec.Command("docker", "logs", name).CombinedOutput()
			t.Fatalf("container state %q, want running healthy\n%s", state, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// writeServingCert writes a CA (ca.crt) and a serving certificate for
// 127.0.0.1 it signed (tls.crt, tls.key, ECDSA P-256) to a directory the
// image's user 65532 can read.
func writeServingCert(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ca := testutil.NewCA(t, "lockdown deploy test CA")
	srv := ca.Issue(t, "lockdown", x509.ExtKeyUsageServerAuth, "127.0.0.1")
	testutil.WriteFile(t, dir, "ca.crt", ca.CertPEM(), 0o644)
	testutil.WriteFile(t, dir, "tls.crt", srv.CertPEM(), 0o644)
	testutil.WriteFile(t, dir, "tls.key", srv.KeyPEM(t), 0o644)
	return dir
}
