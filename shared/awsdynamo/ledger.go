package awsdynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

var claimNames = map[string]string{
	"#pk": attrPK, "#o": "owner", "#st": "state", "#lu": "lease_until", "#ttl": attrTTL,
}

func decodeClaim(op string, item map[string]types.AttributeValue) (credential.Claim, error) {
	var it claimItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return credential.Claim{}, push.E(op, push.Internal, fmt.Errorf("decode claim: %w", err))
	}
	return fromClaim(it), nil
}

// Lease implements credential.Ledger: one conditional UpdateItem.
// Errors: Conflict (credential.ErrLeaseHeld, credential.ErrMessageDone),
// Transient, Internal.
func (s *Store) Lease(ctx context.Context, c credential.Claim, now time.Time) (credential.Claim, error) {
	const op = "awsdynamo.Lease"
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table),
		Key:       itemKey(messagePK(c.Key), claimSK),
		UpdateExpression: aws.String("SET #o = :o, #st = :ip, #lu = :lu, #ttl = :ttl, expires_at = :exp, " +
			"tenant = :tenant, message_id = :mid, attempt = :att ADD leases :one"),
		// A new claim, an expired one, the owner's own, or a lapsed lease.
		ConditionExpression: aws.String("attribute_not_exists(#pk) OR #ttl <= :nowsec OR " +
			"(#st = :ip AND (#o = :o OR #lu <= :now))"),
		ExpressionAttributeNames: claimNames,
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":o": str(c.Owner), ":ip": str(string(credential.InProgress)), ":lu": num(c.LeaseUntil.UnixNano()),
			":ttl": num(c.ExpiresAt.Unix()), ":exp": str(c.ExpiresAt.UTC().Format(time.RFC3339Nano)),
			":tenant": str(c.Key.Tenant), ":mid": str(c.Key.MessageID), ":att": num(int64(c.Key.Attempt)),
			":one": num(1), ":nowsec": num(now.Unix()), ":now": num(now.UnixNano()),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		held := credential.ErrLeaseHeld
		var cur credential.Claim
		if ccf.Item != nil {
			if cur, err = decodeClaim(op, ccf.Item); err != nil {
				return credential.Claim{}, err
			}
			if cur.State == credential.Done {
				held = credential.ErrMessageDone
			}
		}
		return cur, push.E(op, push.Conflict, fmt.Errorf("message %s: %w", c.Key.MessageID, held))
	}
	if err != nil {
		return credential.Claim{}, classify(op, err, "lease message")
	}
	return decodeClaim(op, out.Attributes)
}

// Record implements credential.Ledger: a transaction that checks the
// lease and puts the outcome only if none is recorded. Like Apply it is
// idempotent against its own retries (the outcome carries a write id).
// Errors: PreconditionFailed (credential.ErrLeaseLost), Conflict
// (credential.ErrOutcomeRecorded), Transient, Internal.
func (s *Store) Record(ctx context.Context, k credential.MessageKey, owner string, o credential.Outcome, now time.Time) error {
	const op = "awsdynamo.Record"
	av, err := marshal(outcomeItem{
		PK: messagePK(k), SK: outcomeSK(o.Platform, o.Token), Platform: string(o.Platform), Token: o.Token,
		Result: string(o.Result), Reason: o.Reason, At: o.At, TTL: o.ExpiresAt.Unix(), ExpiresAt: o.ExpiresAt,
	})
	if err != nil {
		return err
	}
	writeID := newWriteID()
	av[attrWriteID] = str(writeID)
	_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{
			TableName:                aws.String(s.table),
			Key:                      itemKey(messagePK(k), claimSK),
			ConditionExpression:      aws.String("#o = :o AND #st = :ip AND #lu > :now AND #ttl > :nowsec"),
			ExpressionAttributeNames: map[string]string{"#o": "owner", "#st": "state", "#lu": "lease_until", "#ttl": attrTTL},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":o": str(owner), ":ip": str(string(credential.InProgress)), ":now": num(now.UnixNano()), ":nowsec": num(now.Unix()),
			},
		}},
		{Put: &types.Put{
			TableName: aws.String(s.table), Item: av,
			ConditionExpression:                 aws.String("attribute_not_exists(#pk) OR #ttl <= :nowsec"),
			ExpressionAttributeNames:            map[string]string{"#pk": attrPK, "#ttl": attrTTL},
			ExpressionAttributeValues:           map[string]types.AttributeValue{":nowsec": num(now.Unix())},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
	}})
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) {
		if len(tc.CancellationReasons) > 1 && hasWriteID(tc.CancellationReasons[1].Item, writeID) {
			return nil // a retry met the write of this very call
		}
		for i, r := range tc.CancellationReasons {
			switch code := aws.ToString(r.Code); {
			case code == "ConditionalCheckFailed" && i == 0:
				return push.E(op, push.PreconditionFailed, fmt.Errorf("message %s: %w", k.MessageID, credential.ErrLeaseLost))
			case code == "ConditionalCheckFailed":
				return push.E(op, push.Conflict, fmt.Errorf("message %s: %w", k.MessageID, credential.ErrOutcomeRecorded))
			case code == "TransactionConflict":
				return push.E(op, push.Transient, fmt.Errorf("message %s: %w", k.MessageID, credential.ErrContention))
			}
		}
	}
	if err != nil {
		return classify(op, err, "record outcome")
	}
	return nil
}

