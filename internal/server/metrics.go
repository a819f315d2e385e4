package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/server/store"
)

// The metric contract shared with deploy/ (Grafana, alert rules).
const (
	mBuildInfo         = "lockdown_build_info"
	mImageVulns        = "lockdown_image_vulnerabilities"
	mContainerVulns    = "lockdown_container_vulnerabilities"
	mAuditResults      = "lockdown_audit_results"
	mAuditScore        = "lockdown_audit_score_ratio"
	mScansTotal        = "lockdown_scans_total"
	mScanDuration      = "lockdown_scan_duration_seconds"
	mJobs              = "lockdown_jobs"
	mDBAge             = "lockdown_db_age_seconds"
	mDBBuilt           = "lockdown_db_built_timestamp_seconds"
	mDBRecords         = "lockdown_db_records"
	mWebhookDeliveries = "lockdown_webhook_deliveries_total"
	mTopVulnImages     = "lockdown_top_vulnerability_images"
	mImagePackages     = "lockdown_image_packages"
	mImageUnchecked    = "lockdown_image_packages_unchecked"
	mImageUnreadable   = "lockdown_image_package_files_unreadable"

	// The admission webhook's (serve --admission only).
	mAdmissionDecisions = "lockdown_admission_decisions_total"
	mAdmissionDuration  = "lockdown_admission_duration_seconds"
	mAdmissionQueued    = "lockdown_admission_scans_queued_total"
	mAdmissionLookups   = "lockdown_admission_image_lookups_total"
)

// Admission decision results and reason classes (the labels of
// lockdown_admission_decisions_total). A decision's reason is the class of
// its first reason (denied) or warning (warned).
const (
	resultAllowed = "allowed"
	resultWarned  = "warned"
	resultDenied  = "denied"
	resultError   = "error"

	reasonNone            = "none"    // allowed: checked, nothing found
	reasonExempt          = "exempt"  // allowed: an exempt namespace
	reasonSkipped         = "skipped" // allowed: DELETE, CONNECT, a subresource, a kind without pods
	reasonPSS             = "pss"     // a Pod Security Standards control
	reasonPolicy          = "policy"  // another lint rule of the policy
	reasonVulnerabilities = "vulnerabilities"
	reasonUnknownImage    = "unknown_image" // no scan yet
	reasonMalformed       = "malformed"     // 400
	reasonOversize        = "oversize"      // 413
	reasonUnauthorized    = "unauthorized"  // 401: no verified client certificate
	reasonInternal        = "internal"      // 500: the store failed
)

// admissionReasons are the reasons each result can have: every pair is
// exported from the start (at 0), and no other.
var admissionReasons = map[string][]string{
	resultAllowed: {reasonNone, reasonExempt, reasonSkipped},
	resultWarned:  {reasonPSS, reasonPolicy, reasonUnknownImage},
	resultDenied:  {reasonPSS, reasonPolicy, reasonVulnerabilities, reasonUnknownImage},
	resultError:   {reasonMalformed, reasonOversize, reasonUnauthorized, reasonInternal},
}

// AdmissionDurationBuckets are the admission latency histogram's buckets,
// 0.5 ms..5 s (the webhook's timeoutSeconds).
var AdmissionDurationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// admissionMetrics are the webhook's decisions, their latency, the scans
// it queued and where image verdicts came from.
type admissionMetrics struct {
	decisions                  *prometheus.CounterVec
	duration                   prometheus.Histogram
	queued                     prometheus.Counter
	cacheLookups, storeLookups prometheus.Counter
	lookups                    *prometheus.CounterVec
}

func newAdmissionMetrics() *admissionMetrics {
	m := &admissionMetrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: mAdmissionDecisions,
			Help: "Admission reviews answered, by result (allowed, warned, denied, error) and reason class (of the first reason or warning)."}, []string{"result", "reason"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: mAdmissionDuration,
			Help: "Time from reading an admission review's headers to writing its answer (TLS handshakes and queueing before the handler are not included).", Buckets: AdmissionDurationBuckets}),
		queued: prometheus.NewCounter(prometheus.CounterOpts{Name: mAdmissionQueued,
			Help: "Scans the admission webhook queued for images it had no scan of."}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{Name: mAdmissionLookups,
			Help: "Image verdicts the admission webhook looked up, by source (cache, or store on a miss)."}, []string{"source"}),
	}
	for result, reasons := range admissionReasons {
		for _, reason := range reasons {
			m.decisions.WithLabelValues(result, reason)
		}
	}
	m.cacheLookups, m.storeLookups = m.lookups.WithLabelValues("cache"), m.lookups.WithLabelValues("store")
	return m
}

