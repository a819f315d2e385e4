package cli

import "github.com/spf13/cobra"

// commands lists every subcommand, explicitly: the scanner's, then the
// host's (hostCommands).
func commands(g *globals) []*cobra.Command {
	return append([]*cobra.Command{
		newVersionCmd(g),
		newSBOMCmd(g),
		newScanCmd(g),
		newCacheCmd(g),
		newDBCmd(g),
	}, hostCommands(g)...)
}

// hostCommands' names: the commands that act on a Docker host, a cluster's
// policies, traffic or a server rather than on images. The scanner build
// (go build -tags scanonly) leaves them out, and with them every package
// only they need (the Kubernetes API types, nftables, Prometheus, pgx,
// the Dockerfile and Compose parsers, the seccomp compiler): half the binary,
// and a third less to load and initialise per run.
var hostNames = []string{"audit", "harden", "healthcheck", "lint", "netpol", "serve", "verify"}
