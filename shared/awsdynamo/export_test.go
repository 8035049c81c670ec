package awsdynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"mobilepush/shared/credential"
)

// SeedApps writes the app items of apps with BatchWriteItem, without due
// markers or audit events, for benchmarks over thousands of apps: moto
// copies the whole table on every TransactWriteItems, so seeding through
// Apply would take minutes.
func (s *Store) SeedApps(ctx context.Context, apps []credential.App) error {
	for i := 0; i < len(apps); i += 25 {
		var reqs []types.WriteRequest
		for j := i; j < min(i+25, len(apps)); j++ {
			item, err := marshal(toApp(&apps[j]))
			if err != nil {
				return err
			}
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
		}
		in := map[string][]types.WriteRequest{s.table: reqs}
		for len(in) > 0 {
			out, err := s.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: in})
			if err != nil {
				return fmt.Errorf("seed apps: %w", err)
			}
			in = out.UnprocessedItems
		}
	}
	return nil
}
