package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"mobilepush/shared/enqueue"
	"mobilepush/shared/localsend"
	"mobilepush/shared/push"
)

const sendUsage = `usage: mobilepush send --app ID (--token T ... | --tokens-file FILE) [--platform apns|fcm]
                       [--title T] [--body B] [--link URL]
                       [--url URL] [--bearer TOKEN | --token-file FILE] [--no-wait]
       mobilepush send --queue-url URL --tenant T --app ID ...

Enqueues a push to the device tokens of one app. By default it posts to
the local server (mobilepush serve) at --url with a bearer token (from
--bearer, --token-file, $MOBILEPUSH_TOKEN, or else the token file make
run writes, DIR/api-token of --data; the tenant is the token's)
and waits until every token has an outcome, showing progress. With
--queue-url it puts the message straight on the SQS send queue (AWS
credentials from the environment; --tenant required; no waiting).
More than 1000 tokens are sent as several messages.

Exit status: 0 every message queued (and, waiting, done with at least
one token delivered); 1 failure, or nothing was delivered; 2 usage error.

flags:
`

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type sendFlags struct {
	app, tenant, platform, title, body, link string
	tokens                                   stringList
	tokensFile                               string
	url, bearer, bearerFile, queueURL        string
	data                                     string
	noWait                                   bool
	timeout                                  time.Duration
}

func runSend(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newCmdFlags("send", sendUsage, stderr)
	var f sendFlags
	fs.StringVar(&f.app, "app", "", "the app `id` (required)")
	fs.StringVar(&f.tenant, "tenant", "", "the `tenant` (default: the bearer token's; required with --queue-url)")
	fs.StringVar(&f.platform, "platform", "apns", "the tokens' `platform`: apns or fcm")
	fs.Var(&f.tokens, "token", "a device `token` (repeat the flag for more)")
	fs.StringVar(&f.tokensFile, "tokens-file", "", "a `file` of device tokens, one per line (# comments and blank lines ignored; - is stdin)")
	fs.StringVar(&f.title, "title", "", "notification `title`")
	fs.StringVar(&f.body, "body", "", "notification `body`")
	fs.StringVar(&f.link, "link", "", "deep `link` opened on tap, e.g. app://orders/42")
	fs.StringVar(&f.url, "url", "http://127.0.0.1:9006", "the local server's base `URL` (default: where the last serve of --data listened, else this)")
	fs.StringVar(&f.bearer, "bearer", "", "API bearer `token` (default $MOBILEPUSH_TOKEN)")
	fs.StringVar(&f.bearerFile, "token-file", "", "a `file` holding the API bearer token (default: DIR/api-token of --data, when it exists)")
	fs.StringVar(&f.data, "data", defaultDataDir, "the data `directory` whose api-token (written by make run) is the default bearer")
	fs.StringVar(&f.queueURL, "queue-url", "", "send straight to this SQS queue `URL` instead of the local server")
	fs.BoolVar(&f.noWait, "no-wait", false, "return once the messages are queued")
	fs.DurationVar(&f.timeout, "timeout", 2*time.Minute, "how long to wait for the outcomes")
	if code, ok := fs.parseNoArgs(args); !ok {
		return code
	}
	switch {
	case f.app == "":
		return fs.usageErr("--app is required")
	case f.platform != string(push.APNs) && f.platform != string(push.FCM):
		return fs.usageErr("--platform %q: want apns or fcm", f.platform)
	case len(f.tokens) > 0 && f.tokensFile != "":
		return fs.usageErr("give --token or --tokens-file, not both")
	case f.queueURL != "" && f.tenant == "":
		return fs.usageErr("--queue-url needs --tenant (there is no bearer token to take it from)")
	case f.queueURL != "" && (f.bearer != "" || f.bearerFile != ""):
		return fs.usageErr("--queue-url uses AWS credentials; drop --bearer/--token-file")
	case f.bearer != "" && f.bearerFile != "":
		return fs.usageErr("give --bearer or --token-file, not both")
	}
	tokens := []string(f.tokens)
	if f.tokensFile != "" {
		var err error
		if tokens, err = readTokens(f.tokensFile, os.Stdin); err != nil {
			return fs.fail(err)
		}
	}
	if len(tokens) == 0 {
		return fs.usageErr("no device tokens: give --token or --tokens-file")
	}
	msgs, err := f.messages(tokens)
	if err != nil {
		fmt.Fprintf(stderr, "mobilepush send: %s\n", push.MessageOf(err))
		return exitFail
	}
	if f.queueURL != "" {
		return sendSQS(ctx, f, msgs, stdout, stderr)
	}
	bearer, err := f.bearerToken()
	if err != nil {
		return fs.usageErr("%v", err)
	}
	urlSet := false
	fs.Visit(func(fl *flag.Flag) { urlSet = urlSet || fl.Name == "url" })
	if !urlSet {
		// The address the running serve of --data listens on, if any.
		if st := readServeState(&dataDir{path: f.data}); st.Addr != "" {
			f.url = "http://" + st.Addr
		}
	}
	c := &apiClient{base: strings.TrimRight(f.url, "/"), bearer: bearer, http: &http.Client{Timeout: 30 * time.Second}}
	return sendLocal(ctx, c, f, msgs, stdout, stderr)
}

