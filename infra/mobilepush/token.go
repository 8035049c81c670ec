package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"mobilepush/shared/apitoken"
)

func runToken(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", defaultDataDir, "data `directory`")
	tenant := fs.String("tenant", "", "the `tenant` the token grants access to (required)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mobilepush token --tenant T [--data DIR]")
		fmt.Fprintln(stderr, "\nPrints a new bearer token for tenant T (only the token, on stdout). Only its hash is stored.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *tenant == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "mobilepush token: --tenant is required and takes no arguments")
		fs.Usage()
		return exitUsage
	}
	dir, err := openDataDir(*data, "mobilepush token", time.Second)
	if err != nil {
		fmt.Fprintf(stderr, "mobilepush token: %v\n", err)
		return exitFail
	}
	defer dir.Close()
	store, err := apitoken.Open(dir.file("tokens.json"))
	if err != nil {
		fmt.Fprintf(stderr, "mobilepush token: %v\n", err)
		return exitFail
	}
	tok, err := store.Issue(*tenant)
	if err != nil {
		fmt.Fprintf(stderr, "mobilepush token: %v\n", err)
		return exitFail
	}
	fmt.Fprintln(stdout, tok)
	return exitOK
}
