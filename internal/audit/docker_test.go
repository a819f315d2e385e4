package audit_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/audit"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

const (
	testImage     = "lockdown-test/audit-alpine:3.20.3"
	hardenedImage = "lockdown-test/audit-alpine-hardened:3.20.3"
)

func testImages(t *testing.T) {
	t.Helper()
	testutil.AlpineImage(t, testImage, `CMD ["sleep","3600"]`)
	testutil.AlpineImage(t, hardenedImage, `CMD ["sleep","3600"]`, "USER 1000:1000", "HEALTHCHECK --interval=30s CMD true")
}

func engine(t *testing.T) *audit.Config {
	t.Helper()
	testutil.RequireDocker(t)
	eng, err := audit.NewEngine("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return &audit.Config{Engine: eng}
}

// statusSets returns, per subject, the sorted IDs of FAIL and PASS results.
func statusSets(fs []model.Finding, scope string) (fails, passes map[string][]string) {
	fails, passes = map[string][]string{}, map[string][]string{}
	for _, f := range fs {
		if f.Scope != scope {
			continue
		}
		switch f.Status {
		case model.StatusFail:
			fails[f.Subject] = append(fails[f.Subject], f.RuleID)
		case model.StatusPass:
			passes[f.Subject] = append(passes[f.Subject], f.RuleID)
		}
	}
	for _, m := range []map[string][]string{fails, passes} {
		for k := range m {
			sort.Strings(m[k])
		}
	}
	return fails, passes
}

func find(fs []model.Finding, subject, id string) *model.Finding {
	for i := range fs {
		if fs[i].Subject == subject && fs[i].RuleID == id {
			return &fs[i]
		}
	}
	return nil
}

// allContainerIDs are the container checks; 304 (AppArmor) depends on the
// host kernel and is asserted on its own.
var allContainerIDs = []string{
	"LD-CTR-301", "LD-CTR-302", "LD-CTR-303", "LD-CTR-305", "LD-CTR-306", "LD-CTR-307", "LD-CTR-308",
	"LD-CTR-309", "LD-CTR-310", "LD-CTR-311", "LD-CTR-312", "LD-CTR-313", "LD-CTR-314", "LD-CTR-315", "LD-CTR-316",
	"LD-CTR-317", "LD-CTR-318", "LD-CTR-319", "LD-CTR-320", "LD-CTR-321", "LD-CTR-322", "LD-CTR-323", "LD-CTR-324",
	"LD-CTR-325", "LD-CTR-326",
}

func minus(all []string, drop ...string) []string {
	var out []string
	for _, s := range all {
		if !slices.Contains(drop, s) {
			out = append(out, s)
		}
	}
	return out
}

func union(a []string, b ...string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func TestContainersAgainstRealEngine(t *testing.T) {
	cfg := engine(t)
	testImages(t)
	p := testutil.UniquePrefix(t, "ldaudit")
	none := []string{"--network", "none"}
	limits := []string{"--memory", "64m", "--pids-limit", "50", "--cpus", "0.5"}
	cases := []struct {
		name  string
		args  []string
		fails []string
	}{
		// A container as docker run makes it: root, no limits, NET_RAW,
		// writable root, no health check, no no-new-privileges.
		{"nolimits-root", append(slices.Clone(none), testImage),
			[]string{"LD-CTR-303", "LD-CTR-307", "LD-CTR-308", "LD-CTR-309", "LD-CTR-319", "LD-CTR-320", "LD-CTR-321", "LD-CTR-323"}},
		{"privileged", append(slices.Clone(none), "--privileged", testImage),
			[]string{"LD-CTR-301", "LD-CTR-302", "LD-CTR-303", "LD-CTR-305", "LD-CTR-306", "LD-CTR-307", "LD-CTR-308", "LD-CTR-309", "LD-CTR-318", "LD-CTR-319", "LD-CTR-320", "LD-CTR-321", "LD-CTR-323"}},
		{"dockersock", append(slices.Clone(none), "-v", "/var/run/docker.sock:/var/run/docker.sock", testImage),
			[]string{"LD-CTR-303", "LD-CTR-307", "LD-CTR-308", "LD-CTR-309", "LD-CTR-316", "LD-CTR-319", "LD-CTR-320", "LD-CTR-321", "LD-CTR-323"}},
		{"sysadmin", append(slices.Clone(none), "--cap-add", "SYS_ADMIN", testImage),
			[]string{"LD-CTR-302", "LD-CTR-303", "LD-CTR-307", "LD-CTR-308", "LD-CTR-309", "LD-CTR-319", "LD-CTR-320", "LD-CTR-321", "LD-CTR-323"}},
		// The engine adds label=disable for --pid host and --privileged.
		{"hostpid", append(slices.Clone(none), "--pid", "host", testImage),
			[]string{"LD-CTR-303", "LD-CTR-305", "LD-CTR-307", "LD-CTR-308", "LD-CTR-309", "LD-CTR-311", "LD-CTR-319", "LD-CTR-320", "LD-CTR-321", "LD-CTR-323"}},
		// No limits, but not root.
		{"nolimits", append(slices.Clone(none), "--user", "1000:1000", testImage),
			[]string{"LD-CTR-303", "LD-CTR-307", "LD-CTR-309", "LD-CTR-319", "LD-CTR-320", "LD-CTR-321", "LD-CTR-323"}},
		// Root, but with limits.
		{"root", append(append(slices.Clone(none), limits...), "--user", "0:0", testImage),
			[]string{"LD-CTR-303", "LD-CTR-307", "LD-CTR-308", "LD-CTR-309", "LD-CTR-323"}},
		{"hardened", append(append(slices.Clone(none), limits...), "--read-only", "--cap-drop", "ALL",
			"--security-opt", "no-new-privileges", "--user", "1000:1000", "--restart", "on-failure:3", hardenedImage),
			nil},
		// On the default bridge, port published on loopback only.
		{"bridge", []string{"-p", "127.0.0.1::8080", testImage},
			[]string{"LD-CTR-303", "LD-CTR-307", "LD-CTR-308", "LD-CTR-309", "LD-CTR-319", "LD-CTR-320", "LD-CTR-321", "LD-CTR-323", "LD-CTR-326"}},
	}
	var names []string
	limited := map[string]string{} // case -> the host limit that kept it from being created
	for _, c := range cases {
		if why := runOrCreate(t, p+c.name, c.args...); why != "" {
			limited[c.name] = why
			continue
		}
		names = append(names, p+c.name)
	}
	cfg.Containers = names
	cfg.AllContainers = true
	rep, err := audit.Run(context.Background(), *cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	fails, passes := statusSets(rep.Findings, audit.ScopeContainer)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if why, ok := limited[c.name]; ok {
				testutil.HostLimit(t, "container %s cannot be created here: %s", c.name, why)
			}
			name := p + c.name
			wantFail := union(nil, c.fails...)
			wantPass := minus(allContainerIDs, c.fails...)
			if diff := cmp.Diff(wantFail, fails[name]); diff != "" {
				t.Errorf("FAIL IDs of %s (-want +got):\n%s", c.name, diff)
			}
			if diff := cmp.Diff(wantPass, passes[name]); diff != "" {
				t.Errorf("PASS IDs of %s (-want +got):\n%s", c.name, diff)
			}
			aa := find(rep.Findings, name, "LD-CTR-304")
			if aa == nil {
				t.Fatalf("no LD-CTR-304 result for %s", name)
			}
			if !slices.ContainsFunc(rep.Findings, func(f model.Finding) bool {
				return f.Scope == audit.ScopeDaemon && f.RuleID == "LD-DKR-116"
			}) {
				t.Fatal("no daemon results")
			}
			if hostHasAppArmor(t) {
				if aa.Status == model.StatusWarn {
					t.Errorf("LD-CTR-304 on an AppArmor host = WARN (%s)", aa.Evidence)
				}
			} else if aa.Status != model.StatusWarn || !strings.Contains(aa.Evidence, "no AppArmor") {
				t.Errorf("LD-CTR-304 without AppArmor = %s %q, want WARN naming the missing LSM", aa.Status, aa.Evidence)
			}
		})
	}
	// Evidence names what was seen.
	if f := find(rep.Findings, p+"dockersock", "LD-CTR-316"); f == nil || !strings.Contains(f.Evidence, "/var/run/docker.sock:/var/run/docker.sock") {
		t.Errorf("LD-CTR-316 evidence = %+v, want the mount", f)
	}
	if f := find(rep.Findings, p+"sysadmin", "LD-CTR-302"); f == nil || f.Evidence != "HostConfig.CapAdd: SYS_ADMIN" {
		t.Errorf("LD-CTR-302 evidence = %+v, want HostConfig.CapAdd: SYS_ADMIN", f)
	}
	// Images of the selected containers, and only those.
	ifails, ipasses := statusSets(rep.Findings, audit.ScopeImage)
	wantImg := map[string][]string{testImage: {"LD-IMG-401", "LD-IMG-402"}, hardenedImage: nil}
	for img, want := range wantImg {
		if diff := cmp.Diff(want, ifails[img]); diff != "" {
			t.Errorf("image %s FAIL IDs (-want +got):\n%s", img, diff)
		}
		if diff := cmp.Diff(minus([]string{"LD-IMG-401", "LD-IMG-402", "LD-IMG-403", "LD-IMG-404", "LD-IMG-405"}, want...), ipasses[img]); diff != "" {
			t.Errorf("image %s PASS IDs (-want +got):\n%s", img, diff)
		}
	}
	if len(ifails)+len(ipasses) == 0 || rep.Meta["images"] != "2" {
		t.Errorf("images audited = %s, want 2", rep.Meta["images"])
	}
	if want := strconv.Itoa(len(names)); rep.Meta["containers"] != want || rep.Meta["score"] == "" {
		t.Errorf("meta = %v, want %s containers and a score", rep.Meta, want)
	}
}

