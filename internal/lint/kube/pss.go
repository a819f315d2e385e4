package kube

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lockdown-sec/lockdown/internal/lint/rule"
)

// Pod is what CheckPod reads: a pod's (or pod template's) metadata and
// spec, and where they are in their document.
type Pod struct {
	Meta               *metav1.ObjectMeta
	Spec               *corev1.PodSpec
	MetaPath, SpecPath []any
}

// PodOf is the Pod of a workload.
func (w *Workload) Pod() Pod {
	return Pod{Meta: w.Meta, Spec: w.Spec, MetaPath: w.MetaPath, SpecPath: w.SpecPath}
}

// The allowed values of the Pod Security Standards (Kubernetes v1.34
// "latest"), as the PSS page lists them.
var (
	baselineCaps = []string{"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
		"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
	seLinuxTypes = []string{"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
	safeSysctls  = []string{"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
		"net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
		"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}
)

const appArmorAnnotation = "container.apparmor.security.beta.kubernetes.io/"

// container is one container of any of the three lists, with its path.
type container struct {
	kind  string // "container", "initContainer", "ephemeralContainer"
	name  string
	path  []any
	sc    *corev1.SecurityContext
	ports []corev1.ContainerPort
	image string
	env   []corev1.EnvVar
	res   corev1.ResourceRequirements
}

func (c container) String() string { return fmt.Sprintf("%s %q", c.kind, c.name) }

func containers(spec *corev1.PodSpec, base []any) []container {
	var out []container
	for i, c := range spec.InitContainers {
		out = append(out, container{"initContainer", c.Name, at(base, "initContainers", i), c.SecurityContext, c.Ports, c.Image, c.Env, c.Resources})
	}
	for i, c := range spec.Containers {
		out = append(out, container{"container", c.Name, at(base, "containers", i), c.SecurityContext, c.Ports, c.Image, c.Env, c.Resources})
	}
	for i, c := range spec.EphemeralContainers {
		out = append(out, container{"ephemeralContainer", c.Name, at(base, "ephemeralContainers", i), c.SecurityContext, c.Ports, c.Image, c.Env, c.Resources})
	}
	return out
}

// at appends to a copy of base.
func at(base []any, more ...any) []any {
	return append(slices.Clone(base), more...)
}

// CheckPod checks a pod against every Pod Security Standards control
// (baseline and restricted) and the other pod rules (image pinning,
// limits, read-only root, literal secrets). Each hit's Path is relative to
// the document; callers keep the rules they enforce.
func CheckPod(p Pod) []rule.Hit {
	spec := p.Spec
	if spec == nil {
		return nil
	}
	meta := p.Meta
	if meta == nil {
		meta = &metav1.ObjectMeta{}
	}
	var hits []rule.Hit
	hit := func(id string, path []any, format string, args ...any) {
		hits = append(hits, rule.Hit{ID: id, Path: path, Evidence: fmt.Sprintf(format, args...)})
	}
	sp := p.SpecPath
	psc := spec.SecurityContext
	pscPath := at(sp, "securityContext")
	cs := containers(spec, sp)
	windows := spec.OS != nil && spec.OS.Name == corev1.Windows

	// HostProcess
	if psc != nil && psc.WindowsOptions != nil && isTrue(psc.WindowsOptions.HostProcess) {
		hit(rule.K8sHostProcess, at(pscPath, "windowsOptions", "hostProcess"), "securityContext.windowsOptions.hostProcess=true")
	}
	for _, c := range cs {
		if c.sc != nil && c.sc.WindowsOptions != nil && isTrue(c.sc.WindowsOptions.HostProcess) {
			hit(rule.K8sHostProcess, at(c.path, "securityContext", "windowsOptions", "hostProcess"), "%s sets securityContext.windowsOptions.hostProcess=true", c)
		}
	}
	// Host Namespaces
	for _, ns := range []struct {
		on    bool
		field string
	}{{spec.HostNetwork, "hostNetwork"}, {spec.HostPID, "hostPID"}, {spec.HostIPC, "hostIPC"}} {
		if ns.on {
			hit(rule.K8sHostNamespaces, at(sp, ns.field), "%s=true", ns.field)
		}
	}
	// Privileged Containers
	for _, c := range cs {
		if c.sc != nil && isTrue(c.sc.Privileged) {
			hit(rule.K8sPrivileged, at(c.path, "securityContext", "privileged"), "%s sets securityContext.privileged=true", c)
		}
	}
	// Capabilities (baseline)
	for _, c := range cs {
		if c.sc == nil || c.sc.Capabilities == nil {
			continue
		}
		var bad []string
		for _, cp := range c.sc.Capabilities.Add {
			if !slices.Contains(baselineCaps, string(cp)) {
				bad = append(bad, string(cp))
			}
		}
		if len(bad) > 0 {
			hit(rule.K8sCapsBaseline, at(c.path, "securityContext", "capabilities", "add"), "%s adds %s", c, strings.Join(bad, ", "))
		}
	}
	// HostPath Volumes
	for i, v := range spec.Volumes {
		if v.HostPath != nil {
			hit(rule.K8sHostPath, at(sp, "volumes", i, "hostPath"), "volume %q mounts hostPath %s", v.Name, v.HostPath.Path)
		}
	}
	// Host Ports
	for _, c := range cs {
		for j, port := range c.ports {
			if port.HostPort != 0 {
				hit(rule.K8sHostPorts, at(c.path, "ports", j, "hostPort"), "%s uses hostPort %d", c, port.HostPort)
			}
		}
	}
	// AppArmor
	if psc != nil && psc.AppArmorProfile != nil && !appArmorOK(psc.AppArmorProfile.Type) {
		hit(rule.K8sAppArmor, at(pscPath, "appArmorProfile", "type"), "securityContext.appArmorProfile.type=%s", psc.AppArmorProfile.Type)
	}
	for _, c := range cs {
		if c.sc != nil && c.sc.AppArmorProfile != nil && !appArmorOK(c.sc.AppArmorProfile.Type) {
			hit(rule.K8sAppArmor, at(c.path, "securityContext", "appArmorProfile", "type"), "%s sets securityContext.appArmorProfile.type=%s", c, c.sc.AppArmorProfile.Type)
		}
	}
	for _, k := range sortedKeys(meta.Annotations) {
		if name, ok := strings.CutPrefix(k, appArmorAnnotation); ok {
			v := meta.Annotations[k]
			if v != "" && v != "runtime/default" && !strings.HasPrefix(v, "localhost/") {
				hit(rule.K8sAppArmor, at(p.MetaPath, "annotations", k), "annotation %s%s=%q", appArmorAnnotation, name, v)
			}
		}
	}
	// SELinux
	seLinux := func(o *corev1.SELinuxOptions, path []any, who string) {
		if o == nil {
			return
		}
		var bad []string
		if !slices.Contains(seLinuxTypes, o.Type) {
			bad = append(bad, "type="+o.Type)
		}
		if o.User != "" {
			bad = append(bad, "user="+o.User)
		}
		if o.Role != "" {
			bad = append(bad, "role="+o.Role)
		}
		if len(bad) > 0 {
			hit(rule.K8sSELinux, path, "%sseLinuxOptions %s", who, strings.Join(bad, ", "))
		}
	}
	if psc != nil {
		seLinux(psc.SELinuxOptions, at(pscPath, "seLinuxOptions"), "securityContext.")
	}
	for _, c := range cs {
		if c.sc != nil {
			seLinux(c.sc.SELinuxOptions, at(c.path, "securityContext", "seLinuxOptions"), c.String()+" sets securityContext.")
		}
	}
	// /proc Mount Type
	for _, c := range cs {
		if c.sc != nil && c.sc.ProcMount != nil && *c.sc.ProcMount != corev1.DefaultProcMount {
			hit(rule.K8sProcMount, at(c.path, "securityContext", "procMount"), "%s sets securityContext.procMount=%s", c, *c.sc.ProcMount)
		}
	}
	// Seccomp (baseline): Unconfined anywhere.
	if psc != nil && psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeUnconfined {
		hit(rule.K8sSeccompBaseline, at(pscPath, "seccompProfile", "type"), "securityContext.seccompProfile.type=Unconfined")
	}
	for _, c := range cs {
		if c.sc != nil && c.sc.SeccompProfile != nil && c.sc.SeccompProfile.Type == corev1.SeccompProfileTypeUnconfined {
			hit(rule.K8sSeccompBaseline, at(c.path, "securityContext", "seccompProfile", "type"), "%s sets securityContext.seccompProfile.type=Unconfined", c)
		}
	}
	// Sysctls
	if psc != nil {
		for i, s := range psc.Sysctls {
			if !slices.Contains(safeSysctls, s.Name) {
				hit(rule.K8sSysctls, at(pscPath, "sysctls", i, "name"), "securityContext.sysctls: %s is not in the safe set", s.Name)
			}
		}
	}

	// ---- restricted
	// Volume Types
	for i, v := range spec.Volumes {
		if t := volumeType(v.VolumeSource); !allowedVolume(t) {
			hit(rule.K8sVolumeTypes, at(sp, "volumes", i, t), "volume %q is of type %s", v.Name, t)
		}
	}
	// Privilege Escalation (Linux only since v1.25)
	if !windows {
		for _, c := range cs {
			if c.sc == nil || c.sc.AllowPrivilegeEscalation == nil {
				hit(rule.K8sPrivEscalation, scPath(c), "%s must set securityContext.allowPrivilegeEscalation=false", c)
			} else if *c.sc.AllowPrivilegeEscalation {
				hit(rule.K8sPrivEscalation, at(c.path, "securityContext", "allowPrivilegeEscalation"), "%s sets securityContext.allowPrivilegeEscalation=true", c)
			}
		}
	}
	// Running as Non-root
	podNonRoot := psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot
	if psc != nil && psc.RunAsNonRoot != nil && !*psc.RunAsNonRoot {
		hit(rule.K8sRunAsNonRoot, at(pscPath, "runAsNonRoot"), "securityContext.runAsNonRoot=false")
	}
	var implicit []string
	var implicitPath []any
	for _, c := range cs {
		switch {
		case c.sc != nil && c.sc.RunAsNonRoot != nil && !*c.sc.RunAsNonRoot:
			hit(rule.K8sRunAsNonRoot, at(c.path, "securityContext", "runAsNonRoot"), "%s sets securityContext.runAsNonRoot=false", c)
		case (c.sc == nil || c.sc.RunAsNonRoot == nil) && !podNonRoot:
			implicit = append(implicit, fmt.Sprintf("%q", c.name))
			if implicitPath == nil {
				implicitPath = scPath(c)
			}
		}
	}
	if len(implicit) > 0 && (psc == nil || psc.RunAsNonRoot == nil) {
		hit(rule.K8sRunAsNonRoot, sp, "pod or containers %s must set securityContext.runAsNonRoot=true", strings.Join(implicit, ", "))
	}
	// Running as Non-root user
	if psc != nil && psc.RunAsUser != nil && *psc.RunAsUser == 0 {
		hit(rule.K8sRunAsUser, at(pscPath, "runAsUser"), "securityContext.runAsUser=0")
	}
	for _, c := range cs {
		if c.sc != nil && c.sc.RunAsUser != nil && *c.sc.RunAsUser == 0 {
			hit(rule.K8sRunAsUser, at(c.path, "securityContext", "runAsUser"), "%s sets securityContext.runAsUser=0", c)
		}
	}
	// Seccomp (restricted, Linux only since v1.25)
	if !windows {
		podSet := psc != nil && psc.SeccompProfile != nil && seccompOK(psc.SeccompProfile.Type)
		if psc != nil && psc.SeccompProfile != nil && !seccompOK(psc.SeccompProfile.Type) {
			hit(rule.K8sSeccomp, at(pscPath, "seccompProfile", "type"), "securityContext.seccompProfile.type=%s", psc.SeccompProfile.Type)
		}
		var unset []string
		for _, c := range cs {
			switch {
			case c.sc != nil && c.sc.SeccompProfile != nil && !seccompOK(c.sc.SeccompProfile.Type):
				hit(rule.K8sSeccomp, at(c.path, "securityContext", "seccompProfile", "type"), "%s sets securityContext.seccompProfile.type=%s", c, c.sc.SeccompProfile.Type)
			case (c.sc == nil || c.sc.SeccompProfile == nil) && !podSet:
				unset = append(unset, fmt.Sprintf("%q", c.name))
			}
		}
		if len(unset) > 0 && (psc == nil || psc.SeccompProfile == nil) {
			hit(rule.K8sSeccomp, sp, "pod or containers %s must set securityContext.seccompProfile.type to RuntimeDefault or Localhost", strings.Join(unset, ", "))
		}
	}
	// Capabilities (restricted, Linux only since v1.25)
	if !windows {
		for _, c := range cs {
			var caps *corev1.Capabilities
			if c.sc != nil {
				caps = c.sc.Capabilities
			}
			if caps == nil || !slices.Contains(caps.Drop, "ALL") {
				hit(rule.K8sCapsRestricted, capsPath(c), "%s must set securityContext.capabilities.drop=[\"ALL\"]", c)
			}
			if caps != nil {
				var bad []string
				for _, cp := range caps.Add {
					if cp != "NET_BIND_SERVICE" {
						bad = append(bad, string(cp))
					}
				}
				if len(bad) > 0 {
					hit(rule.K8sCapsRestricted, at(c.path, "securityContext", "capabilities", "add"), "%s adds %s (only NET_BIND_SERVICE is allowed)", c, strings.Join(bad, ", "))
				}
			}
		}
	}

	// ---- beyond the PSS
	for _, c := range cs {
		img := at(c.path, "image")
		if c.image != "" && !strings.Contains(c.image, "@sha256:") {
			hit(rule.K8sNoDigest, img, "%s image %s has no digest", c, c.image)
		}
		if c.image != "" && floatingTag(c.image) {
			hit(rule.K8sLatest, img, "%s image %s", c, c.image)
		}
		if c.kind != "ephemeralContainer" {
			var missing []string
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := c.res.Limits[r]; !ok {
					missing = append(missing, "limits."+string(r))
				}
			}
			if len(missing) > 0 {
				hit(rule.K8sNoLimits, at(c.path, "resources"), "%s has no resources.%s", c, strings.Join(missing, ", resources."))
			}
			if c.sc == nil || c.sc.ReadOnlyRootFilesystem == nil || !*c.sc.ReadOnlyRootFilesystem {
				hit(rule.K8sReadOnlyRoot, scPath(c), "%s does not set securityContext.readOnlyRootFilesystem=true", c)
			}
		}
		for j, e := range c.env {
			if e.Value != "" && rule.SecretName(e.Name) && !strings.Contains(e.Value, "$(") {
				hit(rule.K8sSecretEnv, at(c.path, "env", j, "value"), "%s env %s=%s", c, e.Name, rule.Redact(e.Value))
			}
		}
	}
	return hits
}

func scPath(c container) []any {
	if c.sc != nil {
		return at(c.path, "securityContext")
	}
	return c.path
}

func capsPath(c container) []any {
	if c.sc != nil && c.sc.Capabilities != nil {
		return at(c.path, "securityContext", "capabilities")
	}
	return scPath(c)
}

func isTrue(b *bool) bool { return b != nil && *b }

func appArmorOK(t corev1.AppArmorProfileType) bool {
	return t == "" || t == corev1.AppArmorProfileTypeRuntimeDefault || t == corev1.AppArmorProfileTypeLocalhost
}

func seccompOK(t corev1.SeccompProfileType) bool {
	return t == corev1.SeccompProfileTypeRuntimeDefault || t == corev1.SeccompProfileTypeLocalhost
}

func allowedVolume(t string) bool {
	switch t {
	case "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret", "":
		return true
	}
	return false
}

// volumeType is the field name of the volume source that is set.
func volumeType(v corev1.VolumeSource) string {
	switch {
	case v.HostPath != nil:
		return "hostPath"
	case v.EmptyDir != nil:
		return "emptyDir"
	case v.GCEPersistentDisk != nil:
		return "gcePersistentDisk"
	case v.AWSElasticBlockStore != nil:
		return "awsElasticBlockStore"
	case v.GitRepo != nil:
		return "gitRepo"
	case v.Secret != nil:
		return "secret"
	case v.NFS != nil:
		return "nfs"
	case v.ISCSI != nil:
		return "iscsi"
	case v.Glusterfs != nil:
		return "glusterfs"
	case v.PersistentVolumeClaim != nil:
		return "persistentVolumeClaim"
	case v.RBD != nil:
		return "rbd"
	case v.FlexVolume != nil:
		return "flexVolume"
	case v.Cinder != nil:
		return "cinder"
	case v.CephFS != nil:
		return "cephfs"
	case v.Flocker != nil:
		return "flocker"
	case v.DownwardAPI != nil:
		return "downwardAPI"
	case v.FC != nil:
		return "fc"
	case v.AzureFile != nil:
		return "azureFile"
	case v.ConfigMap != nil:
		return "configMap"
	case v.VsphereVolume != nil:
		return "vsphereVolume"
	case v.Quobyte != nil:
		return "quobyte"
	case v.AzureDisk != nil:
		return "azureDisk"
	case v.PhotonPersistentDisk != nil:
		return "photonPersistentDisk"
	case v.Projected != nil:
		return "projected"
	case v.PortworxVolume != nil:
		return "portworxVolume"
	case v.ScaleIO != nil:
		return "scaleIO"
	case v.StorageOS != nil:
		return "storageos"
	case v.CSI != nil:
		return "csi"
	case v.Ephemeral != nil:
		return "ephemeral"
	case v.Image != nil:
		return "image"
	}
	return ""
}

// floatingTag reports an image reference without a digest whose tag is
// latest or missing.
func floatingTag(ref string) bool {
	if strings.Contains(ref, "@") {
		return false
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	i := strings.LastIndex(last, ":")
	return i < 0 || last[i+1:] == "latest"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Check runs CheckPod on every workload of f; each hit gets its line and
// the workload as subject.
func (f *File) Check() []rule.Hit {
	var out []rule.Hit
	for _, w := range f.Workloads {
		for _, h := range CheckPod(w.Pod()) {
			out = append(out, w.Locate(h))
		}
	}
	return out
}

// Locate fills in a hit's line and subject from the workload.
func (w *Workload) Locate(h rule.Hit) rule.Hit {
	h.Line = w.LineOf(h.Path)
	h.Subject = w.ID()
	return h
}
