package harden

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/harden/observe"
)

func TestWrittenDirs(t *testing.T) {
	changes := []observe.Change{
		{Path: "/tmp", Kind: "C"}, {Path: "/tmp/a/b/c", Kind: "A"}, {Path: "/tmp/a", Kind: "A"}, {Path: "/tmp/a/b", Kind: "A"},
		{Path: "/var", Kind: "C"}, {Path: "/var/lib", Kind: "C"}, {Path: "/var/lib/app", Kind: "A"}, {Path: "/var/lib/app/stamp", Kind: "A"},
		{Path: "/var/lib/app/sub", Kind: "A"}, {Path: "/var/lib/app/sub/x", Kind: "A"},
		{Path: "/etc", Kind: "C"}, {Path: "/etc/app.conf", Kind: "D"},
		{Path: "/run", Kind: "C"}, {Path: "/run/app.pid", Kind: "A"},
		{Path: "/rootfile", Kind: "A"},
	}
	image := map[string]int{"/etc": 120, "/tmp": 0}
	got := writtenDirs(changes, func(d string) int { return image[d] })
	want := []Tmpfs{
		{Path: "/etc", Options: defaultTmpfsOptions, Hides: 120, Note: "Docker copies what the image holds here into the tmpfs at start; a Kubernetes emptyDir starts empty"},
		{Path: "/run", Options: defaultTmpfsOptions},
		{Path: "/tmp", Options: defaultTmpfsOptions},
		{Path: "/var/lib/app", Options: defaultTmpfsOptions, Note: "written by the workload: mount a volume here instead if the data must outlive the container"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("writtenDirs (-want +got):\n%s", d)
	}
	if got := writtenDirs(nil, nil); got != nil {
		t.Errorf("writtenDirs(nil) = %v, want nil", got)
	}
}
