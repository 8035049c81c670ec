// Command register registers apps and manages their push credentials: the app routes of the HTTP API (docs/ARCHITECTURE.md, HTTP API) behind API Gateway's JWT authorizer.
//
// Configuration: see shared/awsstack (TABLE_NAME is required). Built as a
// provided.al2023 bootstrap by make build-RegisterFunction.
package main

import (
	"os"

	"mobilepush/shared/awsstack"
	"mobilepush/shared/httpapi"
)

// main serves the app routes of the HTTP API (all but validate's) until the runtime stops the process.
func main() { awsstack.Main(os.Stdout, os.Getenv, awsstack.ServeAPI(httpapi.IsRegisterRoute)) }
