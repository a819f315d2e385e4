package vulndb

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bbolt page layout (go.etcd.io/bbolt/internal/common): a 16-byte header
// (id uint64, flags uint16, count uint16, overflow uint32); a meta page's
// body starts with magic, version, page size, flags, the root bucket
// (16 bytes), freelist, pgid, txid and a checksum.
const (
	pageFlagsOff  = 8
	metaPageSize  = 16 + 8
	metaTxidOff   = 16 + 48
	pageFlagLeaf  = 0x02
	pageFlagBogus = 0x20
)

// fixtureDB builds a small real database (testdata/mixed) and returns its
// path and bytes.
func fixtureDB(t testing.TB) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lockdown.db")
	if _, err := Update(context.Background(), path, []Source{{Location: "testdata/mixed"}}, UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b
}

func pageSize(b []byte) int { return int(binary.LittleEndian.Uint32(b[metaPageSize:])) }

// newerMeta is the meta page (0 or 1) with the higher transaction ID.
func newerMeta(b []byte) int {
	ps := pageSize(b)
	if binary.LittleEndian.Uint64(b[ps+metaTxidOff:]) > binary.LittleEndian.Uint64(b[metaTxidOff:]) {
		return 1
	}
	return 0
}

// leafPages lists the leaf pages of b.
func leafPages(b []byte) []int {
	ps := pageSize(b)
	var out []int
	for off := 2 * ps; off+ps <= len(b); off += ps {
		id := binary.LittleEndian.Uint64(b[off:])
		if int(id)*ps == off && binary.LittleEndian.Uint16(b[off+pageFlagsOff:])&pageFlagLeaf != 0 {
			out = append(out, int(id))
		}
	}
	return out
}

func setFlags(b []byte, page int, flags uint16) {
	binary.LittleEndian.PutUint16(b[page*pageSize(b)+pageFlagsOff:], flags)
}

func writeDB(t testing.TB, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lockdown.db")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOpenCorrupt: damaged files are refused with ErrCorrupt (and the
// sentence that says what to do), never a crash.
func TestOpenCorrupt(t *testing.T) {
	_, good := fixtureDB(t)
	if len(leafPages(good)) == 0 {
		t.Fatal("the fixture database has no leaf pages: the page layout assumed here is wrong")
	}
	corrupt := func(fn func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		fn(b)
		return b
	}
	for _, c := range []struct {
		name   string
		data   []byte
		wantIn string
	}{
		{"leaf pages of unknown type", corrupt(func(b []byte) {
			for _, p := range leafPages(b) {
				setFlags(b, p, pageFlagBogus)
			}
		}), "the vulnerability database is corrupt: run lockdown db update"},
		// bbolt falls back to the older meta page: the file as it was
		// before the status was written (schema 0, 0 records in status).
		{"newest meta page broken", corrupt(func(b []byte) {
			b[newerMeta(b)*pageSize(b)+metaTxidOff+3] ^= 0xff
		}), "no build status (a damaged meta page or an interrupted write): the vulnerability database is corrupt"},
		{"both meta pages broken", corrupt(func(b []byte) {
			b[metaTxidOff+3] ^= 0xff
			b[pageSize(b)+metaTxidOff+3] ^= 0xff
		}), "the vulnerability database is corrupt: run lockdown db update"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := writeDB(t, c.data)
			s, err := Open(p, OpenOptions{})
			if err == nil {
				s.Close()
				t.Fatalf("Open(%s) succeeded", c.name)
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.wantIn) || !strings.Contains(err.Error(), p) {
				t.Errorf("Open(%s) = %q, want ErrCorrupt naming %s and saying %q", c.name, err, p, c.wantIn)
			}
			if _, err := os.Stat(p + verifiedSuffix); err == nil {
				t.Errorf("Open(%s) stamped the file as verified", c.name)
			}
		})
	}
}

