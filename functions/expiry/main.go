// Command expiry is the scheduled expiry checker (docs/ARCHITECTURE.md, Expiry checks): EventBridge
// Scheduler invokes it daily with the schedule's raw Input (no event
// envelope); each invocation runs one shared/expiry pass and returns its
// summary, which it also logs and writes as embedded-metric-format lines.
//
// Configuration: shared/awsstack's variables (TABLE_NAME is required),
// EVENT_BUS_NAME (required), EXPIRY_THRESHOLDS_DAYS (default
// "60,30,14,7,3,1") and EXPIRY_MAX_RECHECKS (default 50). Built as a
// provided.al2023 bootstrap by make build-ExpiryFunction.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"

	"mobilepush/shared/awsstack"
	"mobilepush/shared/envconfig"
	"mobilepush/shared/expiry"
)

// envMaxRechecks bounds the live re-checks of keys per run; the other
// variables are awsstack's (EVENT_BUS_NAME is required here).
const envMaxRechecks = "EXPIRY_MAX_RECHECKS"

func main() { awsstack.Main(os.Stdout, os.Getenv, run) }

// run builds the clients once, at init, and serves invocations until the
// runtime stops the process.
func run(ctx context.Context, getenv func(string) string, log *slog.Logger) error {
	h, err := newHandler(ctx, getenv, log, os.Stdout)
	if err != nil {
		return err
	}
	awsstack.Start(ctx, h)
	return nil
}

// handler runs one check per invocation. The input is the schedule's raw
// Input, whatever it holds: it is logged by size only.
type handler func(ctx context.Context, input json.RawMessage) (expiry.Summary, error)

// newHandler reads the configuration (reporting every problem at once),
// builds the AWS clients and the checker, and returns the handler.
func newHandler(ctx context.Context, getenv func(string) string, log *slog.Logger, metrics io.Writer) (handler, error) {
	env := envconfig.New(getenv)
	env.Required(awsstack.EnvEventBus) // the checker's alerts go there
	maxRechecks := env.Int(envMaxRechecks, expiry.DefaultMaxRechecks, 1, 1000)
	stack, err := awsstack.Load(ctx, getenv, log)
	if err := errors.Join(env.Err(), err); err != nil {
		return nil, err
	}
	chk, err := expiry.New(expiry.Config{
		Store: stack.Credentials, Prover: stack.Clients, Publisher: stack.Events,
		Thresholds: stack.Thresholds, MaxRechecks: maxRechecks, Logger: log, Metrics: metrics,
	})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, input json.RawMessage) (expiry.Summary, error) {
		log.Info("expiry_invoked", "input_bytes", len(input))
		return chk.Run(ctx)
	}, nil
}
