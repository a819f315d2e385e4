package image

// STUB: replaced by the real implementation (open.go, walk.go, tree.go).

import (
	"context"

	"github.com/lockdown-sec/lockdown/internal/model"
)

type tree struct{}

func (t *tree) visited() []string              { panic("not implemented") }
func (t *tree) result(string) (any, bool)      { panic("not implemented") }
func (t *tree) history(string) []Version       { panic("not implemented") }
func (t *tree) lstat(string) (Node, error)     { panic("not implemented") }
func (t *tree) resolve(string) (string, error) { panic("not implemented") }
func (t *tree) layers() []model.LayerRef       { panic("not implemented") }
func (t *tree) warnings() []model.Warning      { panic("not implemented") }

// Open opens a target: docker-archive:PATH, oci-archive:PATH, oci-dir:PATH,
// registry:REF, docker:REF, dir:PATH, or a bare REF (docker daemon first,
// then the registry).
func Open(ctx context.Context, target string, opts Options) (Source, error) {
	panic("not implemented")
}

// Walk reads every layer (concurrently), applies them in order with OCI
// whiteouts, opaque directories and hard links, calls Visit for wanted files,
// and returns the merged tree.
func Walk(ctx context.Context, src Source, opts WalkOptions) (*Tree, error) {
	panic("not implemented")
}
