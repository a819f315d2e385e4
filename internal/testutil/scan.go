package testutil

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TarGzFiles returns every regular file of a .tar.gz: name -> content.
func TarGzFiles(t testing.TB, archive string) map[string]string {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatalf("open %s: %v", archive, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("gunzip %s: %v", archive, err)
	}
	out := map[string]string{}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("read %s: %v", archive, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read %s in %s: %v", hdr.Name, archive, err)
		}
		out[hdr.Name] = string(b)
	}
}

// SourceHash hashes the non-test Go files of the given repository
// directories ("internal/vulndb"), so a cache of something those packages
// build (a test advisory DB) is rebuilt when their code changes.
func SourceHash(t testing.TB, dirs ...string) string {
	t.Helper()
	h := sha256.New()
	for _, d := range dirs {
		files, err := filepath.Glob(filepath.Join(RepoRoot(t), filepath.FromSlash(d), "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(files)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(f), len(b))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
