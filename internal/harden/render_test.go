package harden

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	sigyaml "sigs.k8s.io/yaml"

	"github.com/lockdown-sec/lockdown/internal/harden/seccomp"
	"github.com/lockdown-sec/lockdown/internal/termsafe"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

func samplePlan(t *testing.T) *Plan {
	t.Helper()
	prof, err := seccomp.Generate("amd64", []string{"read", "write", "openat", "clone"})
	if err != nil {
		t.Fatal(err)
	}
	return &Plan{Subject: "image web:1", Name: "web", Image: "web:1", Entrypoint: []string{"/bin/server", "--port"}, Cmd: []string{"8080"},
		Network: "appnet", Test: []string{"sh", "-c", "wget -qO- http://127.0.0.1:8080/ | grep -q ok"},
		User: "65534:65534", CapDrop: []string{"ALL"}, CapAdd: []string{"NET_BIND_SERVICE"}, ReadOnly: true,
		Tmpfs:           []Tmpfs{{Path: "/tmp", Options: "rw,noexec,nosuid,nodev,size=64m,uid=65534,gid=65534"}},
		NoNewPrivileges: true, Memory: 96 << 20, NanoCPUs: 750_000_000, PidsLimit: 64, RestartPolicy: "on-failure:5",
		Healthcheck: []string{"sh", "-c", "wget -qO- http://127.0.0.1:8080/ | grep -q ok"}, Sysctls: map[string]string{"net.ipv4.ip_unprivileged_port_start": "1024"},
		Seccomp: prof, AppArmor: AppArmor{Name: "lockdown-web"}, Verified: true}
}

func TestRunFlags(t *testing.T) {
	p := samplePlan(t)
	got := append(RunFlags(p, FilesIn(p, "/etc/lockdown")), RunCommand(p)...)
	want := []string{"--user", "65534:65534", "--read-only", "--tmpfs", "/tmp:rw,noexec,nosuid,nodev,size=64m,uid=65534,gid=65534",
		"--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE", "--security-opt", "no-new-privileges",
		"--security-opt", "seccomp=/etc/lockdown/web.seccomp.json", "--security-opt", "apparmor=lockdown-web",
		"--memory", "96m", "--cpus", "0.75", "--pids-limit", "64", "--restart", "on-failure:5",
		"--health-cmd", "sh -c 'wget -qO- http://127.0.0.1:8080/ | grep -q ok'", "--network", "appnet",
		"--sysctl", "net.ipv4.ip_unprivileged_port_start=1024",
		"--entrypoint", "/bin/server", "web:1", "--port", "8080"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("run flags (-want +got):\n%s", d)
	}
	out, err := Render(p, FormatRun, FilesIn(p, "."))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "docker run -d --name web --user 65534:65534 --read-only") {
		t.Errorf("run format:\n%s", out)
	}
}

func TestRenderCompose(t *testing.T) {
	p := samplePlan(t)
	out, err := Render(p, FormatCompose, FilesIn(p, "./profiles"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]map[string]any `yaml:"services"`
	}
	if err := yaml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("compose: %v\n%s", err, out)
	}
	s := doc.Services["web"]
	if s["read_only"] != true || s["user"] != "65534:65534" || s["pids_limit"] != 64 || s["mem_limit"] != "96m" || s["cpus"] != "0.75" {
		t.Errorf("service %v", s)
	}
	if d := cmp.Diff([]any{"no-new-privileges:true", "seccomp:./profiles/web.seccomp.json", "apparmor:lockdown-web"}, s["security_opt"]); d != "" {
		t.Errorf("security_opt (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]any{"appnet"}, s["networks"]); d != "" {
		t.Errorf("networks (-want +got):\n%s", d)
	}
}

func TestRenderKubernetes(t *testing.T) {
	p := samplePlan(t)
	out, err := Render(p, FormatKubernetes, Files{})
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	if err := sigyaml.UnmarshalStrict(out, &pod); err != nil {
		t.Fatalf("pod: %v\n%s", err, out)
	}
	c := pod.Spec.Containers[0]
	sc := c.SecurityContext
	if *sc.RunAsUser != 65534 || !*sc.RunAsNonRoot || *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem || *sc.Privileged {
		t.Errorf("securityContext %+v", sc)
	}
	if d := cmp.Diff(&corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"NET_BIND_SERVICE"}}, sc.Capabilities); d != "" {
		t.Errorf("capabilities (-want +got):\n%s", d)
	}
	if *sc.SeccompProfile.LocalhostProfile != "lockdown/web.seccomp.json" || *sc.AppArmorProfile.LocalhostProfile != "lockdown-web" {
		t.Errorf("profiles %+v %+v", sc.SeccompProfile, sc.AppArmorProfile)
	}
	if m := c.Resources.Limits.Memory().Value(); m != 96<<20 {
		t.Errorf("memory limit %d", m)
	}
	if cpu := c.Resources.Limits.Cpu().MilliValue(); cpu != 750 {
		t.Errorf("cpu limit %dm", cpu)
	}
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != "/tmp" || pod.Spec.Volumes[0].EmptyDir.Medium != corev1.StorageMediumMemory {
		t.Errorf("tmpfs: %+v %+v", c.VolumeMounts, pod.Spec.Volumes)
	}
	if *pod.Spec.SecurityContext.FSGroup != 65534 || pod.Spec.SecurityContext.Sysctls[0].Name != "net.ipv4.ip_unprivileged_port_start" {
		t.Errorf("pod securityContext %+v", pod.Spec.SecurityContext)
	}
	if *pod.Spec.AutomountServiceAccountToken {
		t.Errorf("service account token mounted")
	}
}

