//go:build !scanonly

package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/netpol/dockerep"
	"github.com/lockdown-sec/lockdown/internal/netpol/enforce"
	"github.com/lockdown-sec/lockdown/internal/server"
	"github.com/lockdown-sec/lockdown/internal/server/store"
	"github.com/lockdown-sec/lockdown/internal/vulndb"
)

// testJobDelayEnv makes every job wait before it runs: a test-only hook,
// read only when set.
const testJobDelayEnv = "LOCKDOWN_TEST_JOB_DELAY"

type serveFlags struct {
	tf                 targetFlags
	listen             string
	dbPath             string
	dbSources          []string
	dbURL              string
	tokenFile          string
	noAuth             bool
	insecureShortToken bool
	publicMetrics      bool
	publicHealth       bool
	maxBody            int64
	allowRegistries    []string
	allowLocal         bool
	workers            int
	lease, poll, grace time.Duration
	jobTimeout         time.Duration
	watchDocker        bool
	watchInterval      time.Duration
	dbUpdateInterval   time.Duration
	webhookURL         string
	webhookSecretFile  string
	webhookTimeout     time.Duration
	topVulns           int
	retainImages       time.Duration
	retainJobs         time.Duration
	dockerHost         string
	owner              string
	enforce            []string
	enforceFlags       enforceFlags
	enforceResync      time.Duration
	tlsCert, tlsKey    string
	tlsClientCA        string
	admission          bool
	admissionPolicy    string
	admissionLevel     string
	admissionWarnLevel string
	admissionFailOn    string
	admissionUnknown   string
}

