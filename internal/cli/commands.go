package cli

import "github.com/spf13/cobra"

// commands lists every subcommand, explicitly.
func commands(g *globals) []*cobra.Command {
	return []*cobra.Command{
		newVersionCmd(g),
		newSBOMCmd(g),
		newScanCmd(g),
		newCacheCmd(g),
		newHealthcheckCmd(g),
		newAuditCmd(g),
		newDBCmd(g),
		newNetpolCmd(g),
		newLintCmd(g),
		newVerifyCmd(g),
		newServeCmd(g),
		newHardenCmd(g),
	}
}
