package deploy_test

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/lockdown-sec/lockdown/internal/netpol"
	"github.com/lockdown-sec/lockdown/internal/netpol/load"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// manifests are deploy/kubernetes's objects, decoded strictly (an unknown
// or misspelt field is an error) into the Kubernetes API types.
type manifests struct {
	namespace  *corev1.Namespace
	sa         *corev1.ServiceAccount
	secret     *corev1.Secret
	deployment *appsv1.Deployment
	service    *corev1.Service
	netpol     *networkingv1.NetworkPolicy
	pdb        *policyv1.PodDisruptionBudget
	kustom     *kustomization
	files      map[string]string // file → kind
}

type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images"`
}

func loadManifests(t *testing.T) *manifests {
	t.Helper()
	dir := filepath.Join(deployDir(t), "kubernetes")
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no manifests in %s: %v", dir, err)
	}
	m := &manifests{files: map[string]string{}}
	for _, p := range paths {
		name := filepath.Base(p)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if strings.TrimSpace(line) == "---" {
				t.Errorf("%s: several documents; keep one object per file", name)
			}
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(data, &tm); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		m.files[name] = tm.Kind
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 Namespace":
			m.namespace = new(corev1.Namespace)
			obj = m.namespace
		case "v1 ServiceAccount":
			m.sa = new(corev1.ServiceAccount)
			obj = m.sa
		case "v1 Secret":
			m.secret = new(corev1.Secret)
			obj = m.secret
		case "apps/v1 Deployment":
			m.deployment = new(appsv1.Deployment)
			obj = m.deployment
		case "v1 Service":
			m.service = new(corev1.Service)
			obj = m.service
		case "networking.k8s.io/v1 NetworkPolicy":
			m.netpol = new(networkingv1.NetworkPolicy)
			obj = m.netpol
		case "policy/v1 PodDisruptionBudget":
			m.pdb = new(policyv1.PodDisruptionBudget)
			obj = m.pdb
		case "kustomize.config.k8s.io/v1beta1 Kustomization":
			m.kustom = new(kustomization)
			obj = m.kustom
		default:
			t.Errorf("%s: unexpected %s %s", name, tm.APIVersion, tm.Kind)
			continue
		}
		if err := yaml.UnmarshalStrict(data, obj); err != nil {
			t.Errorf("%s: decode %s strictly: %v", name, tm.Kind, err)
		}
	}
	for what, ok := range map[string]bool{
		"Namespace": m.namespace != nil, "ServiceAccount": m.sa != nil, "Secret": m.secret != nil,
		"Deployment": m.deployment != nil, "Service": m.service != nil, "NetworkPolicy": m.netpol != nil,
		"PodDisruptionBudget": m.pdb != nil, "Kustomization": m.kustom != nil,
	} {
		if !ok {
			t.Errorf("deploy/kubernetes has no %s", what)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return m
}

func TestKubernetesManifests(t *testing.T) {
	m := loadManifests(t)
	ns := m.namespace.Name
	if ns != "lockdown" || m.namespace.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("namespace %q labels %v: want lockdown with Pod Security restricted enforced", ns, m.namespace.Labels)
	}
	for what, got := range map[string]string{
		"ServiceAccount": m.sa.Namespace, "Secret": m.secret.Namespace, "Deployment": m.deployment.Namespace,
		"Service": m.service.Namespace, "NetworkPolicy": m.netpol.Namespace, "PodDisruptionBudget": m.pdb.Namespace,
		"kustomization": m.kustom.Namespace,
	} {
		if got != ns {
			t.Errorf("%s namespace = %q, want %q", what, got, ns)
		}
	}
	if m.sa.AutomountServiceAccountToken == nil || *m.sa.AutomountServiceAccountToken {
		t.Errorf("ServiceAccount automountServiceAccountToken = %v, want false", m.sa.AutomountServiceAccountToken)
	}

	d := m.deployment
	pod := d.Spec.Template
	podLabels := labels.Set(pod.Labels)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas = %v, want 2", d.Spec.Replicas)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Errorf("Deployment selector %v does not select its pod template's labels %v (%v)", d.Spec.Selector, pod.Labels, err)
	}
	for k, v := range map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "8080", "prometheus.io/path": "/metrics"} {
		if pod.Annotations[k] != v {
			t.Errorf("pod annotation %s = %q, want %q", k, pod.Annotations[k], v)
		}
	}
	spec := pod.Spec
	if spec.ServiceAccountName != m.sa.Name {
		t.Errorf("serviceAccountName = %q, want %q", spec.ServiceAccountName, m.sa.Name)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("pod automountServiceAccountToken = %v, want false", spec.AutomountServiceAccountToken)
	}
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext = %+v, want runAsNonRoot, a non-zero runAsUser and seccomp RuntimeDefault", psc)
	}

	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("containers = %d, want 1", len(spec.Containers))
	}
	image := spec.Containers[0].Image
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		name := "container " + c.Name
		if c.Image != image {
			t.Errorf("%s: image %q, want the same image %q in every container", name, c.Image, image)
		}
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("%s: no securityContext", name)
			continue
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s: readOnlyRootFilesystem = %v, want true", name, sc.ReadOnlyRootFilesystem)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: allowPrivilegeEscalation = %v, want false", name, sc.AllowPrivilegeEscalation)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("%s: privileged", name)
		}
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 || sc.RunAsNonRoot != nil && !*sc.RunAsNonRoot {
			t.Errorf("%s: runs as root", name)
		}
		if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
			t.Errorf("%s: capabilities = %+v, want drop [ALL] and no add", name, sc.Capabilities)
		}
		if sc.SeccompProfile != nil && sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: seccompProfile = %v, want RuntimeDefault", name, sc.SeccompProfile.Type)
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, okReq := c.Resources.Requests[r]
			lim, okLim := c.Resources.Limits[r]
			if !okReq || !okLim || req.Cmp(lim) > 0 || req.Cmp(resource.Quantity{}) <= 0 {
				t.Errorf("%s: %s request %v limit %v: want both, 0 < request <= limit", name, r, c.Resources.Requests[r], c.Resources.Limits[r])
			}
		}
		// The only writable paths: /tmp and /cache, both emptyDirs.
		mounts := map[string]string{}
		for _, vm := range c.VolumeMounts {
			v, ok := volumes[vm.Name]
			if !ok {
				t.Errorf("%s: mounts volume %q which the pod lacks", name, vm.Name)
				continue
			}
			if !vm.ReadOnly && v.EmptyDir == nil {
				t.Errorf("%s: %s is mounted writable but is not an emptyDir", name, vm.MountPath)
			}
			mounts[vm.MountPath] = vm.Name
		}
		for _, p := range []string{"/tmp", "/cache"} {
			if v, ok := volumes[mounts[p]]; !ok || v.EmptyDir == nil || v.EmptyDir.SizeLimit == nil {
				t.Errorf("%s: %s is not an emptyDir with a sizeLimit", name, p)
			}
		}
		env := map[string]string{}
		for _, e := range c.Env {
			env[e.Name] = e.Value
		}
		if env["XDG_CACHE_HOME"] != "/cache" || env["TMPDIR"] != "/tmp" {
			t.Errorf("%s: XDG_CACHE_HOME, TMPDIR = %q, %q; want /cache, /tmp", name, env["XDG_CACHE_HOME"], env["TMPDIR"])
		}
	}
	if m.kustom == nil || len(m.kustom.Images) != 1 || !strings.HasPrefix(image, m.kustom.Images[0].Name+":") {
		t.Errorf("image %q is not the one kustomization.yaml pins (%+v)", image, m.kustom.Images)
	}

	c := spec.Containers[0]
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["http"] != 8080 {
		t.Errorf("container ports = %v, want http 8080", ports)
	}
	for _, pr := range []struct {
		what  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}, {"startup", c.StartupProbe, "/healthz"}} {
		if pr.probe == nil || pr.probe.HTTPGet == nil || pr.probe.HTTPGet.Path != pr.path || ports[pr.probe.HTTPGet.Port.String()] != 8080 {
			t.Errorf("%s probe = %+v, want GET %s on port http (8080)", pr.what, pr.probe, pr.path)
		}
	}

	// The PostgreSQL URL comes from the Secret, which has that key; so does
	// the token file.
	var dbEnv *corev1.EnvVar
	for i, e := range c.Env {
		if e.Name == "LOCKDOWN_DB_URL" {
			dbEnv = &c.Env[i]
		}
	}
	if dbEnv == nil || dbEnv.ValueFrom == nil || dbEnv.ValueFrom.SecretKeyRef == nil {
		t.Fatalf("no LOCKDOWN_DB_URL from a secretKeyRef in %+v", c.Env)
	}
	ref := dbEnv.ValueFrom.SecretKeyRef
	if ref.Name != m.secret.Name || m.secret.StringData[ref.Key] == "" {
		t.Errorf("LOCKDOWN_DB_URL from secret %s key %s; the example Secret is %s with keys %v", ref.Name, ref.Key, m.secret.Name, keys(m.secret.StringData))
	}
	if !strings.HasPrefix(m.secret.StringData[ref.Key], "postgres://") {
		t.Errorf("secret %s = %q, want a postgres:// URL", ref.Key, m.secret.StringData[ref.Key])
	}
	if !slices.Contains(c.Args, "--db-url=$(LOCKDOWN_DB_URL)") {
		t.Errorf("args %q: want --db-url=$(LOCKDOWN_DB_URL)", c.Args)
	}
	tokenFile := ""
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--token-file="); ok {
			tokenFile = v
		}
	}
	secretMounted := false
	for _, vm := range c.VolumeMounts {
		v := volumes[vm.Name]
		if v.Secret == nil || v.Secret.SecretName != m.secret.Name || !vm.ReadOnly {
			continue
		}
		for _, it := range v.Secret.Items {
			if filepath.Join(vm.MountPath, it.Path) == tokenFile && m.secret.StringData[it.Key] != "" {
				secretMounted = true
			}
		}
	}
	if !secretMounted {
		t.Errorf("--token-file=%s is not a key of Secret %s mounted read-only", tokenFile, m.secret.Name)
	}
	for k, v := range m.secret.StringData {
		if !strings.Contains(v, "CHANGE-ME") {
			t.Errorf("secret.example.yaml %s = %q: an example must hold a CHANGE-ME placeholder, not a real secret", k, v)
		}
	}
	if len(m.secret.Data) > 0 {
		t.Errorf("secret.example.yaml has data %v: use stringData placeholders only", keys(m.secret.Data))
	}

	// Service → pods → port http.
	if !labels.SelectorFromSet(m.service.Spec.Selector).Matches(podLabels) || len(m.service.Spec.Selector) == 0 {
		t.Errorf("Service selector %v does not select the pods %v", m.service.Spec.Selector, pod.Labels)
	}
	if len(m.service.Spec.Ports) != 1 || m.service.Spec.Ports[0].Port != 8080 || ports[m.service.Spec.Ports[0].TargetPort.String()] != 8080 {
		t.Errorf("Service ports = %+v, want 8080 → http", m.service.Spec.Ports)
	}
	if m.service.Annotations["prometheus.io/scrape"] != "true" {
		t.Errorf("Service has no prometheus.io/scrape annotation")
	}
	// PodDisruptionBudget and NetworkPolicy select the pods.
	for what, ls := range map[string]*metav1.LabelSelector{"PodDisruptionBudget": m.pdb.Spec.Selector, "NetworkPolicy": &m.netpol.Spec.PodSelector} {
		s, err := metav1.LabelSelectorAsSelector(ls)
		if err != nil || s.Empty() || !s.Matches(podLabels) {
			t.Errorf("%s selector %v does not select the pods %v (%v)", what, ls, pod.Labels, err)
		}
	}
	if m.pdb.Spec.MinAvailable == nil || m.pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget minAvailable = %v, want 1 (of 2)", m.pdb.Spec.MinAvailable)
	}

	// kustomization.yaml lists every manifest except the example Secret.
	var want []string
	for f, kind := range m.files {
		if kind != "Kustomization" && kind != "Secret" {
			want = append(want, f)
		}
	}
	got := slices.Clone(m.kustom.Resources)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("kustomization resources = %v, want %v", got, want)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// clusterWorld is a cluster around Lockdown for the policy check: the
