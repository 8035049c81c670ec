package awsdynamo_test

import (
	"context"
	"testing"
	"time"

	"mobilepush/shared/awsdynamo/dynamotest"
	"mobilepush/shared/credential"
	"mobilepush/shared/credential/credentialtest"
)

// BenchmarkFleetListDynamo measures what GET /v1/apps?q&status and GET
// /v1/summary read on DynamoDB (moto) for a tenant of 2,000 apps, with
// another tenant's 50 in the same table: the service's Find and
// Summarize (the handler adds only the JSON rendering). Per call it
// reports the items read, the Query calls, the read units DynamoDB
// charges for those strongly consistent Queries (from the items' sizes)
// and the bytes per item; "x-get-app" is the listing's time over one
// app's GetItem in the same loop. moto's times say little about AWS; its
// counts and sizes are exact.
func BenchmarkFleetListDynamo(b *testing.B) {
	ru := &dynamotest.ReadUnits{}
	counter := dynamotest.NewCounter()
	store := newStore(b, ru.Register, counter.Register)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	var apps []credential.App
	for i := range 2000 {
		apps = append(apps, credentialtest.FleetApp("bench", i, now))
	}
	for i := range 50 {
		apps = append(apps, credentialtest.FleetApp("other", i, now))
	}
	if err := store.SeedApps(ctx, apps); err != nil {
		b.Fatal(err)
	}
	svc := credential.NewService(credential.Config{Meta: store})
	q := credential.Query{Text: "brand1", States: []credential.State{credential.Expiring, credential.Expired}, Page: credential.Page{Limit: 50}}
	calls := []struct {
		name string
		call func() error
	}{
		{"get-app", func() error { _, err := svc.Get(ctx, "bench", "app-00001"); return err }},
		{"list-q-status", func() error { _, err := svc.Find(ctx, "bench", q); return err }},
		{"summary", func() error { _, err := svc.Summarize(ctx, "bench", 0); return err }},
	}
	for _, c := range calls {
		b.Run(c.name, func(b *testing.B) {
			ru.Take()
			counter.Reset()
			n := 0
			for b.Loop() {
				if err := c.call(); err != nil {
					b.Fatal(err)
				}
				n++
			}
			units, bytes, queries := ru.Take()
			b.ReportMetric(float64(counter.Scanned("Query"))/float64(n), "items-read/op")
			b.ReportMetric(float64(queries)/float64(n), "queries/op")
			b.ReportMetric(float64(units)/float64(n), "RCU/op")
			if items := counter.Scanned("Query"); items > 0 {
				b.ReportMetric(float64(bytes)/float64(items), "B/item")
			}
		})
	}
	b.Run("ratio", func(b *testing.B) {
		var one, fleet time.Duration
		for b.Loop() {
			t0 := time.Now()
			if err := calls[0].call(); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if err := calls[1].call(); err != nil {
				b.Fatal(err)
			}
			fleet += time.Since(t1)
			one += t1.Sub(t0)
		}
		b.ReportMetric(float64(fleet)/float64(one), "x-get-app")
	})
}
