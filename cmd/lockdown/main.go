// Command lockdown locks containers down: audit, harden, netpol, scan, sbom, serve.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/lockdown-sec/lockdown/internal/cli"
	_ "github.com/lockdown-sec/lockdown/internal/hugeheap" // huge pages under the start of the heap: see the package
	_ "github.com/lockdown-sec/lockdown/internal/startgc"  // no GC in short runs: see the package
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
