package rpm

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", pure Go
)

// readSQLite calls fn with every header blob of an rpm SQLite database
// (rpm >= 4.16: table Packages(hnum, blob)). The file is opened read-only
// and immutable: nothing is written beside it (no -wal/-shm files).
func readSQLite(ctx context.Context, file string, fn func(blob []byte), bad func(msg string)) error {
	dsn := (&url.URL{Scheme: "file", Path: file, RawQuery: "mode=ro&immutable=1"}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT hnum, blob FROM Packages")
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var hnum int64
		var blob []byte
		if err := rows.Scan(&hnum, &blob); err != nil {
			bad(fmt.Sprintf("row: %v", err))
			continue
		}
		fn(blob)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read rows: %w", err)
	}
	return nil
}
