package testutil

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TarGzFile returns the content of the regular file name ("lib/apk/db/installed",
// leading "./" and "/" ignored) inside the gzipped tar archive at archive.
// It fails the test when the file is not there.
func TarGzFile(t testing.TB, archive, name string) []byte {
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
	want := path.Clean("/" + name)
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read %s: %v", archive, err)
		}
		if path.Clean("/"+strings.TrimPrefix(hdr.Name, "./")) != want || hdr.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read %s in %s: %v", name, archive, err)
		}
		return data
	}
	t.Fatalf("%s: no regular file %s", archive, name)
	return nil
}

// GoBinary builds a Go program from files (relative path -> content; a
// go.mod among them) and returns the path of the executable. The build
// runs with GOFLAGS=-mod=mod (go.sum is written as needed, so modules come
// from the Go proxy or the module cache) and CGO_ENABLED=0, and the result
// is cached under CacheDir("gobinary") by a hash of the files and the Go
// version, so later runs do not rebuild.
func GoBinary(t testing.TB, files map[string]string) string {
	t.Helper()
	return GoBinaryWith(t, files, GoBuild{})
}

// GoBuild varies a GoBinary build. The zero value is a plain build.
type GoBuild struct {
	GOOS, GOARCH string // "" builds for this machine
	LDFlags      string // -ldflags ("-s -w" strips the symbol table)
	// Toolchain builds with another Go release ("go1.22.0"), which the go
	// command takes from the Go module proxy (GOTOOLCHAIN).
	Toolchain string
}

// GoBinaryWith is GoBinary with build options, cached by them too.
func GoBinaryWith(t testing.TB, files map[string]string, b GoBuild) string {
	t.Helper()
	goCmd := RequireCmd(t, "go")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "CGO_ENABLED=0", "GOWORK=off")
	for k, v := range map[string]string{"GOOS": b.GOOS, "GOARCH": b.GOARCH, "GOTOOLCHAIN": b.Toolchain} {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	ver, err := exec.CommandContext(ctx, goCmd, "env", "GOVERSION").Output()
	if err != nil {
		t.Fatalf("go env GOVERSION: %v", err)
	}
	h := sha256.New()
	h.Write(ver)
	if b != (GoBuild{}) {
		fmt.Fprintf(h, "%+v\x00", b)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(h, "%s\x00%s\x00", name, files[name])
	}
	key := hex.EncodeToString(h.Sum(nil))[:16]
	out := filepath.Join(CacheDir(t, "gobinary"), key)
	if _, err := os.Stat(out); err == nil {
		return out
	}
	src := t.TempDir()
	for name, content := range files {
		p := filepath.Join(src, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmp := out + ".tmp-" + strconv.Itoa(os.Getpid())
	args := []string{"build", "-o", tmp}
	if b.LDFlags != "" {
		args = append(args, "-ldflags="+b.LDFlags)
	}
	cmd := exec.CommandContext(ctx, goCmd, append(args, ".")...)
	cmd.Dir = src
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		missing(t, "go build of the test program (%+v) failed (needs the Go module proxy or a warm module cache): %v\n%s", b, err, out)
	}
	if err := os.Rename(tmp, out); err != nil {
		t.Fatalf("cache go binary: %v", err)
	}
	return out
}

// DpkgQuery lists the installed packages ("install ok installed" or "hold
// ok installed") of a dpkg admin dir with dpkg-query itself, one sorted
// line per package: "name\tversion\tarch\tsource\tsourceVersion".
func DpkgQuery(t testing.TB, admindir string) []string {
	t.Helper()
	RequireCmd(t, "dpkg-query")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "dpkg-query", "--admindir="+admindir, "-W",
		"-f", `${Status}\t${Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\n`)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dpkg-query --admindir=%s: %v: %s", admindir, err, stderr.String())
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		status, rest, _ := strings.Cut(l, "\t")
		if status == "install ok installed" || status == "hold ok installed" {
			lines = append(lines, rest)
		}
	}
	sort.Strings(lines)
	return lines
}
