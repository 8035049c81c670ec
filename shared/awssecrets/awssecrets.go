// Package awssecrets is the credential.SecretStore on AWS Secrets Manager
// (docs/ARCHITECTURE.md, Secrets Manager).
//
// One secret per (tenant, app, platform credential); its name ends with a
// random id (a name scheduled for deletion cannot be created again), and it
// is tagged with tenant, app_id and platform. New versions are written under
// the stage PendingStage, read only by VersionId, and made AWSCURRENT by
// Promote after the metadata commit (AWSPREVIOUS follows). Deletion is
// scheduled with a recovery window, never forced. The endpoint comes from
// the SDK's own configuration (AWS_ENDPOINT_URL and friends).
package awssecrets

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// PendingStage is the staging label new versions are written under until
// Promote moves AWSCURRENT to them.
const PendingStage = "MOBILEPUSH_PENDING"

const currentStage = "AWSCURRENT"

// Config configures a Store.
type Config struct {
	// Prefix starts every secret name; "" means "mobilepush/".
	Prefix string
	// KMSKeyID encrypts new secrets (key id, ARN or alias/...); "" means
	// the account's aws/secretsmanager key.
	KMSKeyID string
	// RecoveryWindowDays is how long a deleted secret can be restored
	// (7-30); 0 means 7.
	RecoveryWindowDays int32
}

// Store implements credential.SecretStore on Secrets Manager.
type Store struct {
	client *secretsmanager.Client
	cfg    Config
}

var _ credential.SecretStore = (*Store)(nil)

// New returns a Store using client.
func New(client *secretsmanager.Client, cfg Config) *Store {
	if cfg.Prefix == "" {
		cfg.Prefix = "mobilepush/"
	}
	if cfg.RecoveryWindowDays == 0 {
		cfg.RecoveryWindowDays = 7
	}
	return &Store{client: client, cfg: cfg}
}

// nameSafe keeps the characters a secret name allows ([A-Za-z0-9/_+=.@-]),
// replacing the others, and bounds the length.
func nameSafe(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= max {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("_+=.@-", r):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

func token() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func checkSize(op string, v push.Redacted) error {
	if n := len(v.Reveal()); n > credential.MaxSecretSize {
		return push.Errorf(op, push.TooLarge, "the stored credential would be %d bytes, the limit is %d", n, credential.MaxSecretSize)
	}
	return nil
}

// CreateSecret implements credential.SecretStore.
// Errors: TooLarge, Transient, Internal.
func (s *Store) CreateSecret(ctx context.Context, owner credential.SecretOwner, value push.Redacted) (string, string, error) {
	const op = "awssecrets.CreateSecret"
	if err := checkSize(op, value); err != nil {
		return "", "", err
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	kind, purpose, what := string(owner.Platform), "credential", fmt.Sprintf("mobilepush %s credential of app %s", owner.Platform, nameSafe(owner.AppID, 64))
	if owner.Pending {
		// A signing request's key: a secret of its own, never a version of
		// the credential's secret.
		kind, purpose, what = string(owner.Platform)+"-pending", "pending_key", fmt.Sprintf("mobilepush pending %s key (signing request) of app %s", owner.Platform, nameSafe(owner.AppID, 64))
	}
	name := fmt.Sprintf("%s%s/%s/%s-%s", s.cfg.Prefix, nameSafe(owner.Tenant, 128), nameSafe(owner.AppID, 64), kind, hex.EncodeToString(rnd[:]))
	in := &secretsmanager.CreateSecretInput{
		Name:               aws.String(name),
		Description:        aws.String(what),
		SecretString:       aws.String(string(value.Reveal())),
		ClientRequestToken: aws.String(token()),
		Tags: []types.Tag{
			{Key: aws.String("tenant"), Value: aws.String(owner.Tenant)},
			{Key: aws.String("app_id"), Value: aws.String(owner.AppID)},
			{Key: aws.String("platform"), Value: aws.String(string(owner.Platform))},
			{Key: aws.String("purpose"), Value: aws.String(purpose)},
		},
	}
	if s.cfg.KMSKeyID != "" {
		in.KmsKeyId = aws.String(s.cfg.KMSKeyID)
	}
	out, err := s.client.CreateSecret(ctx, in)
	if err != nil {
		return "", "", classify(op, err, fmt.Sprintf("create secret %s", name))
	}
	return aws.ToString(out.ARN), aws.ToString(out.VersionId), nil
}

// PutVersion implements credential.SecretStore.
// Errors: NotFound, TooLarge, Transient, Internal.
func (s *Store) PutVersion(ctx context.Context, id string, value push.Redacted) (string, error) {
	const op = "awssecrets.PutVersion"
	if err := checkSize(op, value); err != nil {
		return "", err
	}
	out, err := s.client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(id),
		SecretString:       aws.String(string(value.Reveal())),
		ClientRequestToken: aws.String(token()),
		VersionStages:      []string{PendingStage},
	})
	if err != nil {
		return "", classify(op, err, fmt.Sprintf("put version of secret %s", id))
	}
	return aws.ToString(out.VersionId), nil
}

// ReadVersion implements credential.SecretStore: always by VersionId.
// Errors: NotFound, Transient, Internal.
func (s *Store) ReadVersion(ctx context.Context, id, versionID string) (push.Redacted, error) {
	const op = "awssecrets.ReadVersion"
	if versionID == "" {
		return push.Redacted{}, push.E(op, push.NotFound, fmt.Errorf("secret %s: no version id", id)).WithMsg(msgNoVersion)
	}
	out, err := s.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId:  aws.String(id),
		VersionId: aws.String(versionID),
	})
	if err != nil {
		return push.Redacted{}, classify(op, err, fmt.Sprintf("read secret %s version %s", id, versionID))
	}
	if out.SecretString != nil {
		return push.NewRedacted([]byte(*out.SecretString)), nil
	}
	return push.NewRedacted(out.SecretBinary), nil
}

