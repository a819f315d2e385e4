package lint

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/lint/compose"
	"github.com/lockdown-sec/lockdown/internal/lint/dockerfile"
	"github.com/lockdown-sec/lockdown/internal/lint/kube"
)

// seeds adds the corpus files of a type as fuzz seeds.
func seeds(f *testing.F, sub string) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "corpus", sub, "*"))
	more, _ := filepath.Glob(filepath.Join("testdata", "corpus", sub, "*", "*"))
	for _, p := range append(paths, more...) {
		if b, err := os.ReadFile(p); err == nil && !strings.HasSuffix(p, ".md") {
			f.Add(b)
		}
	}
}

// The parsers never panic and never hang on any input; hits carry lines
// within the file.
func FuzzDockerfile(f *testing.F) {
	seeds(f, "dockerfile")
	f.Add([]byte("FROM a\nRUN <<EOF\ncurl x | sh\nEOF\n"))
	f.Add([]byte("# escape=`\nFROM a\nRUN a `\n b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		hits, err := dockerfile.Lint("Dockerfile", data)
		if err != nil {
			return
		}
		n := strings.Count(string(data), "\n") + 1
		for _, h := range hits {
			if h.Line < 1 || h.Line > n {
				t.Fatalf("%s at line %d of a %d-line file", h.ID, h.Line, n)
			}
		}
	})
}

func FuzzCompose(f *testing.F) {
	seeds(f, "compose")
	f.Add([]byte("services: {a: {image: x, ports: ['80-81:80-81'], volumes: ['/:/h']}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		compose.Lint(context.Background(), "compose.yaml", data, compose.Options{})
	})
}

func FuzzKube(f *testing.F) {
	seeds(f, "kubernetes")
	f.Add([]byte("apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: List, items: []}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := kube.Parse("m.yaml", data)
		if err != nil {
			return
		}
		file.Check()
		kube.Uncovered([]*kube.File{file})
	})
}

func FuzzIgnores(f *testing.F) {
	f.Add("a: 1\n# lockdown:ignore=LD-K8S-302 exp:2026-01-01 why\nb:\n  c: 2\n", true)
	f.Add("FROM a\n# hadolint ignore=DL3008\nRUN x \\\n y\n", false)
	f.Add("---\n# lockdown:ignore=X\n---\n", true)
	f.Fuzz(func(t *testing.T, text string, yamlBlocks bool) {
		igs, _, err := parseIgnores("f", text, yamlBlocks)
		if err != nil {
			return
		}
		n := strings.Count(text, "\n") + 1
		for _, ig := range igs {
			if ig.from < 1 || ig.to < ig.from || ig.to > n {
				t.Fatalf("suppression at line %d covers %d-%d of %d lines", ig.line, ig.from, ig.to, n)
			}
		}
	})
}