// TestOpenCorruptEveryLeaf damages one leaf page at a time: whether
// bbolt trips over it while Open reads the meta bucket (a recovered
// assertion) or only the page check finds it, Open refuses the file.
func TestOpenCorruptEveryLeaf(t *testing.T) {
	goodPath, good := fixtureDB(t)
	gs, err := Open(goodPath, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := readAll(t, gs)
	gs.Close()
	byCheck, unused := 0, 0
	for _, page := range leafPages(good) {
		b := append([]byte(nil), good...)
		setFlags(b, page, pageFlagBogus)
		p := writeDB(t, b)
		s, err := Open(p, OpenOptions{})
		if err == nil {
			// Only a page nothing reads (freed by the status transaction)
			// may be damaged unnoticed: every read still gives the same.
			if got := readAll(t, s); got != want {
				t.Errorf("Open(leaf page %d damaged) succeeded and reads differ:\n%s\nwant\n%s", page, got, want)
			}
			s.Close()
			unused++
			continue
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("Open(leaf page %d damaged) = %v, want ErrCorrupt", page, err)
		}
		if strings.Contains(err.Error(), "consistency check") {
			byCheck++
		}
	}
	if byCheck == 0 {
		t.Errorf("no damaged page was found by the consistency check: the check is not exercised")
	}
	t.Logf("%d leaf pages: damage found by the check on %d, by a recovered assertion on %d, %d unused", len(leafPages(good)), byCheck, len(leafPages(good))-byCheck-unused, unused)
}

// readAll renders every lookup and record of the fixture.
func readAll(t testing.TB, s *Store) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, k := range [][2]string{{"Go", "example.com/mod"}, {"Alpine:v3.19", "busybox"}, {"Frobnitz", "widget"}, {"Ubuntu:22.04", "widget"}} {
		vs, err := s.Lookup(ctx, k[0], k[1])
		fmt.Fprintf(&b, "%v %v: %d %v\n", k[0], k[1], len(vs), err)
		for _, v := range vs {
			fmt.Fprintf(&b, "  %s %d\n", v.ID, len(v.Affected))
		}
	}
	for _, id := range []string{"LOCKDOWN-TEST-0001", "LOCKDOWN-TEST-0002", "LOCKDOWN-TEST-0003", "LOCKDOWN-TEST-0004"} {
		v, ok, err := s.Get(ctx, id)
		fmt.Fprintf(&b, "%s: %v %v %s %d\n", id, ok, err, v.Summary, len(v.Affected))
	}
	return b.String()
}

// TestLookupCorruptAfterOpen: a file that passed verification and is
// damaged afterwards (in place, under the open store's map) makes lookups
// fail with ErrCorrupt instead of bbolt's assertion crashing the process.
func TestLookupCorruptAfterOpen(t *testing.T) {
	path, good := fixtureDB(t)
	s, err := Open(path, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Lookup(ctx, "Go", "example.com/mod"); err != nil {
		t.Fatalf("Lookup on the good file: %v", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range leafPages(good) {
		var b [2]byte
		binary.LittleEndian.PutUint16(b[:], pageFlagBogus)
		if _, err := f.WriteAt(b[:], int64(p*pageSize(good)+pageFlagsOff)); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	_, err = s.Lookup(ctx, "Go", "example.com/mod")
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("Lookup on the damaged file = %v, want ErrCorrupt", err)
	}
	if _, _, err := s.Get(ctx, "LOCKDOWN-TEST-0001"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Get on the damaged file = %v, want ErrCorrupt", err)
	}
}

// TestOpenVerifiesOnce: the first Open of a file checks every page and
// stamps it; later opens of the same file skip the check; a changed file
// is checked again.
func TestOpenVerifiesOnce(t *testing.T) {
	path, _ := fixtureDB(t)
	if _, err := os.Stat(path + verifiedSuffix); err == nil {
		t.Fatalf("Update stamped the file: the first Open should check it")
	}
	s, err := Open(path, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := verifiedStamp(path); got != stampOf(fi) {
		t.Fatalf("stamp after Open = %v, want %v", got, stampOf(fi))
	}
	// Rewrite the file (same bytes, a new inode and times): checked again.
	b, _ := os.ReadFile(path)
	os.Remove(path)
	os.WriteFile(path, b, 0o644)
	fi2, _ := os.Stat(path)
	if stampOf(fi2) == stampOf(fi) {
		t.Skip("host limit: the rewritten file has the same inode and times; cannot tell versions apart here")
	}
	s, err = Open(path, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got := verifiedStamp(path); got != stampOf(fi2) {
		t.Errorf("stamp after reopening the rewritten file = %v, want %v", got, stampOf(fi2))
	}
}

func FuzzOpen(f *testing.F) {
	_, good := fixtureDB(f)
	f.Add(good)
	b := append([]byte(nil), good...)
	for _, p := range leafPages(b) {
		setFlags(b, p, pageFlagBogus)
	}
	f.Add(b)
	b = append([]byte(nil), good...)
	b[newerMeta(b)*pageSize(b)+metaTxidOff+3] ^= 0xff
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := writeDB(t, data)
		s, err := Open(p, OpenOptions{})
		if err != nil {
			return
		}
		defer s.Close()
		ctx := context.Background()
		for _, k := range [][2]string{{"Go", "example.com/mod"}, {"Alpine:v3.19", "busybox"}, {"Frobnitz", "widget"}} {
			s.Lookup(ctx, k[0], k[1])
		}
		s.Get(ctx, "LOCKDOWN-TEST-0001")
	})
}

// BenchmarkOpenVerify is the first Open of a database of all the shared
// data (every page checked), against BenchmarkOpenVerified, the later ones.
func BenchmarkOpenVerify(b *testing.B) {
	path := sharedStore(b).Path()
	b.ReportAllocs()
	for b.Loop() {
		os.Remove(path + verifiedSuffix)
		s, err := Open(path, OpenOptions{})
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

func BenchmarkOpenVerified(b *testing.B) {
	path := sharedStore(b).Path()
	b.ReportAllocs()
	for b.Loop() {
		s, err := Open(path, OpenOptions{})
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// BenchmarkGuard is what the crash guard adds to every read (Lookup is a
// few microseconds).
func BenchmarkGuard(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		guard(func() error { return nil })
	}
}
