// Package store keeps the server's jobs and results in SQLite (embedded,
// the default) or PostgreSQL (shared by several replicas). Jobs move
// queued → running → done|failed; a running job is held by a lease that its
// owner extends while it works; a lease that expires (the owner died) makes
// the job claimable again.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
)

// Job kinds.
const (
	KindScan  = "scan"
	KindAudit = "audit"
)

// Job states.
const (
	StateQueued  = "queued"
	StateRunning = "running"
	StateDone    = "done"
	StateFailed  = "failed"
)

// States lists every job state.
var States = []string{StateQueued, StateRunning, StateDone, StateFailed}

// Errors callers branch on.
var (
	ErrNotFound  = errors.New("not found")
	ErrLeaseLost = errors.New("lease lost: the job is no longer held by this owner")
)

//go:embed migrations
var migrations embed.FS

// Dialect names.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Options configure Open. The zero value works.
type Options struct {
	// MaxAttempts is how many times a job whose lease expired is retried
	// before it fails (0 means 3).
	MaxAttempts int
	Logger      *slog.Logger
}

// Store is an open job and result database. It is safe for concurrent use.
type Store struct {
	db          *sql.DB
	dialect     string
	where       string // file path or redacted URL
	maxAttempts int
	log         *slog.Logger
}

// DefaultURL is sqlite:// + the user cache dir's lockdown/server/lockdown.sqlite.
func DefaultURL() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("default server db: %w (use --db-url)", err)
	}
	return "sqlite://" + filepath.Join(dir, "lockdown", "server", "lockdown.sqlite"), nil
}

// Open opens (creating and migrating it) the database named by dbURL:
// sqlite:///abs/path, sqlite:relative/path, postgres://… or postgresql://….
func Open(ctx context.Context, dbURL string, opts Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Store{maxAttempts: opts.MaxAttempts, log: log}
	if s.maxAttempts <= 0 {
		s.maxAttempts = 3
	}
	switch {
	case strings.HasPrefix(dbURL, "sqlite:"):
		p := strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite:"), "//")
		if p == "" {
			return nil, fmt.Errorf("db url %q: no file path (want sqlite:///path/to/file)", dbURL)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", p, err)
		}
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Set("_txlock", "immediate")
		s.db = sql.OpenDB(sqliteConnector{dsn: "file:" + p + "?" + q.Encode()})
		// One writer at a time: one connection serialises every
		// transaction, so claims never race and never see SQLITE_BUSY.
		s.db.SetMaxOpenConns(1)
		s.dialect, s.where = SQLite, p
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		cfg, err := pgx.ParseConfig(dbURL)
		if err != nil {
			return nil, fmt.Errorf("db url: %w", redact(err, dbURL))
		}
		s.db = stdlib.OpenDB(*cfg)
		s.db.SetMaxOpenConns(16)
		s.db.SetMaxIdleConns(8)
		s.db.SetConnMaxIdleTime(5 * time.Minute)
		s.dialect, s.where = Postgres, fmt.Sprintf("postgres://%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
	default:
		return nil, fmt.Errorf("db url %q: want sqlite:///PATH or postgres://…", redactURL(dbURL))
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := s.db.PingContext(pctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("open %s: %w", s.where, redact(err, dbURL))
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// sqliteConnector opens modernc SQLite connections without going through
// database/sql's global driver names.
type sqliteConnector struct{ dsn string }

func (c sqliteConnector) Connect(context.Context) (driver.Conn, error) {
	return (&sqlite.Driver{}).Open(c.dsn)
}
func (c sqliteConnector) Driver() driver.Driver { return &sqlite.Driver{} }

func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return u
	}
	return p.Redacted()
}

// redact removes a password from an error message that may quote the URL.
func redact(err error, dbURL string) error {
	p, perr := url.Parse(dbURL)
	if perr != nil || p.User == nil {
		return err
	}
	if pw, ok := p.User.Password(); ok && pw != "" && strings.Contains(err.Error(), pw) {
		return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
	}
	return err
}

// Dialect is SQLite or Postgres.
func (s *Store) Dialect() string { return s.dialect }

// Where names the database (file path, or URL without credentials).
func (s *Store) Where() string { return s.where }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// q rewrites ? placeholders for the dialect.
func (s *Store) q(query string) string {
	if s.dialect != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// migrate applies the embedded migrations not yet recorded in
// schema_migrations, each in its own transaction, in version order. On
// PostgreSQL an advisory lock keeps replicas that start together apart.
func (s *Store) migrate(ctx context.Context) error {
	dir := path.Join("migrations", s.dialect)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	type mig struct {
		version int
		name    string
	}
	var ms []mig
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return fmt.Errorf("migration %s/%s: name must be NNN_name.sql", dir, e.Name())
		}
		ms = append(ms, mig{v, e.Name()})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })

	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", s.where, err)
	}
	defer conn.Close()
	if s.dialect == Postgres {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(7458301)"); err != nil {
			return fmt.Errorf("migrate %s: lock: %w", s.where, err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(7458301)")
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate %s: %w", s.where, err)
	}
	applied := map[int]bool{}
	rows, err := conn.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("migrate %s: %w", s.where, err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("migrate %s: %w", s.where, err)
		}
		applied[v] = true
	}
	rows.Close()
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		body, err := migrations.ReadFile(path.Join(dir, m.name))
		if err != nil {
			return fmt.Errorf("read migration %s: %w", m.name, err)
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", s.where, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s on %s: %w", m.name, s.where, err)
		}
		if step := goMigrations[m.version]; step != nil {
			if err := step(ctx, s, tx); err != nil {
				tx.Rollback()
				return fmt.Errorf("migration %s on %s: %w", m.name, s.where, err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.q("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"), m.version, m.name, time.Now().UnixMilli()); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s on %s: %w", m.name, s.where, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s on %s: %w", m.name, s.where, err)
		}
		s.log.Info("applied migration", "db", s.where, "version", m.version, "name", m.name)
	}
	return nil
}

