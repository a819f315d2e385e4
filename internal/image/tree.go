package image

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// tree is the merged filesystem: one inode per path, directories holding
// their children by name. It is read-only once Walk returns, so safe for
// concurrent readers.
type tree struct {
	root  *inode
	refs  []model.LayerRef
	warns []model.Warning
}

// inode is one path of the merged filesystem.
type inode struct {
	name     string
	mode     fs.FileMode
	size     int64
	linkname string
	layer    int32             // index into tree.refs
	children map[string]*inode // directories only; nil when empty
	// chain is the unbroken run of visit results ending in this (final)
	// version, oldest first; empty when the final version was not visited.
	chain []version
}

type version struct {
	layer  int32
	result any
}

func (n *inode) isDir() bool     { return n.mode.IsDir() }
func (n *inode) isSymlink() bool { return n.mode&fs.ModeSymlink != 0 }
func (n *inode) isRegular() bool { return n.mode.IsRegular() }

func newTree(refs []model.LayerRef) *tree {
	return &tree{
		root: &inode{name: "/", mode: fs.ModeDir | 0o755},
		refs: refs,
	}
}

// apply merges one layer: first its whiteouts and opaque markers act on the
// layers below, then its entries are added in tar order.
func (t *tree) apply(li int, rec *layerRecord, want WantFunc) {
	l := int32(li)
	for _, d := range rec.opaques {
		t.ensureDir(d, l).children = nil
	}
	for _, w := range rec.whiteouts {
		dir, base := splitPath(w)
		parent := t.ensureDir(dir, l)
		delete(parent.children, base)
	}
	for i := range rec.entries {
		t.put(l, &rec.entries[i], want)
	}
	t.warns = append(t.warns, rec.warnings...)
}

// ensureDir returns the directory at p, creating it (and its parents) in
// layer l where missing or where a non-directory stands in the way, as the
// layer's own directory would cover it in an overlay filesystem.
func (t *tree) ensureDir(p string, l int32) *inode {
	cur := t.root
	for c := range components(p) {
		child := cur.children[c]
		if child == nil || !child.isDir() {
			child = &inode{name: c, mode: fs.ModeDir | 0o755, layer: l}
			if cur.children == nil {
				cur.children = map[string]*inode{}
			}
			cur.children[c] = child
		}
		cur = child
	}
	return cur
}

func (t *tree) put(l int32, e *entry, want WantFunc) {
	dir, base := splitPath(e.path)
	parent := t.ensureDir(dir, l)
	old := parent.children[base]
	n := &inode{name: base, mode: e.mode, size: e.size, linkname: e.linkname, layer: l}
	switch e.kind {
	case kindDir:
		if old != nil && old.isDir() {
			// A directory over a directory merges: keep the children.
			old.mode, old.layer = e.mode, l
			return
		}
	case kindRegular:
		if e.visited {
			n.chain = continueChain(old, version{layer: l, result: e.result})
		}
	case kindHardlink:
		n.linkname = ""
		target := t.lookupLiteral(e.linkname)
		if target == nil || !target.isRegular() {
			t.warns = append(t.warns, model.Warning{Layer: t.refs[l].DiffID, Path: e.path,
				Message: fmt.Sprintf("hard link to %s, which is not a regular file in this or a lower layer", e.linkname)})
			break
		}
		n.mode, n.size = target.mode, target.size
		if want != nil && want(e.path, n.mode, n.size) {
			if len(target.chain) > 0 {
				n.chain = continueChain(old, version{layer: l, result: target.chain[len(target.chain)-1].result})
			} else {
				t.warns = append(t.warns, model.Warning{Layer: t.refs[l].DiffID, Path: e.path,
					Message: fmt.Sprintf("hard link to %s, whose content was not read", e.linkname)})
			}
		}
	}
	if parent.children == nil {
		parent.children = map[string]*inode{}
	}
	parent.children[base] = n
}

// continueChain extends the history of old (when old is a visited regular
// file) with v; anything else starts a new chain.
func continueChain(old *inode, v version) []version {
	if old != nil && old.isRegular() && len(old.chain) > 0 {
		return append(old.chain[:len(old.chain):len(old.chain)], v)
	}
	return []version{v}
}

// lookupLiteral finds p without following any symlink.
func (t *tree) lookupLiteral(p string) *inode {
	cur := t.root
	for c := range components(p) {
		if cur.children == nil {
			return nil
		}
		if cur = cur.children[c]; cur == nil {
			return nil
		}
	}
	return cur
}

