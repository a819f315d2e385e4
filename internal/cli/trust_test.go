package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
	"github.com/lockdown-sec/lockdown/internal/vulndb"
)

// mixedDB is an advisory store built from the real records of
// ../shared/data/osv/mixed-samples.zip only: it holds Alpine v3.16 and
// later, none of Alpine v3.10.
func mixedDB(t *testing.T) string {
	t.Helper()
	srcs, err := vulndb.DetectSources(testutil.Data(t, "osv/mixed-samples.zip"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "mixed.db")
	if _, err := vulndb.Update(context.Background(), p, srcs, vulndb.UpdateOptions{}); err != nil {
		t.Fatalf("build the mixed-samples DB: %v", err)
	}
	return p
}

// TestScanNotChecked: the real Alpine 3.10 image scanned against a store
// without Alpine v3.10 advisories is never reported clean: every format
// says 14 packages were not checked, the table's first line and stderr say
// it once, and --fail-on-unchecked makes that exit 1.
func TestScanNotChecked(t *testing.T) {
	target := "docker-archive:" + testutil.Data(t, "images/alpine-3.10-docker-save.tar.gz")
	db := mixedDB(t)
	const line = "14 Alpine v3.10 packages NOT CHECKED: the database has no Alpine v3.10 advisories — run `lockdown db update`"
	base := []string{"scan", "--db", db, "--max-db-age", "0", "--no-cache", target}

	code, out, errOut := runCLI(t, append(base, "--format", "json")...)
	if code != ExitOK {
		t.Fatalf("scan --format json = exit %d (%s), want 0 without --fail-on-unchecked", code, errOut)
	}
	var r model.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	want := []model.NotChecked{{Reason: model.NotCheckedNoAdvisories, Ecosystem: "Alpine:v3.10", Packages: 14, Message: line}}
	if diff := cmp.Diff(want, r.NotChecked); diff != "" || len(r.Findings) != 0 {
		t.Errorf("json: %d findings, notChecked (-want +got):\n%s", len(r.Findings), diff)
	}
	if n := strings.Count(errOut, "NOT CHECKED"); n != 1 || !strings.Contains(errOut, "lockdown: warning: "+line+"\n") {
		t.Errorf("stderr says NOT CHECKED %d times, want once as a warning line:\n%s", n, errOut)
	}

	code, _, errOut = runCLI(t, append(base, "--format", "json", "--fail-on-unchecked")...)
	if code != ExitFindings {
		t.Errorf("scan --fail-on-unchecked = exit %d (%s), want 1", code, errOut)
	}

	code, out, errOut = runCLI(t, append(base, "--format", "table")...)
	if code != ExitOK {
		t.Fatalf("scan --format table = exit %d (%s)", code, errOut)
	}
	lines := strings.Split(out, "\n")
	if lines[0] != line || lines[1] != "No vulnerabilities found in 0 packages checked; 14 packages NOT CHECKED" {
		t.Errorf("table's first lines = %q, want the NOT CHECKED line then the summary", lines[:2])
	}
	if errOut != "" {
		t.Errorf("the table on stdout says it all; stderr says it again:\n%s", errOut)
	}

	code, out, _ = runCLI(t, append(base, "--format", "sarif")...)
	var sarif struct {
		Runs []struct {
			Invocations []struct {
				Notifications []struct {
					Message struct{ Text string }
				} `json:"toolExecutionNotifications"`
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &sarif); code != ExitOK || err != nil || len(sarif.Runs) != 1 || len(sarif.Runs[0].Invocations) != 1 ||
		len(sarif.Runs[0].Invocations[0].Notifications) != 1 || sarif.Runs[0].Invocations[0].Notifications[0].Message.Text != line {
		t.Errorf("sarif (exit %d, %v): want one tool execution notification %q:\n%s", code, err, line, out)
	}
	testutil.ValidateJSON(t, testutil.SchemaSARIF, []byte(out))

	code, out, _ = runCLI(t, append(base, "--format", "cyclonedx-json")...)
	if code != ExitOK || !strings.Contains(out, `"name": "lockdown:scan:packagesNotChecked",
        "value": "14"`) || !strings.Contains(out, `"value": "`+line+`"`) {
		t.Errorf("cyclonedx (exit %d) lacks the not-checked properties:\n%s", code, out)
	}
	testutil.ValidateJSON(t, testutil.SchemaCycloneDX, []byte(out))
}

// TestFormatsValidate: every standard format Lockdown writes for the real
// Alpine 3.10 image (against all of ../shared/data) validates against its
// official schema; the OpenVEX document states what the Alpine secdb fixes
// in the installed versions.
func TestFormatsValidate(t *testing.T) {
	target := "docker-archive:" + testutil.Data(t, "images/alpine-3.10-docker-save.tar.gz")
	db := scanDB(t)
	for _, tc := range []struct {
		cmd, format, schema string
	}{
		{"sbom", "cyclonedx-json", testutil.SchemaCycloneDX},
		{"sbom", "spdx-json", testutil.SchemaSPDX},
		{"scan", "cyclonedx-json", testutil.SchemaCycloneDX},
		{"scan", "sarif", testutil.SchemaSARIF},
		{"scan", "openvex", testutil.SchemaOpenVEX},
	} {
		t.Run(tc.cmd+" "+tc.format, func(t *testing.T) {
			args := []string{tc.cmd, "--format", tc.format, "--no-cache", target}
			if tc.cmd == "scan" {
				args = append(args, "--db", db, "--max-db-age", "0")
			}
			code, out, errOut := runCLI(t, args...)
			if code != ExitOK {
				t.Fatalf("%v = exit %d: %s", args, code, errOut)
			}
			testutil.ValidateJSON(t, tc.schema, []byte(out))
			if tc.format == "openvex" {
				var doc struct {
					Statements []struct {
						Vulnerability struct{ Name string }
						Status        string
						Products      []struct {
							ID string `json:"@id"`
						}
					}
				}
				json.Unmarshal([]byte(out), &doc)
				found := false
				for _, st := range doc.Statements {
					// Alpine secdb v3.10: busybox fixed CVE-2017-15873 in 1.27.2-r4; the image has 1.30.1-r3.
					found = found || st.Status == "fixed" && st.Vulnerability.Name == "CVE-2017-15873" &&
						strings.HasPrefix(st.Products[0].ID, "pkg:apk/alpine/busybox@1.30.1-r3")
				}
				if !found {
					t.Errorf("openvex lacks the fixed statement for busybox CVE-2017-15873:\n%.2000s", out)
				}
			}
		})
	}
}

// TestUsageErrors: what a person mistypes gets exit 2 and a line that says
// what was meant; --version works like the version command.
func TestUsageErrors(t *testing.T) {
	notImage := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(notImage, []byte("not an image\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in stderr (or stdout for code 0)
	}{
		{"unknown subcommand", []string{"audit", "nosuch"}, ExitBadInput, `lockdown: unknown command "nosuch" for "lockdown audit" (its commands: calico, docker)`},
		{"unknown subcommand suggests", []string{"netpol", "valdate"}, ExitBadInput, "did you mean validate?"},
		{"unknown top command", []string{"nosuch"}, ExitBadInput, `unknown command "nosuch" for "lockdown"`},
		{"mistyped transport", []string{"sbom", "dockr:x"}, ExitBadInput, `unknown transport "dockr:" in "dockr:x": did you mean docker:x?`},
		{"mistyped transport, case", []string{"scan", "Docker:alpine"}, ExitBadInput, "did you mean docker:alpine?"},
		{"not a docker save archive", []string{"sbom", "docker-archive:" + notImage}, ExitBadInput, "not a docker save archive (no manifest.json)"},
		{"version flag", []string{"--version"}, ExitOK, "lockdown " + Version + " ("},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if scannerBuild && slices.Contains(hostNames, tc.args[0]) {
				t.Skipf("%s is not in the scanner build", tc.args[0])
			}
			code, out, errOut := runCLI(t, tc.args...)
			text := errOut
			if tc.code == ExitOK {
				text = out
			}
			if code != tc.code || !strings.Contains(text, tc.want) {
				t.Errorf("lockdown %v = exit %d, stdout %q, stderr %q; want exit %d and %q", tc.args, code, out, errOut, tc.code, tc.want)
			}
		})
	}
	if scannerBuild {
		return
	}
	_, out, _ := runCLI(t, "serve", "--help")
	if !strings.Contains(out, "--db-url URL") {
		t.Errorf("serve --help does not show --db-url URL:\n%s", out)
	}
}

// TestWarningsOnce: warnings are said once — in the table when the table
// goes to standard output, else on standard error — grouped and counted.
func TestWarningsOnce(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "requirements.txt"), []byte("Django==4.2\nbad name==1.0\nother bad==2.0\n"), 0o644)
	const grouped = `/requirements.txt: requirements line 2: cannot read "bad name==1.0" (and 1 more like it)`
	code, out, errOut := runCLI(t, "sbom", "--format", "json", "dir:"+dir)
	if code != ExitOK || strings.Count(errOut, "cannot read") != 1 || !strings.Contains(errOut, "lockdown: warning: "+grouped+"\n") {
		t.Errorf("sbom --format json: exit %d, stderr %q; want the two warnings as one grouped line", code, errOut)
	}
	var s model.SBOM
	if err := json.Unmarshal([]byte(out), &s); err != nil || len(s.Warnings) != 2 {
		t.Errorf("sbom json has %d warnings (%v), want both", len(s.Warnings), err)
	}
	code, out, errOut = runCLI(t, "sbom", "--format", "table", "dir:"+dir)
	if code != ExitOK || errOut != "" || !strings.Contains(out, "\nWarnings: 2\n  "+grouped+"\n") {
		t.Errorf("sbom --format table: exit %d, stderr %q, stdout:\n%s\nwant the grouped line in the table only", code, errOut, out)
	}
}
