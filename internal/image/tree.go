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

// merge says how layer records are applied to a tree.
type merge struct {
	// want and visit are those of the walk; want is nil when there is no
	// Visit (then no hard link can carry a result).
	want WantFunc
	// all keeps every path (WalkOptions.AllPaths). Otherwise the tree keeps
	// only what a caller of Visited, Result, History and Resolve needs:
	// wanted regular files, symlinks, hard links and their targets, and the
	// directories leading to them. An entry that is not kept still deletes
	// or replaces what lower layers left at its path.
	all bool
	// pinned are paths that hard links (of any layer) point to, kept even
	// when not wanted so that the links resolve as in a full tree.
	pinned map[string]bool
}

// apply merges one layer: first its whiteouts and opaque markers act on the
// layers below, then its entries are added in tar order.
func (t *tree) apply(li int, rec *layerRecord, m *merge) error {
	l := int32(li)
	r := rec.opaques.reader(false)
	for r.next() {
		if d := t.dirAt(r.path, l, m.all); d != nil {
			d.children = nil
		}
	}
	if r.err != nil {
		return r.err
	}
	r = rec.whiteouts.reader(false)
	for r.next() {
		dir, base := splitBytes(r.path)
		if parent := t.dirAt(dir, l, m.all); parent != nil {
			delete(parent.children, string(base))
		}
	}
	if r.err != nil {
		return r.err
	}
	c := cursor{nodes: []*inode{t.root}, ends: []int{0}}
	results := rec.results
	r = rec.entries.reader(true)
	for r.next() {
		var result any
		if r.flags&flagVisited != 0 {
			if len(results) == 0 {
				return errRecord
			}
			result, results = results[0], results[1:]
		}
		t.put(l, r, result, &c, m)
	}
	if r.err != nil {
		return r.err
	}
	t.warns = append(t.warns, rec.allWarnings()...)
	return nil
}

// dirAt returns the directory at p (a clean absolute path, "" or "/" for
// the root). A non-directory in the way is replaced by a directory of layer
// l, as the layer's own directory would cover it in an overlay filesystem.
// A missing directory is created when create is set; otherwise dirAt
// returns nil, as there is nothing below it.
func (t *tree) dirAt(p []byte, l int32, create bool) *inode {
	cur := t.root
	for len(p) > 0 {
		var c []byte
		c, p = nextComponent(p)
		if len(c) == 0 {
			continue
		}
		child := cur.children[string(c)]
		switch {
		case child == nil && !create:
			return nil
		case child == nil || !child.isDir():
			child = cur.addDir(string(c), l)
		}
		cur = child
	}
	return cur
}

// nextComponent splits "/a/b" into "a" and "/b".
func nextComponent(p []byte) (c, rest []byte) {
	for len(p) > 0 && p[0] == '/' {
		p = p[1:]
	}
	for i, b := range p {
		if b == '/' {
			return p[:i], p[i:]
		}
	}
	return p, nil
}

// addDir puts a new empty directory named name in n (a directory).
func (n *inode) addDir(name string, l int32) *inode {
	d := &inode{name: name, mode: fs.ModeDir | 0o755, layer: l}
	n.setChild(d)
	return d
}

func (n *inode) setChild(c *inode) {
	if n.children == nil {
		n.children = map[string]*inode{}
	}
	n.children[c.name] = c
}

// cursor holds the directory of the entry being applied, component by
// component, so the next entry (tar order is mostly depth first) looks up
// only the components that differ: applying a layer costs time linear in
// its entries, however deep its tree.
type cursor struct {
	dir   []byte   // "/a/b"; "" for the root
	nodes []*inode // nodes[i] is the directory at dir[:ends[i]]; nil when not in the tree
	ends  []int
}

