package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/lockdown-sec/lockdown/internal/check"
	"github.com/lockdown-sec/lockdown/internal/lint/kube"
	"github.com/lockdown-sec/lockdown/internal/lint/rule"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/server/store"
)

// Admission configures the ValidatingAdmissionWebhook endpoint
// /v1/admission. The zero value (with Enabled) enforces the Pod Security
// Standards baseline, warns about restricted, and decides nothing on
// scans.
type Admission struct {
	Enabled bool `json:"-"`
	// Level is the PSS level whose controls deny (baseline when empty;
	// "privileged" denies on none). WarnLevel's controls that Level does
	// not deny come back as warnings (restricted when empty).
	Level     string `json:"level,omitempty"`
	WarnLevel string `json:"warnLevel,omitempty"`
	// Deny and Warn add lint rules (IDs, tags or other --check selectors of
	// the kubernetes rules, e.g. LD-K8S-333 or supply-chain) that deny or
	// only warn.
	Deny []string `json:"deny,omitempty"`
	Warn []string `json:"warn,omitempty"`
	// FailOn denies a pod when an image's latest scan has a finding at or
	// above it ("" or "none": scans never deny).
	FailOn string `json:"failOn,omitempty"`
	// Unknown decides for images with no scan yet: "allow" (default, with
	// a warning) or "deny". Either way a scan is queued (not on dry runs).
	Unknown string `json:"unknownImages,omitempty"`
	// ExemptNamespaces are admitted unchecked (the webhook configuration
	// should exclude them too); ExemptImages are image references or
	// prefixes ending in * that are not looked up.
	ExemptNamespaces []string `json:"exemptNamespaces,omitempty"`
	ExemptImages     []string `json:"exemptImages,omitempty"`
	// Namespaces overrides Level and WarnLevel per namespace.
	Namespaces map[string]NamespacePolicy `json:"namespaces,omitempty"`
	// MaxBodyBytes bounds an AdmissionReview (0 means 3 MiB: the API
	// server's own request limit).
	MaxBodyBytes int64 `json:"-"`
}

// NamespacePolicy is a namespace's own levels.
type NamespacePolicy struct {
	Level     string `json:"level,omitempty"`
	WarnLevel string `json:"warnLevel,omitempty"`
}

// DefaultAdmissionMaxBody bounds AdmissionReview bodies.
const DefaultAdmissionMaxBody = 3 << 20

// LoadAdmissionPolicy reads an admission policy file (YAML or JSON, the
// fields of Admission) and checks it.
func LoadAdmissionPolicy(path string) (Admission, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Admission{}, fmt.Errorf("admission policy %s: %w", path, err)
	}
	var a Admission
	if err := yaml.UnmarshalStrict(data, &a); err != nil {
		return Admission{}, fmt.Errorf("admission policy %s: %w", path, err)
	}
	if _, err := a.compile(); err != nil {
		return Admission{}, fmt.Errorf("admission policy %s: %w", path, err)
	}
	return a, nil
}

// CheckAdmission reports what is wrong with an admission configuration.
func CheckAdmission(a Admission) error {
	_, err := a.compile()
	return err
}

// admissionPolicy is an Admission checked and resolved to rule IDs.
type admissionPolicy struct {
	deny, warn  map[string]bool // default namespace policy
	byNS        map[string][2]map[string]bool
	failOn      model.Severity
	scanDeny    bool
	unknownDeny bool
	exemptNS    []string
	exemptImg   []string
	maxBody     int64
}

func levelIDs(level, def string) (map[string]bool, error) {
	if level == "" {
		level = def
	}
	l, ok := rule.ParseLevel(level)
	if !ok {
		return nil, fmt.Errorf("PSS level %q: want privileged, baseline or restricted", level)
	}
	out := map[string]bool{}
	for _, id := range rule.Level(l) {
		out[id] = true
	}
	return out, nil
}

func kubeRules(sel []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(sel) == 0 {
		return out, nil
	}
	var k8s []rule.Rule
	for _, r := range rule.All() {
		if r.Scope == rule.ScopeKubernetes && r.ID != rule.K8sNoNetworkPolicy {
			k8s = append(k8s, r)
		}
	}
	rs, err := check.Select(k8s, func(r rule.Rule) check.Info { return r.Info }, sel, nil)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		out[r.ID] = true
	}
	return out, nil
}

