package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/lockdown-sec/lockdown/internal/cache"
	"github.com/lockdown-sec/lockdown/internal/catalog"
	"github.com/lockdown-sec/lockdown/internal/image"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/scan"
)

// targetFlags are the flags of every command that reads an image.
type targetFlags struct {
	platform      string
	insecure      []string
	extractors    []string
	noCache       bool
	maxLayer      int64
	includeCaches bool
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
	f.BoolVar(&t.includeCaches, "include-caches", false, "dir:/ also reads the caches that are not part of the system (Go module and build caches, package manager caches, other scanners' data), left out and named otherwise")
}

// options turns the target flags into scan options (layer cache included
// unless --no-cache).
func (g *globals) scanOptions(tf *targetFlags) scan.Options {
	opts := scan.Options{
		Platform:         tf.platform,
		InsecureRegistry: tf.insecure,
		Extractors:       tf.extractors,
		MaxLayerBytes:    tf.maxLayer,
		IncludeCaches:    tf.includeCaches,
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
	return checkTransport(args[0])
}

// transports are the target prefixes image.Open knows.
var transports = []string{image.KindDockerArchive, image.KindOCIArchive, image.KindOCIDir, "oci", image.KindRegistry, image.KindDocker, image.KindDir}

// checkTransport refuses a target that starts with a mistyped transport
// ("dockr:x", "Docker:x", "registy:host/app"), naming the one meant, before
// anything looks for it in the engine or a registry. It could be an image
// called dockr:x: the error says how to scan that one.
func checkTransport(target string) error {
	kind, rest, ok := strings.Cut(target, ":")
	if !ok || slices.Contains(transports, kind) || strings.ContainsAny(kind, "./") {
		return nil
	}
	lower := strings.ToLower(kind)
	for _, t := range transports {
		d := editDistance(lower, t)
		if d == 0 || d == 1 || d == 2 && len(t) > 4 {
			msg := fmt.Sprintf("unknown transport %q in %q: did you mean %s:%s?", kind+":", target, t, rest)
			if _, err := name.ParseReference(target); err == nil {
				msg += fmt.Sprintf(" (to scan an image named %s, write docker:%s or registry:%s)", target, target, target)
			}
			return badInput(errors.New(msg))
		}
	}
	return nil
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
