// Command mobilepush is the local binary of mobilepush: it runs the whole
// system on one machine and offers the operator's tools.
//
//	mobilepush serve         run the whole system locally: API, admin page, sender, daily expiry check
//	mobilepush token         make, list and revoke the bearer tokens of the local server
//	mobilepush send          enqueue a push (to the local server, or to SQS with --queue-url)
//	mobilepush queue         show the local send queue and its dead letters; redrive them
//	mobilepush check-expiry  run one expiry check on a data directory
//	mobilepush inspect       inspect an APNs .p12/.p8 or FCM service-account JSON offline
//	mobilepush csr           make an APNs certificate signing request (certificates without a Mac)
//
// queue, token and check-expiry work beside a running serve through its
// admin socket (admin.go).
//
// Exit status: 0 success, 1 failure (for inspect: a blocking problem),
// 2 usage error.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// defaultDataDir is where the local server keeps its state.
const defaultDataDir = ".mobilepush"

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"check-expiry", "run one pass of the expiry checker on the local data directory", runCheckExpiry},
		{"inspect", "inspect an APNs .p12/.p8 or FCM service-account JSON offline", runInspect},
		{"serve", "run the whole system locally (HTTP API on the embedded store)", runServe},
		{"token", "make (list, revoke) bearer tokens of the local server", runToken},
		{"send", "enqueue a push to the local server (or SQS with --queue-url)", runSend},
		{"queue", "show the local send queue and dead-letter queue; --redrive", runQueue},
		{"csr", "make an APNs certificate signing request (no Mac needed)", runCSR},
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "mobilepush: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: mobilepush <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'mobilepush <command> -h' for the flags of a command.")
}
