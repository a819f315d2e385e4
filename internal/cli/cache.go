package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newCacheCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Manage the layer cache (status, clean)",
		Long: `Extraction results are cached per image layer (by diff ID and extractor
versions) in the user cache dir's lockdown/layers ($LOCKDOWN_CACHE_DIR
overrides), bounded in size with least-recently-used eviction, so an image
that shares base layers with one scanned before only reads its new layers.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Print the layer cache's location, entries and size",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := openLayerCache()
			if err != nil {
				return badInput(err)
			}
			n, size, err := c.Stats()
			if err != nil {
				return badInput(err)
			}
			_, err = fmt.Fprintf(g.stdout, "cache    %s\nentries  %d\nsize     %.1f MB\n", c.Dir(), n, float64(size)/1e6)
			return err
		},
	}, &cobra.Command{
		Use:   "clean",
		Short: "Remove every entry of the layer cache",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := openLayerCache()
			if err != nil {
				return badInput(err)
			}
			if err := c.Clean(); err != nil {
				return badInput(err)
			}
			if !g.quiet {
				fmt.Fprintf(g.stdout, "removed the layer cache at %s\n", c.Dir())
			}
			return nil
		},
	})
	return cmd
}