// readTokens reads one token per line from path ("-" is stdin).
func readTokens(path string, stdin io.Reader) ([]string, error) {
	r := stdin
	if path != "-" {
		fh, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("tokens file: %w", err)
		}
		defer fh.Close()
		r = fh
	}
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokens file %s: %w", path, err)
	}
	return out, nil
}

// messages splits tokens into messages of at most push.MaxTokens and
// checks each as the server will.
func (f sendFlags) messages(tokens []string) ([]*push.Message, error) {
	var out []*push.Message
	for start := 0; start < len(tokens); start += push.MaxTokens {
		part := tokens[start:min(start+push.MaxTokens, len(tokens))]
		m := &push.Message{Version: push.MessageVersion, Tenant: f.tenant, AppID: f.app, MessageID: push.NewMessageID(),
			Notification: push.Notification{Title: f.title, Body: f.body}, Link: f.link}
		if f.platform == string(push.APNs) {
			m.Tokens.APNs = part
		} else {
			m.Tokens.FCM = part
		}
		check := *m
		if check.Tenant == "" {
			check.Tenant = "the-token-s-tenant" // the server fills it in
		}
		if err := check.Validate(); err != nil {
			if len(tokens) > push.MaxTokens {
				return nil, fmt.Errorf("tokens %d-%d: %w", start+1, start+len(part), err)
			}
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func (f sendFlags) bearerToken() (string, error) {
	switch {
	case f.bearer != "":
		return f.bearer, nil
	case f.bearerFile != "":
		b, err := os.ReadFile(f.bearerFile)
		if err != nil {
			return "", fmt.Errorf("--token-file: %w", err)
		}
		if tok := strings.TrimSpace(string(b)); tok != "" {
			return tok, nil
		}
		return "", fmt.Errorf("--token-file %s is empty", f.bearerFile)
	case os.Getenv("MOBILEPUSH_TOKEN") != "":
		return strings.TrimSpace(os.Getenv("MOBILEPUSH_TOKEN")), nil
	}
	path := filepath.Join(f.data, tokenFileName)
	if b, err := os.ReadFile(path); err == nil {
		if tok := strings.TrimSpace(string(b)); tok != "" {
			return tok, nil
		}
		return "", fmt.Errorf("the token file %s is empty", path)
	}
	return "", fmt.Errorf("no API token: give --bearer, --token-file or set MOBILEPUSH_TOKEN (make one with `mobilepush token --tenant T`); %s does not exist (make run writes it)", path)
}

func sendSQS(ctx context.Context, f sendFlags, msgs []*push.Message, stdout, stderr io.Writer) int {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "mobilepush send: AWS configuration: %v\n", err)
		return exitFail
	}
	client, err := enqueue.New(sqs.NewFromConfig(cfg), enqueue.Config{QueueURL: f.queueURL})
	if err != nil {
		fmt.Fprintf(stderr, "mobilepush send: %v\n", err)
		return exitFail
	}
	results, err := client.Send(ctx, msgs...)
	for i, r := range results {
		if r.Err != nil {
			fmt.Fprintf(stderr, "mobilepush send: message %s (%s) not queued: %v\n", r.MessageID, tokensText(msgs[i].Tokens.Len()), r.Err)
			continue
		}
		fmt.Fprintf(stdout, "queued message %s (%s) on %s\n", r.MessageID, tokensText(msgs[i].Tokens.Len()), f.queueURL)
	}
	if err != nil {
		return exitFail
	}
	return exitOK
}

// apiClient calls the local server's message endpoints.
type apiClient struct {
	base, bearer string
	http         *http.Client
}

// apiError is an error answer of the API.
type apiError struct {
	status        int
	code, message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("the server answered %d %s: %s", e.status, e.code, e.message)
}

func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	req, err := jsonRequest(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.bearer)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach %s (is mobilepush serve running?): %w", c.base, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message string }
		}
		if json.Unmarshal(raw, &e) != nil || e.Error.Code == "" {
			return &apiError{status: resp.StatusCode, code: "http", message: strings.TrimSpace(string(raw))}
		}
		return &apiError{status: resp.StatusCode, code: e.Error.Code, message: e.Error.Message}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("the server's answer to %s %s is not the expected JSON: %w", method, path, err)
		}
	}
	return nil
}

