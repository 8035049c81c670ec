// Command send sends the pushes application servers put on the SQS send queue (DESIGN §6).
//
// It is built as a provided.al2023 bootstrap (make build-SendFunction).
// Its handler is not wired yet: until issue 5 lands every invocation fails
// with a clear error, so a deployment of this build can never pretend to work.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	if err := run(context.Background(), os.Getenv); err != nil {
		slog.Error("startup failed", "err", err)
		os.Exit(1)
	}
}

// errNotWired is what every invocation answers until the handler lands.
var errNotWired = errors.New("send: handler not wired in this build (issue 5)")

func run(ctx context.Context, getenv func(string) string) error {
	_ = getenv
	lambda.StartWithOptions(func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return nil, fmt.Errorf("invoke: %w", errNotWired)
	}, lambda.WithContext(ctx), lambda.WithEnableSIGTERM())
	return nil
}
