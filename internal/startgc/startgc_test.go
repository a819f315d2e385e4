package startgc

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// settings reads the collector's percent and limit without changing them.
func settings() (int, int64) {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p, debug.SetMemoryLimit(-1)
}

func TestFirstCollectionRestoresDefaults(t *testing.T) {
	if !active {
		if p, _ := settings(); p == -1 {
			t.Fatal("GOGC or GOMEMLIMIT is set, yet the collector was turned off")
		}
		t.Skip("GOGC or GOMEMLIMIT is set: the collector is left alone (checked)")
	}
	if Restored() {
		t.Skip("a collection already ran before the test (GOGC or GOMEMLIMIT set, or a big test binary)")
	}
	if p, l := settings(); p != -1 || l != FirstCollection {
		t.Fatalf("before the first collection: GOGC=%d limit=%d, want off and %d", p, l, FirstCollection)
	}
	runtime.GC()
	deadline := time.Now().Add(10 * time.Second)
	for !Restored() {
		if time.Now().After(deadline) {
			t.Fatal("the first collection did not restore the defaults")
		}
		time.Sleep(time.Millisecond)
	}
	if p, l := settings(); p != 100 || l != math.MaxInt64 {
		t.Fatalf("after the first collection: GOGC=%d limit=%d, want 100 and no limit", p, l)
	}
}
