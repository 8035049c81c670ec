// Command register registers apps and manages their push credentials behind API Gateway (DESIGN §5).
//
// It is built as a provided.al2023 bootstrap (make build-RegisterFunction).
// Its handler is not wired yet: until issue 4 lands every invocation fails
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
var errNotWired = errors.New("register: handler not wired in this build (issue 4)")

func run(ctx context.Context, getenv func(string) string) error {
	_ = getenv
	lambda.StartWithOptions(func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return nil, fmt.Errorf("invoke: %w", errNotWired)
	}, lambda.WithContext(ctx), lambda.WithEnableSIGTERM())
	return nil
}
