package testutil

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var (
	pgOnce sync.Once
	pgBase string // admin URL of the cluster
	pgErr  error
)

// PostgresURL returns the URL of a fresh, empty database for this test.
// The database lives in $LOCKDOWN_TEST_PG_URL's server when set; otherwise
// in a throwaway cluster that the first call starts (once per test
// process) in a temporary directory on 127.0.0.1 and a free port, with
// initdb and postgres from PATH or /usr/lib/postgresql/*/bin (as the
// postgres user when running as root). A small shell supervisor stops the
// cluster and removes its directory when the test process exits. Skips
// (fails under CI=true) when PostgreSQL cannot be started.
func PostgresURL(t testing.TB) string {
	t.Helper()
	pgOnce.Do(func() {
		if u := os.Getenv("LOCKDOWN_TEST_PG_URL"); u != "" {
			pgBase = u
			return
		}
		pgBase, pgErr = startPostgres()
	})
	if pgErr != nil {
		missing(t, "PostgreSQL for tests (set LOCKDOWN_TEST_PG_URL or install initdb/postgres): %v", pgErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgBase)
	if err != nil {
		t.Fatalf("connect to test PostgreSQL: %v", err)
	}
	defer conn.Close(context.Background())
	var b [6]byte
	rand.Read(b[:])
	name := "lockdown_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, pgBase); err == nil {
			c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(ctx)
		}
	})
	u, err := url.Parse(pgBase)
	if err != nil {
		t.Fatalf("test PostgreSQL URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func pgBin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	ms, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(ms) > 0 {
		return ms[len(ms)-1], nil
	}
	return "", fmt.Errorf("%s not found on PATH or in /usr/lib/postgresql/*/bin", name)
}

func startPostgres() (string, error) {
	initdb, err := pgBin("initdb")
	if err != nil {
		return "", err
	}
	postgres := filepath.Join(filepath.Dir(initdb), "postgres")
	if _, err := os.Stat(postgres); err != nil {
		if postgres, err = pgBin("postgres"); err != nil {
			return "", err
		}
	}
	dir, err := os.MkdirTemp("", "lockdown-pg-")
	if err != nil {
		return "", err
	}
	data := filepath.Join(dir, "data")
	// As root, the cluster runs as the postgres user (initdb refuses root).
	var asUser []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("running as root and no postgres user to run the cluster as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return "", err
		}
		asUser = []string{"setpriv", "--reuid=" + u.Uid, "--regid=" + u.Gid, "--init-groups", "--"}
	}
	args := append(append([]string{}, asUser...), initdb, "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("initdb: %v: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	pgArgs := append(append([]string{}, asUser...), postgres, "-D", data, "-p", strconv.Itoa(port), "-h", "127.0.0.1", "-k", dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200")
	quoted := make([]string, len(pgArgs))
	for i, a := range pgArgs {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	// The supervisor outlives nothing: when the test process is gone it
	// stops the cluster (fast shutdown) and removes the directory.
	script := fmt.Sprintf(`%s >%s/log 2>&1 &
pg=$!
while kill -0 %d 2>/dev/null && kill -0 $pg 2>/dev/null; do sleep 1; done
kill -INT $pg 2>/dev/null; wait $pg; rm -rf %s`, strings.Join(quoted, " "), dir, os.Getpid(), dir)
	sup := exec.Command("sh", "-c", script)
	if err := sup.Start(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("start postgres: %w", err)
	}
	go sup.Wait()
	base := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := pgx.Connect(ctx, base)
		cancel()
		if err == nil {
			c.Close(context.Background())
			return base, nil
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			return "", fmt.Errorf("postgres did not accept connections on 127.0.0.1:%d: %v\n%s", port, err, log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	return p
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
