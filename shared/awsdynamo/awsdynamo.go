// Package awsdynamo is the credential.MetadataStore on one DynamoDB table
// (single-table design; docs/ARCHITECTURE.md, DynamoDB table).
//
// Access patterns, none of which scans: an app by (tenant, id) (GetItem);
// the apps of a tenant (Query); the audit events of an app, newest first
// (Query, descending); the credentials due for the expiry checker (Query on
// the sparse GSI DueIndex, whose only items are the due markers); send
// claims and outcome ledgers (GetItem/Query) expiring through the `ttl`
// attribute. Writes that change several items (an app, its due markers, its
// audit events, its graves) are one TransactWriteItems, conditional on the
// app's version.
//
// The table is defined in template.yaml (resource Table); dynamotest
// creates it in an emulator from that definition.
package awsdynamo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// Store implements credential.MetadataStore on a DynamoDB table.
type Store struct {
	client *dynamodb.Client
	table  string
	now    func() time.Time
}

var _ credential.MetadataStore = (*Store)(nil)

// New returns a Store on table through client. now is the clock used to
// hide items whose TTL passed but that DynamoDB has not deleted yet; nil
// means time.Now.
func New(client *dynamodb.Client, table string, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{client: client, table: table, now: now}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func itemKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(pk), attrSK: str(sk)}
}

func marshal(v any) (map[string]types.AttributeValue, error) {
	m, err := attributevalue.MarshalMap(v)
	if err != nil {
		return nil, push.E("awsdynamo.marshal", push.Internal, err)
	}
	return m, nil
}

// classify turns an SDK error into a *push.Error.
func classify(op string, err error, what string) error {
	var api smithy.APIError
	switch {
	case errors.Is(err, errDecode):
		return push.E(op, push.Internal, fmt.Errorf("%s: %w", what, err))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return push.E(op, push.Transient, fmt.Errorf("%s: %w", what, err))
	case errors.As(err, &api):
		switch api.ErrorCode() {
		case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
			"InternalServerError", "ServiceUnavailable", "LimitExceededException":
			return push.E(op, push.Transient, fmt.Errorf("%s: %w", what, err))
		case "TransactionConflictException":
			return push.E(op, push.Transient, fmt.Errorf("%s: %w: %w", what, credential.ErrContention, err))
		case "ResourceNotFoundException":
			return push.E(op, push.Internal, fmt.Errorf("%s: table missing: %w", what, err))
		}
		if api.ErrorFault() == smithy.FaultServer {
			return push.E(op, push.Transient, fmt.Errorf("%s: %w", what, err))
		}
		return push.E(op, push.Internal, fmt.Errorf("%s: %w", what, err))
	}
	return push.E(op, push.Transient, fmt.Errorf("%s: %w", what, err))
}

// App implements credential.AppStore (a consistent GetItem).
// Errors: NotFound, Transient, Internal.
func (s *Store) App(ctx context.Context, tenant, id string) (credential.App, error) {
	const op = "awsdynamo.App"
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: itemKey(tenantPK(tenant), appSK(id)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return credential.App{}, classify(op, err, "get app "+id)
	}
	if out.Item == nil {
		return credential.App{}, push.Errorf(op, push.NotFound, "app %s does not exist", id)
	}
	var it appItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return credential.App{}, push.E(op, push.Internal, fmt.Errorf("decode app %s: %w", id, err))
	}
	return fromApp(it), nil
}

// Apps implements credential.AppStore (Query on the tenant's partition).
// Errors: Transient, Internal.
func (s *Store) Apps(ctx context.Context, tenant, after string, limit int) ([]credential.App, error) {
	const op = "awsdynamo.Apps"
	in := s.prefixQuery(tenantPK(tenant), "APP#")
	if after != "" {
		in.ExclusiveStartKey = itemKey(tenantPK(tenant), appSK(after))
	}
	apps, err := queryMap(ctx, s.client, in, limit, fromApp)
	if err != nil {
		return nil, classify(op, err, "list apps")
	}
	return apps, nil
}

