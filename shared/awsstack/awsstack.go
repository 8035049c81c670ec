// Package awsstack assembles what the Lambda functions share on AWS: the
// credential service over DynamoDB and Secrets Manager, the pool of
// provider clients, and the admin use cases, all configured from the environment
// in one place (every missing variable is reported at once). Clients are
// built once per process and reused across invocations.
package awsstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"mobilepush/shared/alert"
	"mobilepush/shared/apigw"
	"mobilepush/shared/apns"
	"mobilepush/shared/awsdynamo"
	"mobilepush/shared/awsevents"
	"mobilepush/shared/awssecrets"
	"mobilepush/shared/certinfo"
	"mobilepush/shared/clientpool"
	"mobilepush/shared/credential"
	"mobilepush/shared/envconfig"
	"mobilepush/shared/expiry"
	"mobilepush/shared/fcm"
	"mobilepush/shared/h2client"
	"mobilepush/shared/httpapi"
	"mobilepush/shared/registry"
)

// Environment variables read by Load.
const (
	EnvTable             = "TABLE_NAME"             // required: the DynamoDB table
	EnvSecretPrefix      = "SECRET_PREFIX"          // optional: secret name prefix, default "mobilepush/"
	EnvKMSKeyID          = "KMS_KEY_ID"             // optional: KMS key for new secrets
	EnvAPNsProductionURL = "APNS_PRODUCTION_URL"    // optional: default Apple's
	EnvAPNsSandboxURL    = "APNS_SANDBOX_URL"       // optional: default Apple's
	EnvFCMURL            = "FCM_URL"                // optional: default Google's
	EnvGoogleTokenURL    = "GOOGLE_TOKEN_URL"       // optional: default Google's
	EnvHTTP2Client       = "HTTP2_CLIENT"           // optional: lean (default) or std, the HTTP/2 stack to Apple and Google
	EnvTenantClaim       = "TENANT_CLAIM"           // optional: JWT claim naming the tenant, default "tenant"
	EnvEventBus          = "EVENT_BUS_NAME"         // optional: the system's event bus; no events when empty
	EnvThresholds        = "EXPIRY_THRESHOLDS_DAYS" // optional: alert thresholds, default 60,30,14,7,3,1
)

// Stack is the assembled dependencies.
type Stack struct {
	AWS         aws.Config // for the clients a single function needs (SQS, EventBridge)
	Credentials *credential.Service
	Clients     *clientpool.Pool
	Registry    *registry.Service
	TenantClaim string
	// Events publishes on the system's bus; nil when EVENT_BUS_NAME is empty.
	Events     alert.Publisher
	Thresholds []int
}

// API returns the HTTP API handler serving the routes serve selects
// (httpapi.IsRegisterRoute, httpapi.IsValidateRoute) from API Gateway
// events, authenticated by the JWT authorizer's tenant claim.
func (s *Stack) API(log *slog.Logger, serve func(route string) bool) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return apigw.Handler(httpapi.New(httpapi.Config{
		Registry:  s.Registry,
		Auth:      apigw.Authenticator{TenantClaim: s.TenantClaim},
		Logger:    log,
		RequestID: apigw.RequestID,
		Serve:     serve,
	}))
}

// Main is the main of every Lambda function: it logs JSON lines to logs,
// calls run with the process's environment (getenv, os.Getenv in main) and,
// when run returns an error (it returns only when it could not start), logs
// startup_failed with it and exits with status 1.
func Main(logs io.Writer, getenv func(string) string, run func(ctx context.Context, getenv func(string) string, log *slog.Logger) error) {
	log := slog.New(slog.NewJSONHandler(logs, nil))
	if err := run(context.Background(), getenv, log); err != nil {
		log.Error("startup_failed", "err", err)
		os.Exit(1)
	}
}

// Start serves handler (any handler lambda.Start takes) from the Lambda
// runtime until it stops the process, ending ctx on SIGTERM.
func Start(ctx context.Context, handler any) {
	lambda.StartWithOptions(handler, lambda.WithContext(ctx), lambda.WithEnableSIGTERM())
}

// ServeAPI is the whole of an HTTP API function (register, validate), as
// the run Main takes: run loads the stack through getenv, building every
// client once before the first invocation, and serves the routes serve
// selects (httpapi.IsRegisterRoute, httpapi.IsValidateRoute) from API
// Gateway events until the Lambda runtime stops the process. It returns
// only the error of Load.
func ServeAPI(serve func(route string) bool) func(ctx context.Context, getenv func(string) string, log *slog.Logger) error {
	return func(ctx context.Context, getenv func(string) string, log *slog.Logger) error {
		s, err := Load(ctx, getenv, log)
		if err != nil {
			return err
		}
		Start(ctx, s.API(log, serve))
		return nil
	}
}

// Load reads the configuration through getenv, loads the AWS SDK
// configuration (region, credentials and endpoints, AWS_ENDPOINT_URL
// included) and builds the stack.
func Load(ctx context.Context, getenv func(string) string, log *slog.Logger) (*Stack, error) {
	env := envconfig.New(getenv)
	table := env.Required(EnvTable)
	prefix := env.Optional(EnvSecretPrefix, "mobilepush/")
	kms := env.Optional(EnvKMSKeyID, "")
	poolCfg := clientpool.Config{
		APNs:        apns.Config{ProductionURL: env.URL(EnvAPNsProductionURL, apns.ProductionURL), SandboxURL: env.URL(EnvAPNsSandboxURL, apns.SandboxURL)},
		FCM:         fcm.Config{Endpoint: env.URL(EnvFCMURL, fcm.DefaultEndpoint), TokenURL: env.URL(EnvGoogleTokenURL, fcm.DefaultTokenURL)},
		HTTP2Client: h2client.Stack(env.OneOf(EnvHTTP2Client, string(h2client.Lean), string(h2client.Lean), string(h2client.Std))),
	}
	claim := env.Optional(EnvTenantClaim, "tenant")
	bus := env.Optional(EnvEventBus, "")
	thresholds, terr := expiry.ParseThresholds(env.Optional(EnvThresholds, "60,30,14,7,3,1"))
	if err := errors.Join(env.Err(), terr); err != nil {
		return nil, err
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	creds := credential.NewService(credential.Config{
		Meta:    awsdynamo.New(dynamodb.NewFromConfig(cfg), table, nil),
		Secrets: awssecrets.New(secretsmanager.NewFromConfig(cfg), awssecrets.Config{Prefix: prefix, KMSKeyID: kms}),
		Logger:  log,
	})
	pool := clientpool.New(poolCfg)
	st := &Stack{
		AWS:         cfg,
		Credentials: creds,
		Clients:     pool,
		TenantClaim: claim,
		Thresholds:  thresholds,
	}
	if bus != "" {
		st.Events = awsevents.New(eventbridge.NewFromConfig(cfg), bus)
	}
	st.Registry = &registry.Service{Store: creds, Inspector: &certinfo.Inspector{}, Prover: pool, Pusher: pool, Events: st.Events, Thresholds: thresholds}
	return st, nil
}
