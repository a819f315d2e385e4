package extract

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/model"
)

func TestWarningsBounded(t *testing.T) {
	w := Warnings{Path: "/var/lib/dpkg/status", Prefix: "dpkg: "}
	for i := range 1_000_000 {
		w.Addf("line %d: not a field", i+1)
	}
	got := w.List()
	if len(got) != MaxWarnings {
		t.Fatalf("List() after 1e6 warnings has %d entries, want %d", len(got), MaxWarnings)
	}
	if got[0] != (model.Warning{Path: "/var/lib/dpkg/status", Message: "dpkg: line 1: not a field"}) {
		t.Errorf("List()[0] = %+v, want the first warning", got[0])
	}
	want := model.Warning{Path: "/var/lib/dpkg/status", Message: "dpkg: 999901 more warnings not shown (at most 99 are kept per file)"}
	if got[len(got)-1] != want {
		t.Errorf("List() last = %+v, want %+v", got[len(got)-1], want)
	}
	if w.Len() != 1_000_000 {
		t.Errorf("Len() = %d, want 1000000", w.Len())
	}
	if n := sizeOf(got); n > MaxWarningBytes {
		t.Errorf("List() holds %d bytes, want at most %d", n, MaxWarningBytes)
	}
	// Bounding the bounded list changes nothing.
	if diff := cmp.Diff(got, Bound(got)); diff != "" {
		t.Errorf("Bound(List()) changed it (-want +got):\n%s", diff)
	}
}

func TestWarningsByteBudget(t *testing.T) {
	var w Warnings
	long := strings.Repeat("x", 10_000)
	for range 50 {
		w.Add(model.Warning{Path: "/p", Message: long})
	}
	got := w.List()
	if n := sizeOf(got); n > MaxWarningBytes {
		t.Errorf("List() holds %d bytes, want at most %d", n, MaxWarningBytes)
	}
	if len(got[0].Message) != MaxMessageBytes || !strings.HasSuffix(got[0].Message, "…") {
		t.Errorf("first message is %d bytes, want %d ending in …", len(got[0].Message), MaxMessageBytes)
	}
	last := got[len(got)-1].Message
	wantLast := fmt.Sprintf("%d more warnings not shown (at most 99 are kept per file)", 50-(len(got)-1))
	if last != wantLast {
		t.Errorf("summary = %q, want %q", last, wantLast)
	}
}

func TestBound(t *testing.T) {
	var ws []model.Warning
	for i := range 500 {
		ws = append(ws, model.Warning{Path: "/p", Message: fmt.Sprint(i)})
	}
	got := Bound(ws)
	if len(got) != MaxWarnings || got[98].Message != "98" || got[99].Message != "401 more warnings not shown (at most 99 are kept per file)" {
		t.Errorf("Bound(500 warnings) = %d entries ending %q, %q", len(got), got[98].Message, got[len(got)-1].Message)
	}
	few := ws[:3]
	if diff := cmp.Diff(few, Bound(few)); diff != "" {
		t.Errorf("Bound(3 warnings) changed them:\n%s", diff)
	}
}

func TestTruncate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcdef", 5, "ab…"},
		{"ééé", 5, "é…"},
		{"ééé", 4, "…"}, // never cuts inside a rune
		{"aééé", 6, "aé…"},
	} {
		if got := Truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestCollectorPackageCap(t *testing.T) {
	c := NewCollector("/lock", "npm")
	for i := range MaxPackages {
		if err := c.Add(model.Package{Name: fmt.Sprint(i)}); err != nil {
			t.Fatalf("Add(%d) = %v", i, err)
		}
	}
	err := c.Add(model.Package{Name: "one too many"})
	if !errors.Is(err, ErrTooManyPackages) || err.Error() != "/lock: more than 100000 packages" {
		t.Errorf("Add(past the cap) = %v, want %q", err, "/lock: more than 100000 packages")
	}
	if c.Packages() != MaxPackages {
		t.Errorf("Packages() = %d, want %d", c.Packages(), MaxPackages)
	}
}

func TestLimit(t *testing.T) {
	in := Input{Path: "/var/lib/dpkg/status", Reader: strings.NewReader(strings.Repeat("a", 1000))}
	got, err := io.ReadAll(Limit(in, 999))
	if !errors.Is(err, ErrTooLarge) || err.Error() != "read /var/lib/dpkg/status: larger than 999 bytes: over the size limit" {
		t.Errorf("ReadAll(Limit(1000 bytes, 999)) error = %v", err)
	}
	if len(got) != 999 {
		t.Errorf("ReadAll(Limit(1000 bytes, 999)) read %d bytes, want 999", len(got))
	}
	in.Reader = strings.NewReader(strings.Repeat("a", 1000))
	if got, err := io.ReadAll(Limit(in, 1000)); err != nil || len(got) != 1000 {
		t.Errorf("ReadAll(Limit(1000 bytes, 1000)) = %d bytes, %v; want 1000, nil", len(got), err)
	}
}

func BenchmarkWarningsAddf(b *testing.B) {
	b.ReportAllocs()
	var w Warnings
	for i := range MaxWarnings {
		w.Addf("line %d", i)
	}
	for b.Loop() {
		w.Addf("line %d: not a field", 7) // past the budget: counted only
	}
}
