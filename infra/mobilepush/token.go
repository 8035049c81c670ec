package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"mobilepush/shared/apitoken"
	"mobilepush/shared/push"
)

const tokenUsage = `usage: mobilepush token --tenant T [--name N] [--ttl D] [--data DIR]
       mobilepush token list [--json] [--data DIR]
       mobilepush token revoke NAME|ID [--data DIR]

Manages the bearer tokens of the local server. Only a token's hash is
stored (tokens.json, mode 0600).

  token         makes a token for tenant T: stdout is the secret alone,
                on one line, shown once; the notes go to stderr. --name is
                unique in the data directory (generated when absent) and
                is the actor of the audit trail ("token:NAME"); --ttl
                makes it expire (e.g. 12h, 30d; none by default): an
                expired token gets 401.
  token list    names, tenants, creation and expiry (never the secret).
  token revoke  deletes a token by name or ID; a running server refuses
                it at once.

Beside a running mobilepush serve every form asks the server (its admin
socket in the data directory); otherwise it opens the directory itself.

Exit status: 0 success, 1 failure, 2 usage error.

flags:
`

func runToken(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	sub := "create"
	if len(args) > 0 && (args[0] == "list" || args[0] == "revoke" || args[0] == "create") {
		sub, args = args[0], args[1:]
	}
	fs := newCmdFlags("token "+sub, tokenUsage, stderr)
	data := fs.String("data", defaultDataDir, "data `directory`")
	var tenant, name, ttl *string
	var asJSON *bool
	switch sub {
	case "create":
		tenant = fs.String("tenant", "", "the `tenant` the token grants access to (required)")
		name = fs.String("name", "", "the token's `name`, unique in the data directory (default: TENANT-xxxx)")
		ttl = fs.String("ttl", "", "how long the token is valid, e.g. 12h or 30d (`duration`; default: no expiry)")
	case "list":
		asJSON = fs.Bool("json", false, "print the tokens as JSON")
	}
	pos, err := parseInterspersed(fs.FlagSet, args)
	if code, ok := parseEnd(err); !ok {
		return code
	}
	switch sub {
	case "create":
		switch {
		case len(pos) > 0:
			return fs.usageErr("unknown command %q: want list, revoke or create (--tenant T)", pos[0])
		case *tenant == "":
			return fs.usageErr("--tenant is required")
		}
		if _, err := parseTTL(*ttl); err != nil {
			return fs.usageErr("%v", err)
		}
		req := tokenRequest{Tenant: *tenant, Name: *name, TTL: *ttl}
		var out tokenCreated
		err := onToken(ctx, *data, "mobilepush token", func(s *apitoken.Store) (err error) {
			out, err = createToken(s, req)
			return err
		}, func(c *adminClient) error { return c.call(ctx, "POST", "/v1/tokens", req, &out) })
		if err != nil {
			return fs.fail(err)
		}
		fmt.Fprintln(stdout, out.Token)
		fmt.Fprintf(stderr, "token %q for tenant %q (id %s, %s); it is shown once: keep it now\n",
			out.Info.Name, out.Info.Tenant, out.Info.ID, expiresText(out.Info))
		return exitOK
	case "list":
		if len(pos) > 0 {
			return fs.usageErr("token list takes no arguments")
		}
		var list []apitoken.Info
		err := onToken(ctx, *data, "mobilepush token list", func(s *apitoken.Store) error {
			list = s.List()
			return nil
		}, func(c *adminClient) error { return c.call(ctx, "GET", "/v1/tokens", nil, &list) })
		if err != nil {
			return fs.fail(err)
		}
		if *asJSON {
			_ = printJSON(stdout, list)
			return exitOK
		}
		printTokens(stdout, list, time.Now())
		return exitOK
	default: // revoke
		if len(pos) != 1 || pos[0] == "" {
			return fs.usageErr("token revoke takes one NAME or ID")
		}
		var info apitoken.Info
		err := onToken(ctx, *data, "mobilepush token revoke", func(s *apitoken.Store) (err error) {
			info, err = s.Revoke(pos[0])
			return err
		}, func(c *adminClient) error {
			return c.call(ctx, "POST", "/v1/tokens/revoke", revokeRequest{Ref: pos[0]}, &info)
		})
		if err != nil {
			return fs.fail(err)
		}
		fmt.Fprintf(stdout, "revoked token %q of tenant %q (id %s)\n", info.Name, info.Tenant, info.ID)
		return exitOK
	}
}

// onToken runs direct on the token file of data, or remote through the
// admin socket of the serve that holds it.
func onToken(ctx context.Context, data, command string, direct func(*apitoken.Store) error, remote func(*adminClient) error) error {
	return onDataDir(ctx, data, command, func(dir *dataDir) error {
		s, err := apitoken.Open(dir.file("tokens.json"))
		if err != nil {
			return err
		}
		return direct(s)
	}, remote)
}

// createToken makes the token req asks for in s.
func createToken(s *apitoken.Store, req tokenRequest) (tokenCreated, error) {
	ttl, err := parseTTL(req.TTL)
	if err != nil {
		return tokenCreated{}, push.Errorf("token", push.Invalid, "%v", err)
	}
	tok, info, err := s.Create(apitoken.IssueRequest{Tenant: req.Tenant, Name: req.Name, TTL: ttl})
	return tokenCreated{Token: tok, Info: info}, err
}

// parseTTL reads a Go duration or a number of days ("30d"); "" is 0.
func parseTTL(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--ttl %q: want a positive duration such as 12h or 30d", s)
	}
	return d, nil
}

func expiresText(i apitoken.Info) string {
	if i.ExpiresAt.IsZero() {
		return "never expires"
	}
	return "expires " + i.ExpiresAt.Format(time.RFC3339)
}

// printTokens prints list as aligned columns.
func printTokens(w io.Writer, list []apitoken.Info, now time.Time) {
	if len(list) == 0 {
		fmt.Fprintln(w, "no tokens; make one with: mobilepush token --tenant T")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTENANT\tCREATED\tEXPIRES\tID")
	for _, i := range list {
		exp := "never"
		if !i.ExpiresAt.IsZero() {
			exp = i.ExpiresAt.Format(time.RFC3339)
			if i.Expired(now) {
				exp += " (expired)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", i.Name, i.Tenant, i.CreatedAt.Format(time.RFC3339), exp, i.ID)
	}
	tw.Flush()
}

// parseInterspersed parses fs from args allowing flags before and after
// the positional arguments, which it returns.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