// Promote implements credential.SecretStore: it moves AWSCURRENT to
// versionID (Secrets Manager moves AWSPREVIOUS to the version it left).
// Errors: NotFound, Transient, Internal.
func (s *Store) Promote(ctx context.Context, id, versionID string) error {
	const op = "awssecrets.Promote"
	d, err := s.client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		return classify(op, err, fmt.Sprintf("describe secret %s", id))
	}
	if d.DeletedDate != nil {
		return push.E(op, push.NotFound, fmt.Errorf("secret %s is scheduled for deletion", id)).WithMsg(msgUnavailable)
	}
	// VersionIdsToStages lists only labelled versions; a version that lost
	// its pending label still exists, so an unlisted one is tried anyway.
	holder := ""
	for v, stages := range d.VersionIdsToStages {
		if slices.Contains(stages, currentStage) {
			holder = v
		}
	}
	if holder == versionID {
		return nil
	}
	in := &secretsmanager.UpdateSecretVersionStageInput{
		SecretId:        aws.String(id),
		VersionStage:    aws.String(currentStage),
		MoveToVersionId: aws.String(versionID),
	}
	if holder != "" {
		in.RemoveFromVersionId = aws.String(holder)
	}
	if _, err := s.client.UpdateSecretVersionStage(ctx, in); err != nil {
		var bad *types.InvalidParameterException
		if errors.As(err, &bad) {
			// The version id names no version of this secret.
			return push.E(op, push.NotFound, fmt.Errorf("promote secret %s version %s: %w", id, versionID, err)).WithMsg(msgNoVersion)
		}
		return classify(op, err, fmt.Sprintf("promote secret %s version %s", id, versionID))
	}
	return nil
}

// ScheduleDeletion implements credential.SecretStore: DeleteSecret with
// the configured recovery window, never forced.
// Errors: Transient, Internal.
func (s *Store) ScheduleDeletion(ctx context.Context, id string) error {
	const op = "awssecrets.ScheduleDeletion"
	_, err := s.client.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
		SecretId:             aws.String(id),
		RecoveryWindowInDays: aws.Int64(int64(s.cfg.RecoveryWindowDays)),
	})
	var nf *types.ResourceNotFoundException
	var inv *types.InvalidRequestException
	switch {
	case err == nil, errors.As(err, &nf):
		return nil
	case errors.As(err, &inv):
		// Already scheduled for deletion.
		return nil
	}
	return classify(op, err, fmt.Sprintf("schedule deletion of secret %s", id))
}

// The client messages of NotFound errors: fixed text, so that neither the
// SDK's words nor the secret's ARN (account, tenant, app) reach a caller.
const (
	msgNoSecret    = "the secret does not exist"
	msgUnavailable = "the secret is scheduled for deletion"
	msgNoVersion   = "the secret version does not exist"
)

// classify turns an SDK error into a *push.Error. The SDK's messages name
// the secret and the request, never the value; they stay in the cause,
// which is logged, and client-visible kinds carry fixed text.
func classify(op string, err error, what string) error {
	var nf *types.ResourceNotFoundException
	var inv *types.InvalidRequestException
	var api smithy.APIError
	switch {
	case errors.As(err, &nf):
		return push.E(op, push.NotFound, fmt.Errorf("%s: %w", what, err)).WithMsg(msgNoSecret)
	case errors.As(err, &inv):
		// Secrets Manager answers this for a secret scheduled for deletion.
		return push.E(op, push.NotFound, fmt.Errorf("%s: %w", what, err)).WithMsg(msgUnavailable)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return push.E(op, push.Transient, fmt.Errorf("%s: %w", what, err))
	case errors.As(err, &api):
		if api.ErrorFault() == smithy.FaultServer || api.ErrorCode() == "ThrottlingException" || api.ErrorCode() == "LimitExceededException" {
			return push.E(op, push.Transient, fmt.Errorf("%s: %w", what, err))
		}
		return push.E(op, push.Internal, fmt.Errorf("%s: %w", what, err))
	}
	// Network failures and the like.
	return push.E(op, push.Transient, fmt.Errorf("%s: %w", what, err))
}
