// Package server is `lockdown serve`: a JSON HTTP API that queues scans and
// audits, workers that run them under leases in a shared store (SQLite or
// PostgreSQL), an optional watch loop over the local Docker engine with
// signed webhooks for new findings, and Prometheus metrics on the server's
// own registry.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lockdown-sec/lockdown/internal/audit"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/scan"
	"github.com/lockdown-sec/lockdown/internal/server/store"
)

// Config configures a Server. Store and AdvisoryDB are required; every
// other zero value works.
type Config struct {
	Store *store.Store
	// AdvisoryDB is the path of the vulnerability database (vulndb). It is
	// re-opened when the file changes (`lockdown db update` swaps it).
	AdvisoryDB string

	// Token is the bearer token every request must carry; "" disables
	// authentication. It must be at least MinTokenBytes long unless
	// InsecureShortToken.
	Token              string
	InsecureShortToken bool
	// PublicMetrics and PublicHealth serve /metrics and /healthz, /readyz
	// without a token.
	PublicMetrics, PublicHealth bool
	// MaxBodyBytes bounds request bodies (0 means 64 KiB).
	MaxBodyBytes int64
	// AllowRegistries, when not empty, is the list of registry hosts that
	// registry: and bare references may name; others are refused (403).
	AllowRegistries []string
	// AllowLocalTargets permits dir:, docker-archive:, oci-archive: and
	// oci-dir: targets (paths on the server), refused by default.
	AllowLocalTargets bool

	// Workers is how many jobs this process runs at once (0 means 1).
	Workers int
	// Lease is how long a claimed job stays held without a heartbeat
	// (0 means 30s); heartbeats come every Lease/3.
	Lease time.Duration
	// Poll is how often idle workers look for queued jobs (0 means 1s).
	Poll time.Duration
	// Owner names this process in leases ("" means host-pid-random).
	Owner string
	// JobDelay makes every job wait this long before it runs (tests only).
	JobDelay time.Duration
	// JobTimeout bounds one run of a job (0 means DefaultJobTimeout): a
	// hostile image is failed at its deadline and the worker moves on.
	JobTimeout time.Duration

	// ScanOptions are the base options of every scan (platform, insecure
	// registries, layer cache); Tool, Meta and Logger are set per scan.
	ScanOptions scan.Options
	// DockerHost is the Docker Engine API URL for audits, harden jobs and
	// watch mode ("" means $DOCKER_HOST or the default socket).
	DockerHost string
	// HardenPrefix prefixes the names of harden jobs' throwaway
	// containers ("" means lockdown-harden-).
	HardenPrefix string

	// Watch runs the watch loop over the local Docker engine.
	Watch bool
	// WatchInterval is the watch period (0 means 5m).
	WatchInterval time.Duration
	// WebhookURL receives new-finding notifications in watch mode.
	WebhookURL string
	// WebhookSecret signs webhook bodies (HMAC-SHA256).
	WebhookSecret []byte
	// WebhookTimeout bounds one delivery attempt (0 means 10s).
	WebhookTimeout time.Duration

	// DBUpdate, when set with DBUpdateInterval, refreshes the advisory
	// database on that period (`lockdown db update` with the configured
	// sources); the new file is picked up by the next scan, and watch mode
	// rescans what is running. A failed update keeps the current database.
	DBUpdate         func(ctx context.Context) error
	DBUpdateInterval time.Duration

	// RetainImages, when positive, deletes the results (and reports) of
	// image digests not scanned within that period; RetainJobs, when
	// positive, deletes finished (done or failed) jobs older than that.
	// 0 keeps them forever. Pruning runs at start and every PruneInterval
	// (0 means 1h); it is idempotent, so every replica may run it.
	RetainImages, RetainJobs time.Duration
	PruneInterval            time.Duration

	// Enforcer, when set, keeps network policies enforced beside the API
	// (`serve --enforce`) and exports its metrics on /metrics.
	Enforcer Enforcer

	// MetricsTopVulns > 0 exports lockdown_top_vulnerability_images for
	// the N vulnerability IDs affecting the most images.
	MetricsTopVulns int
	// TLS, when set, serves the API over TLS (the admission webhook needs
	// it: the API server calls webhooks over HTTPS only). TLSFromFiles
	// builds one that reloads rotated certificates.
	TLS *tls.Config
	// Admission configures the admission webhook at /v1/admission; off
	// unless Admission.Enabled. With RequireClientCert the webhook answers
	// only callers that present a certificate TLS.ClientCAs verify (the
	// API server's, configured in its AdmissionConfiguration).
	Admission         Admission
	RequireClientCert bool

	// Version and GoVersion label lockdown_build_info.
	Version, GoVersion string

	Logger *slog.Logger
}

// Enforcer keeps network policies enforced (netpol's enforce.Enforcer):
// Run until the context ends; its metrics are collected with the
// server's.
type Enforcer interface {
	Run(ctx context.Context) error
	prometheus.Collector
}