func newServeCmd(g *globals) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the monitoring service: scan/audit API, watch mode, webhooks, Prometheus metrics",
		Long: `Serve a JSON HTTP API (see /openapi.yaml) that queues image scans and Docker
engine audits and keeps their latest results, with Prometheus metrics at
/metrics.

Every request needs "Authorization: Bearer TOKEN" (token from --token-file or
$LOCKDOWN_TOKEN) unless --no-auth; --public-metrics and --public-health open
/metrics and /healthz, /readyz.

Jobs live in SQLite (default, a file under the user cache dir) or in PostgreSQL
(--db-url postgres://…), where several replicas share the queue: each job is
claimed with FOR UPDATE SKIP LOCKED and held by a lease that its worker renews;
a job whose replica died is retried when the lease expires. Every hour (and at
start) results of images not scanned within --retain-images and finished jobs
older than --retain-jobs are deleted; /metrics exports each image reference's
latest digest only.

--watch-docker audits the local engine and scans the image of every running
container every --watch-interval, rescans them all when the advisory database
is updated, and POSTs new findings to --webhook-url, signed with
X-Lockdown-Signature: sha256=HMAC-SHA256(body, --webhook-secret-file).

--enforce POLICIES keeps those network policies enforced on this host with nftables, as
"lockdown netpol apply --from-docker --watch" does (it needs root): Docker events update the
sets, and every --enforce-resync the table is checked and applied again if someone edited or
deleted it. /metrics then exports lockdown_policy_packets_total{policy,rule,action},
lockdown_policy_drift and lockdown_policy_drift_repairs_total.`,
		Example: `  LOCKDOWN_TOKEN=$(openssl rand -hex 32) lockdown serve --listen 127.0.0.1:8080
  lockdown serve --token-file /run/secrets/token --db-url postgres://lockdown@db/lockdown --allow-registry registry.example.com
  lockdown serve --token-file token --watch-docker --webhook-url https://hooks.example.com/lockdown --webhook-secret-file secret`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return g.runServe(cmd, &f) },
	}
	f.tf.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8080", "listen on `HOST:PORT`")
	fl.StringVar(&f.dbPath, "db", "", "vulnerability database `PATH` (default: the user cache dir's lockdown/db/lockdown.db)")
	fl.StringArrayVar(&f.dbSources, "db-source", nil, "when the vulnerability database is missing, build it from this `URL|DIR|ZIP` (repeatable)")
	fl.StringVar(&f.dbURL, "db-url", "", "job and result store `URL`: sqlite:///PATH or postgres://… (default: sqlite under the user cache dir)")
	fl.StringVar(&f.tokenFile, "token-file", "", "read the API bearer token from `FILE` (else $LOCKDOWN_TOKEN)")
	fl.BoolVar(&f.noAuth, "no-auth", false, "serve without authentication (only for a trusted network)")
	fl.BoolVar(&f.insecureShortToken, "insecure-short-token", false, fmt.Sprintf("accept an API token shorter than %d bytes", server.MinTokenBytes))
	fl.BoolVar(&f.publicMetrics, "public-metrics", false, "serve /metrics without a token")
	fl.BoolVar(&f.publicHealth, "public-health", false, "serve /healthz and /readyz without a token")
	fl.Int64Var(&f.maxBody, "max-body", server.DefaultMaxBodyBytes, "largest request body in `BYTES`")
	fl.StringSliceVar(&f.allowRegistries, "allow-registry", nil, "scan registry images only from these `HOST[:PORT]`s (default: any)")
	fl.BoolVar(&f.allowLocal, "allow-local-targets", false, "allow dir:, docker-archive:, oci-archive: and oci-dir: targets (paths on this server)")
	fl.IntVar(&f.workers, "workers", 1, "jobs this process runs at once")
	fl.DurationVar(&f.lease, "lease", 30*time.Second, "job lease; a job whose worker stops renewing it is retried after this")
	fl.DurationVar(&f.poll, "poll", time.Second, "how often idle workers look for jobs")
	fl.DurationVar(&f.grace, "shutdown-grace", 30*time.Second, "on SIGTERM, wait this long for requests and jobs")
	fl.DurationVar(&f.jobTimeout, "job-timeout", server.DefaultJobTimeout, "fail a job that runs longer than `DURATION` (a hostile image cannot hold a worker)")
	fl.BoolVar(&f.watchDocker, "watch-docker", false, "audit the local Docker engine and scan running containers periodically")
	fl.DurationVar(&f.watchInterval, "watch-interval", 5*time.Minute, "watch period")
	fl.DurationVar(&f.dbUpdateInterval, "db-update-interval", 0, "rebuild the vulnerability database from --db-source (default: osv.dev's exports) every `PERIOD` (e.g. 12h; 0: never); watch mode then rescans what is running")
	fl.StringVar(&f.webhookURL, "webhook-url", "", "watch mode: POST new findings to `URL`")
	fl.StringVar(&f.webhookSecretFile, "webhook-secret-file", "", "HMAC-SHA256 key for webhook signatures, read from `FILE`")
	fl.DurationVar(&f.webhookTimeout, "webhook-timeout", 10*time.Second, "timeout of one webhook attempt (3 attempts, with backoff)")
	fl.DurationVar(&f.retainImages, "retain-images", 30*24*time.Hour, "delete the results of image digests not scanned for `PERIOD` (0: keep forever)")
	fl.DurationVar(&f.retainJobs, "retain-jobs", 7*24*time.Hour, "delete finished (done or failed) jobs older than `PERIOD` (0: keep forever)")
	fl.IntVar(&f.topVulns, "metrics-top-vulns", 0, "export lockdown_top_vulnerability_images for the `N` vulnerabilities in most images (0: off)")
	fl.StringVar(&f.dockerHost, "docker-host", "", "Docker Engine API `URL` for audits and watch mode (default $DOCKER_HOST)")
	fl.StringVar(&f.owner, "owner", "", "name of this replica in job leases (default HOST-PID-RANDOM)")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with the certificate (chain) in PEM `FILE` (re-read when it changes)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "private key of --tls-cert, PEM `FILE`")
	fl.StringVar(&f.tlsClientCA, "tls-client-ca", "", "admission: answer only callers with a client certificate signed by a CA in PEM `FILE` (the API server's)")
	fl.BoolVar(&f.admission, "admission", false, "serve the Kubernetes admission webhook at /v1/admission (needs --tls-cert)")
	fl.StringVar(&f.admissionPolicy, "admission-policy", "", "admission policy `FILE` (YAML: level, warnLevel, deny, warn, failOn, unknownImages, exemptNamespaces, exemptImages, namespaces); the flags below override it")
	fl.StringVar(&f.admissionLevel, "admission-level", "", "deny pods that fail this Pod Security Standards `LEVEL`: baseline (default), restricted or privileged (none)")
	fl.StringVar(&f.admissionWarnLevel, "admission-warn-level", "", "warn about the controls of this PSS `LEVEL` that do not deny (default restricted)")
	fl.StringVar(&f.admissionFailOn, "admission-fail-on", "", "deny pods whose images' latest scans have findings at or above `SEVERITY` (default: none)")
	fl.StringVar(&f.admissionUnknown, "admission-unknown", "", "images with no scan yet (a scan is queued): allow (default, with a warning) or deny")
	fl.StringSliceVar(&f.enforce, "enforce", nil, "enforce the network policies in these `PATHS` on this host's Docker containers with nftables (needs root)")
	fl.DurationVar(&f.enforceResync, "enforce-resync", time.Minute, "with --enforce: how often the table is checked for drift and restored")
	f.enforceFlags.flagPrefix = "enforce-"
	fl.StringVar(&f.enforceFlags.table, "enforce-table", enforce.DefaultTable, "with --enforce: the nftables table `NAME`")
	fl.StringVar(&f.enforceFlags.bridge, "enforce-bridge", "auto", "with --enforce: bridged traffic via auto, br_netfilter or bridge (see netpol apply --bridge)")
	fl.StringVar(&f.enforceFlags.stateDir, "enforce-state-dir", enforce.DefaultStateDir, "with --enforce: `DIR` recording what was applied")
	return cmd
}