// compile resolves levels and selectors; the error names what is wrong.
func (a Admission) compile() (*admissionPolicy, error) {
	p := &admissionPolicy{byNS: map[string][2]map[string]bool{}, exemptNS: a.ExemptNamespaces, exemptImg: a.ExemptImages, maxBody: a.MaxBodyBytes}
	if p.maxBody <= 0 {
		p.maxBody = DefaultAdmissionMaxBody
	}
	extraDeny, err := kubeRules(a.Deny)
	if err != nil {
		return nil, fmt.Errorf("deny: %w", err)
	}
	extraWarn, err := kubeRules(a.Warn)
	if err != nil {
		return nil, fmt.Errorf("warn: %w", err)
	}
	sets := func(level, warnLevel string) ([2]map[string]bool, error) {
		deny, err := levelIDs(level, rule.LevelBaseline)
		if err != nil {
			return [2]map[string]bool{}, err
		}
		warn, err := levelIDs(warnLevel, rule.LevelRestricted)
		if err != nil {
			return [2]map[string]bool{}, err
		}
		for id := range extraDeny {
			deny[id] = true
		}
		for id := range extraWarn {
			warn[id] = true
		}
		for id := range deny {
			delete(warn, id)
		}
		return [2]map[string]bool{deny, warn}, nil
	}
	def, err := sets(a.Level, a.WarnLevel)
	if err != nil {
		return nil, err
	}
	p.deny, p.warn = def[0], def[1]
	for ns, np := range a.Namespaces {
		s, err := sets(cmpOr(np.Level, a.Level), cmpOr(np.WarnLevel, a.WarnLevel))
		if err != nil {
			return nil, fmt.Errorf("namespace %s: %w", ns, err)
		}
		p.byNS[ns] = s
	}
	switch strings.ToLower(a.FailOn) {
	case "", "none":
	default:
		sev, err := model.ParseSeverity(a.FailOn)
		if err != nil {
			return nil, fmt.Errorf("failOn: %w", err)
		}
		p.failOn, p.scanDeny = sev, true
	}
	switch strings.ToLower(a.Unknown) {
	case "", "allow":
	case "deny":
		p.unknownDeny = true
	default:
		return nil, fmt.Errorf("unknownImages %q: want allow or deny", a.Unknown)
	}
	return p, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// admissionState is the webhook's memory of scans it queued, so that a
// burst of reviews for one new image queues one scan.
type admissionState struct {
	pol    *admissionPolicy
	mu     sync.Mutex
	queued map[string]time.Time
}

// requeueAfter is how long an image's queued scan is not queued again.
const requeueAfter = 10 * time.Minute

func (a *admissionState) shouldQueue(ref string, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t, ok := a.queued[ref]; ok && now.Sub(t) < requeueAfter {
		return false
	}
	if len(a.queued) > 10000 {
		for k, t := range a.queued {
			if now.Sub(t) >= requeueAfter {
				delete(a.queued, k)
			}
		}
	}
	a.queued[ref] = now
	return true
}

// maxWarning keeps one warning within what the API server shows.
const maxWarning = 240

func clip(s string) string {
	if len(s) <= maxWarning {
		return s
	}
	return s[:maxWarning-1] + "…"
}

// postAdmission answers an AdmissionReview v1.
func (s *Server) postAdmission(w http.ResponseWriter, r *http.Request) error {
	a := s.adm
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.pol.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "AdmissionReview is over the limit of %d bytes", mbe.Limit)
		}
		return errorf(http.StatusBadRequest, "read AdmissionReview: %v", err)
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil {
		return errorf(http.StatusBadRequest, "malformed AdmissionReview: %v", err)
	}
	if review.APIVersion != "admission.k8s.io/v1" || review.Kind != "AdmissionReview" {
		return errorf(http.StatusBadRequest, "malformed AdmissionReview: apiVersion %q, kind %q: want admission.k8s.io/v1 AdmissionReview", review.APIVersion, review.Kind)
	}
	if review.Request == nil {
		return errorf(http.StatusBadRequest, "malformed AdmissionReview: no request")
	}
	if review.Request.UID == "" {
		return errorf(http.StatusBadRequest, "malformed AdmissionReview: request.uid is empty")
	}
	start := time.Now()
	resp, err := s.admit(r.Context(), review.Request)
	if err != nil {
		return err
	}
	resp.UID = review.Request.UID
	s.log.Debug("admission", "uid", review.Request.UID, "kind", review.Request.Kind.Kind, "namespace", review.Request.Namespace,
		"name", review.Request.Name, "allowed", resp.Allowed, "took", time.Since(start))
	return writeJSON(w, http.StatusOK, admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Response: resp,
	})
}

