package store_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fgwh/fgwh/store"
)

// BenchmarkDB_ClaimComplete measures the queue's own cost on each store:
// claimers that each claim 100 due deliveries and complete them in one
// batch, from separate handles (as separate deliver processes would), with
// no HTTP in between. One op is 100 deliveries.
//
//	FGWH_TEST_POSTGRES_URL=… go test ./store -run '^$' -bench ClaimComplete -benchtime 200x
func BenchmarkDB_ClaimComplete(b *testing.B) {
	const batch, hooks = 100, 10
	for _, backend := range backends {
		for _, claimers := range []int{1, 4} {
			b.Run(fmt.Sprintf("%s/claimers=%d", backend, claimers), func(b *testing.B) {
				tb := setupBackend(b, backend)
				for i := range hooks {
					tb.webhook(b, fmt.Sprintf("h%d", i), "recording.imported")
				}
				for left := b.N * batch; left > 0; left -= 1000 {
					tb.emit(b, "recording.imported", min(left, 1000)/hooks+1)
				}
				dbs := make([]*store.DB, claimers)
				for i := range dbs {
					dbs[i] = tb.open(b)
				}
				var mu sync.Mutex
				var clock atomic.Int64
				done := 0
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				for i, db := range dbs {
					owner := fmt.Sprintf("w%d", i)
					wg.Go(func() {
						for {
							mu.Lock()
							if done >= b.N*batch {
								mu.Unlock()
								return
							}
							mu.Unlock()
							got, err := db.ClaimDeliveries(tb.ctx, store.ClaimParams{Owner: owner, Now: t0, Lease: time.Minute, Limit: batch})
							if err != nil {
								b.Error(err)
								return
							}
							cs := make([]store.Completion, len(got))
							// Attempt times increase, as in a real drain, so attempt rows
							// land at the end of delivery_attempts_webhook.
							at := t0.Add(time.Duration(clock.Add(1)) * time.Millisecond)
							for j, c := range got {
								cs[j] = store.Completion{ID: c.ID, WebhookID: c.WebhookID, Attempt: c.Attempt, AttemptedAt: at,
									Duration: time.Millisecond, StatusCode: 200, Status: store.StatusSucceeded}
							}
							if _, err := db.CompleteDeliveries(tb.ctx, store.CompleteParams{Owner: owner, Now: t0}, cs); err != nil {
								b.Error(err)
								return
							}
							mu.Lock()
							done += len(got)
							mu.Unlock()
						}
					})
				}
				wg.Wait()
				b.ReportMetric(float64(done)/time.Since(start).Seconds(), "deliveries/s")
			})
		}
	}
}