// walkPath resolves p inside the image root like a chrooted kernel would:
// ".." never climbs above "/", absolute link targets restart at "/". The
// final component is followed only when followFinal. It returns the
// resolved path and its inode (nil when it does not exist).
func (t *tree) walkPath(p string, followFinal bool) (string, *inode, error) {
	pending := splitAll(p)
	stack := []*inode{t.root} // inodes of the resolved components; nil = missing
	names := []string{}
	hops := 0
	for len(pending) > 0 {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(names) > 0 {
				names = names[:len(names)-1]
				stack = stack[:len(stack)-1]
			}
			continue
		}
		cur := stack[len(stack)-1]
		var child *inode
		if cur != nil && cur.children != nil {
			child = cur.children[c]
		}
		if child != nil && child.isSymlink() && (len(pending) > 0 || followFinal) {
			hops++
			if hops > MaxSymlinkHops {
				return "", nil, fmt.Errorf("resolve %s: more than %d symlinks (a loop?): %w", p, MaxSymlinkHops, ErrBadInput)
			}
			if child.linkname == "" {
				return "", nil, fmt.Errorf("resolve %s: symlink /%s has an empty target: %w", p, strings.Join(append(names, c), "/"), ErrBadInput)
			}
			if strings.HasPrefix(child.linkname, "/") {
				names = names[:0]
				stack = stack[:1]
			}
			pending = append(splitAll(child.linkname), pending...)
			continue
		}
		names = append(names, c)
		stack = append(stack, child)
	}
	return "/" + strings.Join(names, "/"), stack[len(stack)-1], nil
}

func (t *tree) resolve(p string) (string, error) {
	r, _, err := t.walkPath(p, true)
	return r, err
}

func (t *tree) lstat(p string) (Node, error) {
	r, n, err := t.walkPath(p, false)
	if err != nil {
		return Node{}, err
	}
	if n == nil {
		return Node{}, fmt.Errorf("lstat %s: %w", p, fs.ErrNotExist)
	}
	return t.node(r, n), nil
}

func (t *tree) node(p string, n *inode) Node {
	nd := Node{Path: p, Mode: n.mode, Size: n.size, Linkname: n.linkname}
	if int(n.layer) < len(t.refs) {
		nd.Layer = t.refs[n.layer]
	}
	return nd
}

// final finds the final version of p (intermediate symlinks resolved).
func (t *tree) final(p string) *inode {
	_, n, err := t.walkPath(p, false)
	if err != nil || n == nil || !n.isRegular() {
		return nil
	}
	return n
}

func (t *tree) result(p string) (any, bool) {
	n := t.final(p)
	if n == nil || len(n.chain) == 0 {
		return nil, false
	}
	return n.chain[len(n.chain)-1].result, true
}

func (t *tree) history(p string) []Version {
	n := t.final(p)
	if n == nil || len(n.chain) == 0 {
		return nil
	}
	out := make([]Version, len(n.chain))
	for i, v := range n.chain {
		out[i] = Version{Layer: t.refs[v.layer], Result: v.result}
	}
	return out
}

func (t *tree) visited() []string {
	var out []string
	t.each(func(p string, n *inode) {
		if len(n.chain) > 0 {
			out = append(out, p)
		}
	})
	slices.Sort(out)
	return out
}

func (t *tree) paths() []string {
	var out []string
	t.each(func(p string, _ *inode) { out = append(out, p) })
	slices.Sort(out)
	return out
}

// each calls fn for every path below the root.
func (t *tree) each(fn func(p string, n *inode)) {
	var rec func(prefix string, n *inode)
	rec = func(prefix string, n *inode) {
		for name, c := range n.children {
			p := prefix + "/" + name
			fn(p, c)
			if c.children != nil {
				rec(p, c)
			}
		}
	}
	rec("", t.root)
}

func (t *tree) layers() []model.LayerRef { return slices.Clone(t.refs) }
func (t *tree) warnings() []model.Warning {
	return slices.Clone(t.warns)
}

// components yields the non-empty components of a clean absolute path.
func components(p string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for c := range strings.SplitSeq(p, "/") {
			if c == "" {
				continue
			}
			if !yield(c) {
				return
			}
		}
	}
}

// splitAll splits a path into components, keeping "." and "..".
func splitAll(p string) []string {
	var out []string
	for c := range strings.SplitSeq(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// splitPath splits a clean absolute path into its directory and base name.
func splitPath(p string) (dir, base string) {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/", p[i+1:]
	}
	return p[:i], p[i+1:]
}
