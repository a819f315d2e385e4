// Package netns runs code inside another network namespace.
package netns

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Do runs f on an OS thread that has entered the network namespace
// fd, then returns the thread to its own namespace. Sockets f creates
// stay in fd's namespace.
func Do(fd int, f func() error) error {
	if fd <= 0 {
		return f()
	}
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open own network namespace: %w", err)
	}
	defer self.Close()
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter network namespace: %w", err)
	}
	ferr := f()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays locked, so the runtime ends it with the
		// goroutine instead of reusing it in the wrong namespace.
		return errors.Join(ferr, fmt.Errorf("return to own network namespace: %w", err))
	}
	runtime.UnlockOSThread()
	return ferr
}
