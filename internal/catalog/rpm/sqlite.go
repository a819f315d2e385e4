package rpm

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"modernc.org/sqlite" // database/sql driver "sqlite", pure Go
	sqlite3 "modernc.org/sqlite/lib"
)

// maxSQLiteValue bounds one string or blob the rpm SQLite reader may make
// (SQLITE_LIMIT_LENGTH): real headers are at most a few megabytes.
const maxSQLiteValue = 64 << 20

// errHostileSchema is wrapped by the errors of an rpmdb.sqlite whose
// Packages is not a plain table.
var errHostileSchema = errors.New("not an rpm database")

// readSQLite calls fn with every header blob of an rpm SQLite database
// (rpm >= 4.16: table Packages(hnum, blob)) until fn returns false. The
// file comes from an image, so it is treated as hostile: it is opened
// read-only and immutable (nothing written beside it), with an untrusted
// schema (no functions from views or triggers), values limited to
// maxSQLiteValue, and Packages must be an ordinary table without triggers
// or generated columns (a recursive VIEW named Packages would never end).
// ctx bounds the query: its cancellation interrupts SQLite.
func readSQLite(ctx context.Context, file string, fn func(blob []byte) bool, bad func(msg string)) error {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("immutable", "1")
	q.Add("_pragma", "trusted_schema(0)")
	q.Add("_pragma", "query_only(1)")
	dsn := (&url.URL{Scheme: "file", Path: file, RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer conn.Close()
	for _, l := range []struct{ id, v int }{
		{sqlite3.SQLITE_LIMIT_LENGTH, maxSQLiteValue},
		{sqlite3.SQLITE_LIMIT_SQL_LENGTH, 1 << 20},
		{sqlite3.SQLITE_LIMIT_EXPR_DEPTH, 100},
		{sqlite3.SQLITE_LIMIT_COMPOUND_SELECT, 10},
		{sqlite3.SQLITE_LIMIT_TRIGGER_DEPTH, 1},
	} {
		if _, err := sqlite.Limit(conn, l.id, l.v); err != nil {
			return fmt.Errorf("open: %w", err)
		}
	}
	if err := checkSchema(ctx, conn); err != nil {
		return err
	}
	rows, err := conn.QueryContext(ctx, "SELECT hnum, blob FROM Packages")
	if err != nil {
		return fmt.Errorf("query: %w", ctxErr(ctx, err))
	}
	defer rows.Close()
	for rows.Next() {
		var hnum int64
		var blob []byte
		if err := rows.Scan(&hnum, &blob); err != nil {
			if ctx.Err() != nil {
				break // rows.Err says why
			}
			bad(fmt.Sprintf("row: %v", err))
			continue
		}
		if !fn(blob) {
			return nil
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read rows: %w", ctxErr(ctx, err))
	}
	return nil
}

// checkSchema refuses a Packages that is anything but an ordinary table
// with plain columns: a view, a virtual table, a table with triggers or
// generated columns.
func checkSchema(ctx context.Context, conn *sql.Conn) error {
	var typ, ddl sql.NullString
	err := conn.QueryRowContext(ctx,
		"SELECT type, sql FROM sqlite_master WHERE name = 'Packages' COLLATE NOCASE").Scan(&typ, &ddl)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("no Packages table: %w", errHostileSchema)
	case err != nil:
		return fmt.Errorf("read schema: %w", ctxErr(ctx, err))
	case typ.String != "table":
		return fmt.Errorf("Packages is a %s, not a table: %w", typ.String, errHostileSchema)
	case strings.HasPrefix(strings.ToUpper(strings.TrimSpace(ddl.String)), "CREATE VIRTUAL"):
		return fmt.Errorf("Packages is a virtual table: %w", errHostileSchema)
	}
	var triggers int
	if err := conn.QueryRowContext(ctx,
		"SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").Scan(&triggers); err != nil {
		return fmt.Errorf("read schema: %w", ctxErr(ctx, err))
	}
	if triggers > 0 {
		return fmt.Errorf("the database holds %d trigger(s): %w", triggers, errHostileSchema)
	}
	// table_xinfo's hidden column: 0 ordinary, 2 and 3 generated.
	rows, err := conn.QueryContext(ctx, "SELECT name, hidden FROM pragma_table_xinfo('Packages')")
	if err != nil {
		return fmt.Errorf("read schema: %w", ctxErr(ctx, err))
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var hidden int
		if err := rows.Scan(&name, &hidden); err != nil {
			return fmt.Errorf("read schema: %w", err)
		}
		if hidden != 0 {
			return fmt.Errorf("Packages column %q is generated or hidden: %w", name, errHostileSchema)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read schema: %w", ctxErr(ctx, err))
	}
	return nil
}

// ctxErr prefers the context's error (deadline, cancellation) to SQLite's
// "interrupted".
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}