// seek moves the cursor to dir (a clean absolute path, "" for the root),
// replacing non-directories in the way as dirAt does; with create, missing
// directories are made.
func (c *cursor) seek(dir []byte, l int32, create bool) {
	common := 0
	for common < len(dir) && common < len(c.dir) && dir[common] == c.dir[common] {
		common++
	}
	k := len(c.ends) - 1
	for c.ends[k] > common || (c.ends[k] < len(dir) && dir[c.ends[k]] != '/') {
		k--
	}
	c.nodes, c.ends = c.nodes[:k+1], c.ends[:k+1]
	c.dir = append(c.dir[:c.ends[k]], dir[c.ends[k]:]...)
	pos := c.ends[k]
	for pos < len(dir) {
		// dir[pos] == '/'
		end := pos + 1
		for end < len(dir) && dir[end] != '/' {
			end++
		}
		parent := c.nodes[len(c.nodes)-1]
		var child *inode
		if parent != nil {
			name := dir[pos+1 : end]
			child = parent.children[string(name)]
			switch {
			case child == nil && !create:
			case child == nil || !child.isDir():
				child = parent.addDir(string(name), l)
			}
		}
		c.nodes = append(c.nodes, child)
		c.ends = append(c.ends, end)
		pos = end
	}
}

// materialize creates the missing directories of the cursor's path.
func (c *cursor) materialize(l int32) *inode {
	for i := 1; i < len(c.nodes); i++ {
		if c.nodes[i] == nil {
			c.nodes[i] = c.nodes[i-1].addDir(string(c.dir[c.ends[i-1]+1:c.ends[i]]), l)
		}
	}
	return c.nodes[len(c.nodes)-1]
}

// put applies one entry of layer l.
func (t *tree) put(l int32, e *pathReader, result any, c *cursor, m *merge) {
	dir, base := splitBytes(e.path)
	kept := m.all || e.kind == kindSymlink || e.kind == kindHardlink ||
		(e.kind == kindRegular && e.flags&flagWanted != 0) || (len(m.pinned) > 0 && m.pinned[string(e.path)])
	c.seek(dir, l, m.all)
	parent := c.nodes[len(c.nodes)-1]
	if parent == nil {
		if !kept {
			return // nothing of the lower layers is here
		}
		parent = c.materialize(l)
	}
	old := parent.children[string(base)]
	if old == nil && !kept {
		return
	}
	if e.kind == kindDir && old != nil && old.isDir() {
		// A directory over a directory merges: keep the children.
		old.mode, old.layer = e.mode, l
		return
	}
	if !kept && e.kind != kindDir {
		// Not kept, but it replaces what was there.
		delete(parent.children, string(base))
		return
	}
	n := &inode{name: string(base), mode: e.mode, size: e.size, layer: l}
	switch e.kind {
	case kindSymlink:
		n.linkname = string(e.link)
	case kindRegular:
		if e.flags&flagVisited != 0 {
			n.chain = continueChain(old, version{layer: l, result: result})
		}
	case kindHardlink:
		t.link(l, n, old, string(e.path), string(e.link), m.want)
	}
	parent.setChild(n)
}

// link makes n (at p) the hard link to target it is: its mode, size and,
// when wanted, the result of the target's final version.
func (t *tree) link(l int32, n, old *inode, p, target string, want WantFunc) {
	tn := t.lookupLiteral(target)
	if tn == nil || !tn.isRegular() {
		t.warns = append(t.warns, model.Warning{Layer: t.refs[l].DiffID, Path: p,
			Message: fmt.Sprintf("hard link to %s, which is not a regular file in this or a lower layer", target)})
		return
	}
	n.mode, n.size = tn.mode, tn.size
	if want == nil || !want(p, n.mode, n.size) {
		return
	}
	if len(tn.chain) > 0 {
		n.chain = continueChain(old, version{layer: l, result: tn.chain[len(tn.chain)-1].result})
		return
	}
	t.warns = append(t.warns, model.Warning{Layer: t.refs[l].DiffID, Path: p,
		Message: fmt.Sprintf("hard link to %s, whose content was not read", target)})
}

// splitBytes splits a clean absolute path into its directory ("" for the
// root) and base name.
func splitBytes(p []byte) (dir, base []byte) {
	i := len(p) - 1
	for i >= 0 && p[i] != '/' {
		i--
	}
	if i < 0 {
		return nil, p
	}
	return p[:i], p[i+1:]
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