// namespaces and pods it must and must not talk to.
const clusterWorld = `
apiVersion: v1
kind: Namespace
metadata: {name: monitoring}
---
apiVersion: v1
kind: Namespace
metadata: {name: ingress-nginx}
---
apiVersion: v1
kind: Namespace
metadata: {name: kube-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: apps}
---
apiVersion: v1
kind: Pod
metadata: {name: prometheus, namespace: monitoring, labels: {app.kubernetes.io/name: prometheus}}
spec: {containers: [{name: prometheus, image: prom}]}
status: {podIP: 10.1.0.10}
---
apiVersion: v1
kind: Pod
metadata: {name: controller, namespace: ingress-nginx, labels: {app.kubernetes.io/name: ingress-nginx}}
spec: {containers: [{name: controller, image: nginx}]}
status: {podIP: 10.1.0.20}
---
apiVersion: v1
kind: Pod
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec: {containers: [{name: coredns, image: coredns, ports: [{containerPort: 53, protocol: UDP}]}]}
status: {podIP: 10.1.0.53}
---
apiVersion: v1
kind: Pod
metadata: {name: postgresql, namespace: lockdown, labels: {app.kubernetes.io/name: postgresql}}
spec: {containers: [{name: postgres, image: postgres}]}
status: {podIP: 10.1.0.54}
---
# Impostors in an ordinary namespace: same labels as DNS and PostgreSQL.
apiVersion: v1
kind: Pod
metadata: {name: fake-dns, namespace: apps, labels: {k8s-app: kube-dns}}
spec: {containers: [{name: dns, image: dns}]}
status: {podIP: 10.1.0.60}
---
apiVersion: v1
kind: Pod
metadata: {name: fake-postgresql, namespace: apps, labels: {app.kubernetes.io/name: postgresql}}
spec: {containers: [{name: postgres, image: postgres}]}
status: {podIP: 10.1.0.61}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: apps, labels: {app: web}}
spec: {containers: [{name: web, image: web}]}
status: {podIP: 10.1.0.62}
`

