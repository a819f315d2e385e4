package report

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// TestGroupWarnings: one line per kind and shape of message, counted, most
// important first; control characters from the image never reach the line.
func TestGroupWarnings(t *testing.T) {
	l := "sha256:1f5d3e8c2b7a4e9f0d6c1b3a5e7f9d2c4b6a8e0f1d3c5b7a9e2f4d6c8b0a1e3f"
	ws := []model.Warning{
		{Layer: l, Path: "/lib/apk/db/installed", Message: `apk: line 5: not a field: "garbage"`},
		{Path: "/srv/a/requirements.txt", Message: "requirements line 12: -r other.txt not followed (only this file is read)"},
		{Kind: model.WarnCacheSkipped, Path: "/var/cache", Message: "a cache"},
		{Layer: l, Path: "/lib/apk/db/installed", Message: `apk: line 9: not a field: "x\"y"`},
		{Kind: model.WarnUnreadable, Path: "/var/lib/rpm/Packages", Message: "rpm: read rpm db /var/lib/rpm/Packages: bdb: truncated"},
		{Path: "/srv/b/requirements.txt", Message: "requirements line 3: -r other.txt not followed (only this file is read)"},
		{Layer: l, Path: "/lib/apk/db/installed", Message: `apk: line 12: not a field: "z"`},
		{Kind: model.WarnCacheSkipped, Path: "/root/.cache", Message: "a cache"},
		{Path: "/app/evil\x1b[2Jname", Message: "lstat: permission denied"},
	}
	var got []string
	for _, g := range GroupWarnings(ws) {
		got = append(got, g.String())
	}
	want := []string{
		"/var/lib/rpm/Packages: rpm: read rpm db /var/lib/rpm/Packages: bdb: truncated",
		"left out 2 caches that are not part of the installed system (--include-caches reads them): /root/.cache, /var/cache",
		`/lib/apk/db/installed (layer 1f5d3e8c2b7a): apk: line 5: not a field: "garbage" (and 2 more like it)`,
		"/srv/a/requirements.txt: requirements line 12: -r other.txt not followed (only this file is read) (and 1 more like it, about 2 files)",
		`/app/evil\x1b[2Jname: lstat: permission denied`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GroupWarnings (-want +got):\n%s", diff)
	}
}

func BenchmarkGroupWarnings(b *testing.B) {
	ws := make([]model.Warning, 0, 1000)
	for i := range 1000 {
		ws = append(ws, model.Warning{Path: "/lib/apk/db/installed", Message: "apk: line " + string(rune('0'+i%10)) + ": not a field: \"x\""})
	}
	b.ReportAllocs()
	for b.Loop() {
		GroupWarnings(ws)
	}
}

// FuzzGroupWarnings: whatever the messages and paths, grouping never loses
// a warning and every line is one clean terminal line.
func FuzzGroupWarnings(f *testing.F) {
	f.Add("", "/lib/apk/db/installed", `apk: line 5: not a field: "x\"y`, "/var/cache", "\\")
	f.Add(model.WarnUnreadable, "a\nb", "\x1b[2J\"", "", `"unterminated`)
	f.Fuzz(func(t *testing.T, kind, path, msg, path2, msg2 string) {
		ws := []model.Warning{
			{Kind: kind, Path: path, Message: msg},
			{Kind: model.WarnCacheSkipped, Path: path2},
			{Path: path2, Message: msg2},
			{Kind: kind, Path: path2, Message: msg},
		}
		n := 0
		for _, g := range GroupWarnings(ws) {
			n += g.Count
			checkTable(t, "warning line", []byte(g.String()+"\n"))
		}
		if n != len(ws) {
			t.Fatalf("groups count %d warnings, want %d", n, len(ws))
		}
	})
}
