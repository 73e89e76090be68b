// Command fgwh is a webhook delivery system in one binary: see README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fgwh/fgwh/cmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cmd.Main(ctx, os.Args[1:], cmd.SystemIO())
	stop()
	os.Exit(code)
}