// runOrCreate starts a container; where the machine cannot start it
// (a sandbox whose capability bounding set lacks a capability that
// --privileged asks for: "unable to apply caps"), it creates it without
// starting it. The inspect data the checks read is the same.
func runOrCreate(t *testing.T, name string, args ...string) (hostLimit string) {
	t.Helper()
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", "-v", name).Run() })
	out, err := exec.Command("docker", append([]string{"run", "-d", "--name", name}, args...)...).CombinedOutput()
	if err == nil {
		return ""
	}
	why := testutil.DockerHostLimit(string(out))
	if why == "" {
		t.Fatalf("docker run %s: %v\n%s", name, err, out)
	}
	t.Logf("%s cannot start on this machine (%s); auditing it created, not started", name, why)
	exec.Command("docker", "rm", "-f", name).Run()
	out, err = exec.Command("docker", append([]string{"create", "--name", name}, args...)...).CombinedOutput()
	if err != nil {
		if why := testutil.DockerHostLimit(string(out)); why != "" {
			return why
		}
		t.Fatalf("docker create %s: %v\n%s", name, err, out)
	}
	return ""
}

func hostHasAppArmor(t *testing.T) bool {
	b, err := os.ReadFile("/sys/kernel/security/lsm")
	return err == nil && strings.Contains(string(b), "apparmor")
}

