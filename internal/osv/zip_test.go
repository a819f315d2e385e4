package osv

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeZip writes a zip of name -> content; a name ending in "/" is a
// directory. lie gives an entry a declared size smaller than its content.
func writeZip(t *testing.T, files [][2]string, lie map[string]uint64) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		name, body := f[0], f[1]
		if n, ok := lie[name]; ok {
			w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Store, CRC32: crc32.ChecksumIEEE([]byte(body)), CompressedSize64: uint64(len(body)), UncompressedSize64: n})
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte(body))
			continue
		}
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "export.zip")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadZip(t *testing.T) {
	p := writeZip(t, [][2]string{
		{"a.json", `{"id":"A"}`},
		{"README.md", "not a record"},
		{"dir.json/", ""},
		{"deep/B.JSON", `{"id":"B"}`},
		{"big.json", strings.Repeat("x", 40)},
		{"c.json", `{"id":"C"}`},
	}, nil)
	var got []string
	err := ReadZip(context.Background(), p, "export", 32, func(e ZipEntry) error {
		switch {
		case e.TooLarge != nil && e.Data == nil:
			got = append(got, e.Name+" too large: "+e.TooLarge.Error())
		case e.TooLarge == nil:
			got = append(got, e.Name+" "+string(e.Data))
		default:
			t.Errorf("%s: data with TooLarge", e.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`a.json {"id":"A"}`,
		`deep/B.JSON {"id":"B"}`,
		"big.json too large: record of 40 bytes is larger than 32",
		`c.json {"id":"C"}`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries:\n got %q\nwant %q", got, want)
	}

	stop := errors.New("enough")
	n := 0
	if err := ReadZip(context.Background(), p, "export", 32, func(ZipEntry) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("fn's error: got %v after %d entries, want it after 1", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ReadZip(ctx, p, "export", 32, func(ZipEntry) error { t.Error("called after cancel"); return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v", err)
	}
}

func TestReadZipBroken(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.zip")
	os.WriteFile(bad, []byte("PK\x03\x04 not really"), 0o644)
	if err := ReadZip(context.Background(), bad, "bad", MaxRecord, func(ZipEntry) error { return nil }); err == nil || !strings.HasPrefix(err.Error(), "open zip bad: ") {
		t.Errorf("not a zip: got %v, want open zip bad: …", err)
	}
	// A deflated entry whose compressed bytes are overwritten: the zip
	// opens, the entry does not read.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("x.json")
	w.Write([]byte(strings.Repeat(`{"id":"X","details":"abcdefgh"}`, 64)))
	zw.Close()
	b := buf.Bytes()
	for i := 40; i < 80; i++ {
		b[i] ^= 0xff
	}
	p := filepath.Join(t.TempDir(), "corrupt.zip")
	os.WriteFile(p, b, 0o644)
	if err := ReadZip(context.Background(), p, "corrupt", MaxRecord, func(ZipEntry) error { return nil }); err == nil || !strings.HasPrefix(err.Error(), "read zip corrupt entry x.json: ") {
		t.Errorf("corrupt entry: got %v, want read zip corrupt entry x.json: …", err)
	}
	// An entry that declares fewer bytes than it holds is refused, not
	// read past its declared (and checked) size.
	liar := writeZip(t, [][2]string{{"liar.json", strings.Repeat("y", 40)}}, map[string]uint64{"liar.json": 10})
	if err := ReadZip(context.Background(), liar, "liar", 32, func(ZipEntry) error { t.Error("liar.json was read"); return nil }); err == nil || !strings.HasPrefix(err.Error(), "read zip liar entry liar.json: ") {
		t.Errorf("lying entry: got %v, want read zip liar entry liar.json: …", err)
	}
}