func sendLocal(ctx context.Context, c *apiClient, f sendFlags, msgs []*push.Message, stdout, stderr io.Writer) int {
	var ids []string
	total := 0
	for _, m := range msgs {
		var out struct {
			MessageID string `json:"message_id"`
		}
		if err := c.do(ctx, "POST", "/v1/messages", m, &out); err != nil {
			fmt.Fprintf(stderr, "mobilepush send: %v\n", err)
			if len(ids) > 0 {
				fmt.Fprintf(stderr, "mobilepush send: %d of %d messages were queued before: %s\n", len(ids), len(msgs), strings.Join(ids, ", "))
			}
			return exitFail
		}
		ids = append(ids, out.MessageID)
		total += m.Tokens.Len()
		fmt.Fprintf(stdout, "queued message %s (%s)\n", out.MessageID, tokensText(m.Tokens.Len()))
	}
	if f.noWait {
		return exitOK
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	final, reasons, err := waitDone(ctx, c, ids, total, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "mobilepush send: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "done: %s: %s\n", tokensText(total), countsLine(final))
	if final.Delivered == 0 {
		fmt.Fprintf(stderr, "mobilepush send: nothing was delivered%s; see GET /v1/messages/%s\n", reasonsLine(reasons), ids[0])
		return exitFail
	}
	return exitOK
}

// reasonsLine lists summed reasons as " (rejected: platform_unconfigured 2)".
func reasonsLine(reasons map[string]map[string]int) string {
	var parts []string
	for _, result := range slices.Sorted(maps.Keys(reasons)) {
		for _, reason := range slices.Sorted(maps.Keys(reasons[result])) {
			parts = append(parts, fmt.Sprintf("%s: %s %d", result, reason, reasons[result][reason]))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// waitDone polls the messages until all are done and returns their
// summed counts and reasons, printing progress when it changes.
func waitDone(ctx context.Context, c *apiClient, ids []string, total int, progress io.Writer) (localsend.Counts, map[string]map[string]int, error) {
	last := ""
	for {
		var sum localsend.Counts
		reasons := map[string]map[string]int{}
		done := 0
		for _, id := range ids {
			var st localsend.Status
			if err := c.do(ctx, "GET", "/v1/messages/"+id, nil, &st); err != nil {
				if ctx.Err() != nil {
					return sum, nil, fmt.Errorf("gave up waiting (--timeout); see mobilepush queue, or GET /v1/messages/%s", id)
				}
				return sum, nil, err
			}
			if st.State == localsend.StateDone {
				done++
			}
			sum.Delivered += st.Counts.Delivered
			sum.InvalidToken += st.Counts.InvalidToken
			sum.Retry += st.Counts.Retry
			sum.CredentialFault += st.Counts.CredentialFault
			sum.Rejected += st.Counts.Rejected
			for result, by := range st.Reasons {
				if reasons[result] == nil {
					reasons[result] = map[string]int{}
				}
				for reason, n := range by {
					reasons[result][reason] += n
				}
			}
		}
		if done == len(ids) {
			return sum, reasons, nil
		}
		line := fmt.Sprintf("sending: %d/%d tokens have an outcome (%s)", sum.Total(), total, countsLine(sum))
		if line != last {
			fmt.Fprintln(progress, line)
			last = line
		}
		t := time.NewTimer(300 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return sum, nil, fmt.Errorf("gave up waiting after --timeout with %d/%d tokens done; the server keeps sending (see mobilepush queue)", sum.Total(), total)
		case <-t.C:
		}
	}
}

func countsLine(c localsend.Counts) string {
	return fmt.Sprintf("delivered %d, invalid_token %d, retry %d, credential_fault %d, rejected %d",
		c.Delivered, c.InvalidToken, c.Retry, c.CredentialFault, c.Rejected)
}

// tokensText says n tokens in English: "1 token", "3 tokens".
func tokensText(n int) string {
	if n == 1 {
		return "1 token"
	}
	return strconv.Itoa(n) + " tokens"
}
