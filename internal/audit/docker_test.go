package audit_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	gocmp "github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"

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

// containerIDs are the per-container checks in CIS order (AppArmor and
// SELinux, LD-CTR-304/305, are decided per host on these machines).
var containerIDs = []string{
	"LD-CTR-302", "LD-CTR-303", "LD-CTR-301", "LD-CTR-315", "LD-CTR-327", "LD-CTR-324", "LD-CTR-328",
	"LD-CTR-310", "LD-CTR-319", "LD-CTR-320", "LD-CTR-309", "LD-CTR-325", "LD-CTR-322", "LD-CTR-311",
	"LD-CTR-312", "LD-CTR-318", "LD-CTR-329", "LD-CTR-317", "LD-CTR-313", "LD-CTR-306", "LD-CTR-330",
	"LD-CTR-307", "LD-CTR-323", "LD-CTR-321", "LD-CTR-326", "LD-CTR-314", "LD-CTR-316", "LD-CTR-308",
}

// sshdProgram is a stand-in SSH server: a static binary the test builds,
// bind-mounted into a container as /usr/sbin/sshd, that only sleeps.
var sshdProgram = map[string]string{
	"go.mod":  "module ld15sshd\n\ngo 1.22\n",
	"main.go": "package main\n\nimport \"time\"\n\nfunc main() { time.Sleep(time.Hour) }\n",
}

// startMode says how a test container is brought up.
type startMode int

const (
	run        startMode = iota // docker run; created instead only where the host cannot start it
	createOnly                  // docker create: it would publish a port on every host interface
)