// Server is the service. Create it with New, serve Handler, and run Run.
type Server struct {
	cfg Config
	log *slog.Logger
	st  *store.Store
	adb *advisoryDB
	// scanOpts are cfg.ScanOptions with the service's guards.
	scanOpts scan.Options
	reg      *prometheus.Registry
	m        *metrics
	handler  http.Handler
	owner    string
	wake     chan struct{}
	hook     *Notifier
	adm      *admissionState

	mu         sync.Mutex
	containers []containerState // watch mode: running containers
}

// New checks cfg and builds a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: no store")
	}
	if cfg.AdvisoryDB == "" {
		return nil, errors.New("server: no advisory database path")
	}
	if err := CheckToken(cfg.Token, cfg.InsecureShortToken); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{cfg: cfg, log: log, st: cfg.Store, wake: make(chan struct{}, 1)}
	// Scans read no path on the server unless local targets are allowed,
	// and reach registries through the guard against private addresses.
	s.scanOpts = cfg.ScanOptions
	s.scanOpts.RemoteOnly = !cfg.AllowLocalTargets
	if s.scanOpts.Transport == nil {
		s.scanOpts.Transport = registryTransport(cfg.AllowRegistries)
	}
	s.owner = cfg.Owner
	if s.owner == "" {
		host, _ := os.Hostname()
		var b [4]byte
		rand.Read(b[:])
		s.owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	adb, err := openAdvisoryDB(cfg.AdvisoryDB)
	if err != nil {
		return nil, err
	}
	s.adb = adb
	if cfg.WebhookURL != "" {
		n, err := NewNotifier(cfg.WebhookURL, cfg.WebhookSecret, NotifierOptions{Timeout: cfg.WebhookTimeout, Logger: log})
		if err != nil {
			adb.close()
			return nil, err
		}
		s.hook = n
	}
	if cfg.Admission.Enabled {
		pol, err := cfg.Admission.compile()
		if err != nil {
			adb.close()
			return nil, fmt.Errorf("admission: %w", err)
		}
		if cfg.TLS == nil {
			adb.close()
			return nil, errors.New("admission: the API server calls webhooks over HTTPS only: give a TLS certificate")
		}
		am := newAdmissionMetrics()
		s.adm = &admissionState{pol: pol, m: am, verdicts: newImageVerdicts(s.st, log, am), queued: map[string]time.Time{}}
	}
	s.reg = prometheus.NewRegistry()
	s.m = newMetrics(s)
	if err := s.m.register(s.reg); err != nil {
		adb.close()
		return nil, err
	}
	if s.adm != nil {
		if err := s.adm.m.register(s.reg); err != nil {
			adb.close()
			return nil, err
		}
	}
	if s.hook != nil {
		s.hook.deliveries = s.m.webhooks
	}
	if cfg.Enforcer != nil {
		if err := s.reg.Register(cfg.Enforcer); err != nil {
			adb.close()
			return nil, err
		}
	}
	s.handler = s.routes()
	return s, nil
}

// imagesChanged is called when this process stored or deleted image
// results: the admission webhook's cached verdicts are stale.
func (s *Server) imagesChanged() {
	if s.adm != nil {
		s.adm.verdicts.flush()
	}
}

// MinTokenBytes is the shortest API token New accepts without
// InsecureShortToken.
const MinTokenBytes = 16

// CheckToken refuses a token shorter than MinTokenBytes unless insecure
// ("" means no authentication, the caller's decision).
func CheckToken(token string, insecure bool) error {
	if token == "" || insecure || len(token) >= MinTokenBytes {
		return nil
	}
	return fmt.Errorf("the API token is %d bytes: use at least %d random bytes (e.g. openssl rand -hex 32), or --insecure-short-token", len(token), MinTokenBytes)
}

// Owner is the name this process holds leases under.
func (s *Server) Owner() string { return s.owner }

// Registry is the server's own Prometheus registry.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Handler is the HTTP API.
func (s *Server) Handler() http.Handler { return s.handler }

// Close releases the advisory database (not the store, which the caller
// owns).
func (s *Server) Close() error { return s.adb.close() }

// DefaultJobTimeout bounds a job when Config.JobTimeout is 0.
const DefaultJobTimeout = 30 * time.Minute

func (s *Server) jobTimeout() time.Duration {
	if s.cfg.JobTimeout > 0 {
		return s.cfg.JobTimeout
	}
	return DefaultJobTimeout
}

func (s *Server) lease() time.Duration {
	if s.cfg.Lease > 0 {
		return s.cfg.Lease
	}
	return 30 * time.Second
}

