package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// Hostile text: clear the screen, set the window title, write the
// clipboard, a C1 CSI, a right-to-left override, a carriage return.
const (
	evilCSI   = "\x1b[2J"
	evilTitle = "\x1b]0;pwned\x07"
	evilClip  = "\x1b]52;c;cHduZWQ=\x07"
	evilC1    = "\u009b31m"
	evilBidi  = "\u202e"
	evilCR    = "\rOK"
)

// rawControl returns the first raw control character of out (anything a
// terminal could act on but newline and tab), or "" when there is none.
func rawControl(out string) string {
	for i := 0; i < len(out); {
		r, n := utf8.DecodeRuneInString(out[i:])
		switch {
		case r == '\n' || r == '\t':
		case r == utf8.RuneError && n == 1,
			r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0,
			r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			lo, hi := max(i-30, 0), min(i+30, len(out))
			return strings.ToValidUTF8(out[lo:hi], "?")
		}
		i += n
	}
	return ""
}

// hostileImage is a docker-archive whose tag, file names, package names
// and malformed lines carry escape sequences; and an OCI layout of it
// whose ref name does.
func hostileImage(t *testing.T) (archive, ociDir string) {
	t.Helper()
	layer := testutil.LayerTar(t,
		testutil.TarFile("etc/os-release", "ID=alpine\nVERSION_ID=3.20.3\n"),
		testutil.TarFile("lib/apk/db/installed",
			"P:evil"+evilCSI+"\nV:1.0-r0\nA:x86_64\no:evil"+evilCSI+"\n\n"+
				"P:bidi"+evilBidi+"\nV:1.0-r0\n\n"+
				"x"+evilTitle+"junk\n\n"),
		testutil.TarFile("var/lib/dpkg/status.d/evil"+evilTitle+evilC1, "garbage"+evilClip+"\n"),
		testutil.TarFile("app/package-lock.json", `{"lockfileVersion":3,"packages":{"node_modules/a`+"\\u001b[2J"+`":{"version":"1`+"\\u009b"+`"}}}`),
	)
	archive = testutil.WriteDockerArchiveTagged(t, t.TempDir(), []string{"evil" + evilCSI + "/img:" + evilC1},
		testutil.ArchiveLayer{Blob: layer, CreatedBy: "RUN " + evilTitle})
	img, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	ociDir = filepath.Join(t.TempDir(), "oci")
	lp, err := layout.Write(ociDir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": "evil" + evilTitle + evilBidi,
	})); err != nil {
		t.Fatal(err)
	}
	return archive, ociDir
}

