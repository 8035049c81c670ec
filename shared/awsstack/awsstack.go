// Package awsstack assembles what the Lambda functions share on AWS: the
// credential service over DynamoDB and Secrets Manager, the provider
// gateways, and the admin use cases, all configured from the environment
// in one place (every missing variable is reported at once). Clients are
// built once per process and reused across invocations.
package awsstack

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"mobilepush/shared/apns"
	"mobilepush/shared/awsdynamo"
	"mobilepush/shared/awssecrets"
	"mobilepush/shared/certinfo"
	"mobilepush/shared/credential"
	"mobilepush/shared/envconfig"
	"mobilepush/shared/fcm"
	"mobilepush/shared/gateway"
	"mobilepush/shared/registry"
)

// Environment variables read by Load.
const (
	EnvTable             = "TABLE_NAME"          // required: the DynamoDB table
	EnvSecretPrefix      = "SECRET_PREFIX"       // optional: secret name prefix, default "mobilepush/"
	EnvKMSKeyID          = "KMS_KEY_ID"          // optional: KMS key for new secrets
	EnvAPNsProductionURL = "APNS_PRODUCTION_URL" // optional: default Apple's
	EnvAPNsSandboxURL    = "APNS_SANDBOX_URL"    // optional: default Apple's
	EnvFCMURL            = "FCM_URL"             // optional: default Google's
	EnvGoogleTokenURL    = "GOOGLE_TOKEN_URL"    // optional: default Google's
	EnvTenantClaim       = "TENANT_CLAIM"        // optional: JWT claim naming the tenant, default "tenant"
)

// Stack is the assembled dependencies.
type Stack struct {
	AWS         aws.Config // for the clients a single function needs (SQS, EventBridge)
	Credentials *credential.Service
	Gateways    *gateway.Gateways
	Registry    *registry.Service
	TenantClaim string
}

// Load reads the configuration through getenv, loads the AWS SDK
// configuration (region, credentials and endpoints, AWS_ENDPOINT_URL
// included) and builds the stack.
func Load(ctx context.Context, getenv func(string) string, log *slog.Logger) (*Stack, error) {
	env := envconfig.New(getenv)
	table := env.Required(EnvTable)
	prefix := env.Optional(EnvSecretPrefix, "mobilepush/")
	kms := env.Optional(EnvKMSKeyID, "")
	gw := gateway.Config{
		APNs: apns.Config{ProductionURL: env.URL(EnvAPNsProductionURL, apns.ProductionURL), SandboxURL: env.URL(EnvAPNsSandboxURL, apns.SandboxURL)},
		FCM:  fcm.Config{Endpoint: env.URL(EnvFCMURL, fcm.DefaultEndpoint), TokenURL: env.URL(EnvGoogleTokenURL, fcm.DefaultTokenURL)},
	}
	claim := env.Optional(EnvTenantClaim, "tenant")
	if err := env.Err(); err != nil {
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
	gws := gateway.New(gw)
	return &Stack{
		AWS:         cfg,
		Credentials: creds,
		Gateways:    gws,
		Registry:    &registry.Service{Store: creds, Inspector: &certinfo.Inspector{}, Prover: gws, Pusher: gws},
		TenantClaim: claim,
	}, nil
}
