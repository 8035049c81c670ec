package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"mobilepush/shared/push"
	"strings"
)

// cmdFlags is the flag set of one subcommand together with the one way every
// subcommand ends on -h, on a bad flag, on a usage error and on a failure.
type cmdFlags struct {
	*flag.FlagSet
	prefix string // "mobilepush csr: "
	stderr io.Writer
}

// newCmdFlags returns the flag set named name ("csr", "token create"): the
// flag package's own errors go to stderr, and Usage prints usage and then the
// flags' defaults. Messages are prefixed with the name's first word
// ("mobilepush token: ").
func newCmdFlags(name, usage string, stderr io.Writer) *cmdFlags {
	word, _, _ := strings.Cut(name, " ")
	c := &cmdFlags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), prefix: "mobilepush " + word + ": ", stderr: stderr}
	c.SetOutput(stderr)
	c.Usage = func() { fmt.Fprint(stderr, usage); c.PrintDefaults() }
	return c
}

// parse parses args. When ok is false the subcommand ends now with code:
// exitOK after -h, exitUsage after a bad flag (the flag package has said why).
func (c *cmdFlags) parse(args []string) (code int, ok bool) {
	return parseEnd(c.Parse(args))
}

// parseNoArgs is parse for a subcommand that takes flags only: an
// argument is a usage error.
func (c *cmdFlags) parseNoArgs(args []string) (code int, ok bool) {
	if code, ok := c.parse(args); !ok {
		return code, false
	}
	if c.NArg() > 0 {
		return c.usageErr("unexpected argument %q", c.Arg(0)), false
	}
	return exitOK, true
}

// parseEnd maps the error of parsing flags to the exit code a subcommand
// ends with; ok is true when err is nil and the subcommand goes on.
func parseEnd(err error) (code int, ok bool) {
	switch {
	case err == nil:
		return exitOK, true
	case errors.Is(err, flag.ErrHelp):
		return exitOK, false
	default:
		return exitUsage, false
	}
}

// usageErr prints the prefixed message and the usage, and returns exitUsage.
func (c *cmdFlags) usageErr(format string, a ...any) int {
	fmt.Fprintf(c.stderr, c.prefix+format+"\n", a...)
	c.Usage()
	return exitUsage
}

// fail prints the prefixed error (see failureText) and returns exitFail.
func (c *cmdFlags) fail(err error) int {
	fmt.Fprintf(c.stderr, c.prefix+"%s\n", failureText(err))
	return exitFail
}

// failureText is what a command prints for err: the request's own terms
// (push.MessageOf) for an error the user can fix (a name not found, a
// conflict, bad input), the whole story for anything else, which the
// operator running the command needs.
func failureText(err error) string {
	switch push.KindOf(err) {
	case push.Invalid, push.NotFound, push.Conflict, push.Unauthorized, push.Unprocessable, push.TooLarge, push.PreconditionFailed:
		return push.MessageOf(err)
	}
	return err.Error()
}