// prefixQuery is a consistent Query, ascending, of the items of
// partition pk whose sort key begins with prefix.
func (s *Store) prefixQuery(pk, prefix string) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :prefix)"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk), ":prefix": str(prefix)},
		ConsistentRead:            aws.Bool(true),
	}
}

// queryMap is query with every item read mapped by from.
func queryMap[T, U any](ctx context.Context, client *dynamodb.Client, in *dynamodb.QueryInput, limit int, from func(T) U) ([]U, error) {
	items, err := query[T](ctx, client, in, limit)
	if err != nil {
		return nil, err
	}
	out := make([]U, 0, len(items))
	for _, it := range items {
		out = append(out, from(it))
	}
	return out, nil
}

// query runs in page by page until it has read limit items or the last
// page, and decodes them as T. Its errors are the SDK's (or a decode
// error wrapping errDecode): callers classify them.
func query[T any](ctx context.Context, client *dynamodb.Client, in *dynamodb.QueryInput, limit int) ([]T, error) {
	var out []T
	for len(out) < limit {
		in.Limit = aws.Int32(int32(limit - len(out)))
		res, err := client.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		var items []T
		if err := attributevalue.UnmarshalListOfMaps(res.Items, &items); err != nil {
			return nil, fmt.Errorf("%w: %w", errDecode, err)
		}
		out = append(out, items...)
		if res.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
	return out, nil
}

// errDecode marks an item that does not decode: stored data is corrupt.
var errDecode = errors.New("decode items")

// Apply implements credential.AppStore: one TransactWriteItems with the
// app (conditional on its version), its due markers, its audit events and
// its graves.
//
// Apply is idempotent against its own retries: every item it writes
// carries a write id unique to the call, and when the transaction is
// cancelled by a condition Apply checks whether that write id is already
// stored. This matters when the SDK retries a transaction whose response
// was lost after DynamoDB applied it: DynamoDB itself answers such a retry
// from the ClientRequestToken (for 10 minutes), emulators do not.
// Errors: Conflict (credential.ErrAppExists, or an event id exists),
// NotFound, PreconditionFailed (credential.ErrVersionMismatch), Transient
// (credential.ErrContention), Internal.
func (s *Store) Apply(ctx context.Context, c credential.Change) error {
	const op = "awsdynamo.Apply"
	writeID := newWriteID()
	items, err := s.changeItems(c, writeID)
	if err != nil {
		return err
	}
	_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		return nil
	}
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) {
		return classify(op, err, "write app "+c.AppID)
	}
	for i, r := range tc.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "ConditionalCheckFailed":
			switch applied, aerr := s.applied(ctx, c, writeID, tc.CancellationReasons); {
			case aerr != nil:
				return push.E(op, push.Other, fmt.Errorf("app %s: check a cancelled write: %w", c.AppID, aerr))
			case applied:
				return nil // a retry met the write of this very call
			}
			if i > 0 {
				return push.E(op, push.Conflict, fmt.Errorf("app %s: audit event exists", c.AppID)).WithMsg("app %s: the audit event of this change exists already; retry", c.AppID)
			}
			if c.Expect == 0 {
				return push.E(op, push.Conflict, credential.ErrAppExists).WithMsg("app %s already exists", c.AppID)
			}
			// Tell a missing app from a changed one.
			if _, gerr := s.App(ctx, c.Tenant, c.AppID); push.Is(gerr, push.NotFound) {
				return push.Errorf(op, push.NotFound, "app %s does not exist", c.AppID)
			}
			return push.E(op, push.PreconditionFailed, credential.ErrVersionMismatch).WithMsg("app %s changed since it was read; read it again", c.AppID)
		case "TransactionConflict":
			return push.E(op, push.Transient, fmt.Errorf("app %s: %w", c.AppID, credential.ErrContention))
		}
	}
	return classify(op, err, "write app "+c.AppID)
}