func (m *admissionMetrics) register(reg *prometheus.Registry) error {
	for _, c := range []prometheus.Collector{m.decisions, m.duration, m.queued, m.lookups} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// observe counts one decision.
func (m *admissionMetrics) observe(result, reason string, took time.Duration) {
	m.decisions.WithLabelValues(result, reason).Inc()
	m.duration.Observe(took.Seconds())
}

// errorReason is the reason class of an error answer.
func errorReason(err error) string {
	var he *httpError
	if errors.As(err, &he) {
		switch he.code {
		case http.StatusBadRequest:
			return reasonMalformed
		case http.StatusRequestEntityTooLarge:
			return reasonOversize
		case http.StatusUnauthorized:
			return reasonUnauthorized
		}
	}
	return reasonInternal
}

// ScanDurationBuckets are the scan duration histogram's buckets, 0.05..120 s.
var ScanDurationBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

type metrics struct {
	s        *Server
	build    *prometheus.GaugeVec
	scans    *prometheus.CounterVec
	duration prometheus.Histogram
	webhooks *prometheus.CounterVec

	imageVulns, containerVulns, auditResults, auditScore *prometheus.Desc
	jobs, dbAge, dbBuilt, dbRecords, topVulns            *prometheus.Desc
	imagePkgs, imageUnchecked, imageUnreadable           *prometheus.Desc

	auditMu    sync.Mutex
	auditAt    time.Time
	auditCache auditSummary
}

type auditSummary struct {
	counts map[[3]string]int // check, status, scope
	score  float64
	ok     bool
}

func newMetrics(s *Server) *metrics {
	m := &metrics{s: s}
	m.build = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: mBuildInfo, Help: "Build information of the running lockdown server; always 1."}, []string{"version", "goversion"})
	m.scans = prometheus.NewCounterVec(prometheus.CounterOpts{Name: mScansTotal, Help: "Image scans finished by this process, by result (success or error)."}, []string{"result"})
	m.duration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: mScanDuration, Help: "Duration of image scans run by this process.", Buckets: ScanDurationBuckets})
	m.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: mWebhookDeliveries, Help: "Webhook deliveries by final result (success or error, after retries)."}, []string{"result"})
	for _, r := range []string{"success", "error"} {
		m.scans.WithLabelValues(r)
		m.webhooks.WithLabelValues(r)
	}
	ver, gover := s.cfg.Version, s.cfg.GoVersion
	if ver == "" {
		ver = "dev"
	}
	if gover == "" {
		gover = runtime.Version()
	}
	m.build.WithLabelValues(ver, gover).Set(1)
	m.imageVulns = prometheus.NewDesc(mImageVulns, "Findings (not suppressed) of the latest scan of each image reference, at the digest it was last scanned at, by severity.", []string{"image", "digest", "severity"}, nil)
	m.imagePkgs = prometheus.NewDesc(mImagePackages, "Packages found by the latest scan of each image reference, at the digest it was last scanned at.", []string{"image", "digest"}, nil)
	m.imageUnchecked = prometheus.NewDesc(mImageUnchecked, "Packages of the latest scan of each image reference that were not checked against the advisories (no advisories for their ecosystem or release, unknown ecosystem, unparsable version): its zero vulnerabilities do not cover them.", []string{"image", "digest"}, nil)
	m.imageUnreadable = prometheus.NewDesc(mImageUnreadable, "Package databases, lock files or executables of the latest scan of each image reference that could not be read (corrupt, truncated): the packages they list are unknown and were not checked.", []string{"image", "digest"}, nil)
	m.containerVulns = prometheus.NewDesc(mContainerVulns, "Findings (not suppressed) of the image of each running container (watch mode), by severity.", []string{"container", "image", "severity"}, nil)
	m.auditResults = prometheus.NewDesc(mAuditResults, "Results of the latest audit, by check ID, status and scope.", []string{"check", "status", "scope"}, nil)
	m.auditScore = prometheus.NewDesc(mAuditScore, "PASS/(PASS+FAIL+WARN) of the latest audit.", nil, nil)
	m.jobs = prometheus.NewDesc(mJobs, "Jobs in the store by state.", []string{"state"}, nil)
	m.dbAge = prometheus.NewDesc(mDBAge, "Age of the advisory database.", nil, nil)
	m.dbBuilt = prometheus.NewDesc(mDBBuilt, "When the advisory database was built, as a Unix timestamp.", nil, nil)
	m.dbRecords = prometheus.NewDesc(mDBRecords, "Advisory records in the database by ecosystem.", []string{"ecosystem"}, nil)
	m.topVulns = prometheus.NewDesc(mTopVulnImages, "Images affected by each of the most widespread vulnerability IDs (opt-in).", []string{"id", "severity"}, nil)
	return m
}

func (m *metrics) register(reg *prometheus.Registry) error {
	for _, c := range []prometheus.Collector{m.build, m.scans, m.duration, m.webhooks, m} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *metrics) observeScan(d time.Duration, err error) {
	m.duration.Observe(d.Seconds())
	if err != nil {
		m.scans.WithLabelValues("error").Inc()
		return
	}
	m.scans.WithLabelValues("success").Inc()
}

// Describe sends the descriptors of the store-derived metrics.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.imageVulns, m.imagePkgs, m.imageUnchecked, m.imageUnreadable, m.containerVulns, m.auditResults, m.auditScore, m.jobs, m.dbAge, m.dbBuilt, m.dbRecords, m.topVulns} {
		ch <- d
	}
}

