package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fgwh/fgwh/store"
	"github.com/fgwh/fgwh/store/pgtest"
)

// BenchmarkDeliver_Workers reports deliveries per second for 1, 2 and 4
// "fgwh deliver --once" processes sharing one database, on SQLite and (when
// FGWH_TEST_POSTGRES_URL is set) on PostgreSQL, in one run: the throughput
// table of scaling out. Each op is 1,000 deliveries spread over 10
// webhooks, to a receiver on 127.0.0.1 that answers 200 at once, so the
// figure is the queue's and the processes' cost, not a receiver's.
//
//	FGWH_TEST_POSTGRES_URL=… go test -run '^$' -bench Deliver_Workers -benchtime 20x .
func BenchmarkDeliver_Workers(b *testing.B) {
	bin := fgwhBinary(b)
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	defer srv.Close()
	for _, backend := range []string{"sqlite", "postgres"} {
		for _, workers := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("%s/workers=%d", backend, workers), func(b *testing.B) {
				dsn := benchDSN(b, backend)
				n := b.N * 1000
				db, err := store.Open(context.Background(), dsn)
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				const hooks = 10
				for i := range hooks {
					if _, _, err := db.CreateWebhook(context.Background(), store.CreateWebhookParams{
						URL: fmt.Sprintf("%s/%d", srv.URL, i), EventTypes: []string{"recording.imported"}}, time.Now()); err != nil {
						b.Fatal(err)
					}
				}
				evs := make([]store.NewEvent, n/hooks)
				for i := range evs {
					evs[i] = store.NewEvent{Type: "recording.imported", Payload: []byte(fmt.Sprintf(`{"type":"recording.imported","recordingId":"r%d"}`, i))}
				}
				if _, err := db.EmitEvents(context.Background(), evs, time.Now()); err != nil {
					b.Fatal(err)
				}
				got.Store(0)
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				errs := make([]error, workers)
				for w := range workers {
					wg.Go(func() {
						cmd := exec.Command(bin, "deliver", "--once", "--concurrency", "32")
						cmd.Env = append(os.Environ(), "FGWH_DB="+dsn, "FGWH_ALLOW_PRIVATE_NETWORKS=1")
						if out, err := cmd.CombinedOutput(); err != nil {
							errs[w] = fmt.Errorf("deliver: %v\n%s", err, out)
						}
					})
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
				c, err := db.QueueCounts(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if c[store.StatusSucceeded] != n || got.Load() != int64(n) {
					b.Fatalf("%d succeeded and %d received, want %d", c[store.StatusSucceeded], got.Load(), n)
				}
				b.ReportMetric(float64(n)/elapsed.Seconds(), "deliveries/s")
			})
		}
	}
}

// benchDSN names a fresh database for backend; PostgreSQL is skipped when
// FGWH_TEST_POSTGRES_URL is unset.
func benchDSN(b *testing.B, backend string) string {
	if backend == "sqlite" {
		return filepath.Join(b.TempDir(), "fgwh.db")
	}
	base := pgtest.URL()
	if base == "" {
		b.Skip("PostgreSQL benchmarks need " + pgtest.EnvURL)
	}
	dsn, drop, err := pgtest.NewSchema(context.Background(), base)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { drop() })
	return dsn
}
