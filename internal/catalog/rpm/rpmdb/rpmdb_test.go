package rpmdb

import (
	"bytes"
	"encoding/binary"
	"hash/adler32"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// The database files are checked against the rpm CLI in package rpm; the
// tests here pin what that check found and cover the corner cases.

// realBlobs returns copies of the header blobs of a real database file.
func realBlobs(t testing.TB, name string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(testutil.Data(t, "pkgdb/rpm/"+name))
	if err != nil {
		t.Fatal(err)
	}
	var blobs [][]byte
	keep := func(b []byte) { blobs = append(blobs, bytes.Clone(b)) }
	bad := func(msg string) { t.Errorf("%s: %s", name, msg) }
	format, err := DetectFormat(data)
	if err != nil {
		t.Fatal(err)
	}
	switch format {
	case FormatNDB:
		err = ReadNDB(bytes.NewReader(data), int64(len(data)), keep, bad)
	case FormatBDB:
		err = ReadBDB(bytes.NewReader(data), int64(len(data)), keep, bad)
	default:
		t.Fatalf("%s: format %s", name, format)
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return blobs
}

func names(t testing.TB, blobs [][]byte) []string {
	t.Helper()
	var out []string
	for _, b := range blobs {
		h, err := ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Name+"-"+h.Version+"-"+h.Release+"."+h.Arch)
	}
	return out
}

func TestReadReal(t *testing.T) {
	tests := []struct {
		file  string
		count int
		first string
	}{
		{"el8-libuuid-only.Packages", 1, "libuuid-2.32.1-42.el8_8.x86_64"},
		{"rockylinux9-dive-only.Packages", 1, "dive-0.9.2-1.x86_64"},
		{"sle15-bci.Packages.db", 35, "system-user-root-20190513-3.3.1.noarch"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := names(t, realBlobs(t, tt.file))
			if len(got) != tt.count || got[0] != tt.first {
				t.Errorf("read %s = %d headers starting %v, want %d starting %s", tt.file, len(got), got[:min(len(got), 1)], tt.count, tt.first)
			}
		})
	}
}

// buildNDB writes an NDB database holding blobs, laid out as rpm's ndb
// backend does (one slot page, free slots after the used ones).
func buildNDB(blobs [][]byte) []byte {
	hdr := make([]byte, ndbPageSize)
	copy(hdr, ndbMagic)
	binary.LittleEndian.PutUint32(hdr[8:], 1)                     // generation
	binary.LittleEndian.PutUint32(hdr[12:], 1)                    // slot pages
	binary.LittleEndian.PutUint32(hdr[16:], uint32(len(blobs)+1)) // next package index
	blk := uint32(ndbPageSize / ndbBlockSize)
	var data bytes.Buffer
	for i, b := range blobs {
		cnt := uint32((ndbBlobHead + len(b) + ndbBlobTail + ndbBlockSize - 1) / ndbBlockSize)
		s := hdr[ndbHeaderSize+i*ndbSlotSize:]
		copy(s, ndbSlotMagic)
		binary.LittleEndian.PutUint32(s[4:], uint32(i+1))
		binary.LittleEndian.PutUint32(s[8:], blk)
		binary.LittleEndian.PutUint32(s[12:], cnt)
		blob := make([]byte, cnt*ndbBlockSize)
		copy(blob, ndbBlobMagic)
		binary.LittleEndian.PutUint32(blob[4:], uint32(i+1))
		binary.LittleEndian.PutUint32(blob[8:], 1)
		binary.LittleEndian.PutUint32(blob[12:], uint32(len(b)))
		copy(blob[ndbBlobHead:], b)
		tail := blob[len(blob)-ndbBlobTail:]
		binary.LittleEndian.PutUint32(tail[0:], adler32.Checksum(blob[:len(blob)-ndbBlobTail]))
		binary.LittleEndian.PutUint32(tail[4:], uint32(len(b)))
		copy(tail[8:], ndbTailMagic)
		data.Write(blob)
		blk += cnt
	}
	for i := len(blobs); ndbHeaderSize+(i+1)*ndbSlotSize <= ndbPageSize; i++ {
		copy(hdr[ndbHeaderSize+i*ndbSlotSize:], ndbSlotMagic)
	}
	return append(hdr, data.Bytes()...)
}

