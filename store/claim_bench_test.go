package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/fgwh/fgwh/store"
)

// BenchmarkDB_ClaimManyWebhooks measures one claim as the deliver loop
// makes it (a quarter of the claim per webhook at most) when the backlog is
// spread over many webhooks, as in the 100,000-delivery soak: its cost
// should follow the claim's size, not the number of webhooks. One op is one
// claim of up to 256 deliveries, given back afterwards.
//
//	go test ./store -run '^$' -bench ClaimManyWebhooks
func BenchmarkDB_ClaimManyWebhooks(b *testing.B) {
	for _, backend := range backends {
		for _, hooks := range []int{10, 1000} {
			for _, limit := range []int{8, 256} {
				b.Run(fmt.Sprintf("%s/webhooks=%d/limit=%d", backend, hooks, limit), func(b *testing.B) {
					tb := setupBackend(b, backend)
					for i := range hooks {
						tb.webhook(b, fmt.Sprintf("h%d", i), "recording.imported")
					}
					tb.emit(b, "recording.imported", 20_000/hooks)
					b.ResetTimer()
					for b.Loop() {
						got, err := tb.db.ClaimDeliveries(tb.ctx, store.ClaimParams{Owner: "o", Now: t0.Add(time.Second), Lease: time.Minute,
							Limit: limit, PerWebhook: 32})
						if err != nil {
							b.Fatal(err)
						}
						if len(got) != limit {
							b.Fatalf("claimed %d, want %d", len(got), limit)
						}
						ids := make([]string, len(got))
						for i, c := range got {
							ids[i] = c.ID
						}
						if _, err := tb.db.ReleaseDeliveries(tb.ctx, "o", ids); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