// Outcomes implements credential.Ledger (Query on the message partition).
// Errors: Transient, Internal.
func (s *Store) Outcomes(ctx context.Context, k credential.MessageKey) ([]credential.Outcome, error) {
	const op = "awsdynamo.Outcomes"
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		KeyConditionExpression:   aws.String("#pk = :pk AND begins_with(#sk, :out)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(messagePK(k)), ":out": str("OUT#"),
		},
		ConsistentRead: aws.Bool(true),
	}
	now := s.now()
	out := []credential.Outcome{}
	for {
		res, err := s.client.Query(ctx, in)
		if err != nil {
			return nil, classify(op, err, "list outcomes")
		}
		var items []outcomeItem
		if err := attributevalue.UnmarshalListOfMaps(res.Items, &items); err != nil {
			return nil, push.E(op, push.Internal, fmt.Errorf("decode outcomes: %w", err))
		}
		for _, it := range items {
			if !it.ExpiresAt.After(now) {
				continue // TTL passed; DynamoDB deletes it lazily
			}
			out = append(out, credential.Outcome{
				Platform: push.Platform(it.Platform), Token: it.Token, Result: credential.Result(it.Result),
				Reason: it.Reason, At: it.At, ExpiresAt: it.ExpiresAt,
			})
		}
		if res.LastEvaluatedKey == nil {
			return out, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

// Complete implements credential.Ledger: a conditional UpdateItem.
// Errors: NotFound, PreconditionFailed (credential.ErrLeaseLost), Transient, Internal.
func (s *Store) Complete(ctx context.Context, k credential.MessageKey, owner string, expiresAt time.Time) error {
	const op = "awsdynamo.Complete"
	now := s.now()
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      itemKey(messagePK(k), claimSK),
		UpdateExpression:         aws.String("SET #st = :done, #ttl = :ttl, expires_at = :exp"),
		ConditionExpression:      aws.String("attribute_exists(#pk) AND #o = :o AND #ttl > :nowsec"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#o": "owner", "#st": "state", "#ttl": attrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":done": str(string(credential.Done)), ":ttl": num(expiresAt.Unix()),
			":exp": str(expiresAt.UTC().Format(time.RFC3339Nano)), ":o": str(owner), ":nowsec": num(now.Unix()),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if ccf.Item == nil {
			return push.E(op, push.NotFound, fmt.Errorf("message %s", k.MessageID))
		}
		cur, derr := decodeClaim(op, ccf.Item)
		if derr != nil {
			return derr
		}
		if !cur.ExpiresAt.After(now) {
			return push.E(op, push.NotFound, fmt.Errorf("message %s", k.MessageID))
		}
		return push.E(op, push.PreconditionFailed, fmt.Errorf("message %s: %w", k.MessageID, credential.ErrLeaseLost))
	}
	if err != nil {
		return classify(op, err, "complete message")
	}
	return nil
}

// Claim implements credential.Ledger (a consistent GetItem).
// Errors: NotFound, Transient, Internal.
func (s *Store) Claim(ctx context.Context, k credential.MessageKey) (credential.Claim, error) {
	const op = "awsdynamo.Claim"
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: itemKey(messagePK(k), claimSK), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return credential.Claim{}, classify(op, err, "get claim")
	}
	if out.Item == nil {
		return credential.Claim{}, push.E(op, push.NotFound, fmt.Errorf("message %s", k.MessageID))
	}
	c, err := decodeClaim(op, out.Item)
	if err != nil {
		return credential.Claim{}, err
	}
	if !c.ExpiresAt.After(s.now()) {
		return credential.Claim{}, push.E(op, push.NotFound, fmt.Errorf("message %s", k.MessageID))
	}
	return c, nil
}
