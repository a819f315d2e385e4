package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
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
	// rules are the Kubernetes rules by ID: how a reason names each and
	// its reason class (metrics).
	rules map[string]ruleName
}

type ruleName struct{ name, class string }

// kubernetesRuleNames names every Kubernetes rule as the webhook's reasons
// do: a PSS control by its title, another rule by ID and title.
func kubernetesRuleNames() map[string]ruleName {
	out := map[string]ruleName{}
	for _, r := range rule.All() {
		if r.Scope != rule.ScopeKubernetes {
			continue
		}
		if r.PSS != "" {
			out[r.ID] = ruleName{r.Title, reasonPSS}
		} else {
			out[r.ID] = ruleName{r.ID + " " + r.Title, reasonPolicy}
		}
	}
	return out
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
	p := &admissionPolicy{byNS: map[string][2]map[string]bool{}, exemptNS: a.ExemptNamespaces, exemptImg: a.ExemptImages, maxBody: a.MaxBodyBytes,
		rules: kubernetesRuleNames()}
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

// admissionState is the webhook's policy, its cache of image verdicts,
// its memory of scans it queued (so that a burst of reviews for one new
// image queues one scan), and its metrics.
type admissionState struct {
	pol      *admissionPolicy
	verdicts *imageVerdicts
	m        *admissionMetrics
	mu       sync.Mutex
	queued   map[string]time.Time
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

// reviewRequest is the part of an AdmissionReview v1 the webhook reads:
// userInfo, oldObject and options are skipped unread.
type reviewRequest struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Request    *admissionRequest `json:"request"`
}

type admissionRequest struct {
	UID  types.UID `json:"uid"`
	Kind struct {
		Kind string `json:"kind"`
	} `json:"kind"`
	SubResource string                `json:"subResource"`
	Name        string                `json:"name"`
	Namespace   string                `json:"namespace"`
	Operation   admissionv1.Operation `json:"operation"`
	Object      json.RawMessage       `json:"object"`
	DryRun      *bool                 `json:"dryRun"`
}

// reviewResponse is the AdmissionReview v1 the webhook answers.
type reviewResponse struct {
	APIVersion string                         `json:"apiVersion"`
	Kind       string                         `json:"kind"`
	Response   *admissionv1.AdmissionResponse `json:"response"`
}

// serveAdmission answers an AdmissionReview v1 and counts the decision.
func (s *Server) serveAdmission(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	result, reason, err := s.postAdmission(w, r)
	if err != nil {
		s.writeError(w, r, err)
		result, reason = resultError, errorReason(err)
	}
	s.adm.m.observe(result, reason, time.Since(start))
}

// readReview reads a request body of at most limit bytes: 413 over it.
func readReview(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errorf(http.StatusRequestEntityTooLarge, "AdmissionReview is over the limit of %d bytes", limit)
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	if r.ContentLength > 0 {
		// The usual case: one read of the announced length.
		buf := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(body, buf); err != nil {
			return nil, errorf(http.StatusBadRequest, "read AdmissionReview: %v", err)
		}
		return buf, nil
	}
	b, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errorf(http.StatusRequestEntityTooLarge, "AdmissionReview is over the limit of %d bytes", mbe.Limit)
		}
		return nil, errorf(http.StatusBadRequest, "read AdmissionReview: %v", err)
	}
	return b, nil
}

