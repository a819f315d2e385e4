package cli

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/testutil"
	"github.com/lockdown-sec/lockdown/internal/vulndb"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestDBUpdateAndStatus(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lockdown.db")
	fixture := filepath.Join(dir, "unknown.json")
	os.WriteFile(fixture, []byte(`{"id":"LOCKDOWN-CLI-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Frobnitz","name":"w"}}]}`), 0o644)
	broken := filepath.Join(dir, "broken.json")
	os.WriteFile(broken, []byte(`{"id": `), 0o644)

	code, out, errOut := runCLI(t, "db", "update", "--db", db, "--quiet",
		"--source", testutil.Data(t, "osv/crates.io.zip"),
		"--source", fixture, "--source", broken,
		"--alpine-secdb", testutil.Data(t, "distro/alpine-secdb"))
	if code != ExitOK {
		t.Fatalf("db update = exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{
		"database  " + db,
		"schema    1",
		"records   3676 (13 withdrawn, 0 without a package, 0 duplicates resolved, 1 rejected)",
		"crates.io     1206 records  908 packages",
		"Alpine:v3.10  1735 records  239 packages",
		"Frobnitz      1 records     1 packages  no version scheme known",
		"ecosystem Frobnitz: 1 records, no version scheme known",
		"rejected: 1 (first 1)",
		broken + ": not an OSV record: unexpected end of JSON input",
		"elapsed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("db update output lacks %q:\n%s", want, out)
		}
	}

	code, out, errOut = runCLI(t, "db", "status", "--db", db, "--format", "json")
	if code != ExitOK {
		t.Fatalf("db status = exit %d, stderr %q", code, errOut)
	}
	var st struct {
		vulndb.Status
		Age string `json:"age"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("db status --format json: %v\n%s", err, out)
	}
	if st.Path != db || st.Schema != 1 || st.Records != 3676 || st.Rejected != 1 || len(st.Sources) != 4 || st.Age == "" {
		t.Errorf("db status json = path %s schema %d records %d rejected %d sources %d age %q",
			st.Path, st.Schema, st.Records, st.Rejected, len(st.Sources), st.Age)
	}
	if st.Sources[3].Kind != vulndb.KindAlpineSecdb || st.Sources[0].Records != 1206 {
		t.Errorf("sources = %+v", st.Sources)
	}

	code, out, _ = runCLI(t, "db", "status", "--db", db)
	for _, want := range []string{"database  " + db, "age       ", "Frobnitz", "crates.io", "osv"} {
		if code != ExitOK || !strings.Contains(out, want) {
			t.Errorf("db status = exit %d, lacks %q:\n%s", code, want, out)
		}
	}
}

func TestDBUpdateMirror(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/Go/all.zip" {
			http.ServeFile(w, r, testutil.Data(t, "osv/go.zip"))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	db := filepath.Join(t.TempDir(), "lockdown.db")
	code, out, errOut := runCLI(t, "db", "update", "--db", db, "--mirror", srv.URL, "--ecosystem", "Go", "--format", "json")
	if code != ExitOK {
		t.Fatalf("db update --mirror = exit %d: %s", code, errOut)
	}
	var st vulndb.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	if st.Records != 4291 || len(st.Sources) != 1 || st.Sources[0].Location != srv.URL+"/Go/all.zip" {
		t.Errorf("records %d, sources %+v; want 4291 from %s/Go/all.zip", st.Records, st.Sources, srv.URL)
	}
	code, _, errOut = runCLI(t, "db", "update", "--db", db, "--mirror", srv.URL, "--ecosystem", "npm")
	want := "lockdown: update " + db + ": fetch " + srv.URL + "/npm/all.zip: status 404 Not Found\n"
	if code != ExitBadInput || errOut != want {
		t.Errorf("db update (404) = exit %d, stderr %q; want 2, %q", code, errOut, want)
	}
}

func TestDBBadInput(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	truncated := filepath.Join(dir, "trunc.zip")
	raw, _ := os.ReadFile(testutil.Data(t, "osv/mixed-samples.zip"))
	os.WriteFile(truncated, raw[:len(raw)/2], 0o644)
	for _, c := range []struct {
		name string
		args []string
		want string // stderr, one line
	}{
		{"status of a missing db", []string{"db", "status", "--db", missing},
			"lockdown: no vulnerability database at " + missing + ": run `lockdown db update`\n"},
		{"missing source", []string{"db", "update", "--db", missing, "--source", filepath.Join(dir, "nope")},
			"lockdown: source " + filepath.Join(dir, "nope") + ": stat " + filepath.Join(dir, "nope") + ": no such file or directory\n"},
		{"bad mirror", []string{"db", "update", "--db", missing, "--mirror", "ftp://x"},
			"lockdown: --mirror \"ftp://x\": want an http(s) URL\n"},
		{"truncated zip", []string{"db", "update", "--db", missing, "--source", truncated},
			"lockdown: update " + missing + ": source " + truncated + ": open zip " + truncated + ": zip: not a valid zip file\n"},
		{"bad format", []string{"db", "status", "--db", missing, "--format", "xml"},
			"lockdown: unknown --format \"xml\": db writes table, json\n"},
		{"unknown flag", []string{"db", "update", "--frobnicate"}, "lockdown: unknown flag: --frobnicate\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, c.args...)
			if code != ExitBadInput || errOut != c.want {
				t.Errorf("%v = exit %d, stderr %q; want 2, %q", c.args, code, errOut, c.want)
			}
		})
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("a failed update created %s", missing)
	}
}

// TestCorruptDB: a database whose newest meta page is broken (bbolt falls
// back to the transaction before the status was written: it read as
// "schema 0, 0 records" with exit 0) and one with damaged pages are
// refused by db status and scan: exit 2, "the vulnerability database is
// corrupt: run lockdown db update".
func TestCorruptDB(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lockdown.db")
	if code, _, errOut := runCLI(t, "db", "update", "--db", db, "--quiet", "--source", filepath.Join("..", "vulndb", "testdata", "mixed")); code != ExitOK {
		t.Fatalf("db update: exit %d: %s", code, errOut)
	}
	good, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	// bbolt: the page size is at byte 24 of meta page 0; each meta page's
	// transaction ID at byte 64 of its page.
	ps := int(binary.LittleEndian.Uint32(good[24:]))
	newer := 0
	if binary.LittleEndian.Uint64(good[ps+64:]) > binary.LittleEndian.Uint64(good[64:]) {
		newer = ps
	}
	meta := append([]byte(nil), good...)
	meta[newer+67] ^= 0xff
	pages := append([]byte(nil), good...)
	for off := 2 * ps; off+ps <= len(pages); off += ps {
		pages[off+8] = 0x20 // an unknown page type
	}
	root := t.TempDir()
	for name, data := range map[string][]byte{"meta": meta, "pages": pages} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "lockdown.db")
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"db", "status", "--db", p},
				{"scan", "--db", p, "--no-cache", "dir:" + root},
			} {
				code, out, errOut := runCLI(t, args...)
				if code != ExitBadInput || out != "" || !strings.Contains(errOut, "the vulnerability database is corrupt: run lockdown db update") {
					t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and the corrupt-database line", args, code, out, errOut)
				}
			}
		})
	}
}