// goMigrations are the steps of migrations that SQL cannot do, run after
// the version's SQL in its transaction.
var goMigrations = map[int]func(ctx context.Context, s *Store, tx *sql.Tx) error{
	5: backfillRefs,
}

// backfillRefs fills in the canonical reference of the results stored
// before migration 5.
func backfillRefs(ctx context.Context, s *Store, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT digest, image FROM images WHERE ref = ''`)
	if err != nil {
		return fmt.Errorf("read image names: %w", err)
	}
	refs := map[string]string{}
	for rows.Next() {
		var digest, image string
		if err := rows.Scan(&digest, &image); err != nil {
			rows.Close()
			return fmt.Errorf("read image names: %w", err)
		}
		refs[digest] = CanonicalRef(image)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read image names: %w", err)
	}
	for digest, ref := range refs {
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE images SET ref = ? WHERE digest = ?`), ref, digest); err != nil {
			return fmt.Errorf("set the reference of image %s: %w", digest, err)
		}
	}
	return nil
}

// Migrations lists the applied migration versions, in order.
func (s *Store) Migrations(ctx context.Context) ([]int, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT version FROM schema_migrations ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Job is one queued scan or audit.
type Job struct {
	ID           string    `json:"id"`
	Kind         string    `json:"kind"`
	Target       string    `json:"target,omitempty"`
	Image        string    `json:"image,omitempty"`
	State        string    `json:"state"`
	Attempts     int       `json:"attempts"`
	Completions  int       `json:"-"`
	Owner        string    `json:"owner,omitempty"`
	LeaseExpires time.Time `json:"leaseExpires,omitzero"`
	Error        string    `json:"error,omitempty"`
	Digest       string    `json:"digest,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
	StartedAt    time.Time `json:"startedAt,omitzero"`
	FinishedAt   time.Time `json:"finishedAt,omitzero"`
	FinishedBy   string    `json:"finishedBy,omitempty"`
	// Report is the model.Report JSON of a done job.
	Report []byte `json:"-"`
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// Enqueue adds a queued job.
func (s *Store) Enqueue(ctx context.Context, kind, target, image string) (Job, error) {
	j := Job{ID: newID(), Kind: kind, Target: target, Image: image, State: StateQueued, CreatedAt: time.Now().UTC()}
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO jobs (id, kind, target, image, state, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
		j.ID, j.Kind, j.Target, j.Image, j.State, ms(j.CreatedAt)); err != nil {
		return Job{}, fmt.Errorf("enqueue %s %s: %w", kind, target, err)
	}
	j.CreatedAt = fromMS(ms(j.CreatedAt))
	return j, nil
}

const jobCols = `id, kind, target, image, state, attempts, completions, lease_owner, lease_expires, error, digest, created_at, started_at, finished_at, finished_by`

func scanJob(sc interface{ Scan(...any) error }, j *Job, extra ...any) error {
	var lease, created, started, finished int64
	dest := append([]any{&j.ID, &j.Kind, &j.Target, &j.Image, &j.State, &j.Attempts, &j.Completions, &j.Owner, &lease, &j.Error, &j.Digest, &created, &started, &finished, &j.FinishedBy}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return err
	}
	j.LeaseExpires, j.CreatedAt, j.StartedAt, j.FinishedAt = fromMS(lease), fromMS(created), fromMS(started), fromMS(finished)
	return nil
}

// Claim takes the oldest claimable job for owner, with a lease of the
// given length: a queued job, or a running one whose lease expired. It
// returns nil when there is none. On PostgreSQL the candidate row is taken
// with FOR UPDATE SKIP LOCKED so replicas never wait on each other.
func (s *Store) Claim(ctx context.Context, owner string, lease time.Duration) (*Job, error) {
	now := time.Now()
	// Jobs whose lease expired too often fail instead of being retried.
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE jobs SET state = ?, error = ?, finished_at = ?, lease_owner = ''
		WHERE state = ? AND lease_expires < ? AND attempts >= ?`),
		StateFailed, fmt.Sprintf("abandoned: the lease expired %d times", s.maxAttempts), ms(now), StateRunning, ms(now), s.maxAttempts); err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	lock := ""
	if s.dialect == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	row := s.db.QueryRowContext(ctx, s.q(`UPDATE jobs SET state = ?, lease_owner = ?, lease_expires = ?, attempts = attempts + 1, started_at = ?
		WHERE id = (SELECT id FROM jobs WHERE state = ? OR (state = ? AND lease_expires < ?) ORDER BY created_at, id LIMIT 1`+lock+`)
		RETURNING `+jobCols),
		StateRunning, owner, ms(now.Add(lease)), ms(now), StateQueued, StateRunning, ms(now))
	var j Job
	if err := scanJob(row, &j); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, fmt.Errorf("claim: %w", err)
	}
	return &j, nil
}

