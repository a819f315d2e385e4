package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/lockdown-sec/lockdown/internal/report"
)

func newSBOMCmd(g *globals) *cobra.Command {
	var tf targetFlags
	cmd := &cobra.Command{
		Use:   "sbom TARGET",
		Short: "List every package in an image or root filesystem, and the layer that put it there",
		Long: `List every package (dpkg, apk, rpm, Go binaries) in TARGET exactly, with its
source package, PURL and the layer that last added or changed it.

Formats: table (default on a terminal), json (default otherwise), cyclonedx-json
(CycloneDX 1.6), spdx-json (SPDX 2.3).`,
		Example: `  lockdown sbom dir:/
  lockdown sbom docker-archive:debian.tar --format cyclonedx-json -o sbom.cdx.json
  lockdown sbom registry:127.0.0.1:5000/app:1.0 --insecure-registry 127.0.0.1:5000`,
		Args: exactlyOneTarget,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.checkOutput(); err != nil {
				return err
			}
			format := g.outputFormat()
			if !contains(report.SBOMFormats(), format) {
				return badInput(fmt.Errorf("unknown --format %q for sbom (valid: %v)", format, report.SBOMFormats()))
			}
			sbom, err := g.catalogTarget(cmd.Context(), args[0], &tf)
			if err != nil {
				return err
			}
			// Created only now: a failed run leaves an earlier file as it was.
			w, closeOut, err := g.openOutput()
			if err != nil {
				return err
			}
			if err := report.WriteSBOM(w, format, sbom, report.Options{Color: g.color(w), Tool: tool()}); err != nil {
				closeOut()
				return err
			}
			return closeOut()
		},
	}
	tf.register(cmd)
	return cmd
}

// checkOutput fails early when --output names a file in a directory that
// does not exist; the file itself is created only when there is a report
// to write (openOutput after the work), so a failed run does not truncate
// an earlier report.
func (g *globals) checkOutput() error {
	if g.output == "" || g.output == "-" {
		return nil
	}
	dir := filepath.Dir(g.output)
	fi, err := os.Stat(dir)
	if err != nil {
		return badInput(fmt.Errorf("output %s: %w", g.output, err))
	}
	if !fi.IsDir() {
		return badInput(fmt.Errorf("output %s: %s is not a directory", g.output, dir))
	}
	return nil
}

// outputFormat is --format, else the default for where the output goes
// (defaultFormat), found without creating the output file.
func (g *globals) outputFormat() string {
	if g.output == "" || g.output == "-" {
		return g.formatOr(defaultFormat(g.stdout))
	}
	if fi, err := os.Stat(g.output); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		if f, err := os.OpenFile(g.output, os.O_WRONLY, 0); err == nil {
			defer f.Close()
			return g.formatOr(defaultFormat(f))
		}
	}
	return g.formatOr("json")
}

// defaultFormat is table on a terminal, json otherwise.
func defaultFormat(w any) string {
	if f, ok := w.(interface{ Fd() uintptr }); ok && isTerminalFd(f.Fd()) {
		return "table"
	}
	return "json"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
