//go:build !scanonly

package cli

import "github.com/spf13/cobra"

// scannerBuild is whether this binary is the scanner build (-tags scanonly).
const scannerBuild = false

const rootShort = "Lock containers down: audit posture, harden, restrict the network, scan for vulnerabilities, monitor"

// hostCommands are the commands named in hostNames.
func hostCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{
		newAuditCmd(g),
		newHardenCmd(g),
		newHealthcheckCmd(g),
		newLintCmd(g),
		newNetpolCmd(g),
		newServeCmd(g),
		newVerifyCmd(g),
	}
}
