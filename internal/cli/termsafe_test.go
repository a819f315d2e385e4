//go:build !scanonly

package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	nslab "github.com/lockdown-sec/lockdown/internal/netpol/enforce/lab"
	"github.com/lockdown-sec/lockdown/internal/testutil"
	"github.com/lockdown-sec/lockdown/internal/wire"
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

	valid, changed := hostilePolicySets(t, dir)

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
		{"netpol", "apply", "--dry-run", valid},
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
	runs = append(runs, hostileLintRuns(t, dir)...)
	runs = append(runs, hostileCalicoRuns(t, dir)...)
	runs = append(runs, hostileVerifyRuns(t, dir)...)
	if !runHostile(t, runs) {
		t.Errorf("no output showed an escaped name (\\x1b): the hostile inputs did not reach the output")
	}
}

// runHostile runs every command line and checks that nothing it printed
// holds a raw control character, that JSON output is valid, and that
// text output was escaped by its sink (\x1b), not only by the stream
// (\u001b). It reports whether some output showed an escaped name.
func runHostile(t *testing.T, runs [][]string) (escaped bool) {
	t.Helper()
	for _, args := range runs {
		code, out, errOut := runCLI(t, args...)
		name := strings.Join(args, " ")
		t.Logf("%q: exit %d, %d+%d bytes", name, code, len(out), len(errOut))
		for what, text := range map[string]string{"stdout": out, "stderr": errOut} {
			if at := rawControl(text); at != "" {
				t.Errorf("%q %s has a raw control character near %q", name, what, at)
			}
			if strings.Contains(text, `\x1b`) {
				escaped = true
			}
			// Text output: every sink escaped the names itself (\x1b);
			// the stream's own escaping (\u001b) was not needed.
			if (what == "stderr" || !machineFormat(args)) && strings.Contains(text, `\u001b`) {
				t.Errorf("%q: %s holds \\u001b: a name reached the stream unescaped by its sink:\n%s", name, what, text)
			}
		}
		if format := formatOf(args); (format == "json" || format == "sarif" || strings.HasSuffix(format, "-json")) && code != ExitBadInput && !json.Valid([]byte(out)) {
			t.Errorf("%q: stdout is not valid JSON", name)
		}
	}
	return escaped
}

// hostileLintRuns writes a Dockerfile, a Compose file and manifests whose
// names, file names and values carry escape sequences, and two broken
// files (every problem listed), and returns lint runs over them.
func hostileLintRuns(t *testing.T, dir string) [][]string {
	t.Helper()
	lintDir := filepath.Join(dir, "lint")
	broken := filepath.Join(dir, "lint-broken")
	for _, d := range []string{lintDir, broken} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(lintDir, "Dockerfile"):   "FROM debian:12\nENV API_TOKEN" + evilCSI + "=s3cr3t" + evilTitle + "\nLABEL note=\"" + evilClip + "\"\nUSER root\nRUN curl http://x/" + evilCSI + " | sh\n",
		filepath.Join(lintDir, "compose.yaml"): "services:\n  web:\n    image: \"nginx:1.25\"\n    privileged: true\n    container_name: \"web\\e[2J\"\n    environment:\n      PASSWORD: \"hunter2\\e]0;pwned\\a\"\n",
		filepath.Join(lintDir, "k8s"+evilCSI+".yaml"): `apiVersion: apps/v1
kind: Deployment
metadata: {name: "evil\e[2J", namespace: "shop\u009b"}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: "c\e]0;pwned\a"
        image: "nginx\u202e:latest"
        securityContext: {privileged: true}
        env: [{name: "DB_PASSWORD\e[2J", value: "hunter2"}]
`,
		filepath.Join(broken, "a"+evilCSI+".yaml"):   "apiVersion: v1\nkind: Pod\nmetadata: {name: [\n",
		filepath.Join(broken, "b"+evilTitle+".yaml"): "apiVersion: v1\nkind: Pod\nspec: {containers: \"x\\e[2J\"}\n",
	}
	for name, text := range files {
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return [][]string{
		{"lint", lintDir},
		{"lint", lintDir, "--show-passed"},
		{"lint", lintDir, "--format", "json"},
		{"lint", lintDir, "--format", "sarif"},
		{"lint", broken},
	}
}

