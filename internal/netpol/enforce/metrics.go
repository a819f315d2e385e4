package enforce

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names (with deploy/'s alert rules and dashboard).
const (
	MetricPolicyPackets = "lockdown_policy_packets_total"
	MetricPolicyDrift   = "lockdown_policy_drift"
	MetricDriftRepairs  = "lockdown_policy_drift_repairs_total"
	MetricPolicyRules   = "lockdown_policy_rules"
	MetricEndpoints     = "lockdown_policy_endpoints"
)

// statusTTL bounds how often a scrape reads the table from the kernel.
const statusTTL = 5 * time.Second

var (
	descPackets   = prometheus.NewDesc(MetricPolicyPackets, "Packets matched by each policy rule, end of tier and default deny in force (policy key, \"profile:NAME\", \"tier:NAME\" or \"default\"; rule DIRECTION/INDEX, DIRECTION/end-of-tier or DIRECTION/default; action Allow, Deny, Pass or Log). Reset when the table is applied anew.", []string{"policy", "rule", "action"}, nil)
	descDrift     = prometheus.NewDesc(MetricPolicyDrift, "1 while Lockdown's table differs from what it applied (edited or deleted by someone else) and is not yet restored.", nil, nil)
	descRepairs   = prometheus.NewDesc(MetricDriftRepairs, "Times the table was found edited or deleted and applied again.", nil, nil)
	descRules     = prometheus.NewDesc(MetricPolicyRules, "nftables rules of Lockdown's table(s) in force.", nil, nil)
	descEndpoints = prometheus.NewDesc(MetricEndpoints, "Endpoints (containers, pods, host endpoints) the ruleset in force covers.", nil, nil)
)

type enforcerMetrics struct {
	mu        sync.Mutex
	repairs   float64
	drift     string
	endpoints int
	statusAt  time.Time
	status    *Status
}

func (m *enforcerMetrics) observe(ev Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch ev.Kind {
	case "drift-repaired":
		m.repairs++
	case UpdateApplied, UpdateSets, UpdateUnchanged:
		m.endpoints = ev.Endpoint
	}
	m.statusAt = time.Time{} // the next scrape reads the table again
}

func (m *enforcerMetrics) setDrift(d string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.drift = d
}

// Describe sends the descriptors of the enforcement metrics.
func (e *Enforcer) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPackets, descDrift, descRepairs, descRules, descEndpoints} {
		ch <- d
	}
}

// Collect reads the table's counters (at most every few seconds).
func (e *Enforcer) Collect(ch chan<- prometheus.Metric) {
	m := &e.m
	m.mu.Lock()
	st, fresh := m.status, time.Since(m.statusAt) < statusTTL
	m.mu.Unlock()
	if !fresh {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := e.Applier.Status(ctx)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(descPackets, err)
			return
		}
		st = s
		m.mu.Lock()
		m.status, m.statusAt = s, time.Now()
		m.mu.Unlock()
	}
	m.mu.Lock()
	drift, repairs, endpoints := m.drift, m.repairs, m.endpoints
	m.mu.Unlock()
	if drift == DriftNone && st.Drift != DriftNone && st.Drift != DriftNotFound {
		drift = st.Drift
	}
	sums := map[[3]string]float64{}
	var keys [][3]string
	for _, c := range st.Counters {
		k := [3]string{c.Policy, c.Direction + "/" + c.Rule, c.Action}
		if _, ok := sums[k]; !ok {
			keys = append(keys, k)
		}
		sums[k] += float64(c.Packets)
	}
	for _, k := range keys {
		ch <- prometheus.MustNewConstMetric(descPackets, prometheus.CounterValue, sums[k], k[0], k[1], k[2])
	}
	d := 0.0
	if drift != DriftNone {
		d = 1
	}
	ch <- prometheus.MustNewConstMetric(descDrift, prometheus.GaugeValue, d)
	ch <- prometheus.MustNewConstMetric(descRepairs, prometheus.CounterValue, repairs)
	ch <- prometheus.MustNewConstMetric(descRules, prometheus.GaugeValue, float64(st.Counts.Rules))
	ch <- prometheus.MustNewConstMetric(descEndpoints, prometheus.GaugeValue, float64(endpoints))
}

var _ prometheus.Collector = (*Enforcer)(nil)
