package awsdynamo

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
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

// Record implements credential.Ledger: RecordAll of one outcome, a
// transaction that checks the lease and puts the outcome only if none is
// recorded.
// Errors: PreconditionFailed (credential.ErrLeaseLost), Conflict
// (credential.ErrOutcomeRecorded), Transient, Internal.
func (s *Store) Record(ctx context.Context, k credential.MessageKey, owner string, o credential.Outcome, now time.Time) error {
	return s.record(ctx, "awsdynamo.Record", k, owner, []credential.Outcome{o}, now)[0]
}

// RecordAll implements credential.Ledger: TransactWriteItems of a
// ConditionCheck on the claim's lease and one conditional Put per outcome
// (attribute_not_exists, or the old one's TTL passed), at most
// maxTransactPuts outcomes a transaction. When a transaction is cancelled
// because some tokens already have an outcome, those get a Conflict and
// the transaction is run again without them. Like Apply it is idempotent
// against its own retries: every item carries the call's write id, and a
// Put that fails on an item bearing it was written by this very call.
// Errors (per outcome): PreconditionFailed (credential.ErrLeaseLost),
// Conflict (credential.ErrOutcomeRecorded), Transient, Internal.
func (s *Store) RecordAll(ctx context.Context, k credential.MessageKey, owner string, outs []credential.Outcome, now time.Time) []error {
	return s.record(ctx, "awsdynamo.RecordAll", k, owner, outs, now)
}

// maxTransactPuts is how many outcomes one transaction writes: DynamoDB
// takes at most 100 actions, one of them the check of the claim.
const maxTransactPuts = 99

// contentionRetries is how many times a transaction cancelled only by
// concurrent transactions on its items (or throttling) is run again
// before the outcomes get Transient (credential.ErrContention).
const contentionRetries = 3

func (s *Store) record(ctx context.Context, op string, k credential.MessageKey, owner string, outs []credential.Outcome, now time.Time) []error {
	errs := make([]error, len(outs))
	pk := messagePK(k)
	writeID := newWriteID()
	check := types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName:                aws.String(s.table),
		Key:                      itemKey(pk, claimSK),
		ConditionExpression:      aws.String("#o = :o AND #st = :ip AND #lu > :now AND #ttl > :nowsec"),
		ExpressionAttributeNames: map[string]string{"#o": "owner", "#st": "state", "#lu": "lease_until", "#ttl": attrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":o": str(owner), ":ip": str(string(credential.InProgress)), ":now": num(now.UnixNano()), ":nowsec": num(now.Unix()),
		},
	}}
	// The Puts share their condition's names and values.
	putCond, putNames := aws.String("attribute_not_exists(#pk) OR #ttl <= :nowsec"), map[string]string{"#pk": attrPK, "#ttl": attrTTL}
	putValues := map[string]types.AttributeValue{":nowsec": num(now.Unix())}
	puts := make([]types.TransactWriteItem, len(outs))
	pending := make([]int, 0, len(outs))
	seen := make(map[string]struct{}, len(outs))
	for i, o := range outs {
		sk := outcomeSK(o.Platform, o.Token)
		if _, dup := seen[sk]; dup { // one transaction cannot write an item twice
			errs[i] = push.E(op, push.Conflict, fmt.Errorf("message %s: token given twice: %w", k.MessageID, credential.ErrOutcomeRecorded))
			continue
		}
		seen[sk] = struct{}{}
		av, err := marshal(outcomeItem{
			PK: pk, SK: sk, Platform: string(o.Platform), Token: o.Token,
			Result: o.Result, Reason: o.Reason, At: o.At, TTL: o.ExpiresAt.Unix(), ExpiresAt: o.ExpiresAt,
		})
		if err != nil {
			errs[i] = err
			continue
		}
		av[attrWriteID] = str(writeID)
		puts[i] = types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(s.table), Item: av,
			ConditionExpression: putCond, ExpressionAttributeNames: putNames, ExpressionAttributeValues: putValues,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}}
		pending = append(pending, i)
	}
	for len(pending) > 0 {
		n := min(len(pending), maxTransactPuts)
		s.transact(ctx, op, k, writeID, check, puts, pending[:n], errs)
		pending = pending[n:]
	}
	return errs
}

// transact writes the outcomes puts[idx] in one transaction with check,
// setting errs[i] for each i in idx that is not recorded. A cancelled
// transaction runs again without the outcomes it settled.
func (s *Store) transact(ctx context.Context, op string, k credential.MessageKey, writeID string, check types.TransactWriteItem, puts []types.TransactWriteItem, idx []int, errs []error) {
	items := make([]types.TransactWriteItem, 0, len(idx)+1)
	for tries := 0; len(idx) > 0; {
		items = append(items[:0], check)
		for _, i := range idx {
			items = append(items, puts[i])
		}
		_, err := s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return
		}
		var tc *types.TransactionCanceledException
		if !errors.As(err, &tc) {
			err = classify(op, err, "record outcomes")
			for _, i := range idx {
				errs[i] = err
			}
			return
		}
		reasons := tc.CancellationReasons
		leaseLost := len(reasons) > 0 && aws.ToString(reasons[0].Code) == "ConditionalCheckFailed"
		again, busy := idx[:0:0], false
		for j, i := range idx {
			var r types.CancellationReason
			if j+1 < len(reasons) {
				r = reasons[j+1]
			}
			switch code := aws.ToString(r.Code); {
			case code == "ConditionalCheckFailed" && hasWriteID(r.Item, writeID):
				// An SDK retry met the write of this very call.
			case leaseLost:
				errs[i] = push.E(op, push.PreconditionFailed, fmt.Errorf("message %s: %w", k.MessageID, credential.ErrLeaseLost))
			case code == "ConditionalCheckFailed":
				errs[i] = push.E(op, push.Conflict, fmt.Errorf("message %s: %w", k.MessageID, credential.ErrOutcomeRecorded))
			case code == "TransactionConflict" || code == "ThrottlingError" || code == "ProvisionedThroughputExceeded":
				busy = true
				again = append(again, i)
			default: // "None": cancelled because of another item
				again = append(again, i)
			}
		}
		if len(again) == len(idx) { // nothing settled this round
			var fail error
			switch {
			case !busy: // no reason names an outcome: not ours to retry
				fail = classify(op, err, "record outcomes")
			case tries >= contentionRetries:
				fail = push.E(op, push.Transient, fmt.Errorf("message %s: record outcomes: %w: %w", k.MessageID, credential.ErrContention, err))
			default:
				tries++
				fail = sleepCtx(ctx, time.Duration(tries)*(10*time.Millisecond+mrand.N(10*time.Millisecond)))
				if fail != nil {
					fail = classify(op, fail, "record outcomes")
				}
			}
			if fail != nil {
				for _, i := range idx {
					errs[i] = fail
				}
				return
			}
		}
		idx = again
	}
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Outcomes implements credential.Ledger (Query on the message partition).
// Errors: Transient, Internal.
func (s *Store) Outcomes(ctx context.Context, k credential.MessageKey) ([]credential.Outcome, error) {
	const op = "awsdynamo.Outcomes"
	in := s.prefixQuery(messagePK(k), "OUT#")
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
				Platform: push.Platform(it.Platform), Token: it.Token, Result: it.Result,
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
