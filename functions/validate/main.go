// Command validate checks push credentials: POST /v1/validate, POST /v1/apps/{id}/validate and test pushes (docs/ARCHITECTURE.md, Live check; HTTP API), behind API Gateway's JWT authorizer.
//
// Configuration: see shared/awsstack (TABLE_NAME is required). Built as a
// provided.al2023 bootstrap by make build-ValidateFunction.
package main

import (
	"os"

	"mobilepush/shared/awsstack"
	"mobilepush/shared/httpapi"
)

// main serves the validate routes of the HTTP API until the runtime stops the process.
func main() { awsstack.Main(os.Stdout, os.Getenv, awsstack.ServeAPI(httpapi.IsValidateRoute)) }