// hostileCalicoRuns writes Calico resources whose names and file name
// carry escape sequences and returns audit calico runs over them.
func hostileCalicoRuns(t *testing.T, dir string) [][]string {
	t.Helper()
	calicoDir := filepath.Join(dir, "calico")
	if err := os.MkdirAll(calicoDir, 0o755); err != nil {
		t.Fatal(err)
	}
	text := `apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: "default\e[2J"}
spec: {logSeverityScreen: Info}
---
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: default}
spec:
  workloadSourceSpoofing: Any
  debugPort: 6060
  debugHost: "0.0.0.0\e]0;pwned\a"
  defaultEndpointToHostAction: "Accept\e[2J"
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: "pool\u009b\u202e"}
spec: {cidr: 192.168.0.0/16, ipipMode: Always, natOutgoing: true}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: "allow-all\e[2J"}
spec:
  selector: all()
  ingress: [{action: Allow}]
`
	if err := os.WriteFile(filepath.Join(calicoDir, "cluster"+evilCSI+".yaml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return [][]string{
		{"audit", "calico", calicoDir},
		{"audit", "calico", calicoDir, "--show-passed"},
		{"audit", "calico", calicoDir, "--format", "json"},
		{"audit", "calico", calicoDir, "--format", "sarif"},
	}
}

// hostileVerifyRuns writes a capture (under a hostile file name) whose
// plaintext flow carries escape sequences and returns verify encryption
// runs over it.
func hostileVerifyRuns(t *testing.T, dir string) [][]string {
	t.Helper()
	var buf bytes.Buffer
	w, err := wire.NewWriter(&buf, wire.LinkRaw, 65535)
	if err != nil {
		t.Fatal(err)
	}
	for i, payload := range []string{"login " + evilCSI + evilTitle + "password=hunter2 " + evilBidi, "GET /" + evilClip + " HTTP/1.1\r\n"} {
		p := udp4("192.0.2.1", "192.0.2.2", 5000, 514, []byte(payload))
		w.Write(wire.Record{Time: time.Unix(int64(i), 0), Data: p, OrigLen: len(p)})
	}
	w.Flush()
	path := filepath.Join(dir, "capture"+evilCSI+".pcap")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return [][]string{
		{"verify", "encryption", "--read", path, "--between", "192.0.2.1,192.0.2.2", "--format", "table"},
		{"verify", "encryption", "--read", path, "--between", "192.0.2.1,192.0.2.2", "--format", "json"},
		{"verify", "encryption", "--read", filepath.Join(dir, "missing"+evilTitle+".pcap"), "--between", "192.0.2.1,192.0.2.2"},
	}
}

// hostilePolicySets writes a valid policy set whose policy and pod names
// carry escape sequences, and a changed copy for diff.
func hostilePolicySets(t *testing.T, dir string) (valid, changed string) {
	t.Helper()
	valid, changed = filepath.Join(dir, "valid"), filepath.Join(dir, "changed")
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

	return valid, changed
}

// TestHostileNamesNetpolStatus: policy names with escape sequences,
// applied in a network namespace of the test's own, and a rule someone
// added to the table with a raw escape sequence in its comment, never
// reach the terminal through netpol apply or status.
func TestHostileNamesNetpolStatus(t *testing.T) {
	l := nslab.New(t, nslab.Options{})
	testutil.RequireCmd(t, "nft")
	dir := t.TempDir()
	valid, _ := hostilePolicySets(t, dir)
	state := filepath.Join(dir, "state")
	table := "ld11hostile"
	ns := []string{"--netns", l.Host.Path, "--state-dir", state, "--table", table}
	if code, out, errOut := runCLI(t, append([]string{"netpol", "apply", "--bridge", "bridge"}, append(ns, valid)...)...); code != ExitOK {
		t.Fatalf("netpol apply = exit %d, %s %s", code, out, errOut)
	}
	for _, cmd := range [][]string{
		{"add", "chain", "inet", table, "edited"},
		{"add", "rule", "inet", table, "edited", "counter", "accept", "comment", `"policy=shop/x` + evilCSI + evilTitle + ` dir=ingress rule=0 action=Allow` + evilC1 + `"`},
	} {
		if out, err := l.Host.Exec(append([]string{"nft"}, cmd...)...); err != nil {
			t.Fatalf("nft %v: %v %s", cmd, err, out)
		}
	}
	runs := [][]string{
		append([]string{"netpol", "status"}, ns...),
		append([]string{"netpol", "status", "--format", "json"}, ns...),
		append([]string{"netpol", "apply", "--bridge", "bridge", "--format", "json"}, append(ns, valid)...),
	}
	if !runHostile(t, runs) {
		t.Errorf("no output showed an escaped name (\\x1b): the hostile comment did not reach the status")
	}
}

// TestHostileNamesHardenDaemon: keys and values of daemon.json with escape
// sequences never reach the terminal through harden daemon's diff.
func TestHostileNamesHardenDaemon(t *testing.T) {
	testutil.RequireDocker(t)
	config := filepath.Join(t.TempDir(), "daemon.json")
	b, err := json.Marshal(map[string]any{"evil" + evilCSI: evilBidi + "x", "log-opts": map[string]string{"tag": evilTitle}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, b, 0o644); err != nil {
		t.Fatal(err)
	}
	runHostile(t, [][]string{
		{"harden", "daemon", "--config", config, "--format", "diff"},
		{"harden", "daemon", "--config", config, "--format", "json"},
	})
	// The diff shows daemon.json's lines as JSON (\u001b) with the
	// right-to-left override escaped too (JSON keeps it raw).
	code, out, _ := runCLI(t, "harden", "daemon", "--config", config, "--format", "diff")
	if code != ExitOK || !strings.Contains(out, `"evil\u001b[2J": "\u202ex"`) {
		t.Errorf("harden daemon = exit %d, want the hostile key escaped in the diff:\n%s", code, out)
	}
}

// formatOf is the --format of args ("" when none).
func formatOf(args []string) string {
	for i, a := range args {
		if a == "--format" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// machineFormat reports whether args ask for a machine-readable format,
// whose own escaping (JSON's \u001b) is expected: harden daemon's diff
// shows daemon.json's lines.
func machineFormat(args []string) bool {
	switch formatOf(args) {
	case "json", "sarif", "cyclonedx-json", "spdx-json", "csv", "dot", "svg", "diff":
		return true
	}
	return false
}