// Heartbeat extends owner's lease on job id; ErrLeaseLost when another
// owner took it over (or it is no longer running).
func (s *Store) Heartbeat(ctx context.Context, id, owner string, lease time.Duration) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE jobs SET lease_expires = ? WHERE id = ? AND lease_owner = ? AND state = ?`),
		ms(time.Now().Add(lease)), id, owner, StateRunning)
	if err != nil {
		return fmt.Errorf("heartbeat job %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("heartbeat job %s: %w", id, ErrLeaseLost)
	}
	return nil
}

// Release gives job id back to the queue (owner is shutting down), so
// another replica can take it at once instead of after the lease expires.
func (s *Store) Release(ctx context.Context, id, owner string) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE jobs SET state = ?, lease_owner = '', lease_expires = 0 WHERE id = ? AND lease_owner = ? AND state = ?`),
		StateQueued, id, owner, StateRunning)
	if err != nil {
		return fmt.Errorf("release job %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("release job %s: %w", id, ErrLeaseLost)
	}
	return nil
}

// ImageResult is the latest scan of one image digest.
type ImageResult struct {
	Digest string `json:"digest"`
	Image  string `json:"image"`
	// Ref is the canonical reference the result is found under
	// (CanonicalRef); empty means CanonicalRef(Image).
	Ref       string    `json:"-"`
	Target    string    `json:"target"`
	JobID     string    `json:"jobID,omitempty"`
	ScannedAt time.Time `json:"scannedAt"`
	DBBuilt   time.Time `json:"dbBuilt,omitzero"`
	// Counts of findings (not suppressed) by lowercase severity:
	// critical, high, medium, low, unknown.
	Counts map[string]int `json:"counts"`
	// Packages counts the scan's packages, checked and not.
	Packages PackageCounts `json:"packages"`
	// Vulns are the distinct vulnerability IDs with their severity.
	Vulns []VulnRef `json:"-"`
	// Report is the model.Report JSON.
	Report []byte `json:"-"`
}

