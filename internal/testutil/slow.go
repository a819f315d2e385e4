package testutil

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"testing"
	"time"
)

// SlowImage writes (into t.TempDir()) a docker-archive of about 8 MB
// whose one gzip layer expands to SlowImageBytes of zero-filled files,
// none of which any extractor reads, and returns its target string. Read
// to the end it costs tens of seconds of decompression and hashing (the
// layer's diff ID is wrong, so a full read fails at the end): the input
// for tests of deadlines (--timeout, serve's --job-timeout). The layer is
// a series of gzip members (as gzip allows), so writing it costs nothing.
func SlowImage(t testing.TB) string {
	t.Helper()
	const (
		mib      = 1 << 20
		fileSize = 256 * mib
	)
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	zeros := gz(make([]byte, mib))
	var blob bytes.Buffer
	for i := range SlowImageBytes / fileSize {
		var hdr bytes.Buffer
		tw := tar.NewWriter(&hdr)
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("zeros/%02d", i), Mode: 0o644, Size: fileSize, ModTime: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
		// WriteHeader has written the header block; the content follows
		// as separate members.
		if hdr.Len() != 512 {
			t.Fatalf("tar header of %d bytes, want 512", hdr.Len())
		}
		blob.Write(gz(hdr.Bytes()))
		for range fileSize / mib {
			blob.Write(zeros)
		}
	}
	blob.Write(gz(make([]byte, 1024))) // the end-of-archive blocks
	return "docker-archive:" + WriteDockerArchive(t, t.TempDir(), ArchiveLayer{
		Blob:   blob.Bytes(),
		DiffID: "sha256:0000000000000000000000000000000000000000000000000000000000000000",
	})
}

// SlowImageBytes is the uncompressed size of SlowImage's layer.
const SlowImageBytes = 30 * 256 << 20