// admit decides one request. An object it cannot decode is a 400.
func (s *Server) admit(ctx context.Context, req *admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, error) {
	a := s.adm
	allow := &admissionv1.AdmissionResponse{Allowed: true}
	switch {
	case req.Operation == admissionv1.Delete || req.Operation == admissionv1.Connect:
		return allow, nil
	case req.SubResource != "" && req.SubResource != "ephemeralcontainers":
		return allow, nil
	case slices.Contains(a.pol.exemptNS, req.Namespace):
		return allow, nil
	}
	if len(req.Object.Raw) == 0 {
		return nil, errorf(http.StatusBadRequest, "malformed AdmissionReview: request.object is empty for %s", req.Operation)
	}
	wl, ok, err := kube.Decode(req.Kind.Kind, req.Object.Raw)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "malformed AdmissionReview: request.object: %v", err)
	}
	if !ok {
		return allow, nil // not a kind that holds a pod
	}
	if wl.Namespace == "" {
		wl.Namespace = req.Namespace
	}
	if wl.Name == "" {
		wl.Name = req.Name
	}
	deny, warn := a.pol.deny, a.pol.warn
	if s, ok := a.pol.byNS[wl.Namespace]; ok {
		deny, warn = s[0], s[1]
	}
	var reasons, warnings []string
	for _, h := range kube.CheckPod(wl.Pod()) {
		r, _ := rule.ByID(h.ID)
		name := r.Title
		if r.PSS == "" {
			name = r.ID + " " + r.Title
		}
		switch {
		case deny[h.ID]:
			reasons = append(reasons, fmt.Sprintf("%s (%s)", name, h.Evidence))
		case warn[h.ID]:
			warnings = append(warnings, clip(fmt.Sprintf("%s: %s", name, h.Evidence)))
		}
	}
	seen := map[string]bool{}
	for _, c := range allContainers(wl) {
		if c == "" || seen[c] || exemptImage(a.pol.exemptImg, c) {
			continue
		}
		seen[c] = true
		reason, warning, err := s.imageDecision(ctx, c, req.DryRun != nil && *req.DryRun)
		if err != nil {
			return nil, err
		}
		if reason != "" {
			reasons = append(reasons, reason)
		}
		if warning != "" {
			warnings = append(warnings, clip(warning))
		}
	}
	resp := &admissionv1.AdmissionResponse{Allowed: len(reasons) == 0, Warnings: warnings}
	if !resp.Allowed {
		resp.Result = &metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden,
			Message: fmt.Sprintf("lockdown denied %s: %s", wl.ID(), strings.Join(reasons, "; ")),
		}
	}
	return resp, nil
}

func allContainers(w *kube.Workload) []string {
	var out []string
	for _, c := range w.Spec.InitContainers {
		out = append(out, c.Image)
	}
	for _, c := range w.Spec.Containers {
		out = append(out, c.Image)
	}
	for _, c := range w.Spec.EphemeralContainers {
		out = append(out, c.Image)
	}
	return out
}

func exemptImage(list []string, ref string) bool {
	for _, e := range list {
		if p, ok := strings.CutSuffix(e, "*"); ok && strings.HasPrefix(ref, p) || e == ref {
			return true
		}
	}
	return false
}

// imageNames are the names a scan of ref may be stored under: as written,
// fully qualified, as Docker shows it, and as a registry: or docker:
// target; digest is the @sha256: part.
func imageNames(ref string) (names []string, digest string) {
	add := func(n string) {
		if n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	add(ref)
	if i := strings.Index(ref, "@"); i >= 0 {
		digest = ref[i+1:]
	}
	if r, err := name.ParseReference(ref); err == nil {
		repo := r.Context()
		suffix := ""
		switch t := r.(type) {
		case name.Tag:
			suffix = ":" + t.TagStr()
		case name.Digest:
			suffix = "@" + t.DigestStr()
		}
		reg := repo.RegistryStr()
		path := repo.RepositoryStr()
		add(reg + "/" + path + suffix)
		if reg == name.DefaultRegistry {
			add("docker.io/" + path + suffix)
			add(strings.TrimPrefix(path, "library/") + suffix)
		}
	}
	for _, n := range slices.Clone(names) {
		add("registry:" + n)
		add("docker:" + n)
	}
	return names, digest
}

// imageDecision looks up ref's latest scan: a denial reason when it has
// findings at or above FailOn, a warning when it is unknown (and a scan is
// queued unless dryRun).
func (s *Server) imageDecision(ctx context.Context, ref string, dryRun bool) (reason, warning string, err error) {
	pol := s.adm.pol
	names, digest := imageNames(ref)
	res, err := s.st.LatestImageFor(ctx, names, digest)
	switch {
	case err == nil:
		if !pol.scanDeny {
			return "", "", nil
		}
		var parts []string
		n := 0
		for _, sev := range store.Severities {
			s, _ := model.ParseSeverity(sev)
			if s >= pol.failOn && res.Counts[sev] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", res.Counts[sev], sev))
				n += res.Counts[sev]
			}
		}
		if n == 0 {
			return "", "", nil
		}
		return fmt.Sprintf("image %s (%s, scanned %s) has %s vulnerabilities at or above %s",
			ref, res.Digest, res.ScannedAt.UTC().Format(time.RFC3339), strings.Join(parts, ", "), strings.ToLower(pol.failOn.String())), "", nil
	case !errors.Is(err, store.ErrNotFound):
		return "", "", err
	}
	note := "no scan yet"
	switch {
	case dryRun:
		note += " (dry run: no scan queued)"
	case CheckTarget(ref, s.cfg.AllowRegistries, false) != nil:
		note += " and its registry is not allowed (--allow-registry): no scan queued"
	case s.adm.shouldQueue(ref, time.Now()):
		j, err := s.st.Enqueue(ctx, store.KindScan, ref, ref)
		if err != nil {
			return "", "", err
		}
		s.kick()
		note += "; scan " + j.ID + " queued"
	default:
		note += "; a scan is queued"
	}
	if pol.unknownDeny {
		return fmt.Sprintf("image %s: %s (unknown images are denied)", ref, note), "", nil
	}
	return "", fmt.Sprintf("image %s: %s", ref, note), nil
}
