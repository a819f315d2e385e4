// Package rpm reads the RPM package database in its three formats:
// Berkeley DB hash (Packages), NDB (Packages.db, SUSE) and SQLite
// (rpmdb.sqlite, rpm >= 4.16). All three store the same header blobs, read
// by rpmdb.ParseHeader. Pure Go; nothing is executed.
package rpm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
	"github.com/lockdown-sec/lockdown/internal/catalog/rpm/rpmdb"
)

// Paths lists where rpm keeps its database.
func Paths() []string {
	return []string{
		"/var/lib/rpm/Packages", "/var/lib/rpm/Packages.db", "/var/lib/rpm/rpmdb.sqlite",
		"/usr/lib/sysimage/rpm/Packages", "/usr/lib/sysimage/rpm/Packages.db", "/usr/lib/sysimage/rpm/rpmdb.sqlite",
	}
}

// Extractor reads rpm databases. The zero value is ready to use.
type Extractor struct{}

var _ extract.Extractor = Extractor{}

// Name implements extract.Extractor.
func (Extractor) Name() string { return "rpm" }

// Version implements extract.Extractor.
func (Extractor) Version() int { return 1 }

// Wants implements extract.Extractor.
func (Extractor) Wants(p string, mode fs.FileMode, _ int64) bool {
	if !mode.IsRegular() {
		return false
	}
	switch p {
	case "/var/lib/rpm/Packages", "/var/lib/rpm/Packages.db", "/var/lib/rpm/rpmdb.sqlite",
		"/usr/lib/sysimage/rpm/Packages", "/usr/lib/sysimage/rpm/Packages.db", "/usr/lib/sysimage/rpm/rpmdb.sqlite":
		return true
	}
	return false
}

// Extract implements extract.Extractor. The database is spooled into
// in.TempDir (a temporary directory when that is empty): SQLite and random
// access need a file.
func (Extractor) Extract(ctx context.Context, in extract.Input) (res extract.Result, err error) {
	dir := in.TempDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "lockdown-rpm-"); err != nil {
			return res, fmt.Errorf("read rpm db %s: %w", in.Path, err)
		}
		defer os.RemoveAll(dir)
	}
	f, err := os.CreateTemp(dir, "rpmdb-*")
	if err != nil {
		return res, fmt.Errorf("read rpm db %s: spool: %w", in.Path, err)
	}
	defer os.Remove(f.Name())
	_, err = io.Copy(f, ctxReader{ctx, extract.Limit(in, extract.MaxDatabaseBytes)})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return res, fmt.Errorf("read rpm db %s: spool: %w", in.Path, err)
	}
	return ReadFile(ctx, f.Name(), in.Path)
}

// ctxReader stops a long copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ReadFile reads the rpm database in file, whatever its format. location
// (the path within the image) names it in packages, warnings and errors.
// gpg-pubkey entries (imported signing keys, not packages) are skipped.
// Warnings are bounded (extract.Warnings); a database of more than
// extract.MaxPackages packages is an error.
func ReadFile(ctx context.Context, file, location string) (extract.Result, error) {
	wrap := func(err error) error { return fmt.Errorf("read rpm db %s: %w", location, err) }
	f, err := os.Open(file)
	if err != nil {
		return extract.Result{}, wrap(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return extract.Result{}, wrap(err)
	}
	head := make([]byte, 16)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return extract.Result{}, wrap(err)
	}
	format, err := rpmdb.DetectFormat(head[:n])
	if err != nil {
		return extract.Result{}, wrap(fmt.Errorf("%w: %d bytes starting %q", err, st.Size(), head[:n]))
	}
	b := builder{out: extract.NewCollector(location, "rpm")}
	switch format {
	case rpmdb.FormatSQLite:
		err = readSQLite(ctx, file, func(blob []byte) bool { b.add(blob); return b.err == nil }, b.bad)
	case rpmdb.FormatNDB:
		err = rpmdb.ReadNDB(f, st.Size(), b.add, b.bad)
	case rpmdb.FormatBDB:
		err = rpmdb.ReadBDB(f, st.Size(), b.add, b.bad)
	}
	if err == nil {
		err = b.err
	}
	if err != nil {
		return extract.Result{}, wrap(fmt.Errorf("%s: %w", format, err))
	}
	return b.out.Result(), nil
}

// builder turns header blobs into packages.
type builder struct {
	out *extract.Collector
	n   int
	err error // too many packages: the readers' callbacks cannot stop them
}

func (b *builder) bad(msg string) { b.out.Addf("%s", msg) }

func (b *builder) add(blob []byte) {
	if b.err != nil {
		return
	}
	b.n++
	h, err := rpmdb.ParseHeader(blob)
	if err != nil {
		b.bad(fmt.Sprintf("header %d skipped: %v", b.n, err))
		return
	}
	if h.Name == "gpg-pubkey" {
		return
	}
	p, err := h.Package()
	if err != nil {
		b.bad(fmt.Sprintf("header %d skipped: %v", b.n, err))
		return
	}
	p.Location = b.out.Path
	b.err = b.out.Add(p)
}