// TestImageSecretsAndRemoteAdd builds an image with the classic builder
// (ADD of a URL served on 127.0.0.1, a token passed as a build argument,
// a password in ENV, a label with a token) and checks the image results,
// and that no secret reaches any output.
func TestImageSecretsAndRemoteAdd(t *testing.T) {
	cfg := engine(t)
	testImages(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("payload\n")) }), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	const (
		ghToken  = "ghp_Zq8Xv2Lm4Np6Rt0Yb3Cd5Fg7Hj9Kw1Ms2QeA"
		password = "Tr0ub4dor-and-3"
		awsKey   = "AKIAIOSFODNN7QXR2B5Z"
	)
	dir := t.TempDir()
	df := "FROM " + testImage + "\nARG GITHUB_TOKEN\nRUN true\nADD http://" + ln.Addr().String() + "/payload /payload\n" +
		"ENV DB_PASSWORD=" + password + " GPG_KEYS=B42F6819007F00F88E364FD4036A9C25BF357DD4\n" +
		"LABEL org.example.aws-key=" + awsKey + "\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := strings.TrimSuffix(testutil.UniquePrefix(t, "lockdown-test/audit-secrets"), "-") + ":latest"
	if out, err := testutil.DockerBuild(context.Background(), []string{"DOCKER_BUILDKIT=0"}, "--build-arg", "GITHUB_TOKEN="+ghToken, "-t", tag, dir); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })

	cfg.Include = []string{"image"}
	rep, err := audit.Run(context.Background(), *cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	fails, _ := statusSets(rep.Findings, audit.ScopeImage)
	if diff := cmp.Diff([]string{"LD-IMG-401", "LD-IMG-402", "LD-IMG-403", "LD-IMG-404", "LD-IMG-405"}, fails[tag]); diff != "" {
		t.Errorf("FAIL IDs of %s (-want +got):\n%s", tag, diff)
	}
	sec := find(rep.Findings, tag, "LD-IMG-403")
	if sec == nil {
		t.Fatal("no LD-IMG-403")
	}
	for _, want := range []string{
		"ENV DB_PASSWORD=<redacted 15 chars> (secret-like name)",
		"LABEL org.example.aws-key=AKIA<redacted 20 chars> (AWS access key ID)",
		"GitHub token",
	} {
		if !strings.Contains(sec.Evidence, want) {
			t.Errorf("LD-IMG-403 evidence = %q, want it to contain %q", sec.Evidence, want)
		}
	}
	if strings.Contains(sec.Evidence, "GPG_KEYS") {
		t.Errorf("LD-IMG-403 flags the GPG key fingerprint: %q", sec.Evidence)
	}
	add := find(rep.Findings, tag, "LD-IMG-404")
	if add == nil || !strings.Contains(add.Evidence, "ADD of a remote URL to /payload") {
		t.Errorf("LD-IMG-404 = %+v, want the classic-builder remote ADD", add)
	}
	for _, format := range []string{"json", "table", "sarif"} {
		out := writeReport(t, rep, format)
		for _, s := range []string{ghToken, password, awsKey} {
			if strings.Contains(out, s) {
				t.Errorf("%s output contains the secret %q", format, s)
			}
		}
	}
}

