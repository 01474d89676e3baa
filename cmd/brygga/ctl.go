package main

import (
	"context"
	"io"

	"brygga/ctl"
)

// ctlCmd is `brygga ctl`, the operator's command line over the admin API.
// Like load, the whole command lives in its own package, where its output
// and exit statuses are tested without building this binary.
func ctlCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return ctl.Run(ctx, args, getenv, stdout, stderr)
}
