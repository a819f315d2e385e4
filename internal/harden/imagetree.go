package harden

import (
	"context"
	"io/fs"
	"slices"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/image"
)

// imageTree is the image's file list: its top-level directories (readable
// in the AppArmor profile) and what lies under a directory (a tmpfs there
// hides it).
type imageTree struct {
	paths []string // sorted
	dirs  []string // top-level directories, sorted
}

// imageTree reads the image's file list from the engine (a docker save
// stream, never extracted). When that fails the tree is empty and the
// profile falls back to the usual top-level directories.
func (h *hardener) imageTree(ctx context.Context, id string) *imageTree {
	t := &imageTree{}
	src, err := image.Open(ctx, "docker:"+id, image.Options{Logger: h.log})
	if err == nil {
		defer src.Close()
		var tree *image.Tree
		tree, err = image.Walk(ctx, src, image.WalkOptions{})
		if err == nil {
			t.paths = tree.Paths()
			for _, p := range t.paths {
				if strings.Count(p, "/") != 1 {
					continue
				}
				if n, err := tree.Lstat(p); err == nil && n.Mode&fs.ModeType == fs.ModeDir {
					t.dirs = append(t.dirs, p)
				}
			}
		}
	}
	if err != nil {
		h.log.Warn("read the image's files (the AppArmor profile falls back to the usual directories)", "image", id, "err", err)
		t.dirs = []string{"/bin", "/etc", "/lib", "/lib64", "/opt", "/sbin", "/srv", "/usr", "/var"}
	}
	return t
}

// entriesUnder counts the image's paths under dir.
func (t *imageTree) entriesUnder(dir string) int {
	i, _ := slices.BinarySearch(t.paths, dir+"/")
	n := 0
	for ; i < len(t.paths) && strings.HasPrefix(t.paths[i], dir+"/"); i++ {
		n++
	}
	return n
}

// topDirs lists the image's top-level directories except those the
// kernel provides (/proc, /sys, /dev), whose rules the profile has.
func (t *imageTree) topDirs() []string {
	var out []string
	for _, d := range t.dirs {
		switch d {
		case "/proc", "/sys", "/dev", "/tmp", "/run", "/mnt", "/media", "/boot":
			continue
		}
		out = append(out, d)
	}
	return out
}