// changeItems builds the transaction of c; every item it puts carries
// writeID.
func (s *Store) changeItems(c credential.Change, writeID string) ([]types.TransactWriteItem, error) {
	table := aws.String(s.table)
	var items []types.TransactWriteItem
	put := func(v any, cond string, names map[string]string, values map[string]types.AttributeValue) error {
		av, err := marshal(v)
		if err != nil {
			return err
		}
		av[attrWriteID] = str(writeID)
		p := &types.Put{TableName: table, Item: av}
		if cond != "" {
			p.ConditionExpression = aws.String(cond)
			p.ExpressionAttributeNames = names
			p.ExpressionAttributeValues = values
			p.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
		}
		items = append(items, types.TransactWriteItem{Put: p})
		return nil
	}
	versioned := map[string]string{"#pk": attrPK, "#v": attrVersion}
	expect := map[string]types.AttributeValue{":v": num(c.Expect)}
	switch {
	case c.App != nil && c.Expect == 0:
		if err := put(toApp(c.App), "attribute_not_exists(#pk)", map[string]string{"#pk": attrPK}, nil); err != nil {
			return nil, err
		}
	case c.App != nil:
		if err := put(toApp(c.App), "attribute_exists(#pk) AND #v = :v", versioned, expect); err != nil {
			return nil, err
		}
	default:
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{
			TableName: table, Key: itemKey(tenantPK(c.Tenant), appSK(c.AppID)),
			ConditionExpression:      aws.String("attribute_exists(#pk) AND #v = :v"),
			ExpressionAttributeNames: versioned, ExpressionAttributeValues: expect,
		}})
	}
	for _, p := range []push.Platform{push.APNs, push.FCM} {
		var m *credential.Meta
		if c.App != nil {
			m = c.App.Meta(p)
		}
		if m == nil || m.DueAt.IsZero() {
			if c.Expect != 0 {
				items = append(items, types.TransactWriteItem{Delete: &types.Delete{
					TableName: table, Key: itemKey(tenantPK(c.Tenant), dueSK(c.AppID, p)),
				}})
			}
			continue
		}
		err := put(dueItem{
			PK: tenantPK(c.Tenant), SK: dueSK(c.AppID, p), DuePK: duePK, DueAt: m.DueAt.Unix(),
			Tenant: c.Tenant, AppID: c.AppID, Platform: string(p),
		}, "", nil, nil)
		if err != nil {
			return nil, err
		}
	}
	for _, e := range c.Events {
		if err := put(toEvent(e), "attribute_not_exists(#pk)", map[string]string{"#pk": attrPK}, nil); err != nil {
			return nil, err
		}
	}
	for _, g := range c.Bury {
		err := put(graveItem{
			PK: gravePK, SK: g.SecretID, SecretID: g.SecretID, Tenant: g.Tenant, AppID: g.AppID,
			Platform: string(g.Platform), At: g.At,
		}, "", nil, nil)
		if err != nil {
			return nil, err
		}
	}
	return items, nil
}

// applied reports whether the transaction of c with writeID is already
// stored, although its (retried) request was cancelled by a condition.
// Transactions are atomic, so one item of it carrying writeID proves all:
// the app item as the cancellation returned it, or else the first audit
// event (events are never overwritten, so this holds even after a later
// write replaced the app).
func (s *Store) applied(ctx context.Context, c credential.Change, writeID string, reasons []types.CancellationReason) (bool, error) {
	if len(reasons) > 0 && hasWriteID(reasons[0].Item, writeID) {
		return true, nil
	}
	if len(c.Events) == 0 {
		return false, nil
	}
	e := c.Events[0]
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: itemKey(auditPK(e.Tenant, e.AppID), eventSK(e.ID)),
		ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("#w"),
		ExpressionAttributeNames: map[string]string{"#w": attrWriteID},
	})
	if err != nil {
		return false, classify("awsdynamo.applied", err, "get event "+e.ID)
	}
	return hasWriteID(out.Item, writeID), nil
}