func TestRenderJSON(t *testing.T) {
	p := samplePlan(t)
	out, err := Render(p, FormatJSON, Files{})
	if err != nil {
		t.Fatal(err)
	}
	var back Plan
	if err := json.Unmarshal(out, &back); err != nil || back.Name != "web" || !back.Verified {
		t.Errorf("json round trip: %v %+v", err, back)
	}
	if _, err := Render(p, "yaml", Files{}); err == nil {
		t.Errorf("Render(yaml) = nil error")
	}
	b, err := SeccompJSON(p)
	if err != nil || !bytes.Contains(b, []byte(`"defaultAction": "SCMP_ACT_ERRNO"`)) {
		t.Errorf("SeccompJSON: %v\n%s", err, b)
	}
}

func TestMinimizeCaps(t *testing.T) {
	for _, need := range [][]string{{}, {"NET_BIND_SERVICE"}, {"CHOWN", "SETUID"}, {"AUDIT_WRITE", "SYS_CHROOT"}} {
		runs := 0
		pass := func(caps []string) bool {
			runs++
			for _, n := range need {
				found := false
				for _, c := range caps {
					found = found || c == n
				}
				if !found {
					return false
				}
			}
			return true
		}
		got := minimizeCaps(DefaultCaps, nil, pass)
		if len(need) == 0 {
			need = nil
		}
		if d := cmp.Diff(need, got); d != "" {
			t.Errorf("minimizeCaps for %v (-want +got):\n%s", need, d)
		}
		if runs > 20 {
			t.Errorf("minimizeCaps for %v: %d runs, want at most 20", need, runs)
		}
	}
}

func TestLimits(t *testing.T) {
	cases := []struct {
		mem     int64
		cpu     float64
		pids    int64
		ncpu    int
		wantMem int64
		wantCPU int64
		wantPID int64
	}{
		{3 << 20, 0.01, 1, 2, 64 << 20, 500_000_000, 64},
		{100<<20 + 1, 0.6, 40, 2, 201 << 20, 1_250_000_000, 160},
		{10 << 20, 3, 2, 2, 64 << 20, 2_000_000_000, 64},
	}
	for _, c := range cases {
		m, cpu, p := limits(c.mem, c.cpu, c.pids, c.ncpu)
		if m != c.wantMem || cpu != c.wantCPU || p != c.wantPID {
			t.Errorf("limits(%d, %.2f, %d, %d) = %d, %d, %d; want %d, %d, %d", c.mem, c.cpu, c.pids, c.ncpu, m, cpu, p, c.wantMem, c.wantCPU, c.wantPID)
		}
	}
}

func TestDefaultName(t *testing.T) {
	for in, want := range map[string]string{"nginx:1.25": "nginx", "registry:5000/team/app@sha256:abc": "app", "ld10-x-client": "ld10-x-client", "::": "workload"} {
		if got := defaultName("", in); got != want {
			t.Errorf("defaultName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRenderRunHostile: names from the image (its environment, command,
// health check) cannot end a comment line, add a command or reach the
// terminal raw; bash reads the docker run line back as exactly the
// arguments.
func TestRenderRunHostile(t *testing.T) {
	testutil.RequireCmd(t, "bash")
	p := samplePlan(t)
	p.EnvNames = []string{"A\nrm -rf ~", "B\x1b]0;pwned\x07"}
	p.Cmd = []string{"--title=\x1b[2J", "two\nlines", "rtl\u202e"}
	p.Healthcheck = []string{"sh", "-c", "test -f /tmp/\x1b[2J"}
	files := FilesIn(p, ".")
	out, err := Render(p, FormatRun, files)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	for _, l := range lines[:len(lines)-1] {
		if !strings.HasPrefix(l, "# ") {
			t.Errorf("line %q of the run output is not a comment:\n%s", l, out)
		}
	}
	if !termsafe.Safe(strings.ReplaceAll(string(out), "\n", " ")) {
		t.Errorf("run output holds raw control characters:\n%q", out)
	}
	want := append(append([]string{"run", "-d", "--name", p.Name}, RunFlags(p, files)...), RunCommand(p)...)
	// Read the line back as bash would run it, docker a function that
	// prints its arguments NUL-separated.
	got, err := exec.Command("bash", "-c", `docker() { printf '%s\0' "$@"; }; `+lines[len(lines)-1]).Output()
	if err != nil {
		t.Fatalf("bash: %v", err)
	}
	if d := cmp.Diff(want, strings.Split(strings.TrimSuffix(string(got), "\x00"), "\x00")); d != "" {
		t.Errorf("docker run arguments as bash reads them (-want +got):\n%s", d)
	}
	// The health command docker hands to /bin/sh -c keeps its bytes.
	if hc := want[slices.Index(want, "--health-cmd")+1]; hc != "sh -c 'test -f /tmp/\x1b[2J'" {
		t.Errorf("--health-cmd = %q", hc)
	}
}