// TestHostileNamesNeverReachTheTerminal runs the commands on inputs whose
// names carry escape sequences (file names in layers, manifest RepoTags,
// OCI ref names, package names, advisory titles, ecosystem names, policy
// names, paths in error lines) and greps everything they print, standard
// output and standard error, for raw control characters.
func TestHostileNamesNeverReachTheTerminal(t *testing.T) {
	archive, ociDir := hostileImage(t)
	dir := t.TempDir()

	// An advisory database whose records name the hostile package, with
	// hostile IDs, titles and an ecosystem name.
	osvDir := filepath.Join(dir, "osv")
	os.MkdirAll(osvDir, 0o755)
	records := map[string]map[string]any{
		"a.json": {
			"id": "EVIL-2024-1", "modified": "2024-01-01T00:00:00Z",
			"summary": evilTitle + "harmless" + evilCR + evilBidi,
			"details": "line one\n" + evilCSI + "line two",
			"affected": []any{map[string]any{
				"package": map[string]any{"ecosystem": "Alpine:v3.20", "name": "evil" + evilCSI},
				"ranges":  []any{map[string]any{"type": "ECOSYSTEM", "events": []any{map[string]any{"introduced": "0"}, map[string]any{"fixed": "2.0-r0"}}}},
			}},
		},
		"b.json": {
			"id": "EVIL-2024-2", "modified": "2024-01-01T00:00:00Z",
			"affected": []any{map[string]any{"package": map[string]any{"ecosystem": "Evil" + evilTitle + evilC1, "name": "x" + evilClip}}},
		},
	}
	for name, rec := range records {
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(osvDir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db := filepath.Join(dir, "lockdown.db")

	// Policies with hostile names, one of them broken.
	polDir := filepath.Join(dir, "policies")
	os.MkdirAll(polDir, 0o755)
	os.WriteFile(filepath.Join(polDir, "p.yaml"), []byte(`apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: "evil\e[2J\e]0;pwned\a"
  namespace: "shop\u009b"
spec:
  selector: app == 'web'
  ingress:
  - action: Allow
    source:
      selector: "app == 'x\e[2J'"
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: "broken\e[2J"
  namespace: shop
spec:
  selector: "app = \e]0;x\a"
`), 0o644)

	// A valid policy set whose policy and pod names carry escapes, and a
	// changed copy for diff.
	valid, changed := filepath.Join(dir, "valid"), filepath.Join(dir, "changed")
	for _, d := range []string{valid, changed} {
		os.MkdirAll(d, 0o755)
		action := "Allow"
		if d == changed {
			action = "Deny"
		}
		os.WriteFile(filepath.Join(d, "p.yaml"), []byte(`apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: "evil\e[2J\e]0;pwned\a"
  namespace: shop
spec:
  selector: app == 'web'
  types: [Ingress]
  ingress:
  - action: `+action+`
    source:
      selector: app == 'client'
---
apiVersion: v1
kind: Pod
metadata:
  name: "web\e[2J"
  namespace: shop
  labels: {app: web}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata:
  name: "client\u009b"
  namespace: shop
  labels: {app: client}
status: {podIP: 10.0.0.2}
`), 0o644)
	}

	runs := [][]string{
		{"netpol", "validate", valid},
		{"netpol", "check", valid, "--from", "shop/client\u009b", "--to", "shop/web" + evilCSI, "--port", "80", "--explain"},
		{"netpol", "check", valid, "--from", "10.0.0.2", "--to", "10.0.0.1", "--port", "80", "--explain"},
		{"netpol", "matrix", valid, "--port", "80"},
		{"netpol", "matrix", valid, "--port", "80", "--format", "csv"},
		{"netpol", "matrix", valid, "--port", "80", "--format", "dot"},
		{"netpol", "matrix", valid, "--port", "80", "--format", "svg"},
		{"netpol", "matrix", valid, "--port", "80", "--format", "json"},
		{"netpol", "lint", valid},
		{"netpol", "lint", valid, "--format", "json"},
		{"netpol", "diff", valid, changed, "--port", "80"},
		{"db", "update", "--db", db, "--source", osvDir},
		{"db", "status", "--db", db},
		{"db", "status", "--db", db, "--format", "json"},
		{"netpol", "validate", polDir},
		{"netpol", "validate", polDir, "--format", "json"},
		{"lockdown" + evilCSI},
		{"sbom", "docker-archive:" + filepath.Join(dir, "no"+evilTitle+".tar")},
		{"sbom", "oci-dir:" + ociDir + ":nosuch" + evilCSI},
		{"scan", "--db", db, "--format", "nosuch" + evilCSI, "docker-archive:" + archive},
	}
	for _, target := range []string{"docker-archive:" + archive, "oci-dir:" + ociDir} {
		for _, format := range []string{"table", "json", "cyclonedx-json", "spdx-json"} {
			runs = append(runs, []string{"sbom", "--no-cache", "--format", format, target})
		}
		for _, format := range []string{"table", "json", "sarif", "cyclonedx-json"} {
			runs = append(runs, []string{"scan", "--no-cache", "--db", db, "--format", format, target})
		}
	}
	seen := map[string]bool{}
	for _, args := range runs {
		code, out, errOut := runCLI(t, args...)
		name := strings.Join(args, " ")
		t.Logf("%q: exit %d, %d+%d bytes", name, code, len(out), len(errOut))
		for what, text := range map[string]string{"stdout": out, "stderr": errOut} {
			if at := rawControl(text); at != "" {
				t.Errorf("%q %s has a raw control character near %q", name, what, at)
			}
			if strings.Contains(text, `\x1b`) {
				seen["escaped"] = true
			}
		}
		if strings.Contains(strings.Join(args, " "), "json") && code != ExitBadInput && !json.Valid([]byte(out)) {
			t.Errorf("%q: stdout is not valid JSON", name)
		}
		// Text output: every sink escaped the names itself (\x1b); the
		// stream's own escaping (\u001b) was not needed.
		if !machineFormat(args) && strings.Contains(out, `\u001b`) {
			t.Errorf("%q: stdout holds \\u001b: a name reached the stream unescaped by its sink:\n%s", name, out)
		}
	}
	if !seen["escaped"] {
		t.Errorf("no output showed an escaped name (\\x1b): the hostile inputs did not reach the output")
	}
}

// machineFormat reports whether args ask for a machine-readable format,
// whose own escaping (JSON's \u001b) is expected.
func machineFormat(args []string) bool {
	for i, a := range args {
		if a == "--format" && i+1 < len(args) {
			switch args[i+1] {
			case "json", "sarif", "cyclonedx-json", "spdx-json", "csv", "dot", "svg":
				return true
			}
		}
	}
	return false
}