// TestSection5 is the proof of section 5: 29 containers (prefix ld15,
// label lockdown.test=ld15), each the hardened baseline with one
// deviation (or the engine's defaults), audited with --all restricted to
// them, with the expected status of every container check per container.
// Containers the host cannot start (--privileged where the capability
// bounding set lacks CAP_SYS_RESOURCE; rshared propagation where / is not a
// shared mount) are created and audited stopped; the test logs which.
func TestSection5(t *testing.T) {
	cfg := engine(t)
	testImages(t)
	sshd := testutil.GoBinary(t, sshdProgram)
	p := testutil.UniquePrefix(t, "ld15")
	net := p + "net"
	testutil.Docker(t, "network", "create", "--label", "lockdown.test=ld15", net)
	t.Cleanup(func() { exec.Command("docker", "network", "rm", net).Run() })
	mnt := t.TempDir()

	hardened := []string{"--network", "none", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"--user", "1000:1000", "--memory", "64m", "--pids-limit", "50", "--cpus", "0.5", "--restart", "on-failure:3",
		"--health-cmd", "true", "--health-interval", "1h"}
	// without returns the hardened flags less flag (and its value).
	without := func(flag string) []string {
		out := slices.Clone(hardened)
		i := slices.Index(out, flag)
		n := 2
		if flag == "--read-only" {
			n = 1
		}
		return slices.Delete(out, i, i+n)
	}
	with := func(extra ...string) []string { return append(slices.Clone(hardened), extra...) }
	onNet := func(extra ...string) []string {
		return append(without("--network"), append([]string{"--network", net}, extra...)...)
	}

	F, W, I := model.StatusFail, model.StatusWarn, model.StatusInfo
	cases := []struct {
		name string
		args []string
		cmd  []string
		mode startMode
		want map[string]string // check ID → status; every other container check PASSes
	}{
		{"hardened", hardened, nil, run, nil},
		{"defaults", []string{"--network", "none"}, nil, run, map[string]string{
			"LD-CTR-303": I, "LD-CTR-319": F, "LD-CTR-320": F, "LD-CTR-309": F, "LD-CTR-307": F, "LD-CTR-323": F, "LD-CTR-321": F, "LD-CTR-308": F}},
		{"privileged", with("--privileged"), nil, run, map[string]string{
			"LD-CTR-302": F, "LD-CTR-303": F, "LD-CTR-301": F, "LD-CTR-318": F, "LD-CTR-306": F}},
		{"sysadmin", with("--cap-add", "SYS_ADMIN"), nil, run, map[string]string{"LD-CTR-302": F}},
		{"netraw-none", without("--cap-drop"), nil, run, map[string]string{"LD-CTR-303": I}},
		{"netraw", append(without("--cap-drop"), "--network", net)[2:], nil, run, map[string]string{"LD-CTR-303": F}},
		{"etc", with("-v", "/etc:/host/etc:ro"), nil, run, map[string]string{"LD-CTR-315": F}},
		{"sshd", with("-v", sshd+":/usr/sbin/sshd:ro"), []string{"/usr/sbin/sshd", "-D"}, run, map[string]string{"LD-CTR-327": F}},
		{"privport", onNet("-p", "127.0.0.1:1015:8080"), nil, run, map[string]string{"LD-CTR-324": F}},
		// -P picks its host ports when the container starts: created, it has none yet.
		{"publishall", onNet("--expose", "8080", "-P"), nil, createOnly, map[string]string{"LD-CTR-328": F}},
		{"allif", onNet("-p", "8415:8080"), nil, createOnly, map[string]string{"LD-CTR-325": F}},
		{"hostnet", append(without("--network"), "--network", "host"), nil, run, map[string]string{"LD-CTR-310": F}},
		{"nomem", without("--memory"), nil, run, map[string]string{"LD-CTR-319": F}},
		{"nocpu", without("--cpus"), nil, run, map[string]string{"LD-CTR-320": F}},
		{"rw", without("--read-only"), nil, run, map[string]string{"LD-CTR-309": F}},
		{"always", append(without("--restart"), "--restart", "always"), nil, run, map[string]string{"LD-CTR-322": F}},
		{"hostpid", with("--pid", "host"), nil, run, map[string]string{"LD-CTR-311": F}},
		{"hostipc", with("--ipc", "host"), nil, run, map[string]string{"LD-CTR-312": F}},
		{"device", with("--device", "/dev/null:/dev/xnull"), nil, run, map[string]string{"LD-CTR-318": F}},
		{"ulimit", with("--ulimit", "nofile=2048:2048"), nil, run, map[string]string{"LD-CTR-329": W}},
		{"rshared", with("--mount", "type=bind,src="+mnt+",dst=/mnt,bind-propagation=rshared"), nil, run, map[string]string{"LD-CTR-317": F}},
		{"hostuts", with("--uts", "host"), nil, run, map[string]string{"LD-CTR-313": F}},
		{"seccomp", with("--security-opt", "seccomp=unconfined"), nil, run, map[string]string{"LD-CTR-306": F}},
		{"cgroup", with("--cgroup-parent", "/"+p+"cg"), nil, createOnly, map[string]string{"LD-CTR-330": W}},
		{"nnp", without("--security-opt"), nil, run, map[string]string{"LD-CTR-307": F}},
		{"nohealth", hardened[:len(hardened)-4], nil, run, map[string]string{"LD-CTR-323": F}},
		{"nopids", without("--pids-limit"), nil, run, map[string]string{"LD-CTR-321": F}},
		{"bridge", append(without("--network"), "--network", "bridge"), nil, run, map[string]string{"LD-CTR-326": F}},
		{"hostuserns", with("--userns", "host"), nil, run, map[string]string{"LD-CTR-314": F}},
		{"socket", with("-v", "/var/run/docker.sock:/var/run/docker.sock"), nil, run, map[string]string{"LD-CTR-316": F}},
		{"root", append(without("--user"), "--user", "0:0"), nil, run, map[string]string{"LD-CTR-308": F}},
	}
	var names []string
	running := map[string]bool{}
	var g errgroup.Group
	g.SetLimit(4)
	var mu sync.Mutex
	for _, c := range cases {
		name := p + c.name
		names = append(names, name)
		g.Go(func() error {
			args := append(append([]string{"--label", "lockdown.test=ld15"}, c.args...), testImage)
			args = append(args, c.cmd...)
			ok, err := upContainer(t, name, c.mode, args)
			mu.Lock()
			running[name] = ok
			mu.Unlock()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	cfg.Containers = names
	cfg.AllContainers = true
	cfg.Include = []string{"container", "host", "image", "sprawl"}
	rep, err := audit.Run(context.Background(), *cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := map[string]map[string]string{}
	for _, f := range rep.Findings {
		if f.Scope == audit.ScopeContainer {
			if got[f.Subject] == nil {
				got[f.Subject] = map[string]string{}
			}
			got[f.Subject][f.RuleID] = f.Status
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := p + c.name
			want := map[string]string{}
			for _, id := range containerIDs {
				want[id] = cmp.Or(c.want[id], model.StatusPass)
			}
			if !running[name] {
				want["LD-CTR-327"] = model.StatusSkip // no process list for a container that is not running
			}
			if hostHasAppArmor(t) {
				want["LD-CTR-304"] = got[name]["LD-CTR-304"] // per container there: asserted elsewhere
			}
			if diff := gocmp.Diff(want, got[name]); diff != "" {
				t.Errorf("statuses of %s (-want +got):\n%s", name, diff)
			}
		})
	}
	// Host-level verdicts: once, not once per container.
	for _, id := range []string{"LD-CTR-304", "LD-CTR-305"} {
		var n int
		for _, f := range rep.Findings {
			if f.RuleID == id && f.Scope == audit.ScopeHost {
				n++
				if f.Status != model.StatusSkip || !strings.HasPrefix(f.Evidence, "not applicable: ") || !strings.HasSuffix(f.Evidence, "(all 31 audited containers)") {
					t.Errorf("%s on the host = %s %q, want SKIP not applicable for all 31 containers", id, f.Status, f.Evidence)
				}
			}
		}
		if n != 1 && !(id == "LD-CTR-304" && hostHasAppArmor(t)) {
			t.Errorf("%s reported %d times for the host, want once", id, n)
		}
	}
	if f := find(rep.Findings, p+"sshd", "LD-CTR-327"); f == nil || !strings.Contains(f.Evidence, "/usr/sbin/sshd -D") {
		t.Errorf("LD-CTR-327 evidence = %+v, want the sshd process", f)
	}
	if f := find(rep.Findings, p+"sysadmin", "LD-CTR-302"); f == nil || f.Evidence != "HostConfig.CapAdd: SYS_ADMIN" {
		t.Errorf("LD-CTR-302 evidence = %+v, want HostConfig.CapAdd: SYS_ADMIN", f)
	}
	if f := find(rep.Findings, p+"nomem", "LD-CTR-319"); f == nil || !strings.HasPrefix(f.Remediation, "docker update --memory 512m") {
		t.Errorf("LD-CTR-319 fix = %+v, want docker update first", f)
	}
	if f := find(rep.Findings, p+"hostpid", "LD-CTR-311"); f == nil || !strings.HasPrefix(f.Remediation, "recreate the container") || !strings.Contains(f.Remediation, "Compose: remove pid: host") {
		t.Errorf("LD-CTR-311 fix = %+v, want recreate with the docker run and Compose change", f)
	}
	// Seen as a remote engine (no host view): the process lists come from
	// the Engine API's top instead of /proc, with the same verdicts.
	remote := *cfg
	remote.Containers = []string{p + "sshd", p + "hardened", p + "hostpid"}
	remote.Include = []string{"LD-CTR-327"}
	remote.HostChecks = audit.HostOff
	rrep, err := audit.Run(context.Background(), remote)
	if err != nil {
		t.Fatalf("Run without host checks: %v", err)
	}
	for name, want := range map[string]string{p + "sshd": model.StatusFail, p + "hardened": model.StatusPass, p + "hostpid": model.StatusPass} {
		if f := find(rrep.Findings, name, "LD-CTR-327"); f == nil || f.Status != want {
			t.Errorf("LD-CTR-327 from top on %s = %+v, want %s", name, f, want)
		}
	}
	if rep.Meta["containers"] != "31" || rep.Meta["images"] != "1" {
		t.Errorf("meta containers, images = %s, %s; want 31 and their 1 image", rep.Meta["containers"], rep.Meta["images"])
	}
	ifails, _ := statusSets(rep.Findings, audit.ScopeImage)
	if diff := gocmp.Diff(map[string][]string{testImage: {"LD-IMG-401", "LD-IMG-402"}}, ifails); diff != "" {
		t.Errorf("image FAIL IDs (-want +got):\n%s", diff)
	}
	// Sprawl among the selected containers: the ones that are not running.
	var stopped []string
	for name, ok := range running {
		if !ok {
			stopped = append(stopped, name)
		}
	}
	if f := find(rep.Findings, "daemon", "LD-OPS-602"); f == nil || f.Status != model.StatusWarn ||
		!strings.HasPrefix(f.Evidence, fmt.Sprintf("%d stopped and %d running containers", len(stopped), 31-len(stopped))) {
		t.Errorf("LD-OPS-602 = %+v, want WARN with %d stopped", f, len(stopped))
	}
	if f := find(rep.Findings, "daemon", "LD-OPS-601"); f == nil || f.Status != model.StatusPass {
		t.Errorf("LD-OPS-601 = %+v, want PASS (the one image is used)", f)
	}
	// The table: the summary first, the worst failure first.
	out := writeReport(t, rep, "table")
	if i, j := strings.Index(out, "Summary"), strings.Index(out, "Failures, worst first"); i < 0 || j < i {
		t.Errorf("table does not start with the summary:\n%s", out)
	}
	if !slices.ContainsFunc(strings.Split(out, "\n"), func(l string) bool {
		return strings.Join(strings.Fields(l), " ") == "1 CRITICAL LD-CTR-301 1 container Container is not privileged"
	}) {
		t.Errorf("fix first is not the privileged container:\n%s", out)
	}
	if !strings.Contains(out, "fix: recreate the container (docker rm -f "+p+"privileged, then docker run again) without --privileged") {
		t.Errorf("the fix for one container does not name it:\n%s", out)
	}

}

// upContainer runs (or, by mode or where the host cannot start it,
// creates) a container and removes it when the test ends. It reports
// whether the container runs.
func upContainer(t *testing.T, name string, mode startMode, args []string) (bool, error) {
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", "-v", name).Run() })
	if mode == createOnly {
		t.Logf("%s: created, not started (it would publish a port on every host interface, or leave a cgroup behind)", name)
		out, err := exec.Command("docker", append([]string{"create", "--name", name}, args...)...).CombinedOutput()
		if err != nil {
			return false, fmt.Errorf("docker create %s: %v: %s", name, err, out)
		}
		return false, nil
	}
	out, err := exec.Command("docker", append([]string{"run", "-d", "--name", name}, args...)...).CombinedOutput()
	if err == nil {
		return true, nil
	}
	if !hostLimit(string(out)) {
		return false, fmt.Errorf("docker run %s: %v: %s", name, err, out)
	}
	t.Logf("%s cannot start on this machine (%s); auditing it created, not started", name, strings.TrimSpace(string(out)))
	exec.Command("docker", "rm", "-f", name).Run()
	out, err = exec.Command("docker", append([]string{"create", "--name", name}, args...)...).CombinedOutput()
	if err != nil {
		return false, fmt.Errorf("docker create %s: %v: %s", name, err, out)
	}
	return false, nil
}

// hostLimit recognises docker run failures that come from the machine,
// not the container: a capability bounding set without a capability that
// --privileged asks for, a root mount that is not shared, or a host port
// that something else on the shared machine holds (the inspect data the
// checks read is the same for a created container).
func hostLimit(out string) bool {
	for _, s := range []string{"unable to apply caps", "not a shared mount", "not a shared or slave mount",
		"port is already allocated", "address already in use"} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
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
	tag := testutil.UniquePrefix(t, "ld15") + "secrets:latest"
	cmd := exec.Command("docker", "build", "--label", "lockdown.test=ld15", "--build-arg", "GITHUB_TOKEN="+ghToken, "-t", tag, dir)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })

	cfg.Include = []string{"image"}
	rep, err := audit.Run(context.Background(), *cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	fails, _ := statusSets(rep.Findings, audit.ScopeImage)
	if diff := gocmp.Diff([]string{"LD-IMG-401", "LD-IMG-402", "LD-IMG-403", "LD-IMG-404", "LD-IMG-405"}, fails[tag]); diff != "" {
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
	p := testutil.UniquePrefix(t, "ld15")
	keep, gone := p+"keep", p+"gone"
	testutil.RunContainer(t, keep, "--label", "lockdown.test=ld15", "--network", "none", testImage)
	testutil.RunContainer(t, gone, "--label", "lockdown.test=ld15", "--network", "none", testImage)
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
	if skips != len(containerIDs) || keeps != len(containerIDs) {
		t.Errorf("results: %d for the removed container, %d for the kept one, want %d each", skips, keeps, len(containerIDs))
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
	name := strings.TrimSuffix(testutil.UniquePrefix(t, "ld15"), "-")
	testutil.RunContainer(t, name, "--label", "lockdown.test=ld15", "--network", "none", testImage)
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

// TestImageSprawl: an image no container uses makes 6.1 warn on the real
// engine (the engine's own per-image container count is -1, never 0).
func TestImageSprawl(t *testing.T) {
	cfg := engine(t)
	tag := testutil.UniquePrefix(t, "ld15") + "unused:1"
	testutil.AlpineImage(t, tag, "LABEL lockdown.test=ld15", "LABEL ld15.unique="+tag)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	cfg.Include = []string{"LD-OPS-601"}
	rep, err := audit.Run(context.Background(), *cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := find(rep.Findings, "daemon", "LD-OPS-601")
	var unused, total int
	if f != nil {
		fmt.Sscanf(f.Evidence, "%d of %d images are used by no container", &unused, &total)
	}
	if f == nil || f.Status != model.StatusWarn || unused < 1 || total < unused {
		t.Errorf("LD-OPS-601 = %+v, want WARN counting at least the unused %s", f, tag)
	}
}
