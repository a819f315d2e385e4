package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// TestHostNames: hostNames is exactly what hostCommands registers (the
// scanner build answers those names), and the two lists together are
// every command.
func TestHostNames(t *testing.T) {
	if scannerBuild {
		t.Skip("the host commands are in the full build")
	}
	g := &globals{}
	var host, all []string
	for _, c := range hostCommands(g) {
		host = append(host, c.Name())
	}
	for _, c := range commands(g) {
		all = append(all, c.Name())
	}
	if !slices.Equal(host, hostNames) {
		t.Errorf("hostCommands registers %v; hostNames says %v", host, hostNames)
	}
	scanner := slices.DeleteFunc(slices.Clone(all), func(n string) bool { return slices.Contains(hostNames, n) })
	if want := []string{"version", "sbom", "scan", "cache", "db"}; !slices.Equal(scanner, want) {
		t.Errorf("the scanner build's commands are %v; want %v", scanner, want)
	}
}

// TestScannerBuild: the scanner build (-tags scanonly) links none of the
// host commands' dependencies, answers the host commands with where to
// find them, and reports exactly what the full binary reports.
func TestScannerBuild(t *testing.T) {
	testutil.RequireCmd(t, "go")
	root := testutil.RepoRoot(t)
	deps := func(tags ...string) map[string]bool {
		args := append(append([]string{"list"}, tags...), "-deps", "./cmd/lockdown")
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go %v: %v", args, err)
		}
		m := map[string]bool{}
		for _, p := range strings.Fields(string(out)) {
			m[p] = true
		}
		return m
	}
	full, scanner := deps(), deps("-tags", "scanonly")
	// What only the host commands need; each must be in the full build
	// (else this check would pass for a renamed package) and not in the
	// scanner build.
	for _, prefix := range []string{
		"k8s.io/api/",                       // netpol, lint, harden
		"github.com/prometheus/",            // serve, netpol apply
		"github.com/moby/buildkit/",         // lint (Dockerfile)
		"github.com/compose-spec/",          // lint, harden (Compose)
		"github.com/elastic/go-seccomp-bpf", // harden (seccomp)
		"github.com/google/nftables",        // netpol apply
		"github.com/jackc/pgx/",             // serve (PostgreSQL)
	} {
		in := func(m map[string]bool) bool {
			for p := range m {
				if strings.HasPrefix(p, prefix) {
					return true
				}
			}
			return false
		}
		if !in(full) {
			t.Errorf("the full build has no %s package: update this list", prefix)
		}
		if in(scanner) {
			t.Errorf("the scanner build links %s", prefix)
		}
	}
	t.Logf("packages: full build %d, scanner build %d", len(full), len(scanner))

	bin, sbin := testutil.LockdownBinary(t), testutil.ScannerBinary(t)
	run := func(bin string, args ...string) (int, []byte, string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "LOCKDOWN_CACHE_DIR="+filepath.Join(t.TempDir(), "cache"))
		c := testutil.RunCommand(t, cmd)
		return c.Code, c.Stdout, string(c.Stderr)
	}
	if code, out, _ := run(sbin, "version"); code != 0 || !strings.Contains(string(out), "(scanner build, go") {
		t.Errorf("scanner build: version = exit %d, %q; want it to say scanner build", code, out)
	}
	if code, out, _ := run(bin, "version"); code != 0 || strings.Contains(string(out), "scanner build") {
		t.Errorf("full build: version = exit %d, %q", code, out)
	}
	code, help, _ := run(sbin, "--help")
	if code != 0 || !strings.HasPrefix(string(help), "Lockdown's scanner build: ") || !strings.Contains(string(help), "\n  sbom ") {
		t.Errorf("scanner build: --help = exit %d:\n%s", code, help)
	}
	for _, name := range hostNames {
		if strings.Contains(string(help), "\n  "+name+" ") {
			t.Errorf("scanner build: --help lists %s", name)
		}
		want := "lockdown: " + name + " is not in this build: this is the scanner build (sbom, scan, db, cache, version); run " + name + " with the full lockdown binary\n"
		if code, out, errOut := run(sbin, name, "--help"); code != ExitBadInput || errOut != want || len(out) != 0 {
			t.Errorf("scanner build: %s --help = exit %d, stdout %q, stderr %q; want exit 2 and %q", name, code, out, errOut, want)
		}
		if code, _, errOut := run(bin, name, "--help"); code != 0 {
			t.Errorf("full build: %s --help = exit %d, %s", name, code, errOut)
		}
	}

	// The same reports, but for the time they were made.
	deb := testutil.DebianImage(t)
	db := scanDB(t)
	nodeGoat := filepath.Join(testutil.DataDir(t), "lockfiles", "npm", "NodeGoat")
	for _, args := range [][]string{
		{"sbom", "--format", "json", "--quiet", "docker-archive:" + deb.DockerArchive},
		{"sbom", "--format", "cyclonedx-json", "--quiet", "oci-dir:" + deb.OCIDir},
		{"sbom", "--format", "spdx-json", "--quiet", "oci-dir:" + deb.OCIDir},
		{"scan", "--format", "json", "--quiet", "--db", db, "--max-db-age", "0", "dir:" + nodeGoat},
		{"scan", "--format", "json", "--quiet", "--db", db, "--max-db-age", "0", "docker-archive:" + deb.DockerArchive},
	} {
		code, out, errOut := run(bin, args...)
		scode, sout, serrOut := run(sbin, args...)
		if code == ExitBadInput || code != scode || errOut != serrOut {
			t.Errorf("lockdown %v: full build exit %d (%s), scanner build exit %d (%s)", args[:3], code, errOut, scode, serrOut)
			continue
		}
		a, b := withoutTimes(t, out), withoutTimes(t, sout)
		if !reflect.DeepEqual(a, b) || len(out) < 1000 {
			t.Errorf("lockdown %v: the builds' reports differ (or are empty: %d bytes)", args[:3], len(out))
		}
	}
}

// withoutTimes decodes a JSON report and drops the keys that hold when it
// was made.
func withoutTimes(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode report: %v", err)
	}
	var strip func(any)
	strip = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				switch k {
				case "createdAt", "timestamp", "created":
					delete(v, k)
				default:
					strip(e)
				}
			}
		case []any:
			for _, e := range v {
				strip(e)
			}
		}
	}
	strip(v)
	return v
}
