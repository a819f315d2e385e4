package cli

import (
	"io"

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
			format, err := g.pickFormat("sbom", report.SBOMFormats(), defaultByTerminal)
			if err != nil {
				return err
			}
			sbom, err := g.catalogTarget(cmd.Context(), args[0], &tf)
			if err != nil {
				return err
			}
			err = g.writeOutput(func(w io.Writer, color bool) error {
				return report.WriteSBOM(w, format, sbom, report.Options{Color: color, Width: termWidth(w), Tool: tool()})
			})
			return afterOutput(err, func() { g.notices(format, nil, sbom.Warnings, false) })
		},
	}
	tf.register(cmd)
	return cmd
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
