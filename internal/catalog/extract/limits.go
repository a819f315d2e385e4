package extract

import (
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// What one file may cost, the same for every extractor. A hostile package
// database (millions of malformed records, one endless record) costs at
// most these, whatever its size.
const (
	// MaxWarnings is how many warnings one file keeps; the rest are
	// counted in one summary line (the last kept entry).
	MaxWarnings = 100
	// MaxWarningBytes bounds the bytes of the warnings one file keeps.
	MaxWarningBytes = 32 << 10
	// MaxMessageBytes bounds one warning message (longer ones are cut).
	MaxMessageBytes = 1 << 10
	// MaxPackages is the most packages one file may list: a file listing
	// more is refused (an error naming it), not silently truncated.
	MaxPackages = 100_000
	// MaxRecordBytes bounds one record of a text package database (a dpkg
	// paragraph, an apk record): a larger record is skipped with a warning.
	MaxRecordBytes = 4 << 20
	// MaxLockFileBytes bounds a file an extractor reads whole and decodes
	// (lock files, manifests, a pom.xml): decoding costs several times the
	// file, and the largest real lock files are a few megabytes. A larger
	// file is refused with a warning naming it (extractors want it whatever
	// its size, so that it is never skipped in silence).
	MaxLockFileBytes = 16 << 20
	// MaxDatabaseBytes bounds a package database read as a stream (dpkg
	// status, apk installed, rpm databases): the largest real ones are tens
	// of megabytes.
	MaxDatabaseBytes = 256 << 20
)

// ErrTooLarge is wrapped by the errors of inputs over their size limit.
var ErrTooLarge = errors.New("over the size limit")

// ErrTooManyPackages is wrapped by the error of a file listing more than
// MaxPackages packages.
var ErrTooManyPackages = fmt.Errorf("more than %d packages", MaxPackages)

// Warnings collects the warnings of one file (or of one run, with larger
// bounds) within a count and a byte budget; what does not fit is counted
// and reported as one summary line, so a file of a million bad records
// costs a hundred warnings. The zero value keeps MaxWarnings warnings of
// MaxWarningBytes in all.
type Warnings struct {
	// Path is set on warnings that name no path.
	Path string
	// Prefix is put before every message made by Addf ("dpkg: ").
	Prefix string
	// Max and MaxBytes override MaxWarnings and MaxWarningBytes when > 0.
	Max, MaxBytes int
	// Per names what the bound is per in the summary line ("" is "file").
	Per string

	kept    []model.Warning
	size    int
	dropped int
}

// summaryReserve is the room kept for the summary line.
const summaryReserve = 256

func (w *Warnings) limits() (n, bytes int) {
	n, bytes = MaxWarnings, MaxWarningBytes
	if w.Max > 0 {
		n = w.Max
	}
	if w.MaxBytes > 0 {
		bytes = w.MaxBytes
	}
	return n, max(bytes-summaryReserve, 0)
}

// Full reports whether the budget is spent: further warnings are only
// counted. A parser on a hot path checks it and calls Skip instead of
// building the arguments of a warning nobody will see.
func (w *Warnings) Full() bool { return w.full() }

// Skip counts one warning that is not kept.
func (w *Warnings) Skip() { w.dropped++ }

// full reports whether nothing more is kept: one entry stays free for the
// summary line.
func (w *Warnings) full() bool {
	n, bytes := w.limits()
	return len(w.kept) >= n-1 || w.size >= bytes
}

// Addf adds the warning Prefix + fmt.Sprintf(format, args...) about Path.
// Past the budget it only counts (no formatting).
func (w *Warnings) Addf(format string, args ...any) {
	if w.full() {
		w.dropped++
		return
	}
	w.Add(model.Warning{Message: w.Prefix + fmt.Sprintf(format, args...)})
}

// Add adds one warning (Path filled in when empty); a message longer than
// MaxMessageBytes is cut.
func (w *Warnings) Add(x model.Warning) {
	if w.full() {
		w.dropped++
		return
	}
	if x.Path == "" {
		x.Path = w.Path
	}
	x.Message = Truncate(x.Message, MaxMessageBytes)
	size := len(x.Layer) + len(x.Path) + len(x.Message)
	if _, bytes := w.limits(); w.size+size > bytes {
		w.dropped++
		return
	}
	w.size += size
	w.kept = append(w.kept, x)
}

// Len is how many warnings were added, kept or not.
func (w *Warnings) Len() int { return len(w.kept) + w.dropped }

// List returns the kept warnings, then, when some were dropped, one line
// saying how many.
func (w *Warnings) List() []model.Warning {
	out := append([]model.Warning(nil), w.kept...)
	if w.dropped > 0 {
		per := w.Per
		if per == "" {
			per = "file"
		}
		out = append(out, model.Warning{Path: w.Path, Message: fmt.Sprintf("%s%d more warnings not shown (at most %d are kept per %s)", w.Prefix, w.dropped, w.maxShown(), per)})
	}
	return out
}

func (w *Warnings) maxShown() int {
	n, _ := w.limits()
	return n - 1
}

// Bound returns ws within the per-file budget: unchanged when it fits
// (so bounding twice changes nothing), else its first warnings and a
// summary line.
func Bound(ws []model.Warning) []model.Warning {
	var w Warnings
	if len(ws) <= MaxWarnings && sizeOf(ws) <= MaxWarningBytes {
		return ws
	}
	for _, x := range ws {
		w.Add(x)
	}
	return w.List()
}

func sizeOf(ws []model.Warning) int {
	n := 0
	for _, x := range ws {
		if len(x.Message) > MaxMessageBytes {
			return MaxWarningBytes + 1
		}
		n += len(x.Layer) + len(x.Path) + len(x.Message)
	}
	return n
}

// Truncate cuts s to at most n bytes on a UTF-8 boundary, marking the cut
// with "…".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := max(n-len(mark), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// Full reports whether an extractor that holds n packages of one file
// should stop adding: it keeps at most MaxPackages+1, so that the
// cataloger, which refuses a file of more than MaxPackages packages
// (ErrTooManyPackages), sees it, and memory stays bounded meanwhile.
// Extractors that use a Collector get this from Add.
func Full(n int) bool { return n > MaxPackages }

// Collector builds the Result of one file within the bounds above: the
// warnings through Warnings, the packages up to MaxPackages.
type Collector struct {
	Warnings
	pkgs []model.Package
}

// NewCollector returns a collector for the file at path whose warnings
// start with "name: ".
func NewCollector(path, name string) *Collector {
	return &Collector{Warnings: Warnings{Path: path, Prefix: name + ": "}}
}

// Add adds one package; past MaxPackages it returns an error wrapping
// ErrTooManyPackages that names the file: the caller stops and returns it.
func (c *Collector) Add(p model.Package) error {
	if len(c.pkgs) >= MaxPackages {
		return fmt.Errorf("%s: %w", c.Path, ErrTooManyPackages)
	}
	c.pkgs = append(c.pkgs, p)
	return nil
}

// Packages is how many packages were added.
func (c *Collector) Packages() int { return len(c.pkgs) }

// Result returns the packages and the bounded warnings.
func (c *Collector) Result() Result {
	return Result{Packages: c.pkgs, Warnings: c.List()}
}

// Limit returns a reader of in that fails with an error wrapping
// ErrTooLarge, naming the file, once more than max bytes were read: a
// stream parser reads at most max bytes of a hostile file.
func Limit(in Input, max int64) io.Reader {
	return &limitReader{r: in.Reader, path: in.Path, left: max, max: max}
}

type limitReader struct {
	r    io.Reader
	path string
	left int64
	max  int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, tooLarge(l.path, l.max)
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n + int(l.left), tooLarge(l.path, l.max)
	}
	return n, err
}

func tooLarge(path string, max int64) error {
	return fmt.Errorf("read %s: larger than %d bytes: %w", path, max, ErrTooLarge)
}
