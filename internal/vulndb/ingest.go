package vulndb

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/lockdown-sec/lockdown/internal/osv"
	"github.com/lockdown-sec/lockdown/internal/vulndb/distro"
)

// ingest reads one source into the builder.
func (b *builder) ingest(ctx context.Context, src Source, dir, base string, opts UpdateOptions, logger *slog.Logger) (SourceStatus, error) {
	loc := src.Location
	if loc == "" {
		loc = ExportURL(opts.BaseURL, src.Ecosystem)
	}
	st := SourceStatus{Kind: src.Kind, Location: loc, FetchedAt: time.Now().UTC()}
	rejectedBefore := b.rejected
	progress := func(p Progress) {
		if opts.Progress != nil {
			p.Source = loc
			opts.Progress(p)
		}
	}
	count := func() {
		st.Records++
		if st.Records%500 == 0 {
			progress(Progress{Phase: "read", Records: st.Records})
		}
	}

	path := loc
	if isURL(loc) {
		f, err := os.CreateTemp(dir, base+".download-*")
		if err != nil {
			return st, fmt.Errorf("download %s: %w", loc, err)
		}
		defer os.Remove(f.Name())
		err = download(ctx, opts, logger, loc, f, func(done, total int64) {
			progress(Progress{Phase: "download", Bytes: done, Total: total})
		})
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("download %s: %w", loc, cerr)
		}
		if err != nil {
			return st, err
		}
		path = f.Name()
		st.FetchedAt = time.Now().UTC()
	}
	logger.Debug("reading source", "kind", src.Kind, "location", loc)

	var err error
	switch src.Kind {
	case KindOSV:
		err = b.ingestOSV(ctx, path, loc, count)
	case KindAlpineSecdb:
		err = b.ingestSecdb(ctx, path, count)
	case KindWolfiSecdb:
		err = b.ingestFlatSecdb(ctx, path, distro.DistroWolfi, count)
	case KindChainguardSecdb:
		err = b.ingestFlatSecdb(ctx, path, distro.DistroChainguard, count)
	case KindUbuntuTracker:
		err = b.ingestUCT(ctx, path, loc, count)
	case KindDebianTracker:
		err = b.ingestDebian(ctx, path, loc, count)
	default:
		err = fmt.Errorf("unknown source kind %q", src.Kind)
	}
	b.flush()
	st.Rejected = b.rejected - rejectedBefore
	if err != nil {
		return st, fmt.Errorf("source %s: %w", loc, err)
	}
	progress(Progress{Phase: "read", Records: st.Records})
	return st, nil
}

// ingestOSV reads a zip, a JSON file or a directory of both. display names
// path in messages (the URL for downloads).
func (b *builder) ingestOSV(ctx context.Context, path, display string, count func()) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		if isZip(path) {
			return b.ingestZip(ctx, path, display, count)
		}
		return b.ingestJSONFile(path, display, count)
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		lower := strings.ToLower(d.Name())
		if strings.HasSuffix(lower, ".json") || strings.HasSuffix(lower, ".zip") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files) // WalkDir's order already is; keep it explicit
	for i, p := range files {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rel, _ := filepath.Rel(path, p)
		where := filepath.ToSlash(filepath.Join(display, rel))
		if strings.HasSuffix(strings.ToLower(p), ".zip") {
			if err := b.ingestZip(ctx, p, where, count); err != nil {
				return err
			}
			continue
		}
		if err := b.ingestJSONFile(p, where, count); err != nil {
			return err
		}
	}
	return nil
}

func isZip(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return strings.HasSuffix(strings.ToLower(p), ".zip")
	}
	return bytes.Equal(magic[:], []byte("PK\x03\x04")) || bytes.Equal(magic[:], []byte("PK\x05\x06")) ||
		strings.HasSuffix(strings.ToLower(p), ".zip")
}

func (b *builder) ingestJSONFile(p, where string, count func()) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("read %s: %w", where, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, osv.MaxRecord+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", where, err)
	}
	if len(data) > osv.MaxRecord {
		b.reject(where, fmt.Errorf("record larger than %d bytes", osv.MaxRecord))
		return nil
	}
	b.queueRaw(where, data, count)
	return nil
}