func TestContainerRemovedMidAudit(t *testing.T) {
	cfg := engine(t)
	testImages(t)
	p := testutil.UniquePrefix(t, "ldaudit")
	keep, gone := p+"keep", p+"gone"
	testutil.RunContainer(t, keep, "--network", "none", testImage)
	testutil.RunContainer(t, gone, "--network", "none", testImage)
	cfg.Containers = []string{keep, gone}
	cfg.Include = []string{"container"}
	cfg.Engine = &removingEngine{Engine: cfg.Engine, remove: gone}
	rep, err := audit.Run(context.Background(), *cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var skips, keeps int
	for _, f := range rep.Findings {
		switch f.Subject {
		case gone:
			if f.Status != model.StatusSkip || !strings.Contains(f.Evidence, "removed during the audit") {
				t.Errorf("%s on removed container = %s %q, want SKIP", f.RuleID, f.Status, f.Evidence)
			}
			skips++
		case keep:
			keeps++
		}
	}
	if skips != 26 || keeps != 26 {
		t.Errorf("results: %d for the removed container, %d for the kept one, want 26 each", skips, keeps)
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0].Path, gone) {
		t.Errorf("warnings = %+v, want one naming %s", rep.Warnings, gone)
	}
}

// removingEngine is the real engine; it removes one container (for real)
// between listing and inspecting.
type removingEngine struct {
	audit.Engine
	remove string
}

func (e *removingEngine) ContainerList(ctx context.Context, o container.ListOptions) ([]container.Summary, error) {
	l, err := e.Engine.ContainerList(ctx, o)
	if err == nil {
		if out, err := exec.CommandContext(ctx, "docker", "rm", "-f", e.remove).CombinedOutput(); err != nil {
			return nil, errors.New("docker rm: " + string(out))
		}
	}
	return l, err
}

func TestEngineErrors(t *testing.T) {
	testutil.RequireDocker(t)
	dir := t.TempDir()
	cases := []struct {
		name string
		host string
		env  map[string]string
		want string
	}{
		{"no socket", "unix://" + filepath.Join(dir, "missing.sock"), nil, "Cannot connect to the Docker daemon"},
		{"closed tcp port", "tcp://127.0.0.1:" + closedPort(t), nil, "Cannot connect to the Docker daemon"},
		{"api too old", "", map[string]string{"DOCKER_API_VERSION": "1.11"}, "client version 1.11 is too old"},
		{"api older than we read", "", map[string]string{"DOCKER_API_VERSION": "1.20"}, "API version 1.20 is older than 1.24"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			eng, err := audit.NewEngine(c.host)
			if err != nil {
				t.Fatal(err)
			}
			defer eng.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			rep, err := audit.Run(ctx, audit.Config{Engine: eng})
			if err == nil || rep != nil {
				t.Fatalf("Run = %v, %v; want no report and an error", rep, err)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "docker engine at ") {
				t.Errorf("Run error = %q, want it to name the engine and contain %q", err, c.want)
			}
		})
	}
}

func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}

// failingImagesEngine is the real engine whose image listing fails, as
// when the engine goes away mid-audit.
type failingImagesEngine struct{ audit.Engine }

func (failingImagesEngine) ImageList(context.Context, image.ListOptions) ([]image.Summary, error) {
	return nil, errors.New("connection reset by peer")
}

// TestPartialResults: a failure after the daemon and containers were read
// returns the results so far with the error.
func TestPartialResults(t *testing.T) {
	cfg := engine(t)
	testImages(t)
	name := strings.TrimSuffix(testutil.UniquePrefix(t, "ldaudit"), "-")
	testutil.RunContainer(t, name, "--network", "none", testImage)
	cfg.Engine = failingImagesEngine{cfg.Engine}
	rep, err := audit.Run(context.Background(), *cfg)
	if err == nil || !strings.Contains(err.Error(), "list images: connection reset by peer") {
		t.Fatalf("Run error = %v, want the image listing error", err)
	}
	if rep == nil || find(rep.Findings, "daemon", "LD-DKR-110") == nil || find(rep.Findings, name, "LD-CTR-301") == nil {
		t.Fatalf("partial report = %+v, want daemon and container results", rep)
	}
	if out := writeReport(t, rep, "table"); !strings.Contains(out, "container "+name) {
		t.Errorf("partial table lacks the container:\n%s", out)
	}
}
