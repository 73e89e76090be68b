package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/fgwh/fgwh/store"
)

// The listing benchmarks read a database of FGWH_BENCH_DELIVERIES deliveries
// (default 1,000,000) across 1,000 webhooks, built once per run:
//
//	go test ./store -run '^$' -bench 'List' -benchtime 200x
var bigDB struct {
	once  sync.Once
	dir   string
	path  string
	hook  string
	event string
	err   error
}

func openBigDB(b *testing.B) (*store.DB, string, string) {
	b.Helper()
	bigDB.once.Do(func() {
		n := 1_000_000
		if v := os.Getenv("FGWH_BENCH_DELIVERIES"); v != "" {
			n, bigDB.err = strconv.Atoi(v)
			if bigDB.err != nil {
				return
			}
		}
		bigDB.dir, bigDB.err = os.MkdirTemp("", "fgwh-bench-")
		if bigDB.err != nil {
			return
		}
		bigDB.path = filepath.Join(bigDB.dir, "big.db")
		bigDB.hook, bigDB.event, bigDB.err = buildBigDB(bigDB.path, n)
	})
	if bigDB.err != nil {
		b.Fatal(bigDB.err)
	}
	db, err := store.Open(context.Background(), bigDB.path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db, bigDB.hook, bigDB.event
}

// buildBigDB makes n deliveries: 1,000 webhooks each subscribed to every
// subscribable type, n/1000 events spread over the types and over a day,
// and a tenth of the deliveries failed.
func buildBigDB(path string, n int) (hook, event string, err error) {
	ctx := context.Background()
	db, err := store.Open(ctx, path)
	if err != nil {
		return "", "", err
	}
	defer db.Close()
	var types []string
	for _, t := range store.EventTypes {
		if t.Subscribable {
			types = append(types, t.Name)
		}
	}
	for i := 0; i < 1000; i++ {
		w, _, err := db.CreateWebhook(ctx, store.CreateWebhookParams{URL: fmt.Sprintf("https://example.com/%d", i), EventTypes: types}, t0)
		if err != nil {
			return "", "", err
		}
		if i == 500 {
			hook = w.ID
		}
	}
	events := n / 1000
	// At least ten batches, so that the day is spread over ten emit times
	// even for a small FGWH_BENCH_DELIVERIES.
	per := max(1, min(100, events/10))
	for i := 0; i < events; i += per {
		batch := make([]store.NewEvent, 0, per)
		for j := i; j < min(i+per, events); j++ {
			t := types[j%len(types)]
			batch = append(batch, store.NewEvent{Type: t, Payload: []byte(`{"type":"` + t + `","recordingId":"r"}`)})
		}
		out, err := db.EmitEvents(ctx, batch, t0.Add(time.Duration(i)*86400*time.Second/time.Duration(events)))
		if err != nil {
			return "", "", err
		}
		event = out[len(out)/2].Event.ID
	}
	// Every delivery of a tenth of the events fails, so every webhook has
	// failures to list. (A rule on the delivery's rowid left the chosen
	// webhook, at a fixed place in each event's 1,000 deliveries, without
	// any about one time in three.)
	err = db.ExecForTest(ctx, `UPDATE deliveries SET status = 'failed', completed_at = created_at, next_attempt_at = NULL
		WHERE event_id IN (SELECT id FROM events WHERE rowid % 10 = 3)`)
	return hook, event, err
}

func BenchmarkListDeliveries(b *testing.B) {
	db, hook, event := openBigDB(b)
	ctx := context.Background()
	cases := []struct {
		name string
		p    store.ListDeliveriesParams
	}{
		{"all", store.ListDeliveriesParams{Limit: 50}},
		{"status", store.ListDeliveriesParams{Status: store.StatusFailed, Limit: 50}},
		{"webhook", store.ListDeliveriesParams{WebhookID: hook, Limit: 50}},
		{"webhook+status", store.ListDeliveriesParams{WebhookID: hook, Status: store.StatusFailed, Limit: 50}},
		{"event", store.ListDeliveriesParams{EventID: event, Limit: 50}},
		{"type", store.ListDeliveriesParams{Type: "device.updated", Limit: 50}},
		{"since", store.ListDeliveriesParams{Since: t0.Add(12 * time.Hour), Limit: 50}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				ds, err := db.ListDeliveries(ctx, c.p)
				if err != nil {
					b.Fatal(err)
				}
				if len(ds) == 0 {
					b.Fatal("no deliveries listed")
				}
			}
		})
	}
}

func BenchmarkListEvents(b *testing.B) {
	db, _, _ := openBigDB(b)
	ctx := context.Background()
	for _, p := range []store.ListEventsParams{{Limit: 50}, {Type: "session.created", Limit: 50}} {
		b.Run("type="+p.Type, func(b *testing.B) {
			for b.Loop() {
				if _, err := db.ListEvents(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bigDB.dir != "" {
		os.RemoveAll(bigDB.dir)
	}
	os.Exit(code)
}