func TestReadNDBBuilt(t *testing.T) {
	blobs := append(realBlobs(t, "el8-libuuid-only.Packages"), realBlobs(t, "rockylinux9-dive-only.Packages")...)
	db := buildNDB(blobs)
	var got [][]byte
	var warnings []string
	err := ReadNDB(bytes.NewReader(db), int64(len(db)), func(b []byte) { got = append(got, bytes.Clone(b)) },
		func(msg string) { warnings = append(warnings, msg) })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(blobs, got); diff != "" || len(warnings) != 0 {
		t.Errorf("ReadNDB(built) blobs (-want +got):\n%s\nwarnings %v", diff, warnings)
	}
}

func TestReadNDBErrors(t *testing.T) {
	good := buildNDB(realBlobs(t, "rockylinux9-dive-only.Packages"))
	tests := []struct {
		name        string
		corrupt     func([]byte) []byte
		wantErr     string
		wantWarning string
	}{
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return b }, "magic", ""},
		{"bad version", func(b []byte) []byte { b[4] = 1; return b }, "version 1", ""},
		{"no slot pages", func(b []byte) []byte { b[12] = 0; return b }, "slot pages", ""},
		{"bad slot magic", func(b []byte) []byte { b[ndbHeaderSize+ndbSlotSize] = 'X'; return b }, "slot 1: magic", ""},
		{"truncated blob", func(b []byte) []byte { return b[:len(b)-100] }, "truncated", ""},
		{"slot page only", func(b []byte) []byte { return b[:ndbPageSize] }, "truncated", ""},
		{"bad checksum", func(b []byte) []byte { b[ndbPageSize+100] ^= 1; return b }, "", "checksum"},
		{"bad blob magic", func(b []byte) []byte { b[ndbPageSize] = 'X'; return b }, "", "blob magic"},
		{"blob of another package", func(b []byte) []byte { b[ndbPageSize+4] = 9; return b }, "", "belongs to package 9"},
		{"blob length too big", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[ndbPageSize+12:], 1<<20); return b }, "", "exceeds"},
		{"blob inside slot page", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[ndbHeaderSize+8:], 2); return b }, "", "outside the data area"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := tt.corrupt(bytes.Clone(good))
			var n int
			var warnings []string
			err := ReadNDB(bytes.NewReader(db), int64(len(db)), func([]byte) { n++ }, func(m string) { warnings = append(warnings, m) })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ReadNDB(%s) error = %v, want one saying %q", tt.name, err, tt.wantErr)
				}
				return
			}
			if err != nil || n != 0 || len(warnings) != 1 || !strings.Contains(warnings[0], tt.wantWarning) {
				t.Errorf("ReadNDB(%s) = %d blobs, warnings %q, error %v; want 0, one saying %q", tt.name, n, warnings, err, tt.wantWarning)
			}
		})
	}
}

func TestReadBDBErrors(t *testing.T) {
	good, err := os.ReadFile(testutil.Data(t, "pkgdb/rpm/el8-libuuid-only.Packages"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		corrupt func([]byte) []byte
		wantErr string
	}{
		{"not a hash db", func(b []byte) []byte { b[12] = 0; return b }, "not a hash database"},
		{"bad page size", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[20:], 1000); return b }, "page size 1000"},
		{"encrypted", func(b []byte) []byte { b[24] = 1; return b }, "encrypted"},
		{"not a meta page", func(b []byte) []byte { b[25] = 9; return b }, "meta page type 9"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-4096] }, "truncated"},
		{"short", func(b []byte) []byte { return b[:20] }, "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := tt.corrupt(bytes.Clone(good))
			err := ReadBDB(bytes.NewReader(db), int64(len(db)), func([]byte) {}, func(string) {})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ReadBDB(%s) error = %v, want one saying %q", tt.name, err, tt.wantErr)
			}
		})
	}
}