// postAdmission answers one review: its result and reason class, or an
// error for writeError.
func (s *Server) postAdmission(w http.ResponseWriter, r *http.Request) (result, reason string, err error) {
	a := s.adm
	if s.cfg.RequireClientCert && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
		return "", "", errorf(http.StatusUnauthorized, "a verified client certificate is required")
	}
	body, err := readReview(w, r, a.pol.maxBody)
	if err != nil {
		return "", "", err
	}
	var review reviewRequest
	if err := json.Unmarshal(body, &review); err != nil {
		return "", "", errorf(http.StatusBadRequest, "malformed AdmissionReview: %v", err)
	}
	if review.APIVersion != "admission.k8s.io/v1" || review.Kind != "AdmissionReview" {
		return "", "", errorf(http.StatusBadRequest, "malformed AdmissionReview: apiVersion %q, kind %q: want admission.k8s.io/v1 AdmissionReview", review.APIVersion, review.Kind)
	}
	req := review.Request
	if req == nil {
		return "", "", errorf(http.StatusBadRequest, "malformed AdmissionReview: no request")
	}
	if req.UID == "" {
		return "", "", errorf(http.StatusBadRequest, "malformed AdmissionReview: request.uid is empty")
	}
	if string(req.Object) == "null" {
		req.Object = nil
	}
	in := admissionInput{kind: req.Kind.Kind, subResource: req.SubResource, name: req.Name, namespace: req.Namespace,
		operation: req.Operation, object: req.Object, dryRun: req.DryRun != nil && *req.DryRun}
	resp, reason, err := s.admit(r.Context(), in)
	if err != nil {
		return "", "", err
	}
	resp.UID = req.UID
	switch {
	case !resp.Allowed:
		result = resultDenied
	case len(resp.Warnings) > 0:
		result = resultWarned
	default:
		result = resultAllowed
	}
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.Debug("admission", "uid", req.UID, "kind", in.kind, "namespace", in.namespace, "name", in.name,
			"result", result, "reason", reason)
	}
	return result, reason, writeJSON(w, http.StatusOK, reviewResponse{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview", Response: resp})
}

// admissionInput is what a decision reads of a review.
type admissionInput struct {
	kind, subResource, name, namespace string
	operation                          admissionv1.Operation
	object                             []byte
	dryRun                             bool
}

// admit decides one request, with the reason class of its decision (the
// class of the first reason or warning). An object it cannot decode is a
// 400.
func (s *Server) admit(ctx context.Context, req admissionInput) (*admissionv1.AdmissionResponse, string, error) {
	a := s.adm
	allow := &admissionv1.AdmissionResponse{Allowed: true}
	switch {
	case req.operation == admissionv1.Delete || req.operation == admissionv1.Connect:
		return allow, reasonSkipped, nil
	case req.subResource != "" && req.subResource != "ephemeralcontainers":
		return allow, reasonSkipped, nil
	case slices.Contains(a.pol.exemptNS, req.namespace):
		return allow, reasonExempt, nil
	}
	if len(req.object) == 0 {
		return nil, "", errorf(http.StatusBadRequest, "malformed AdmissionReview: request.object is empty for %s", req.operation)
	}
	wl, ok, err := kube.Decode(req.kind, req.object)
	if err != nil {
		return nil, "", errorf(http.StatusBadRequest, "malformed AdmissionReview: request.object: %v", err)
	}
	if !ok {
		return allow, reasonSkipped, nil // not a kind that holds a pod
	}
	if wl.Namespace == "" {
		wl.Namespace = req.namespace
	}
	if wl.Name == "" {
		wl.Name = req.name
	}
	deny, warn := a.pol.deny, a.pol.warn
	if s, ok := a.pol.byNS[wl.Namespace]; ok {
		deny, warn = s[0], s[1]
	}
	var reasons, warnings []string
	var denyClass, warnClass string
	note := func(class *string, c string) {
		if *class == "" {
			*class = c
		}
	}
	for _, h := range kube.CheckPod(wl.Pod()) {
		rn := a.pol.rules[h.ID]
		switch {
		case deny[h.ID]:
			reasons = append(reasons, rn.name+" ("+h.Evidence+")")
			note(&denyClass, rn.class)
		case warn[h.ID]:
			warnings = append(warnings, clip(rn.name+": "+h.Evidence))
			note(&warnClass, rn.class)
		}
	}
	seen := map[string]bool{}
	for _, c := range allContainers(wl) {
		if c == "" || seen[c] || exemptImage(a.pol.exemptImg, c) {
			continue
		}
		seen[c] = true
		d, err := s.imageDecision(ctx, c, req.dryRun)
		if err != nil {
			return nil, "", err
		}
		if d.reason != "" {
			reasons = append(reasons, d.reason)
			note(&denyClass, d.class)
		}
		if d.warning != "" {
			warnings = append(warnings, clip(d.warning))
			note(&warnClass, d.class)
		}
	}
	resp := &admissionv1.AdmissionResponse{Allowed: len(reasons) == 0, Warnings: warnings}
	if !resp.Allowed {
		resp.Result = &metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden,
			Message: fmt.Sprintf("lockdown denied %s: %s", wl.ID(), strings.Join(reasons, "; ")),
		}
		return resp, denyClass, nil
	}
	if warnClass != "" {
		return resp, warnClass, nil
	}
	return resp, reasonNone, nil
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

// imageVerdict is what an image adds to a decision: a denial reason or a
// warning, and its reason class.
type imageVerdict struct{ reason, warning, class string }

// imageDecision looks up ref's latest scan (store.LatestImageFor: under
// any equivalent name, or by digest): a denial reason when it has findings
// at or above FailOn, a warning when it is unknown (and a scan is queued
// unless dryRun).
func (s *Server) imageDecision(ctx context.Context, ref string, dryRun bool) (imageVerdict, error) {
	pol := s.adm.pol
	res, found, err := s.adm.verdicts.lookup(ctx, ref)
	if err != nil {
		return imageVerdict{}, err
	}
	if found {
		if !pol.scanDeny {
			return imageVerdict{}, nil
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
			return imageVerdict{}, nil
		}
		return imageVerdict{class: reasonVulnerabilities, reason: fmt.Sprintf("image %s (%s, scanned %s) has %s vulnerabilities at or above %s",
			ref, res.Digest, res.ScannedAt.UTC().Format(time.RFC3339), strings.Join(parts, ", "), strings.ToLower(pol.failOn.String()))}, nil
	}
	note := "no scan yet"
	switch {
	case dryRun:
		note += " (dry run: no scan queued)"
	case CheckTarget(ref, s.cfg.AllowRegistries, false) != nil:
		note += " and its registry is not allowed (--allow-registry): no scan queued"
	case s.adm.shouldQueue(store.CanonicalRef(ref), time.Now()):
		j, err := s.st.Enqueue(ctx, store.KindScan, ref, ref)
		if err != nil {
			return imageVerdict{}, err
		}
		s.kick()
		s.adm.m.queued.Inc()
		note += "; scan " + j.ID + " queued"
	default:
		note += "; a scan is queued"
	}
	if pol.unknownDeny {
		return imageVerdict{class: reasonUnknownImage, reason: fmt.Sprintf("image %s: %s (unknown images are denied)", ref, note)}, nil
	}
	return imageVerdict{class: reasonUnknownImage, warning: fmt.Sprintf("image %s: %s", ref, note)}, nil
}
