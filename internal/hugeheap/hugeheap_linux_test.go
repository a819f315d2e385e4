//go:build linux && (amd64 || arm64)

package hugeheap

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// mapping is what /proc/self/smaps says of the mapping holding addr.
type mapping struct {
	flags         []string
	anonHugePages int64 // kB
}

func mappingOf(t *testing.T, addr uintptr) mapping {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var m mapping
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if lo, hi, ok := strings.Cut(fields[0], "-"); ok && !strings.HasSuffix(fields[0], ":") {
			a, err1 := strconv.ParseUint(lo, 16, 64)
			b, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 == nil && err2 == nil {
				if in {
					return m
				}
				in = uint64(addr) >= a && uint64(addr) < b
				continue
			}
		}
		if !in {
			continue
		}
		switch fields[0] {
		case "AnonHugePages:":
			m.anonHugePages, _ = strconv.ParseInt(fields[1], 10, 64)
		case "VmFlags:":
			m.flags = fields[1:]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if !in {
		t.Fatalf("no mapping in /proc/self/smaps holds %#x", addr)
	}
	return m
}

func (m mapping) has(flag string) bool {
	for _, f := range m.flags {
		if f == flag {
			return true
		}
	}
	return false
}

// thpMode is the kernel's transparent huge page mode ("always", "madvise",
// "never"), or "" when it has none.
func thpMode(t *testing.T) string {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.IndexByte(s, '['), strings.IndexByte(s, ']')
	if i < 0 || j < i {
		t.Fatalf("unreadable THP mode %q", s)
	}
	return s[i+1 : j]
}

const leftAlone = "GODEBUG=disablethp=1: the heap is left alone (checked)"

func TestHeapIsMarked(t *testing.T) {
	if disabled(os.Getenv("GODEBUG")) {
		if adviseErr != ^syscall.Errno(0) || collapseErr != ^syscall.Errno(0) || probe != 0 {
			t.Fatalf("GODEBUG=disablethp=1, yet init advised the heap (madvise %v, collapse %v)", adviseErr, collapseErr)
		}
		p := new([64]byte)
		if mappingOf(t, uintptr(unsafe.Pointer(p))).has("hg") {
			t.Fatal("GODEBUG=disablethp=1, yet the heap is marked for huge pages")
		}
		runtime.KeepAlive(p)
		t.Skip(leftAlone)
	}
	mode := thpMode(t)
	if mode == "" {
		t.Skip("host limit: this kernel has no transparent huge pages, so there is nothing to ask for")
	}
	if adviseErr != 0 {
		t.Fatalf("madvise(MADV_HUGEPAGE) on the heap arena: %v", adviseErr)
	}
	m := mappingOf(t, probe)
	if !m.has("hg") {
		t.Fatalf("the heap mapping holding %#x is not marked for huge pages: VmFlags %v", probe, m.flags)
	}
	switch collapseErr {
	case 0:
	case syscall.EINVAL:
		t.Skipf("host limit: MADV_COLLAPSE refused (%v; it needs Linux 6.1), THP mode %s", collapseErr, mode)
	case syscall.EAGAIN, syscall.ENOMEM:
		t.Skipf("host limit: the kernel had no free huge page to collapse into (%v)", collapseErr)
	default:
		t.Fatalf("madvise(MADV_COLLAPSE): %v", collapseErr)
	}
	if m.anonHugePages < 2048 {
		t.Fatalf("the heap mapping holding %#x has %d kB in huge pages after MADV_COLLAPSE, want at least 2048", probe, m.anonHugePages)
	}
}

// GODEBUG=disablethp=1 leaves the heap alone: the test binary runs itself
// with it, and the test above must take its "left alone" branch.
func TestDisableTHPLeavesItAlone(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHeapIsMarked$", "-test.v")
	cmd.Env = append(os.Environ(), "GODEBUG=madvdontneed=1,disablethp=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(string(out), leftAlone) {
		t.Errorf("the heap was not left alone:\n%s", out)
	}
}

// The package only helps if its init runs before the dependencies that
// allocate most of package initialisation's memory. Go initialises ready
// packages in import-path order, so one more import here (strings, say)
// would quietly move it behind them. `lockdown version` with
// GODEBUG=inittrace=1 lists every init with the bytes it allocated.
func TestInitRunsEarly(t *testing.T) {
	cmd := exec.Command(testutil.LockdownBinary(t), "version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("lockdown version: %v\n%s", err, out)
	}
	const self = "github.com/lockdown-sec/lockdown/internal/hugeheap"
	var before []string
	allocated, found, inits := 0, false, 0
	for _, line := range strings.Split(string(out), "\n") {
		// init PKG @T ms, C ms clock, B bytes, A allocs
		f := strings.Fields(line)
		if len(f) < 9 || f[0] != "init" || f[8] != "bytes," {
			continue
		}
		inits++
		if f[1] == self {
			found = true
			break
		}
		n, err := strconv.Atoi(f[7])
		if err != nil {
			t.Fatalf("unreadable init trace line %q", line)
		}
		allocated += n
		before = append(before, f[1])
	}
	if !found {
		t.Fatalf("no init of %s in `lockdown version`'s init trace (%d inits):\n%s", self, inits, out)
	}
	if allocated > 64<<10 || len(before) > 40 {
		t.Fatalf("%d packages allocating %d bytes initialise before %s (want at most 40 and 64 KiB): %v", len(before), allocated, self, before)
	}
}

// BenchmarkStart runs `lockdown version` as a process, with the heap's huge
// pages and without (GODEBUG=disablethp=1): compare the two with benchstat.
func BenchmarkStart(b *testing.B) {
	bin := testutil.LockdownBinary(b)
	for _, c := range []struct{ name, godebug string }{{"huge", ""}, {"disablethp", "disablethp=1"}} {
		b.Run(c.name, func(b *testing.B) {
			env := append(os.Environ(), "GODEBUG="+c.godebug)
			for b.Loop() {
				cmd := exec.Command(bin, "version")
				cmd.Env = env
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v\n%s", err, out)
				}
			}
		})
	}
}