// Run serves the API on l and runs the workers (and the watch loop) until
// ctx is cancelled; then it stops taking requests and jobs, waits up to
// grace for running requests and jobs, and returns.
func (s *Server) Run(ctx context.Context, l net.Listener, grace time.Duration) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var wg sync.WaitGroup
	wg.Go(func() { s.runWorkers(ctx, workCtx) })
	if s.cfg.Watch {
		wg.Go(func() { s.watch(ctx) })
	}
	if s.cfg.Enforcer != nil {
		wg.Go(func() {
			if err := s.cfg.Enforcer.Run(ctx); err != nil {
				s.log.Error("network policy enforcement stopped; the ruleset last applied stays in force", "err", err)
			}
		})
	}
	if s.cfg.DBUpdate != nil && s.cfg.DBUpdateInterval > 0 {
		wg.Go(func() { s.updateDBLoop(ctx) })
	}
	if s.cfg.RetainImages > 0 || s.cfg.RetainJobs > 0 {
		wg.Go(func() { s.pruneLoop(ctx) })
	}
	if s.cfg.TLS != nil {
		l = tls.NewListener(l, s.cfg.TLS)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	s.log.Info("serving", "addr", l.Addr().String(), "store", s.st.Where(), "owner", s.owner)
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	if grace <= 0 {
		grace = 30 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		s.log.Warn("shutdown: requests still running", "err", err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-sctx.Done():
		stopWork() // running jobs are released for another replica
		<-done
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}

// scanReport runs one scan against the current advisory DB.
func (s *Server) scanReport(ctx context.Context, target string) (*model.Report, dbInfo, error) {
	db, info, release, err := s.adb.acquire()
	if err != nil {
		return nil, dbInfo{}, err
	}
	defer release()
	opts := s.scanOpts
	opts.Tool = s.tool()
	opts.Logger = s.log
	opts.Meta = map[string]string{
		"db":        info.Path,
		"dbBuilt":   info.Built.UTC().Format(time.RFC3339),
		"dbRecords": fmt.Sprint(info.Records),
	}
	start := time.Now()
	r, err := scan.Run(ctx, target, db, opts)
	s.m.observeScan(time.Since(start), err)
	if err == nil {
		// The report holds the warnings and what was not checked; the log
		// counts them once.
		unchecked, files := r.Unchecked()
		s.log.Info("scan done", "target", target, "packages", len(r.Packages), "findings", len(r.Findings),
			"packagesNotChecked", unchecked, "filesNotRead", files, "warnings", len(r.Warnings))
	}
	return r, info, err
}

func (s *Server) auditReport(ctx context.Context) (*model.Report, error) {
	eng, err := audit.NewEngine(s.cfg.DockerHost)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	return s.runAudit(ctx, eng)
}

// runAudit audits eng with the advisory DB as the source of the engine,
// containerd and runc version checks (without it they SKIP).
func (s *Server) runAudit(ctx context.Context, eng audit.Engine) (*model.Report, error) {
	cfg := audit.Config{Engine: eng, Tool: s.tool(), Logger: s.log}
	if db, _, release, err := s.adb.acquire(); err != nil {
		s.log.Warn("audit without the vulnerability database: the engine version checks will SKIP", "err", err)
	} else {
		defer release()
		cfg.Advisories = db
	}
	return audit.Run(ctx, cfg)
}

func (s *Server) tool() model.Tool {
	v := s.cfg.Version
	if v == "" {
		v = "dev"
	}
	return model.Tool{Name: "lockdown", Version: v}
}

// updateDBLoop runs cfg.DBUpdate every cfg.DBUpdateInterval until ctx ends.
func (s *Server) updateDBLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.DBUpdateInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.cfg.DBUpdate(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("scheduled vulnerability database update failed; keeping the current database", "err", err)
			continue
		}
		if info, err := s.adb.info(); err == nil {
			s.log.Info("vulnerability database updated", "built", info.Built, "records", info.Records)
		}
	}
}

// pruneLoop applies the retention periods at once and then every
// PruneInterval until ctx ends. Each prune is a DELETE … WHERE on a cutoff,
// so replicas sharing a store may prune at the same time.
func (s *Server) pruneLoop(ctx context.Context) {
	every := s.cfg.PruneInterval
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.prune(ctx, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// prune deletes what the retention periods no longer keep at now.
func (s *Server) prune(ctx context.Context, now time.Time) {
	if d := s.cfg.RetainImages; d > 0 {
		n, err := s.st.PruneImages(ctx, now.Add(-d))
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("pruning old image results failed", "retain", d, "err", err)
		case n > 0:
			s.imagesChanged()
			s.log.Info("pruned image results", "deleted", n, "notScannedWithin", d)
		}
	}
	if d := s.cfg.RetainJobs; d > 0 {
		n, err := s.st.PruneJobs(ctx, now.Add(-d))
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("pruning finished jobs failed", "retain", d, "err", err)
		case n > 0:
			s.log.Info("pruned finished jobs", "deleted", n, "finishedMoreThan", d)
		}
	}
}