func (g *globals) runServe(cmd *cobra.Command, f *serveFlags) error {
	ctx := cmd.Context()
	token := os.Getenv("LOCKDOWN_TOKEN")
	if f.tokenFile != "" {
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return badInput(fmt.Errorf("--token-file: %w", err))
		}
		token = strings.TrimSpace(string(b))
		if token == "" {
			return badInput(fmt.Errorf("--token-file %s is empty", f.tokenFile))
		}
	}
	if token == "" && !f.noAuth {
		return badInput(errors.New("no API token: give --token-file FILE or $LOCKDOWN_TOKEN (or --no-auth on a trusted network)"))
	}
	if f.noAuth {
		token = ""
		g.logger.Warn("serving without authentication (--no-auth)")
	}
	if err := server.CheckToken(token, f.insecureShortToken); err != nil {
		return badInput(err)
	}
	var secret []byte
	if f.webhookURL != "" {
		if f.webhookSecretFile == "" {
			return badInput(errors.New("--webhook-url needs --webhook-secret-file"))
		}
		b, err := os.ReadFile(f.webhookSecretFile)
		if err != nil {
			return badInput(fmt.Errorf("--webhook-secret-file: %w", err))
		}
		secret = []byte(strings.TrimSpace(string(b)))
		if len(secret) == 0 {
			return badInput(fmt.Errorf("--webhook-secret-file %s is empty", f.webhookSecretFile))
		}
	}
	var delay time.Duration
	if v := os.Getenv(testJobDelayEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return badInput(fmt.Errorf("%s: %w", testJobDelayEnv, err))
		}
		delay = d
	}
	if f.maxBody <= 0 {
		return badInput(fmt.Errorf("--max-body must be positive, got %d", f.maxBody))
	}
	for _, h := range f.allowRegistries {
		// A registry host as a reference names it: host or host:port, no scheme, no path.
		if h == "" || strings.ContainsAny(h, "/@ ") {
			return badInput(fmt.Errorf("--allow-registry %q: want a registry HOST or HOST:PORT (no scheme, no path)", h))
		}
	}
	if f.retainImages < 0 {
		return badInput(fmt.Errorf("--retain-images must be 0 (keep forever) or positive, got %s", f.retainImages))
	}
	if f.retainJobs < 0 {
		return badInput(fmt.Errorf("--retain-jobs must be 0 (keep forever) or positive, got %s", f.retainJobs))
	}
	// Workers renew their lease every third of it: a shorter lease than
	// this is lost between two renewals.
	if f.jobTimeout <= 0 {
		return badInput(fmt.Errorf("--job-timeout must be positive, got %s", f.jobTimeout))
	}
	if f.lease < time.Second {
		return badInput(fmt.Errorf("--lease must be at least 1s, got %s", f.lease))
	}

	tlsCfg, adm, err := f.admissionConfig()
	if err != nil {
		return err
	}

	// Network policies to enforce: checked (loaded, compiled against the
	// running containers, nftables reachable) before any database.
	var enf *enforce.Enforcer
	if len(f.enforce) > 0 {
		var closeEnf func()
		if enf, closeEnf, err = g.serveEnforcer(ctx, f); err != nil {
			return err
		}
		defer closeEnf()
	}

	// The advisory DB: built first when missing, as for lockdown scan.
	adb, err := g.openDB(cmd, &scanFlags{dbPath: f.dbPath, dbSources: f.dbSources})
	if err != nil {
		return err
	}
	dbPath := adb.Path()
	adb.Close()

	dbURL := f.dbURL
	if dbURL == "" {
		if dbURL, err = store.DefaultURL(); err != nil {
			return badInput(err)
		}
	}
	st, err := store.Open(ctx, dbURL, store.Options{Logger: g.logger})
	if err != nil {
		return badInput(err)
	}
	defer st.Close()

	scanOpts := g.scanOptions(&f.tf)
	scanOpts.Tool, scanOpts.Logger = model.Tool{}, nil // set per scan by the server
	var dbUpdate func(context.Context) error
	if f.dbUpdateInterval > 0 {
		var srcs []vulndb.Source
		for _, s := range f.dbSources {
			d, err := vulndb.DetectSources(s)
			if err != nil {
				return badInput(fmt.Errorf("--db-source: %w", err))
			}
			srcs = append(srcs, d...)
		}
		dbUpdate = func(ctx context.Context) error {
			_, err := vulndb.Update(ctx, dbPath, srcs, vulndb.UpdateOptions{Logger: g.logger})
			return err
		}
	}
	srv, err := server.New(server.Config{
		Store: st, AdvisoryDB: dbPath,
		Token: token, InsecureShortToken: f.insecureShortToken, PublicMetrics: f.publicMetrics, PublicHealth: f.publicHealth,
		MaxBodyBytes: f.maxBody, AllowRegistries: f.allowRegistries, AllowLocalTargets: f.allowLocal,
		Workers: f.workers, Lease: f.lease, Poll: f.poll, Owner: f.owner, JobDelay: delay, JobTimeout: f.jobTimeout,
		ScanOptions: scanOpts,
		DBUpdate:    dbUpdate, DBUpdateInterval: f.dbUpdateInterval,
		DockerHost: f.dockerHost,
		Watch:      f.watchDocker, WatchInterval: f.watchInterval,
		WebhookURL: f.webhookURL, WebhookSecret: secret, WebhookTimeout: f.webhookTimeout,
		RetainImages: f.retainImages, RetainJobs: f.retainJobs,
		MetricsTopVulns: f.topVulns,
		TLS:             tlsCfg, Admission: adm, RequireClientCert: f.tlsClientCA != "",
		Enforcer: enforcerOrNil(enf),
		Version:  Version, GoVersion: runtime.Version(),
		Logger: g.logger,
	})
	if err != nil {
		return badInput(err)
	}
	defer srv.Close()
	l, err := net.Listen("tcp", f.listen)
	if err != nil {
		return badInput(fmt.Errorf("--listen %s: %w", f.listen, err))
	}
	if !g.quiet {
		scheme := "http"
		if tlsCfg != nil {
			scheme = "https"
		}
		fmt.Fprintf(g.stderr, "lockdown: serving on %s://%s (store %s, owner %s)\n", scheme, l.Addr(), st.Where(), srv.Owner())
	}
	return srv.Run(ctx, l, f.grace)
}

