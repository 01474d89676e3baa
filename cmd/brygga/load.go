package main

import (
	"context"
	"io"

	loadgen "brygga/load"
)

// load is `brygga load`: the load generator, or with --reflect the floor
// it is compared with. The whole command lives in package load, where its
// flags and exit statuses are tested without building this binary.
func load(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return loadgen.Command(ctx, args, getenv, stdout, stderr)
}
