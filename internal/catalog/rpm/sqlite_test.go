package rpm

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// sqliteDB writes a new SQLite file made by stmts and returns its path.
func sqliteDB(t testing.TB, stmts ...string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "rpmdb.sqlite")
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: file}).String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return file
}

// hostileSchemas are rpmdb.sqlite files whose Packages is not a plain
// table; each is refused before any row is read.
var hostileSchemas = []struct {
	name   string
	stmts  []string
	wantIn string
}{
	{"recursive view", []string{
		"CREATE VIEW Packages AS WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c) SELECT n AS hnum, zeroblob(100) AS blob FROM c",
	}, "Packages is a view, not a table"},
	{"recursive view growing in memory", []string{
		"CREATE VIEW packages AS WITH RECURSIVE c(n, b) AS (SELECT 1, randomblob(1000) UNION SELECT n+1, randomblob(1000) FROM c) SELECT n AS hnum, b AS blob FROM c",
	}, "Packages is a view, not a table"},
	{"trigger", []string{
		"CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB NOT NULL)",
		"CREATE TABLE log (x)",
		"CREATE TRIGGER t AFTER INSERT ON Packages BEGIN INSERT INTO log VALUES (1); END",
	}, "the database holds 1 trigger(s)"},
	{"generated column", []string{
		"CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, x INTEGER, blob BLOB AS (zeroblob(x)))",
		"INSERT INTO Packages (hnum, x) VALUES (1, 1000000000)",
	}, `Packages column "blob" is generated or hidden`},
	{"virtual table", []string{
		"CREATE VIRTUAL TABLE Packages USING fts5(hnum, blob)",
	}, "Packages is a virtual table"},
	{"no Packages", []string{
		"CREATE TABLE Other (hnum INTEGER PRIMARY KEY, blob BLOB NOT NULL)",
	}, "no Packages table"},
}

func TestReadSQLiteHostileSchema(t *testing.T) {
	for _, tt := range hostileSchemas {
		t.Run(tt.name, func(t *testing.T) {
			file := sqliteDB(t, tt.stmts...)
			// A refusal comes at once; the deadline only turns a regression
			// (the query running) into a failure instead of a hang.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := ReadFile(ctx, file, "/var/lib/rpm/rpmdb.sqlite")
			if !errors.Is(err, errHostileSchema) {
				t.Fatalf("ReadFile(%s) = %d packages, error %v; want a refusal (errHostileSchema)", tt.name, len(res.Packages), err)
			}
			want := "read rpm db /var/lib/rpm/rpmdb.sqlite: sqlite: " + tt.wantIn
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("ReadFile(%s) error = %q, want it to start %q", tt.name, err, want)
			}
		})
	}
}

// realBlob returns one header blob of the shared cbl-mariner rpmdb.sqlite.
func realBlob(t testing.TB) []byte {
	t.Helper()
	src := testutil.Data(t, "pkgdb/rpm/cbl-mariner-2.0.rpmdb.sqlite")
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: src, RawQuery: "mode=ro&immutable=1"}).String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var blob []byte
	if err := db.QueryRow("SELECT blob FROM Packages ORDER BY hnum LIMIT 1").Scan(&blob); err != nil {
		t.Fatal(err)
	}
	return blob
}

// TestReadSQLiteCancelled: cancelling the context interrupts SQLite in
// the middle of the rows.
func TestReadSQLiteCancelled(t *testing.T) {
	blob := realBlob(t)
	file := sqliteDB(t,
		"CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB NOT NULL)",
		"CREATE TABLE one (b BLOB)")
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: file}).String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO one VALUES (?)", blob); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c WHERE n < 2000) INSERT INTO Packages SELECT n, (SELECT b FROM one) FROM c"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rows := 0
	err = readSQLite(ctx, file, func([]byte) bool {
		rows++
		if rows == 10 {
			cancel()
		}
		return true
	}, func(msg string) { t.Errorf("bad(%q)", msg) })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("readSQLite(cancelled after 10 rows) error = %v, want context.Canceled", err)
	}
	if rows >= 2000 {
		t.Errorf("readSQLite(cancelled after 10 rows) read %d rows, want fewer than 2000", rows)
	}

	// An expired deadline: no query at all.
	dctx, dcancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer dcancel()
	if _, err := ReadFile(dctx, file, "/x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ReadFile(expired deadline) error = %v, want context.DeadlineExceeded", err)
	}

	// And the same file, with time, reads all 2000 copies.
	res, err := ReadFile(context.Background(), file, "/x")
	if err != nil || len(res.Packages) != 2000 {
		t.Errorf("ReadFile(2000 rows) = %d packages, %v; want 2000, nil", len(res.Packages), err)
	}
}

func FuzzReadFile(f *testing.F) {
	for _, tt := range hostileSchemas {
		b, err := os.ReadFile(sqliteDB(f, tt.stmts...))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("SQLite format 3\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(t.TempDir(), "db")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := ReadFile(ctx, file, "/var/lib/rpm/rpmdb.sqlite")
		if err != nil && len(res.Packages) > 0 {
			t.Errorf("ReadFile() = %d packages and error %v", len(res.Packages), err)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("ReadFile() ran into its 10s deadline: %v", err)
		}
	})
}