// serveEnforcer builds the enforcer of serve --enforce: the policies load
// and compile against the running containers now (bad input fails the
// start, exit 2), and nftables must answer.
func (g *globals) serveEnforcer(ctx context.Context, f *serveFlags) (*enforce.Enforcer, func(), error) {
	if f.enforceResync < time.Second {
		return nil, nil, badInput(fmt.Errorf("--enforce-resync must be at least 1s, got %s", f.enforceResync))
	}
	a, err := f.enforceFlags.applier(g)
	if err != nil {
		return nil, nil, err
	}
	in := netpolInput{fromDocker: true, ipVersion: 4}
	src, closeSrc, err := dockerSource(ctx, g, &in, f.enforce)
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	closeAll := func() { closeSrc(); a.Close() }
	eps, err := dockerep.Endpoints(ctx, src.API, g.logger)
	if err != nil {
		closeAll()
		return nil, nil, badInput(fmt.Errorf("--enforce: %w", err))
	}
	cfg, err := buildAll(g, nil, src.Objects, eps, nil)
	if err == nil {
		_, err = a.Compile(cfg)
	}
	if err == nil {
		_, err = a.Status(ctx)
	}
	if err != nil {
		closeAll()
		return nil, nil, enforceErr(err)
	}
	e := &enforce.Enforcer{Applier: a, Source: src, Resync: f.enforceResync, Logger: g.logger}
	return e, closeAll, nil
}

