//go:build scanonly

package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

const scannerBuild = true

const rootShort = "Lockdown's scanner build: list the packages in images and find their known vulnerabilities (the other commands are in the full lockdown binary)"

// hostCommands, in the scanner build, answers each of hostNames with what
// it is and where to find it (exit 2), instead of cobra's "unknown command".
func hostCommands(g *globals) []*cobra.Command {
	cmds := make([]*cobra.Command, 0, len(hostNames))
	for _, name := range hostNames {
		cmds = append(cmds, &cobra.Command{
			Use:                name,
			Hidden:             true,
			DisableFlagParsing: true,
			RunE: func(*cobra.Command, []string) error {
				return badInput(fmt.Errorf("%s is not in this build: this is the scanner build (sbom, scan, db, cache, version); run %s with the full lockdown binary", name, name))
			},
		})
	}
	return cmds
}