// Collect reads the store at scrape time, so every replica sharing a
// PostgreSQL store exports the same picture. Image series come from each
// image reference's latest scan only (store.LatestImages): a tag that
// moved to a new digest stops exporting the old digest, so the series
// count follows the images in use, not every digest ever scanned; the
// top-N vulnerabilities count the same images.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := m.s
	if imgs, err := s.st.LatestImages(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(m.imageVulns, err)
	} else {
		for _, im := range imgs {
			for _, sev := range store.Severities {
				ch <- prometheus.MustNewConstMetric(m.imageVulns, prometheus.GaugeValue, float64(im.Counts[sev]), im.Image, im.Digest, sev)
			}
			ch <- prometheus.MustNewConstMetric(m.imagePkgs, prometheus.GaugeValue, float64(im.Packages.Total), im.Image, im.Digest)
			ch <- prometheus.MustNewConstMetric(m.imageUnchecked, prometheus.GaugeValue, float64(im.Packages.Unchecked), im.Image, im.Digest)
			ch <- prometheus.MustNewConstMetric(m.imageUnreadable, prometheus.GaugeValue, float64(im.Packages.UnreadableFiles), im.Image, im.Digest)
		}
		if n := s.cfg.MetricsTopVulns; n > 0 {
			for _, tv := range topVulns(imgs, n) {
				ch <- prometheus.MustNewConstMetric(m.topVulns, prometheus.GaugeValue, float64(tv.images), tv.id, tv.severity)
			}
		}
	}
	s.mu.Lock()
	ctrs := s.containers
	s.mu.Unlock()
	for _, c := range ctrs {
		for _, sev := range store.Severities {
			ch <- prometheus.MustNewConstMetric(m.containerVulns, prometheus.GaugeValue, float64(c.Counts[sev]), c.Name, c.Image, sev)
		}
	}
	if a, err := m.latestAudit(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(m.auditResults, err)
	} else if a.ok {
		keys := make([][3]string, 0, len(a.counts))
		for k := range a.counts {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return strings.Join(keys[i][:], "\x00") < strings.Join(keys[j][:], "\x00") })
		for _, k := range keys {
			ch <- prometheus.MustNewConstMetric(m.auditResults, prometheus.GaugeValue, float64(a.counts[k]), k[0], k[1], k[2])
		}
		ch <- prometheus.MustNewConstMetric(m.auditScore, prometheus.GaugeValue, a.score)
	}
	if counts, err := s.st.JobCounts(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(m.jobs, err)
	} else {
		for _, st := range store.States {
			ch <- prometheus.MustNewConstMetric(m.jobs, prometheus.GaugeValue, float64(counts[st]), st)
		}
	}
	if info, err := s.adb.info(); err == nil || !info.Built.IsZero() {
		if !info.Built.IsZero() {
			ch <- prometheus.MustNewConstMetric(m.dbAge, prometheus.GaugeValue, time.Since(info.Built).Seconds())
			ch <- prometheus.MustNewConstMetric(m.dbBuilt, prometheus.GaugeValue, float64(info.Built.UnixNano())/1e9)
		}
		for _, e := range info.Ecosystems {
			ch <- prometheus.MustNewConstMetric(m.dbRecords, prometheus.GaugeValue, float64(e.Records), e.Name)
		}
	}
}

// latestAudit summarises the newest audit report, cached by its time.
func (m *metrics) latestAudit(ctx context.Context) (auditSummary, error) {
	b, at, err := m.s.st.LatestAudit(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return auditSummary{}, nil
	}
	if err != nil {
		return auditSummary{}, err
	}
	m.auditMu.Lock()
	defer m.auditMu.Unlock()
	if at.Equal(m.auditAt) && m.auditCache.ok {
		return m.auditCache, nil
	}
	var r model.Report
	if err := json.Unmarshal(b, &r); err != nil {
		return auditSummary{}, err
	}
	m.auditAt, m.auditCache = at, summariseAudit(&r)
	return m.auditCache, nil
}

// summariseAudit counts results per check, status and scope, and the
// score PASS/(PASS+FAIL+WARN).
func summariseAudit(r *model.Report) auditSummary {
	a := auditSummary{counts: map[[3]string]int{}, ok: true}
	var pass, scored int
	for _, f := range r.Findings {
		a.counts[[3]string{f.RuleID, strings.ToLower(f.Status), f.Scope}]++
		switch f.Status {
		case model.StatusPass:
			pass++
			scored++
		case model.StatusFail, model.StatusWarn:
			scored++
		}
	}
	if scored > 0 {
		a.score = float64(pass) / float64(scored)
	}
	return a
}

type topVuln struct {
	id, severity string
	images       int
}

// topVulns are the n vulnerability IDs in the most images (ties by ID).
func topVulns(imgs []store.ImageResult, n int) []topVuln {
	by := map[string]*topVuln{}
	for _, im := range imgs {
		for _, v := range im.Vulns {
			t := by[v.ID]
			if t == nil {
				t = &topVuln{id: v.ID, severity: v.Severity}
				by[v.ID] = t
			}
			t.images++
		}
	}
	out := make([]topVuln, 0, len(by))
	for _, t := range by {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].images != out[j].images {
			return out[i].images > out[j].images
		}
		return out[i].id < out[j].id
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}
