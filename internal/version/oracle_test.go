package version

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// The tables are checked against the real implementations: dpkg
// --compare-versions, rpm's own rpm.vercmp (Lua, rpm ≥ 4.16) and apk
// version -t from the Alpine 3.20 minirootfs (apk-tools 2.14).

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestDpkgMatchesDpkg(t *testing.T) {
	dpkg := testutil.RequireCmd(t, "dpkg")
	ctx := ctxT(t)
	for _, tc := range dpkgCases {
		got := "="
		for _, op := range []struct{ rel, sym string }{{"lt", "<"}, {"gt", ">"}} {
			err := exec.CommandContext(ctx, dpkg, "--compare-versions", tc.a, op.rel, tc.b).Run()
			if err == nil {
				got = op.sym
				break
			}
			if _, ok := err.(*exec.ExitError); !ok {
				t.Fatalf("run dpkg: %v", err)
			}
		}
		if got != tc.op {
			t.Errorf("dpkg --compare-versions %q %q = %s, table says %s", tc.a, tc.b, got, tc.op)
		}
	}
}

func TestRPMMatchesRPM(t *testing.T) {
	rpm := testutil.RequireCmd(t, "rpm")
	// Every pair of versions in the table, not only the table's pairs.
	var vs []string
	seen := map[string]bool{}
	for _, tc := range rpmCases {
		for _, v := range []string{tc.a, tc.b} {
			if !seen[v] {
				seen[v] = true
				vs = append(vs, v)
			}
		}
	}
	in := filepath.Join(t.TempDir(), "pairs")
	var buf bytes.Buffer
	for _, a := range vs {
		for _, b := range vs {
			fmt.Fprintf(&buf, "%s\t%s\n", a, b)
		}
	}
	if err := os.WriteFile(in, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	// rpm joins the Lua print lines of one expansion without newlines, so
	// the records are joined with ";" and printed once.
	lua := `%{lua: local out = {}
for line in io.lines("` + in + `") do
  local a, b = line:match("^([^\t]*)\t([^\t]*)$")
  out[#out+1] = a .. "\t" .. b .. "\t" .. rpm.vercmp(a, b)
end
print(table.concat(out, ";"))}`
	out, err := exec.CommandContext(ctxT(t), rpm, "--eval", lua).Output()
	if err != nil {
		t.Fatalf("rpm --eval: %v", err)
	}
	s := RPM()
	n := 0
	for _, rec := range strings.Split(strings.TrimSpace(string(out)), ";") {
		f := strings.Split(rec, "\t")
		if len(f) != 3 {
			continue
		}
		n++
		want := map[string]string{"-1": "<", "0": "=", "1": ">"}[f[2]]
		a, _ := s.Parse(f[0])
		b, _ := s.Parse(f[1])
		if got := opOf(s.Compare(a, b)); got != want {
			t.Errorf("RPM Compare(%q, %q) = %s, rpm.vercmp says %s", f[0], f[1], got, want)
		}
	}
	if n != len(vs)*len(vs) {
		t.Fatalf("rpm compared %d pairs, want %d", n, len(vs)*len(vs))
	}
}

func TestAPKMatchesApk(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireCmd(t, "chroot", "tar")
	tgz := testutil.Data(t, "rootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz")
	root := t.TempDir()
	ctx := ctxT(t)
	if out, err := exec.CommandContext(ctx, "tar", "-xzf", tgz, "-C", root).CombinedOutput(); err != nil {
		t.Fatalf("extract %s: %v: %s", tgz, err, out)
	}
	var buf bytes.Buffer
	for _, tc := range apkCases {
		fmt.Fprintf(&buf, "%s %s\n", tc.a, tc.b)
	}
	// One shell in the chroot runs apk version -t for every pair.
	cmd := exec.CommandContext(ctx, "chroot", root, "/bin/sh", "-c",
		`while read a b; do echo "$a $b $(apk version -t "$a" "$b")"; done`)
	cmd.Stdin = &buf
	cmd.Env = []string{"PATH=/sbin:/bin:/usr/sbin:/usr/bin"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("apk in chroot: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(apkCases) {
		t.Fatalf("apk answered %d lines, want %d", len(lines), len(apkCases))
	}
	for k, l := range lines {
		f := strings.Fields(l)
		tc := apkCases[k]
		if len(f) != 3 || f[0] != tc.a || f[1] != tc.b {
			t.Fatalf("apk line %q does not match case %v", l, tc)
		}
		if f[2] != tc.op {
			t.Errorf("apk version -t %q %q = %s, table says %s", tc.a, tc.b, f[2], tc.op)
		}
	}
}
