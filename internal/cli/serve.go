package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockdown-sec/lockdown/internal/model"
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
X-Lockdown-Signature: sha256=HMAC-SHA256(body, --webhook-secret-file).`,
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
	fl.StringVar(&f.dbURL, "db-url", "", "job and result store: sqlite:///`PATH` or postgres://… (default: sqlite under the user cache dir)")
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
		Version:         Version, GoVersion: runtime.Version(),
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
		fmt.Fprintf(g.stderr, "lockdown: serving on http://%s (store %s, owner %s)\n", l.Addr(), st.Where(), srv.Owner())
	}
	return srv.Run(ctx, l, f.grace)
}
