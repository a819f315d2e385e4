package cli

import (
	"fmt"

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
			w, closeOut, err := g.openOutput()
			if err != nil {
				return err
			}
			format := g.formatOr(defaultFormat(w))
			if !contains(report.SBOMFormats(), format) {
				closeOut()
				return badInput(fmt.Errorf("unknown --format %q for sbom (valid: %v)", format, report.SBOMFormats()))
			}
			sbom, err := g.catalogTarget(cmd.Context(), args[0], &tf)
			if err != nil {
				closeOut()
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
