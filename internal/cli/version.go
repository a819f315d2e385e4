package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print Lockdown's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(g.stdout, versionLine())
			return err
		},
	}
}

// versionLine is what `lockdown version` and `lockdown --version` print.
func versionLine() string {
	build := ""
	if scannerBuild {
		build = "scanner build, "
	}
	return fmt.Sprintf("lockdown %s (%s%s, %s/%s)", Version, build, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