// enforcerOrNil keeps a nil *Enforcer out of the interface.
func enforcerOrNil(e *enforce.Enforcer) server.Enforcer {
	if e == nil {
		return nil
	}
	return e
}

// admissionConfig reads the TLS and admission flags (and policy file).
func (f *serveFlags) admissionConfig() (*tls.Config, server.Admission, error) {
	var adm server.Admission
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return nil, adm, badInput(errors.New("--tls-cert and --tls-key go together"))
	}
	var tlsCfg *tls.Config
	if f.tlsCert != "" {
		c, err := server.TLSFromFiles(f.tlsCert, f.tlsKey, f.tlsClientCA)
		if err != nil {
			return nil, adm, badInput(err)
		}
		tlsCfg = c
	} else if f.tlsClientCA != "" {
		return nil, adm, badInput(errors.New("--tls-client-ca needs --tls-cert and --tls-key"))
	}
	set := f.admissionPolicy != "" || f.admissionLevel != "" || f.admissionWarnLevel != "" || f.admissionFailOn != "" || f.admissionUnknown != ""
	if !f.admission {
		if set {
			return nil, adm, badInput(errors.New("the --admission-* flags need --admission"))
		}
		return tlsCfg, adm, nil
	}
	if tlsCfg == nil {
		return nil, adm, badInput(errors.New("--admission needs --tls-cert and --tls-key: the Kubernetes API server calls webhooks over HTTPS only"))
	}
	if f.admissionPolicy != "" {
		a, err := server.LoadAdmissionPolicy(f.admissionPolicy)
		if err != nil {
			return nil, adm, badInput(err)
		}
		adm = a
	}
	adm.Enabled = true
	for _, o := range []struct {
		flag, val string
		dst       *string
	}{
		{"--admission-level", f.admissionLevel, &adm.Level},
		{"--admission-warn-level", f.admissionWarnLevel, &adm.WarnLevel},
		{"--admission-fail-on", f.admissionFailOn, &adm.FailOn},
		{"--admission-unknown", f.admissionUnknown, &adm.Unknown},
	} {
		if o.val != "" {
			*o.dst = o.val
		}
	}
	if err := server.CheckAdmission(adm); err != nil {
		return nil, adm, badInput(fmt.Errorf("--admission: %w", err))
	}
	return tlsCfg, adm, nil
}
