package harden

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigyaml "sigs.k8s.io/yaml"

	"github.com/lockdown-sec/lockdown/internal/termsafe"
)

// Output formats of a plan.
const (
	FormatRun        = "run"
	FormatCompose    = "compose"
	FormatKubernetes = "kubernetes"
	FormatJSON       = "json"
)

// Formats lists the formats Render writes.
var Formats = []string{FormatRun, FormatCompose, FormatKubernetes, FormatJSON}

// Files names the profile files a plan's configuration refers to.
type Files struct {
	Seccomp  string // the seccomp profile (JSON)
	AppArmor string // the AppArmor profile (text)
}

// FilesIn returns the profile file names of p in dir.
func FilesIn(p *Plan, dir string) Files {
	if dir == "" {
		dir = "."
	}
	return Files{Seccomp: dir + "/" + p.Name + ".seccomp.json", AppArmor: dir + "/" + p.Name + ".apparmor"}
}

// SeccompJSON is the plan's seccomp profile as a file holds it.
func SeccompJSON(p *Plan) ([]byte, error) {
	b, err := json.MarshalIndent(p.Seccomp, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode the seccomp profile: %w", err)
	}
	return append(b, '\n'), nil
}

// RunFlags are the docker run flags of the plan (without --name, the
// image and the command).
func RunFlags(p *Plan, f Files) []string {
	var a []string
	if p.User != "" {
		a = append(a, "--user", p.User)
	}
	if p.ReadOnly {
		a = append(a, "--read-only")
	}
	for _, t := range p.Tmpfs {
		a = append(a, "--tmpfs", t.Path+":"+t.Options)
	}
	for _, c := range p.CapDrop {
		a = append(a, "--cap-drop", c)
	}
	for _, c := range p.CapAdd {
		a = append(a, "--cap-add", c)
	}
	if p.NoNewPrivileges {
		a = append(a, "--security-opt", "no-new-privileges")
	}
	a = append(a, "--security-opt", "seccomp="+f.Seccomp, "--security-opt", "apparmor="+p.AppArmor.Name)
	a = append(a, "--memory", fmt.Sprintf("%dm", p.Memory>>20), "--cpus", cpus(p.NanoCPUs), "--pids-limit", strconv.FormatInt(p.PidsLimit, 10))
	if p.RestartPolicy != "" {
		a = append(a, "--restart", p.RestartPolicy)
	}
	if len(p.Healthcheck) > 0 {
		a = append(a, "--health-cmd", posixJoin(p.Healthcheck))
	}
	a = append(a, "--network", p.Network)
	for _, k := range sortedKeys(p.Sysctls) {
		a = append(a, "--sysctl", k+"="+p.Sysctls[k])
	}
	return a
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// RunCommand is what follows the flags: --entrypoint when the plan sets
// one, the image, the command.
func RunCommand(p *Plan) []string {
	var a []string
	cmd := p.Cmd
	if len(p.Entrypoint) > 0 {
		a = append(a, "--entrypoint", p.Entrypoint[0])
		cmd = append(append([]string{}, p.Entrypoint[1:]...), p.Cmd...)
	}
	a = append(a, p.Image)
	return append(a, cmd...)
}

// Render writes the plan in format. The run format is a shell command
// line; compose a Compose service fragment; kubernetes a Pod whose
// container carries the securityContext and resources; json the plan.
func Render(p *Plan, format string, f Files) ([]byte, error) {
	switch format {
	case FormatJSON:
		b, err := json.MarshalIndent(p, "", "  ")
		if err != nil {
			return nil, err
		}
		return append(b, '\n'), nil
	case FormatRun:
		var b bytes.Buffer
		// Comment lines: names from the image (its environment) and
		// paths escaped, so that none ends the comment or reaches the
		// terminal raw.
		fmt.Fprintf(&b, "# %s: hardened by lockdown harden (verified: %v)\n", termsafe.String(p.Subject), p.Verified)
		fmt.Fprintf(&b, "# seccomp: %d system calls allowed (Docker's default: %d); profiles: %s, %s\n", p.SeccompSize.Syscalls, p.SeccompSize.DockerDefault, termsafe.String(f.Seccomp), termsafe.String(f.AppArmor))
		if len(p.EnvNames) > 0 {
			fmt.Fprintf(&b, "# add the environment it ran with: %s\n", termsafe.String(strings.Join(p.EnvNames, " ")))
		}
		args := append([]string{"docker", "run", "-d", "--name", p.Name}, RunFlags(p, f)...)
		args = append(args, RunCommand(p)...)
		b.WriteString(shellJoin(args))
		b.WriteByte('\n')
		return b.Bytes(), nil
	case FormatCompose:
		return composeYAML(p, f)
	case FormatKubernetes:
		return kubernetesYAML(p)
	}
	return nil, fmt.Errorf("unknown format %q (run, compose, kubernetes, json)", format)
}

type composeHealth struct {
	Test []string `yaml:"test"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Entrypoint  []string          `yaml:"entrypoint,omitempty"`
	Command     []string          `yaml:"command,omitempty"`
	User        string            `yaml:"user,omitempty"`
	ReadOnly    bool              `yaml:"read_only"`
	Tmpfs       []string          `yaml:"tmpfs,omitempty"`
	CapDrop     []string          `yaml:"cap_drop"`
	CapAdd      []string          `yaml:"cap_add,omitempty"`
	SecurityOpt []string          `yaml:"security_opt"`
	MemLimit    string            `yaml:"mem_limit"`
	CPUs        string            `yaml:"cpus"`
	PidsLimit   int64             `yaml:"pids_limit"`
	Restart     string            `yaml:"restart,omitempty"`
	Healthcheck *composeHealth    `yaml:"healthcheck,omitempty"`
	Sysctls     map[string]string `yaml:"sysctls,omitempty"`
	NetworkMode string            `yaml:"network_mode,omitempty"`
	Networks    []string          `yaml:"networks,omitempty"`
}

func composeYAML(p *Plan, f Files) ([]byte, error) {
	s := composeService{Image: p.Image, Entrypoint: p.Entrypoint, Command: p.Cmd, User: p.User, ReadOnly: p.ReadOnly,
		CapDrop: p.CapDrop, CapAdd: p.CapAdd, MemLimit: fmt.Sprintf("%dm", p.Memory>>20), CPUs: cpus(p.NanoCPUs),
		PidsLimit: p.PidsLimit, Restart: p.RestartPolicy, Sysctls: p.Sysctls}
	for _, t := range p.Tmpfs {
		s.Tmpfs = append(s.Tmpfs, t.Path+":"+t.Options)
	}
	if p.NoNewPrivileges {
		s.SecurityOpt = append(s.SecurityOpt, "no-new-privileges:true")
	}
	s.SecurityOpt = append(s.SecurityOpt, "seccomp:"+f.Seccomp, "apparmor:"+p.AppArmor.Name)
	if len(p.Healthcheck) > 0 {
		s.Healthcheck = &composeHealth{Test: append([]string{"CMD"}, p.Healthcheck...)}
	}
	switch p.Network {
	case "none", "bridge", "host":
		s.NetworkMode = p.Network
	default:
		s.Networks = []string{p.Network}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s: hardened by lockdown harden (verified: %v)\n", p.Subject, p.Verified)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(map[string]any{"services": map[string]composeService{p.Name: s}}); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

func kubernetesYAML(p *Plan) ([]byte, error) {
	f := false
	t := true
	sc := &corev1.SecurityContext{
		Privileged: &f, AllowPrivilegeEscalation: &f, ReadOnlyRootFilesystem: &p.ReadOnly,
		Capabilities:    &corev1.Capabilities{},
		SeccompProfile:  &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr("lockdown/" + p.Name + ".seccomp.json")},
		AppArmorProfile: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: ptr(p.AppArmor.Name)},
	}
	for _, c := range p.CapDrop {
		sc.Capabilities.Drop = append(sc.Capabilities.Drop, corev1.Capability(c))
	}
	for _, c := range p.CapAdd {
		sc.Capabilities.Add = append(sc.Capabilities.Add, corev1.Capability(c))
	}
	uid, gid, numeric := numericUser(p.User)
	if numeric {
		sc.RunAsUser, sc.RunAsGroup = &uid, &gid
		if uid != 0 {
			sc.RunAsNonRoot = &t
		}
	}
	c := corev1.Container{
		Name: p.Name, Image: p.Image, Command: p.Entrypoint, Args: p.Cmd, WorkingDir: p.WorkingDir, SecurityContext: sc,
		Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{
				corev1.ResourceMemory: *resource.NewQuantity(p.Memory, resource.BinarySI),
				corev1.ResourceCPU:    *resource.NewMilliQuantity(p.NanoCPUs/1e6, resource.DecimalSI),
			},
			Requests: corev1.ResourceList{
				corev1.ResourceMemory: *resource.NewQuantity(p.Memory/2, resource.BinarySI),
				corev1.ResourceCPU:    *resource.NewMilliQuantity(p.NanoCPUs/2e6, resource.DecimalSI),
			},
		},
	}
	if len(p.Healthcheck) > 0 {
		c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: p.Healthcheck}}, PeriodSeconds: 30}
	}
	pod := corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Annotations: map[string]string{"lockdown.dev/hardened": p.Subject}},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: &f, HostNetwork: false, HostPID: false, HostIPC: false,
			Containers: []corev1.Container{c},
		},
	}
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{}
	if numeric && uid != 0 {
		pod.Spec.SecurityContext.FSGroup = &gid // the emptyDir volumes become writable by the group
	}
	if len(p.Sysctls) > 0 {
		for _, k := range sortedKeys(p.Sysctls) {
			pod.Spec.SecurityContext.Sysctls = append(pod.Spec.SecurityContext.Sysctls, corev1.Sysctl{Name: k, Value: p.Sysctls[k]})
		}
	}
	for i, tm := range p.Tmpfs {
		name := fmt.Sprintf("tmpfs-%d", i)
		size := resource.MustParse("64Mi")
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: &size}}})
		pod.Spec.Containers[0].VolumeMounts = append(pod.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: name, MountPath: tm.Path})
	}
	b, err := sigyaml.Marshal(pod)
	if err != nil {
		return nil, err
	}
	head := fmt.Sprintf("# %s: hardened by lockdown harden (verified: %v)\n# the seccomp profile goes to the kubelet's seccomp directory as lockdown/%s.seccomp.json;\n# the AppArmor profile %s must be loaded on the node\n",
		p.Subject, p.Verified, p.Name, p.AppArmor.Name)
	if !numeric {
		head += fmt.Sprintf("# set runAsUser/runAsGroup to the numeric IDs of %q\n", p.User)
	}
	return append([]byte(head), b...), nil
}

func ptr[T any](v T) *T { return &v }

// numericUser parses "UID[:GID]".
func numericUser(u string) (uid, gid int64, ok bool) {
	us, gs, hasG := strings.Cut(u, ":")
	uid, err := strconv.ParseInt(us, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	gid = uid
	if hasG {
		if gid, err = strconv.ParseInt(gs, 10, 64); err != nil {
			return 0, 0, false
		}
	}
	return uid, gid, true
}

// shellJoin quotes args for a shell command line shown on a terminal
// (termsafe.ShellWord: $'…' for control characters).
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = termsafe.ShellWord(a)
	}
	return strings.Join(out, " ")
}

// posixJoin quotes args for /bin/sh -c (a --health-cmd, which docker runs
// with the image's shell, which may not know $'…'): single quotes keep
// control characters as they are; shellJoin quotes the result again for
// the terminal.
func posixJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if out[i] = termsafe.ShellWord(a); strings.HasPrefix(out[i], "$'") {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}
