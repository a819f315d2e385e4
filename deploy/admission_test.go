package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/lockdown-sec/lockdown/internal/lint"
	"github.com/lockdown-sec/lockdown/internal/lint/kube"
)

// certManager is the part of cert-manager's Issuer and Certificate the
// component uses (decoded strictly: a misspelt field fails).
type certManager struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		SelfSigned  *struct{} `json:"selfSigned,omitempty"`
		SecretName  string    `json:"secretName,omitempty"`
		Duration    string    `json:"duration,omitempty"`
		RenewBefore string    `json:"renewBefore,omitempty"`
		DNSNames    []string  `json:"dnsNames,omitempty"`
		PrivateKey  *struct {
			Algorithm      string `json:"algorithm"`
			Size           int    `json:"size"`
			RotationPolicy string `json:"rotationPolicy"`
		} `json:"privateKey,omitempty"`
		IssuerRef *struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"issuerRef,omitempty"`
	} `json:"spec"`
}

func strict(t *testing.T, rel string, v any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(readFile(t, rel), v); err != nil {
		t.Fatalf("deploy/%s: %v", rel, err)
	}
}

// TestAdmissionComponent checks deploy/kubernetes/admission against the
// base manifests, the server and the lint rules: the webhook calls the
// Service's port on the server's path, over the certificate cert-manager
// issues for the Service's name; it excludes kube-system and Lockdown's
// namespace, fails closed within a short timeout, has no side effects on
// dry runs, and covers every workload kind the webhook decodes.
func TestAdmissionComponent(t *testing.T) {
	m := loadManifests(t)
	var comp struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
		Patches    []struct {
			Path string `json:"path"`
		} `json:"patches"`
	}
	strict(t, "kubernetes/admission/kustomization.yaml", &comp)
	var listed []string
	listed = append(listed, comp.Resources...)
	for _, p := range comp.Patches {
		listed = append(listed, p.Path)
	}
	files, _ := filepath.Glob(filepath.Join(deployDir(t), "kubernetes", "admission", "*.yaml"))
	var want []string
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" {
			want = append(want, b)
		}
	}
	slices.Sort(listed)
	if comp.Kind != "Component" || !slices.Equal(listed, want) {
		t.Errorf("admission/kustomization.yaml: kind %s, lists %v; want a Component listing %v", comp.Kind, listed, want)
	}

	var wh admissionregistrationv1.ValidatingWebhookConfiguration
	strict(t, "kubernetes/admission/webhook.yaml", &wh)
	var issuer, cert certManager
	strict(t, "kubernetes/admission/issuer.yaml", &issuer)
	strict(t, "kubernetes/admission/certificate.yaml", &cert)
	var dep appsv1.Deployment
	strict(t, "kubernetes/admission/deployment-patch.yaml", &dep)
	var svc corev1.Service
	strict(t, "kubernetes/admission/service-patch.yaml", &svc)
	var np networkingv1.NetworkPolicy
	strict(t, "kubernetes/admission/networkpolicy-patch.yaml", &np)

	if len(wh.Webhooks) != 1 {
		t.Fatalf("webhooks = %d, want 1", len(wh.Webhooks))
	}
	w := wh.Webhooks[0]
	ns := m.namespace.Name
	if w.FailurePolicy == nil || *w.FailurePolicy != admissionregistrationv1.Fail {
		t.Errorf("failurePolicy = %v, want Fail", w.FailurePolicy)
	}
	if w.SideEffects == nil || *w.SideEffects != admissionregistrationv1.SideEffectClassNoneOnDryRun {
		t.Errorf("sideEffects = %v, want NoneOnDryRun (a scan is queued, never on dry runs)", w.SideEffects)
	}
	if w.TimeoutSeconds == nil || *w.TimeoutSeconds < 1 || *w.TimeoutSeconds > 10 {
		t.Errorf("timeoutSeconds = %v, want 1-10", w.TimeoutSeconds)
	}
	if !slices.Equal(w.AdmissionReviewVersions, []string{"v1"}) {
		t.Errorf("admissionReviewVersions = %v, want [v1]", w.AdmissionReviewVersions)
	}
	sel, err := metav1.LabelSelectorAsSelector(w.NamespaceSelector)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"kube-system": false, ns: false, "default": true, "shop": true} {
		if got := sel.Matches(labels.Set{"kubernetes.io/metadata.name": name}); got != want {
			t.Errorf("namespaceSelector selects namespace %s = %v, want %v", name, got, want)
		}
	}
	ref := w.ClientConfig.Service
	if ref == nil || ref.Namespace != m.service.Namespace || ref.Name != m.service.Name || ref.Path == nil || *ref.Path != "/v1/admission" || ref.Port == nil {
		t.Fatalf("clientConfig.service = %+v, want the Service %s/%s, path /v1/admission", ref, m.service.Namespace, m.service.Name)
	}
	portOK := false
	for _, p := range svc.Spec.Ports {
		portOK = portOK || p.Port == *ref.Port && p.TargetPort.String() == "http"
	}
	if !portOK || svc.Name != m.service.Name {
		t.Errorf("service patch ports %+v: want port %d → http on Service %s", svc.Spec.Ports, *ref.Port, m.service.Name)
	}
	// Every workload kind the webhook decodes is sent to it.
	var gotRes []string
	for _, r := range w.Rules {
		if !slices.Equal(r.Operations, []admissionregistrationv1.OperationType{"CREATE", "UPDATE"}) {
			t.Errorf("rule %v: operations %v, want CREATE, UPDATE", r.Resources, r.Operations)
		}
		gotRes = append(gotRes, r.Resources...)
	}
	var wantRes []string
	for _, k := range kube.Kinds() {
		wantRes = append(wantRes, strings.ToLower(k)+"s")
	}
	wantRes = append(wantRes, "pods/ephemeralcontainers")
	slices.Sort(gotRes)
	slices.Sort(wantRes)
	if diff := cmp.Diff(wantRes, gotRes); diff != "" {
		t.Errorf("webhook resources (-want +got):\n%s", diff)
	}
	// Certificate wiring: CA injected from the Certificate, issued for the
	// Service's DNS names by the Issuer, mounted where the server reads it.
	if got := wh.Annotations["cert-manager.io/inject-ca-from"]; got != cert.Metadata.Namespace+"/"+cert.Metadata.Name {
		t.Errorf("inject-ca-from = %q, want %s/%s", got, cert.Metadata.Namespace, cert.Metadata.Name)
	}
	if issuer.Kind != "Issuer" || issuer.Spec.SelfSigned == nil || cert.Spec.IssuerRef == nil || cert.Spec.IssuerRef.Name != issuer.Metadata.Name || issuer.Metadata.Namespace != ns || cert.Metadata.Namespace != ns {
		t.Errorf("certificate %+v is not issued by the Issuer %+v in %s", cert.Spec.IssuerRef, issuer.Metadata, ns)
	}
	if !slices.Contains(cert.Spec.DNSNames, ref.Name+"."+ref.Namespace+".svc") {
		t.Errorf("certificate dnsNames %v lack %s.%s.svc (the name the API server calls)", cert.Spec.DNSNames, ref.Name, ref.Namespace)
	}
	spec := dep.Spec.Template.Spec
	var tlsMount string
	for _, v := range spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == cert.Spec.SecretName {
			for _, vm := range spec.Containers[0].VolumeMounts {
				if vm.Name == v.Name && vm.ReadOnly {
					tlsMount = vm.MountPath
				}
			}
		}
	}
	args := spec.Containers[0].Args
	for _, want := range []string{"--admission", "--tls-cert=" + tlsMount + "/tls.crt", "--tls-key=" + tlsMount + "/tls.key"} {
		if tlsMount == "" || !slices.Contains(args, want) {
			t.Errorf("deployment patch args %v: want %s (secret %s mounted read-only)", args, want, cert.Spec.SecretName)
		}
	}
	// The base args are kept (the patch replaces the list).
	for _, a := range m.deployment.Spec.Template.Spec.Containers[0].Args {
		if !slices.Contains(args, a) {
			t.Errorf("deployment patch drops the base argument %s", a)
		}
	}
	checkArgs(t, "admission deployment patch", args[1:], helpFlags(t, lockdownBinary(t), "serve"))
	for _, c := range spec.Containers {
		for what, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
			if p == nil || p.HTTPGet == nil || p.HTTPGet.Scheme != corev1.URISchemeHTTPS {
				t.Errorf("%s probe %+v: want scheme HTTPS", what, p)
			}
		}
	}
	// The NetworkPolicy patch keeps the base rule and adds the API server's.
	if len(np.Spec.Ingress) != 2 || !cmp.Equal(np.Spec.Ingress[0], m.netpol.Spec.Ingress[0]) {
		t.Errorf("networkpolicy patch ingress = %+v, want the base rule then the API server's", np.Spec.Ingress)
	}
}

// TestLintDeployManifests lints deploy/kubernetes with `lockdown lint`:
// the only findings are the unpinned image (latest, no digest) that
// kustomization.yaml pins per installation.
func TestLintDeployManifests(t *testing.T) {
	rep, err := lint.Run(context.Background(), []string{filepath.Join(deployDir(t), "kubernetes")}, lint.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range rep.Findings {
		got = append(got, f.RuleID+" "+filepath.Base(strings.Split(f.Location, ":")[0]))
	}
	slices.Sort(got)
	want := []string{"LD-K8S-332 deployment.yaml", "LD-K8S-332 deployment.yaml", "LD-K8S-333 deployment.yaml", "LD-K8S-333 deployment.yaml"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lint deploy/kubernetes (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(deployDir(t), "kubernetes", "admission", "webhook.yaml")); err != nil {
		t.Fatal(err)
	}
}