// TestNetworkPolicy evaluates networkpolicy.yaml with Lockdown's own policy
// engine (Calico semantics) on a cluster holding a pod made from the
// Deployment's template: exactly the intended flows pass.
func TestNetworkPolicy(t *testing.T) {
	m := loadManifests(t)
	dir := filepath.Join(deployDir(t), "kubernetes")
	res, err := load.Load(context.Background(), []string{
		filepath.Join(dir, "namespace.yaml"), filepath.Join(dir, "serviceaccount.yaml"), filepath.Join(dir, "networkpolicy.yaml"),
	}, nil, load.Options{})
	if err != nil {
		t.Fatalf("load manifests: %v", err)
	}
	objs := res.Objects
	world, _, err := load.Parse("cluster.yaml", []byte(clusterWorld), load.Options{})
	if err != nil {
		t.Fatalf("parse the test cluster: %v", err)
	}
	objs = append(objs, world...)

	// A replica, as the Deployment creates it.
	tmpl := m.deployment.Spec.Template
	pod := corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "lockdown-0", Namespace: m.deployment.Namespace, Labels: tmpl.Labels},
		Spec:       tmpl.Spec,
		Status:     corev1.PodStatus{PodIP: "10.1.0.100", PodIPs: []corev1.PodIP{{IP: "10.1.0.100"}, {IP: "fd00:10:1::100"}}},
	}
	podYAML, err := yaml.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	podObjs, _, err := load.Parse("lockdown-0.yaml", podYAML, load.Options{})
	if err != nil {
		t.Fatalf("load the pod made from deployment.yaml: %v\n%s", err, podYAML)
	}
	objs = append(objs, podObjs...)

	cfg, err := netpol.Build(objs, nil)
	if err != nil {
		t.Fatalf("netpol.Build: %v", err)
	}
	for _, w := range cfg.Warnings {
		t.Errorf("netpol warning: %s", w)
	}
	if len(cfg.Policies) != 1 {
		t.Fatalf("policies = %d, want 1", len(cfg.Policies))
	}

	peer := func(ref string, family int) netpol.Peer {
		if ip, err := netip.ParseAddr(ref); err == nil {
			return netpol.Peer{IP: ip}
		}
		e, err := cfg.Endpoint(ref)
		if err != nil || e == nil {
			t.Fatalf("endpoint %s: %v", ref, err)
		}
		return netpol.EndpointPeer(e, family)
	}
	const self = "lockdown/lockdown-0"
	cases := []struct {
		src, dst, port string
		family         int
		allowed        bool
	}{
		// Ingress: 8080/TCP from monitoring and the ingress controller only.
		{"monitoring/prometheus", self, "8080/TCP", 4, true},
		{"ingress-nginx/controller", self, "8080/TCP", 4, true},
		{"apps/web", self, "8080/TCP", 4, false},
		{"lockdown/postgresql", self, "8080/TCP", 4, false},
		{"203.0.113.7", self, "8080/TCP", 4, false},
		{"monitoring/prometheus", self, "9090/TCP", 4, false},
		{"monitoring/prometheus", self, "8080/UDP", 4, false},
		// Egress: cluster DNS.
		{self, "kube-system/coredns", "53/UDP", 4, true},
		{self, "kube-system/coredns", "53/TCP", 4, true},
		{self, "apps/fake-dns", "53/UDP", 4, false},
		{self, "8.8.8.8", "53/UDP", 4, false},
		// PostgreSQL in Lockdown's namespace, not a look-alike elsewhere.
		{self, "lockdown/postgresql", "5432/TCP", 4, true},
		{self, "apps/fake-postgresql", "5432/TCP", 4, false},
		{self, "lockdown/postgresql", "22/TCP", 4, false},
		// HTTPS to the internet; nothing private, no metadata service.
		{self, "140.82.112.3", "443/TCP", 4, true},
		{self, "2606:4700::1111", "443/TCP", 6, true},
		{self, "140.82.112.3", "80/TCP", 4, false},
		{self, "10.96.0.1", "443/TCP", 4, false},
		{self, "172.20.0.5", "443/TCP", 4, false},
		{self, "192.168.1.1", "443/TCP", 4, false},
		{self, "169.254.169.254", "443/TCP", 4, false},
		{self, "169.254.169.254", "80/TCP", 4, false},
		{self, "fd00::1", "443/TCP", 6, false},
		{self, "apps/web", "443/TCP", 4, false},
		{self, "apps/web", "8080/TCP", 4, false},
	}
	for _, c := range cases {
		t.Run(c.src+"→"+c.dst+":"+c.port, func(t *testing.T) {
			pp, err := netpol.ParsePortProto(c.port)
			if err != nil {
				t.Fatal(err)
			}
			f := pp.Flow(peer(c.src, c.family), peer(c.dst, c.family), c.family)
			if got := cfg.Evaluate(f); got.Allowed != c.allowed {
				t.Errorf("Evaluate(%s → %s %s) = %v, want %v (%s)", c.src, c.dst, c.port, got.Allowed, c.allowed, got.Note)
			}
		})
	}
}

// TestNetpolValidateCLI runs what the policy's header comment tells users
// to run.
func TestNetpolValidateCLI(t *testing.T) {
	bin := lockdownBinary(t)
	cmd := exec.Command(bin, "netpol", "validate", "deploy/kubernetes/networkpolicy.yaml")
	cmd.Dir = testutil.RepoRoot(t)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "valid: 1 files, 1 NetworkPolicy (Kubernetes)") || !strings.Contains(string(out), "; 0 warnings") {
		t.Errorf("lockdown netpol validate deploy/kubernetes/networkpolicy.yaml = %v\n%s\nwant valid with 0 warnings", err, out)
	}
}
