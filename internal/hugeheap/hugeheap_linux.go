//go:build linux && (amd64 || arm64)

package hugeheap

import (
	"runtime"
	"syscall"
	"unsafe"
)

const (
	arenaBytes    = 64 << 20 // the runtime's heap arena on 64-bit Linux
	hugePageBytes = 2 << 20
	madvHugePage  = 14 // MADV_HUGEPAGE
	madvCollapse  = 25 // MADV_COLLAPSE (Linux 6.1)
)

// What init did, for the tests: the address it probed and each madvise's
// result (0 when it succeeded, ^0 when it was not tried).
var (
	probe                  uintptr
	adviseErr, collapseErr syscall.Errno = ^syscall.Errno(0), ^syscall.Errno(0)
)

func init() {
	if godebug, _ := syscall.Getenv("GODEBUG"); disabled(godebug) {
		return
	}
	p := new([64]byte)
	probe = uintptr(unsafe.Pointer(p))
	_, _, adviseErr = syscall.Syscall(syscall.SYS_MADVISE, probe&^(arenaBytes-1), arenaBytes, madvHugePage)
	if adviseErr == 0 {
		_, _, collapseErr = syscall.Syscall(syscall.SYS_MADVISE, probe&^(hugePageBytes-1), hugePageBytes, madvCollapse)
	}
	runtime.KeepAlive(p)
}