// PackageCounts are the packages of one scan: Total, Checked against the
// advisories, Unchecked (model.Report.NotChecked: no advisories for their
// ecosystem or release, unknown ecosystem, unparsable version) and the
// package files that could not be read at all (UnreadableFiles; how many
// packages they list is unknown).
type PackageCounts struct {
	Total           int `json:"total"`
	Checked         int `json:"checked"`
	Unchecked       int `json:"unchecked"`
	UnreadableFiles int `json:"unreadableFiles"`
}

// VulnRef is one vulnerability ID in an image.
type VulnRef struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
}

// Severities are the count columns, in order.
var Severities = []string{"critical", "high", "medium", "low", "unknown"}

// Outcome is how a job ended.
type Outcome struct {
	Err    string // non-empty: the job failed
	Report []byte // model.Report JSON
	Digest string
	Image  *ImageResult // scan jobs: the image's latest result
	Audit  bool         // audit jobs: Report is the latest audit
	// Harden jobs: the hardened configuration, kept by image digest.
	Harden *HardenProfile
}

// Finish records the outcome of job id held by owner, in one transaction
// with the image or audit result it produced. ErrLeaseLost when the lease
// was taken over: the outcome is discarded, so no job completes twice.
func (s *Store) Finish(ctx context.Context, id, owner string, o Outcome) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("finish job %s: %w", id, err)
	}
	defer tx.Rollback()
	now := time.Now()
	state := StateDone
	if o.Err != "" {
		state = StateFailed
	}
	var report any
	if o.Report != nil {
		report = string(o.Report)
	}
	res, err := tx.ExecContext(ctx, s.q(`UPDATE jobs SET state = ?, error = ?, report = ?, digest = ?, finished_at = ?, finished_by = ?, lease_expires = 0, completions = completions + 1
		WHERE id = ? AND lease_owner = ? AND state = ?`),
		state, o.Err, report, o.Digest, ms(now), owner, id, owner, StateRunning)
	if err != nil {
		return fmt.Errorf("finish job %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("finish job %s: %w", id, ErrLeaseLost)
	}
	if o.Err == "" && o.Image != nil {
		if err := s.putImage(ctx, tx, *o.Image); err != nil {
			return err
		}
	}
	if o.Err == "" && o.Harden != nil {
		p := *o.Harden
		p.JobID, p.CreatedAt = id, now
		if err := s.putHardenProfile(ctx, tx, p); err != nil {
			return err
		}
	}
	if o.Err == "" && o.Audit {
		if err := s.putAudit(ctx, tx, id, now, o.Report); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("finish job %s: %w", id, err)
	}
	return nil
}

// PutImage stores an image result outside any job (watch mode).
func (s *Store) PutImage(ctx context.Context, r ImageResult) error {
	return s.putImage(ctx, s.db, r)
}