func hasWriteID(item map[string]types.AttributeValue, writeID string) bool {
	v, ok := item[attrWriteID].(*types.AttributeValueMemberS)
	return ok && v.Value == writeID
}

// newWriteID returns a random id for one write call.
func newWriteID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// AppendEvent implements credential.AuditLog: a conditional PutItem,
// idempotent against its own retries like Apply.
// Errors: Conflict, Transient, Internal.
func (s *Store) AppendEvent(ctx context.Context, e credential.Event) error {
	const op = "awsdynamo.AppendEvent"
	av, err := marshal(toEvent(e))
	if err != nil {
		return err
	}
	writeID := newWriteID()
	av[attrWriteID] = str(writeID)
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: av,
		ConditionExpression:                 aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames:            map[string]string{"#pk": attrPK},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf) && hasWriteID(ccf.Item, writeID):
		return nil // a retry met the write of this very call
	case errors.As(err, &ccf):
		return push.E(op, push.Conflict, fmt.Errorf("event %s exists", e.ID))
	case err != nil:
		return classify(op, err, "append event")
	}
	return nil
}

// Events implements credential.AuditLog (Query, descending).
// Errors: Transient, Internal.
func (s *Store) Events(ctx context.Context, tenant, appID, before string, limit int) ([]credential.Event, error) {
	const op = "awsdynamo.Events"
	in := s.prefixQuery(auditPK(tenant, appID), "EV#")
	in.ScanIndexForward = aws.Bool(false)
	if before != "" {
		// Descending: the page starts just below the cursor's event.
		in.ExclusiveStartKey = itemKey(auditPK(tenant, appID), eventSK(before))
	}
	evs, err := queryMap(ctx, s.client, in, limit, fromEvent)
	if err != nil {
		return nil, classify(op, err, "list events")
	}
	return evs, nil
}

// Due implements credential.DueIndex: a Query on the sparse GSI only.
// Errors: Transient, Internal.
func (s *Store) Due(ctx context.Context, now time.Time, limit int) ([]credential.Due, error) {
	const op = "awsdynamo.Due"
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		IndexName:                aws.String(DueIndex),
		KeyConditionExpression:   aws.String("#dpk = :d AND #dat <= :now"),
		ExpressionAttributeNames: map[string]string{"#dpk": attrDuePK, "#dat": attrDueAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":d": str(duePK), ":now": num(now.Unix()),
		},
		ScanIndexForward: aws.Bool(true),
	}
	out, err := queryMap(ctx, s.client, in, limit, func(it dueItem) credential.Due {
		return credential.Due{Tenant: it.Tenant, AppID: it.AppID, Platform: push.Platform(it.Platform), DueAt: time.Unix(it.DueAt, 0).UTC()}
	})
	if err != nil {
		return nil, classify(op, err, "query due index")
	}
	return out, nil
}

// Graves implements credential.Graveyard (Query on the GRAVE partition).
// Errors: Transient, Internal.
func (s *Store) Graves(ctx context.Context, limit int) ([]credential.Grave, error) {
	const op = "awsdynamo.Graves"
	res, err := s.client.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(gravePK)},
		Limit:                     aws.Int32(int32(limit)),
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, classify(op, err, "list graves")
	}
	var items []graveItem
	if err := attributevalue.UnmarshalListOfMaps(res.Items, &items); err != nil {
		return nil, push.E(op, push.Internal, fmt.Errorf("decode graves: %w", err))
	}
	out := []credential.Grave{}
	for _, it := range items {
		out = append(out, credential.Grave{SecretID: it.SecretID, Tenant: it.Tenant, AppID: it.AppID, Platform: push.Platform(it.Platform), At: it.At})
	}
	return out, nil
}

// Unbury implements credential.Graveyard.
// Errors: Transient, Internal.
func (s *Store) Unbury(ctx context.Context, secretID string) error {
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: itemKey(gravePK, secretID)})
	if err != nil {
		return classify("awsdynamo.Unbury", err, "delete grave")
	}
	return nil
}