// ingestZip reads every *.json entry of a zip, at any depth. A zip that
// cannot be read (truncated, corrupt) is an error; a bad record is not.
func (b *builder) ingestZip(ctx context.Context, p, display string, count func()) error {
	return osv.ReadZip(ctx, p, display, osv.MaxRecord, func(e osv.ZipEntry) error {
		where := display + ": " + e.Name
		if e.TooLarge != nil {
			b.reject(where, e.TooLarge)
		} else {
			b.queueRaw(where, e.Data, count)
		}
		return nil
	})
}

// ingestSecdb reads an Alpine secdb directory: vN.N/*.json.
func (b *builder) ingestSecdb(ctx context.Context, dir string, count func()) error {
	branches := alpineBranches(dir)
	if len(branches) == 0 {
		return fmt.Errorf("alpine secdb %s: no vN.N branch directories", dir)
	}
	var sdb distro.Secdb
	for _, br := range branches {
		files, _ := filepath.Glob(filepath.Join(dir, br, "*.json"))
		if len(files) == 0 {
			b.logger.Warn("alpine secdb branch without JSON files (YAML is not read)", "dir", filepath.Join(dir, br))
		}
		sort.Strings(files)
		for _, p := range files {
			if err := ctx.Err(); err != nil {
				return err
			}
			rel := br + "/" + filepath.Base(p)
			f, err := os.Open(p)
			if err != nil {
				return fmt.Errorf("read alpine secdb %s: %w", p, err)
			}
			err = sdb.Add(bufio.NewReader(f), rel, br, b.reject)
			f.Close()
			if err != nil {
				return err
			}
		}
	}
	for _, v := range sdb.Records() {
		b.queueRecord(v.ID, v, count)
	}
	return nil
}

// ingestFlatSecdb reads a Wolfi or Chainguard secdb: one JSON file, or
// every *.json of a directory.
func (b *builder) ingestFlatSecdb(ctx context.Context, p, dist string, count func()) error {
	files := []string{p}
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		files, _ = filepath.Glob(filepath.Join(p, "*.json"))
		sort.Strings(files)
		if len(files) == 0 {
			return fmt.Errorf("%s secdb %s: no JSON files", dist, p)
		}
	}
	sdb := distro.Secdb{Distro: dist}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := os.Open(f)
		if err != nil {
			return fmt.Errorf("read %s secdb %s: %w", dist, f, err)
		}
		err = sdb.Add(bufio.NewReader(r), filepath.Base(f), "", b.reject)
		r.Close()
		if err != nil {
			return err
		}
	}
	for _, v := range sdb.Records() {
		b.queueRecord(v.ID, v, count)
	}
	return nil
}

func (b *builder) ingestUCT(ctx context.Context, p, display string, count func()) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("read ubuntu tracker %s: %w", display, err)
	}
	defer f.Close()
	name := filepath.Base(display)
	return distro.ParseUCT(ctx, bufio.NewReaderSize(f, 1<<16), name, func(v osv.Vulnerability) error {
		b.queueRecord(name+": "+v.ID, v, count)
		return nil
	}, b.reject)
}

// ingestDebian reads one Debian tracker list, or a directory of them;
// display is the location given (the URL for a download).
func (b *builder) ingestDebian(ctx context.Context, p, display string, count func()) error {
	lists := []string{p}
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		lists = debianLists(p)
		if len(lists) == 0 {
			return fmt.Errorf("debian tracker %s: no DSA-list, DLA-list or DTSA-list", p)
		}
	}
	for _, l := range lists {
		named := l
		if p != display && len(lists) == 1 {
			named = display // a download: name it by its URL
		}
		name := debianListName(named)
		if name == "" {
			name = filepath.Base(named)
		}
		f, err := os.Open(l)
		if err != nil {
			return fmt.Errorf("read debian list %s: %w", l, err)
		}
		err = distro.ParseDebianList(ctx, f, name, func(v osv.Vulnerability) error {
			b.queueRecord(name+": "+v.ID, v, count)
			return nil
		}, b.reject)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
