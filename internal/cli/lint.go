//go:build !scanonly

package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lockdown-sec/lockdown/internal/check"
	"github.com/lockdown-sec/lockdown/internal/lint"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/report"
	"github.com/lockdown-sec/lockdown/internal/termsafe"
)

type lintFlags struct {
	typ        string
	checks     []string
	skip       []string
	failOn     string
	envFiles   []string
	listChecks bool
	showPassed bool
}

func newLintCmd(g *globals) *cobra.Command {
	var f lintFlags
	cmd := &cobra.Command{
		Use:   "lint PATH...",
		Short: "Check Dockerfiles, Compose files and Kubernetes manifests for misconfigurations",
		Long: `Lint the files that define containers, before they run:

  Dockerfiles (BuildKit's parser)   CIS Docker Benchmark section 4 and hadolint's security rules
  Compose files (compose-go)        the CIS section 5 checks audit docker runs on live containers
  Kubernetes manifests              Pod Security Standards baseline and restricted (each control
                                    by its PSS name), NetworkPolicy coverage, image pinning, limits

PATHs are files, directories (walked for Dockerfile*, *.Dockerfile, compose files and
Kubernetes YAML/JSON; Kustomize and rendered Helm output are plain YAML) or - for standard
input. The type is detected from the name and content; --type forces it.

Suppress a finding where it is, with a reason and an optional expiry:

  # lockdown:ignore=LD-K8S-306 exp:2026-12-31 the node agent needs its host port

on its own line (it covers the next line and what is indented under it; in a Dockerfile,
the next instruction; before a YAML document's first key, the whole document) or at the end
of the line it covers. hadolint's "# hadolint ignore=DL3008" comments are honoured too.
Expired suppressions stop applying and are reported.

Exit codes: 0 no finding at or above --fail-on, 1 findings at or above it, 2 bad input.`,
		Example: `  lockdown lint Dockerfile compose.yaml k8s/
  kustomize build overlays/prod | lockdown lint -
  helm template charts/web | lockdown lint --check pss-restricted --fail-on medium -
  lockdown lint --skip LD-DF-110,DL3008 --format sarif -o lint.sarif .`,
		Args: func(cmd *cobra.Command, args []string) error {
			if f.listChecks {
				return nil
			}
			return cobra.MinimumNArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runLint(cmd, g, f, args) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.typ, "type", "", "treat every input as `TYPE`: dockerfile, compose or kubernetes (default: detect)")
	addCheckFlags(cmd, &f.checks, &f.skip, &f.listChecks, &f.showPassed, "types (dockerfile, compose, kubernetes), tags (pss-baseline, pss-restricted, secrets, …), hadolint IDs (DL3006) or cis:ID")
	addFailOn(cmd, &f.failOn)
	fl.StringArrayVar(&f.envFiles, "env-file", nil, "Compose interpolation: read KEY=VALUE lines from `FILE` (repeatable; on top of the environment)")
	return cmd
}

func runLint(cmd *cobra.Command, g *globals, f lintFlags, paths []string) error {
	if f.listChecks {
		rules, err := lint.Select(f.checks, f.skip)
		if err != nil {
			return badInput(err)
		}
		infos := make([]check.Info, len(rules))
		for i, r := range rules {
			infos[i] = r.Info
		}
		return g.writeOutput(func(w io.Writer, _ bool) error { return check.WriteList(w, infos) })
	}
	fail, err := parseFailOn(f.failOn)
	if err != nil {
		return err
	}
	format, err := g.pickFormat("lint", report.ReportFormats(report.KindLint), report.FormatTable)
	if err != nil {
		return err
	}
	if f.typ != "" && !slices.Contains(lint.Types(), f.typ) {
		return badInput(fmt.Errorf("--type %q: want %s", f.typ, strings.Join(lint.Types(), ", ")))
	}
	if _, err := lint.Select(f.checks, f.skip); err != nil {
		return badInput(err)
	}
	env := environ()
	for _, p := range f.envFiles {
		if err := readEnvFile(p, env); err != nil {
			return badInput(err)
		}
	}
	rep, err := lint.Run(cmd.Context(), paths, lint.Config{
		Type: f.typ, Include: f.checks, Exclude: f.skip, Env: env, Stdin: cmd.InOrStdin(),
		Tool: model.Tool{Name: "lockdown", Version: Version}, Logger: g.logger,
	})
	if err != nil {
		if cmd.Context().Err() != nil {
			return err
		}
		var list *lint.Errors
		if errors.As(err, &list) {
			return badInput(lintErrors(g, list))
		}
		return badInput(err)
	}
	for _, w := range rep.Warnings {
		if w.Path != "" && !strings.HasPrefix(w.Message, w.Path) {
			g.logger.Warn(w.Path + ": " + w.Message)
		} else {
			g.logger.Warn(w.Message)
		}
	}
	return g.emitReportWith(rep, format, fail, report.Options{ShowPassed: f.showPassed})
}

// lintErrors returns the one error of a run, or writes every problem to
// stderr, one "file:line: message" a line (the first 100), and returns
// their count as the error.
func lintErrors(g *globals, list *lint.Errors) error {
	if len(list.Errs) == 1 {
		return list.Errs[0]
	}
	const max = 100
	for i, e := range list.Errs {
		if i == max {
			fmt.Fprintf(g.stderr, "… and %d more errors\n", len(list.Errs)-max)
			break
		}
		fmt.Fprintln(g.stderr, termsafe.String(e.Error())) // file names and content from the inputs
	}
	return fmt.Errorf("%d inputs could not be linted (listed above)", len(list.Errs))
}

// environ is the process environment as a map.
func environ() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

// readEnvFile adds the KEY=VALUE lines of a .env file to env (comments and
// blank lines skipped, surrounding quotes removed).
func readEnvFile(path string, env map[string]string) error {
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("--env-file: %w", err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("--env-file %s:%d: want KEY=VALUE", path, n)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		env[strings.TrimSpace(k)] = v
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("--env-file %s: %w", path, err)
	}
	return nil
}
