package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/lockdown-sec/lockdown/internal/cache"
	"github.com/lockdown-sec/lockdown/internal/catalog"
	"github.com/lockdown-sec/lockdown/internal/image"
	"github.com/lockdown-sec/lockdown/internal/model"
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
	f.StringVar(&t.platform, "platform", "linux/amd64", "platform to pick from a multi-platform image (`OS/ARCH[/VARIANT]`)")
	f.StringSliceVar(&t.insecure, "insecure-registry", nil, "reach this registry `HOST[:PORT]` over plain HTTP (localhost only in practice)")
	f.StringSliceVar(&t.extractors, "extractors", nil, "run only these extractors (`NAME,...`: dpkg, apk, rpm, gobinary)")
	f.BoolVar(&t.noCache, "no-cache", false, "neither read nor write the layer cache")
	f.Int64Var(&t.maxLayer, "max-layer-bytes", image.DefaultMaxLayerBytes, "refuse a layer whose uncompressed size passes `N` bytes (decompression bombs)")
}

// catalogTarget opens a target and catalogs it. Every error is bad input
// (exit 2) except cancellation.
func (g *globals) catalogTarget(ctx context.Context, target string, tf *targetFlags) (*model.SBOM, error) {
	src, err := image.Open(ctx, target, image.Options{
		Platform:         tf.platform,
		InsecureRegistry: tf.insecure,
		MaxLayerBytes:    tf.maxLayer,
		Logger:           g.logger,
	})
	if err != nil {
		return nil, inputErr(err)
	}
	defer src.Close()
	c, err := catalog.New(catalog.Default()...)
	if err != nil {
		return nil, err
	}
	opts := catalog.Options{Extractors: tf.extractors, Logger: g.logger}
	if !tf.noCache {
		if lc, err := openLayerCache(); err != nil {
			g.logger.Warn("layer cache unavailable; reading every layer", "err", err)
		} else {
			opts.Cache = lc
		}
	}
	sbom, err := c.Catalog(ctx, src, opts)
	if err != nil {
		return nil, inputErr(err)
	}
	sbom.Tool = model.Tool{Name: catalog.ToolName, Version: Version}
	for _, w := range sbom.Warnings {
		g.logger.Warn(w.Message, "path", w.Path, "layer", w.Layer)
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