// TestReadBDBBrokenOverflow: a header whose overflow chain is broken is a
// warning, not an error and not a panic.
func TestReadBDBBrokenOverflow(t *testing.T) {
	good, err := os.ReadFile(testutil.Data(t, "pkgdb/rpm/el8-libuuid-only.Packages"))
	if err != nil {
		t.Fatal(err)
	}
	// Turn every overflow page into an unknown page type.
	db := bytes.Clone(good)
	for off := 4096; off+4096 <= len(db); off += 4096 {
		if db[off+25] == bdbPageOverflow {
			db[off+25] = 0
		}
	}
	var n int
	var warnings []string
	err = ReadBDB(bytes.NewReader(db), int64(len(db)), func([]byte) { n++ }, func(m string) { warnings = append(warnings, m) })
	if err != nil || n != 0 || len(warnings) != 1 || !strings.Contains(warnings[0], "overflow chain reaches page") {
		t.Errorf("ReadBDB(broken overflow) = %d values, warnings %q, error %v; want 0, one overflow warning", n, warnings, err)
	}
}

func TestDetectFormat(t *testing.T) {
	tests := []struct {
		head string
		want string
	}{
		{"SQLite format 3\x00", FormatSQLite},
		{"RpmP\x00\x00\x00\x00", FormatNDB},
		{"\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x61\x15\x06\x00", FormatBDB},
		{"\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x06\x15\x61", FormatBDB},
		{"SQLite format 2\x00", ""},
		{"", ""},
		{"\x8e\xad\xe8\x01", ""},
	}
	for _, tt := range tests {
		got, err := DetectFormat([]byte(tt.head))
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("DetectFormat(%q) = %q, %v; want %q", tt.head, got, err, tt.want)
		}
	}
}

func TestParseSourceRPM(t *testing.T) {
	tests := []struct{ in, name, vr string }{
		{"util-linux-2.32.1-42.el8_8.src.rpm", "util-linux", "2.32.1-42.el8_8"},
		{"glibc-2.34-2.cm2.src.rpm", "glibc", "2.34-2.cm2"},
		{"foo-bar-baz-1.0-1.nosrc.rpm", "foo-bar-baz", "1.0-1"},
		{"nodash.src.rpm", "", ""},
		{"a-1.src.rpm", "", ""},
		{"x-1-2.src", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		if name, vr := parseSourceRPM(tt.in); name != tt.name || vr != tt.vr {
			t.Errorf("parseSourceRPM(%q) = %q, %q, want %q, %q", tt.in, name, vr, tt.name, tt.vr)
		}
	}
}

func TestPackageFromRealHeader(t *testing.T) {
	h, err := ParseHeader(realBlobs(t, "el8-libuuid-only.Packages")[0])
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.Package()
	if err != nil {
		t.Fatal(err)
	}
	want := model.Package{Name: "libuuid", Version: "2.32.1-42.el8_8", Type: model.TypeRPM, Arch: "x86_64",
		SourceName: "util-linux", SourceVersion: "2.32.1-42.el8_8", Licenses: []string{"BSD"},
		Metadata: map[string]string{"sourceRPM": "util-linux-2.32.1-42.el8_8.src.rpm"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Package() (-want +got):\n%s", diff)
	}
}

func FuzzReadNDB(f *testing.F) {
	f.Add(buildNDB(realBlobs(f, "rockylinux9-dive-only.Packages")))
	f.Add(buildNDB(nil))
	f.Add(buildNDB([][]byte{{0, 0, 0, 1, 0, 0, 0, 0}}))
	f.Add([]byte("RpmP"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		err := ReadNDB(bytes.NewReader(data), int64(len(data)), func(b []byte) {
			n++
			if h, err := ParseHeader(b); err == nil {
				_, _ = h.Package()
			}
		}, func(string) {})
		if err == nil && n > len(data)/ndbBlockSize {
			t.Errorf("ReadNDB returned %d blobs from %d bytes", n, len(data))
		}
	})
}

func FuzzReadBDB(f *testing.F) {
	data, err := os.ReadFile(testutil.Data(f, "pkgdb/rpm/rockylinux9-dive-only.Packages"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(data[:4096])
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = ReadBDB(bytes.NewReader(data), int64(len(data)), func(b []byte) { _, _ = ParseHeader(b) }, func(string) {})
	})
}

func BenchmarkReadNDB(b *testing.B) {
	data, err := os.ReadFile(testutil.Data(b, "pkgdb/rpm/sle15-bci.Packages.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := ReadNDB(bytes.NewReader(data), int64(len(data)), func(blob []byte) {
			if _, err := ParseHeader(blob); err != nil {
				b.Fatal(err)
			}
		}, func(msg string) { b.Fatal(msg) }); err != nil {
			b.Fatal(err)
		}
	}
}
