package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lockdown-sec/lockdown/internal/cache"
	"github.com/lockdown-sec/lockdown/internal/catalog"
	"github.com/lockdown-sec/lockdown/internal/image"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/scan"
)

// targetFlags are the flags of every command that reads an image.
type targetFlags struct {
	platform   string
	insecure   []string
	extractors []string
	noCache    bool
	maxLayer   int64
}

func (t *targetFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&t.platform, "platform", "", "platform of the image to read (`OS/ARCH[/VARIANT]`): picked from a multi-platform image (default linux/amd64), checked on a single one")
	f.StringSliceVar(&t.insecure, "insecure-registry", nil, "reach this registry `HOST[:PORT]` over plain HTTP (localhost only in practice)")
	var names []string
	for _, e := range catalog.Default() {
		names = append(names, e.Name())
	}
	f.StringSliceVar(&t.extractors, "extractors", nil, "run only these extractors (`NAME,...`: "+strings.Join(names, ", ")+")")
	f.BoolVar(&t.noCache, "no-cache", false, "neither read nor write the layer cache")
	f.Int64Var(&t.maxLayer, "max-layer-bytes", image.DefaultMaxLayerBytes, "refuse a layer whose uncompressed size passes `N` bytes (decompression bombs)")
}

// options turns the target flags into scan options (layer cache included
// unless --no-cache).
func (g *globals) scanOptions(tf *targetFlags) scan.Options {
	opts := scan.Options{
		Platform:         tf.platform,
		InsecureRegistry: tf.insecure,
		Extractors:       tf.extractors,
		MaxLayerBytes:    tf.maxLayer,
		Tool:             tool(),
		Logger:           g.logger,
	}
	if !tf.noCache {
		if lc, err := openLayerCache(); err != nil {
			g.logger.Warn("layer cache unavailable; reading every layer", "err", err)
		} else {
			opts.Cache = lc
		}
	}
	return opts
}

// catalogTarget opens a target and catalogs it. Every error is bad input
// (exit 2) except cancellation.
func (g *globals) catalogTarget(ctx context.Context, target string, tf *targetFlags) (*model.SBOM, error) {
	sbom, err := scan.Catalog(ctx, target, g.scanOptions(tf))
	if err != nil {
		return nil, inputErr(err)
	}
	return sbom, nil
}

// openLayerCache opens the layer cache: $LOCKDOWN_CACHE_DIR, else the user
// cache dir's lockdown/layers.
func openLayerCache() (*cache.Cache, error) {
	dir := os.Getenv("LOCKDOWN_CACHE_DIR")
	if dir == "" {
		d, err := cache.DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	return cache.Open(dir, cache.Options{})
}

// inputErr marks err as bad input unless the run was cancelled.
func inputErr(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return badInput(err)
}

// tool is Lockdown's own identity in reports.
func tool() model.Tool { return model.Tool{Name: catalog.ToolName, Version: Version} }

func exactlyOneTarget(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return badInput(fmt.Errorf("%s needs exactly one TARGET (docker-archive:PATH, oci-archive:PATH, oci-dir:PATH, registry:REF, docker:REF, dir:PATH or REF), got %d arguments", cmd.CommandPath(), len(args)))
	}
	return nil
}
