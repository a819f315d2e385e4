package harden

import (
	"path"
	"slices"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/harden/observe"
)

// Tmpfs is one writable path of the hardened configuration.
type Tmpfs struct {
	Path    string `json:"path"`
	Options string `json:"options"`
	// Hides counts the image's entries under Path that the tmpfs hides.
	Hides int    `json:"hides,omitempty"`
	Note  string `json:"note,omitempty"`
}

// volatile are directories whose whole tree is one tmpfs when anything
// under it is written.
var volatile = []string{"/tmp", "/var/tmp", "/run", "/var/run", "/dev/shm"}

// defaultTmpfsOptions are Docker's own tmpfs options with a size bound.
const defaultTmpfsOptions = "rw,noexec,nosuid,nodev,size=64m"

// writtenDirs turns the container's changes into the directories that
// must stay writable: the parent of every changed leaf (a file, or an
// empty directory the workload made), the whole of /tmp-like
// directories, and no directory under another. imageEntries counts what
// the image holds under a directory (nil: unknown), so that a tmpfs that
// would hide image content says so.
func writtenDirs(changes []observe.Change, imageEntries func(dir string) int) []Tmpfs {
	paths := make([]string, 0, len(changes))
	for _, c := range changes {
		paths = append(paths, path.Clean(c.Path))
	}
	slices.Sort(paths)
	isParent := func(p string) bool {
		i, _ := slices.BinarySearch(paths, p+"/")
		return i < len(paths) && strings.HasPrefix(paths[i], p+"/")
	}
	var dirs []string
	for _, p := range paths {
		if p == "/" || isParent(p) {
			continue
		}
		d := path.Dir(p)
		for _, v := range volatile {
			if d == v || strings.HasPrefix(d, v+"/") {
				d = v
				break
			}
		}
		if d == "/" {
			continue // a file in / itself: no tmpfs can cover it
		}
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	dirs = slices.Compact(dirs)
	var out []Tmpfs
	for _, d := range dirs {
		if slices.ContainsFunc(out, func(t Tmpfs) bool { return strings.HasPrefix(d, t.Path+"/") }) {
			continue
		}
		t := Tmpfs{Path: d, Options: defaultTmpfsOptions}
		if imageEntries != nil {
			if n := imageEntries(d); n > 0 {
				t.Hides = n
				t.Note = "Docker copies what the image holds here into the tmpfs at start; a Kubernetes emptyDir starts empty"
			}
		}
		if !slices.Contains(volatile, d) {
			if t.Note == "" {
				t.Note = "written by the workload: mount a volume here instead if the data must outlive the container"
			}
		}
		out = append(out, t)
	}
	return out
}