// PutAudit stores an audit report outside any job (watch mode).
func (s *Store) PutAudit(ctx context.Context, report []byte) error {
	return s.putAudit(ctx, s.db, newID(), time.Now(), report)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (s *Store) putImage(ctx context.Context, ex execer, r ImageResult) error {
	vulns, err := encodeVulns(r.Vulns)
	if err != nil {
		return err
	}
	c, p := r.Counts, r.Packages
	ref := r.Ref
	if ref == "" {
		ref = CanonicalRef(r.Image)
	}
	if _, err := ex.ExecContext(ctx, s.q(`INSERT INTO images (digest, image, ref, target, job_id, scanned_at, db_built, critical, high, medium, low, unknown, vulns, report, packages, unchecked, unreadable)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (digest) DO UPDATE SET image = excluded.image, ref = excluded.ref, target = excluded.target, job_id = excluded.job_id,
			scanned_at = excluded.scanned_at, db_built = excluded.db_built, critical = excluded.critical, high = excluded.high,
			medium = excluded.medium, low = excluded.low, unknown = excluded.unknown, vulns = excluded.vulns, report = excluded.report,
			packages = excluded.packages, unchecked = excluded.unchecked, unreadable = excluded.unreadable
		WHERE images.scanned_at <= excluded.scanned_at`),
		r.Digest, r.Image, ref, r.Target, r.JobID, ms(r.ScannedAt), ms(r.DBBuilt),
		c["critical"], c["high"], c["medium"], c["low"], c["unknown"], vulns, string(r.Report),
		p.Total, p.Unchecked, p.UnreadableFiles); err != nil {
		return fmt.Errorf("store image %s: %w", r.Digest, err)
	}
	if err := s.bumpImagesVersion(ctx, ex); err != nil {
		return fmt.Errorf("store image %s: %w", r.Digest, err)
	}
	return nil
}

// bumpImagesVersion counts a change to the images table.
func (s *Store) bumpImagesVersion(ctx context.Context, ex execer) error {
	if _, err := ex.ExecContext(ctx, `UPDATE images_version SET version = version + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("count the change: %w", err)
	}
	return nil
}

// ImagesVersion is a number that changes whenever an image result is
// stored or deleted, by this process or another sharing the store: a cache
// of results read at one version is current while the version stays.
func (s *Store) ImagesVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.db.QueryRowContext(ctx, `SELECT version FROM images_version WHERE id = 1`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read the images version: %w", err)
	}
	return v, nil
}

// keepAudits is how many audit reports the store keeps: only the latest is
// ever read, and watch mode adds one every interval.
const keepAudits = 10

func (s *Store) putAudit(ctx context.Context, ex execer, id string, at time.Time, report []byte) error {
	if _, err := ex.ExecContext(ctx, s.q(`INSERT INTO audits (id, created_at, report) VALUES (?, ?, ?)`), id, ms(at), string(report)); err != nil {
		return fmt.Errorf("store audit: %w", err)
	}
	if _, err := ex.ExecContext(ctx, s.q(`DELETE FROM audits WHERE id NOT IN (SELECT id FROM audits ORDER BY created_at DESC, id DESC LIMIT ?)`), keepAudits); err != nil {
		return fmt.Errorf("store audit: prune old audits: %w", err)
	}
	return nil
}

// Job returns job id, with its report.
func (s *Store) Job(ctx context.Context, id string) (Job, error) {
	var j Job
	var report sql.NullString
	err := scanJob(s.db.QueryRowContext(ctx, s.q(`SELECT `+jobCols+`, report FROM jobs WHERE id = ?`), id), &j, &report)
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, fmt.Errorf("job %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Job{}, fmt.Errorf("read job %s: %w", id, err)
	}
	if report.Valid {
		j.Report = []byte(report.String)
	}
	return j, nil
}

// Jobs lists every job, oldest first, without reports.
func (s *Store) Jobs(ctx context.Context) ([]Job, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+jobCols+` FROM jobs ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		var j Job
		if err := scanJob(rows, &j); err != nil {
			return nil, fmt.Errorf("list jobs: %w", err)
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// JobCounts counts jobs per state (every state present, zero or not).
func (s *Store) JobCounts(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for _, st := range States {
		out[st] = 0
	}
	rows, err := s.db.QueryContext(ctx, `SELECT state, COUNT(*) FROM jobs GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count jobs: %w", err)
		}
		out[st] = n
	}
	return out, rows.Err()
}

const imageCols = `digest, image, ref, target, job_id, scanned_at, db_built, critical, high, medium, low, unknown, vulns, packages, unchecked, unreadable`

func scanImage(sc interface{ Scan(...any) error }, r *ImageResult, extra ...any) error {
	var scanned, built int64
	var crit, high, med, low, unk int
	var vulns string
	p := &r.Packages
	dest := append([]any{&r.Digest, &r.Image, &r.Ref, &r.Target, &r.JobID, &scanned, &built, &crit, &high, &med, &low, &unk, &vulns,
		&p.Total, &p.Unchecked, &p.UnreadableFiles}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return err
	}
	p.Checked = max(p.Total-p.Unchecked, 0)
	r.ScannedAt, r.DBBuilt = fromMS(scanned), fromMS(built)
	r.Counts = map[string]int{"critical": crit, "high": high, "medium": med, "low": low, "unknown": unk}
	v, err := decodeVulns(vulns)
	if err != nil {
		return fmt.Errorf("image %s: %w", r.Digest, err)
	}
	r.Vulns = v
	return nil
}

// Images lists the latest result of every image digest, by digest.
func (s *Store) Images(ctx context.Context) ([]ImageResult, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+imageCols+` FROM images ORDER BY digest`)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	defer rows.Close()
	var out []ImageResult
	for rows.Next() {
		var r ImageResult
		if err := scanImage(rows, &r); err != nil {
			return nil, fmt.Errorf("list images: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Image returns the latest result of one digest, with its report.
func (s *Store) Image(ctx context.Context, digest string) (ImageResult, error) {
	var r ImageResult
	var report string
	err := scanImage(s.db.QueryRowContext(ctx, s.q(`SELECT `+imageCols+`, report FROM images WHERE digest = ?`), digest), &r, &report)
	if errors.Is(err, sql.ErrNoRows) {
		return ImageResult{}, fmt.Errorf("image %s: %w", digest, ErrNotFound)
	}
	if err != nil {
		return ImageResult{}, fmt.Errorf("read image %s: %w", digest, err)
	}
	r.Report = []byte(report)
	return r, nil
}

// LatestAudit returns the newest audit report and when it was stored.
func (s *Store) LatestAudit(ctx context.Context) ([]byte, time.Time, error) {
	var report string
	var at int64
	err := s.db.QueryRowContext(ctx, `SELECT report, created_at FROM audits ORDER BY created_at DESC, id DESC LIMIT 1`).Scan(&report, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, fmt.Errorf("latest audit: %w", ErrNotFound)
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("latest audit: %w", err)
	}
	return []byte(report), fromMS(at), nil
}

// LatestImages lists, for each image reference (the image column), only
// the result of its latest scan: a tag that moved to a new digest leaves
// its older digests out. Ties (the same scan time) go to the greater
// digest. The list is ordered by image.
func (s *Store) LatestImages(ctx context.Context) ([]ImageResult, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+imageCols+` FROM images i
		WHERE NOT EXISTS (SELECT 1 FROM images n WHERE n.image = i.image
			AND (n.scanned_at > i.scanned_at OR (n.scanned_at = i.scanned_at AND n.digest > i.digest)))
		ORDER BY image, digest`)
	if err != nil {
		return nil, fmt.Errorf("list latest images: %w", err)
	}
	defer rows.Close()
	var out []ImageResult
	for rows.Next() {
		var r ImageResult
		if err := scanImage(rows, &r); err != nil {
			return nil, fmt.Errorf("list latest images: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// PruneImages deletes the results (and reports) of image digests last
// scanned before the cutoff, and returns how many it deleted. It is one
// DELETE … WHERE: replicas may run it at the same time.
func (s *Store) PruneImages(ctx context.Context, before time.Time) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("prune images scanned before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.q(`DELETE FROM images WHERE scanned_at < ?`), ms(before))
	if err != nil {
		return 0, fmt.Errorf("prune images scanned before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	n, _ := res.RowsAffected()
	if n > 0 {
		if err := s.bumpImagesVersion(ctx, tx); err != nil {
			return 0, fmt.Errorf("prune images scanned before %s: %w", before.UTC().Format(time.RFC3339), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("prune images scanned before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	return n, nil
}

// PruneJobs deletes finished (done or failed) jobs that finished before
// the cutoff, with their reports, and returns how many it deleted; queued
// and running jobs are kept whatever their age. It is one DELETE … WHERE:
// replicas may run it at the same time.
func (s *Store) PruneJobs(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM jobs WHERE state IN (?, ?) AND finished_at < ?`), StateDone, StateFailed, ms(before))
	if err != nil {
		return 0, fmt.Errorf("prune jobs finished before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// LatestImageFor returns the most recent result stored under ref or any
// equivalent name (CanonicalRef) or, when ref is pinned (NAME@DIGEST),
// under that digest whatever the name. ErrNotFound when none.
func (s *Store) LatestImageFor(ctx context.Context, ref string) (ImageResult, error) {
	where, args := "ref = ?", []any{CanonicalRef(ref)}
	if d := refDigest(ref); d != "" {
		where, args = "ref = ? OR digest = ?", append(args, d)
	}
	var r ImageResult
	err := scanImage(s.db.QueryRowContext(ctx, s.q(`SELECT `+imageCols+` FROM images WHERE `+where+
		` ORDER BY scanned_at DESC, digest DESC LIMIT 1`), args...), &r)
	if errors.Is(err, sql.ErrNoRows) {
		return ImageResult{}, fmt.Errorf("image %s: %w", ref, ErrNotFound)
	}
	if err != nil {
		return ImageResult{}, fmt.Errorf("image lookup %s: %w", ref, err)
	}
	return r, nil
}
