// Command brygga is the conference bridge: `brygga serve` (the default)
// runs it; `brygga version` says which one it is.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes, the same for every command (docs/config.md "Errors").
const (
	exitOK      = 0
	exitRuntime = 1
	exitConfig  = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "brygga", version)
		return exitOK
	case "load":
		return load(ctx, args, getenv, stdout, stderr)
	case "ctl":
		return ctlCmd(ctx, args, getenv, stdout, stderr)
	case "help":
		usage(stdout)
		return exitOK
	default:
		fmt.Fprintf(stderr, "brygga: unknown command %q\n", cmd)
		usage(stderr)
		return exitConfig
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  brygga [serve] [--config FILE] [--data DIR] [--store URL] [--sip ADDR]
                 [--rtp-ports LO-HI] [--media-ip IP] [--api ADDR]
                 [--log-level debug|info|warn|error]
  brygga ctl     [--api URL] [--token T] [--json] <command> … (brygga ctl help)
  brygga load    [--target HOST:PORT] [--rooms R] [--per-room P] [--talkers T] … (brygga load -h)
  brygga load --reflect [--listen IP:PORT] [--rtp-ports LO-HI]
  brygga version
`)
}

// isHelp reports whether err is a request for help rather than a mistake.
func isHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }
