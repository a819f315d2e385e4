package lint

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// corpusNow is the clock of the corpus: suppressions expiring 2020-01-01
// have expired, those expiring 2099-12-31 hold.
var corpusNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// wants reads the "# want: ID@line …" lines of a corpus file: the exact
// findings (rule and line) lint must report for it, all rules on.
func wants(t *testing.T, data []byte) []string {
	t.Helper()
	var out []string
	found := false
	for _, ln := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(ln), "# want:")
		if !ok {
			continue
		}
		found = true
		out = append(out, strings.Fields(rest)...)
	}
	if !found {
		t.Fatal("no '# want:' line")
	}
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// TestCorpus lints every file of testdata/corpus on its own, every rule
// on, and compares the findings (rule@line) with the file's "# want:"
// lines: the Dockerfiles, Compose files and Kubernetes manifests of the
// parity corpus, including the Pod Security Standards documentation's own
// examples (testdata/corpus/kubernetes/pss-docs).
func TestCorpus(t *testing.T) {
	var files []string
	filepath.WalkDir("testdata/corpus", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".want") && filepath.Base(p) != "README.md" {
			files = append(files, p)
		}
		return err
	})
	if len(files) < 60 {
		t.Fatalf("corpus has %d files, want at least 60", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimPrefix(f, "testdata/corpus/"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			exp := data
			if w, err := os.ReadFile(f + ".want"); err == nil {
				exp = w // JSON has no comments: the expectations are beside it
			}
			want := wants(t, exp)
			rep, err := Run(context.Background(), []string{f}, Config{Now: corpusNow})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			got := []string{}
			for _, fd := range rep.Findings {
				_, line, _ := strings.Cut(strings.TrimPrefix(fd.Location, f), ":")
				got = append(got, fd.RuleID+"@"+line)
			}
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("findings of %s (-want +got):\n%s", f, diff)
				for _, fd := range rep.Findings {
					t.Logf("  %s %s %s", fd.RuleID, fd.Location, fd.Evidence)
				}
			}
		})
	}
}
