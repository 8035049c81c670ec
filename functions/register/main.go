// Command register registers apps and manages their push credentials: the app routes of the HTTP API (docs/ARCHITECTURE.md, HTTP API) behind API Gateway's JWT authorizer.
//
// Configuration: see shared/awsstack (TABLE_NAME is required). Built as a
// provided.al2023 bootstrap by make build-RegisterFunction.
package main

import (
	"context"
	"log/slog"
	"os"

	"mobilepush/shared/awsstack"
	"mobilepush/shared/httpapi"
)

func main() { awsstack.Main(os.Stdout, os.Getenv, run) }

// run serves the app routes of the HTTP API (all but validate's) until
// the runtime stops the process.
func run(ctx context.Context, getenv func(string) string, log *slog.Logger) error {
	return awsstack.ServeAPI(ctx, getenv, log, httpapi.IsRegisterRoute)
}
