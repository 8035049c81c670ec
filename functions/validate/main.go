// Command validate checks push credentials: POST /v1/validate, POST /v1/apps/{id}/validate and test pushes (docs/ARCHITECTURE.md, Live check; HTTP API), behind API Gateway's JWT authorizer.
//
// Configuration: see shared/awsstack (TABLE_NAME is required). Built as a
// provided.al2023 bootstrap by make build-ValidateFunction.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"mobilepush/shared/awsstack"
	"mobilepush/shared/httpapi"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	if err := run(context.Background(), os.Getenv, log); err != nil {
		log.Error("startup_failed", "err", err)
		os.Exit(1)
	}
}

// run builds the clients once, at init, and serves invocations until the
// runtime stops the process.
func run(ctx context.Context, getenv func(string) string, log *slog.Logger) error {
	stack, err := awsstack.Load(ctx, getenv, log)
	if err != nil {
		return err
	}
	lambda.StartWithOptions(stack.API(log, httpapi.IsValidateRoute), lambda.WithContext(ctx), lambda.WithEnableSIGTERM())
	return nil
}
