package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/fgwh/fgwh/store"
)

func TestCopy_BetweenStores(t *testing.T) {
	for _, from := range backends {
		for _, to := range backends {
			t.Run(from+"_to_"+to, func(t *testing.T) {
				t.Parallel()
				src := setupBackend(t, from)
				populate(t, src)
				dst := setupBackend(t, to)
				res, err := store.Copy(src.ctx, src.db, dst.db, store.CopyParams{})
				if err != nil {
					t.Fatal(err)
				}
				want := store.CopyResult{Webhooks: 3, Subscriptions: 4, Events: 8, Deliveries: 13, Attempts: 4}
				if res != want {
					t.Fatalf("copied %+v, want %+v", res, want)
				}
				sameContents(t, src, dst)

				// A target with data is refused, and replaced only when asked.
				dst.webhook(t, "extra", "device.created")
				if _, err := store.Copy(src.ctx, src.db, dst.db, store.CopyParams{}); !errors.Is(err, store.ErrTargetNotEmpty) {
					t.Fatalf("copy onto a non-empty target: %v", err)
				}
				if _, err := store.Copy(src.ctx, src.db, dst.db, store.CopyParams{Replace: true}); err != nil {
					t.Fatal(err)
				}
				sameContents(t, src, dst)
			})
		}
	}
}

func TestCopy_RefusesItsOwnSQLiteFile(t *testing.T) {
	b := setup(t)
	_, err := store.Copy(b.ctx, b.db, b.open(t), store.CopyParams{Replace: true})
	if err == nil || err.Error() != "copy "+b.path+" to itself" {
		t.Fatalf("err = %v", err)
	}
}

// populate fills b with webhooks, events and deliveries in every state.
func populate(t *testing.T, b *testBundle) {
	t.Helper()
	a := b.webhook(t, "a", "recording.imported", "device.created")
	b.webhook(t, "b", "recording.imported")
	off := b.webhook(t, "off", "device.created")
	if _, err := b.db.SetWebhookEnabled(b.ctx, off.ID, false, "paused", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.RotateToken(b.ctx, a.ID, time.Hour, t0); err != nil {
		t.Fatal(err)
	}
	// Five events in one emit share created_at: their order must survive.
	b.emit(t, "recording.imported", 5)
	evs := []store.NewEvent{
		{Type: "device.created", Payload: []byte(`{"type":"device.created","deviceId":"d1"}`), IdempotencyKey: "k1"},
		{Type: "device.created", Payload: []byte(`{"type":"device.created","deviceId":"d2"}`), Timestamp: t0.Add(-time.Hour)},
		{Type: store.PingEventType, Payload: []byte(`{"type":"ping","webhookId":"` + a.ID + `"}`), WebhookID: a.ID},
	}
	if _, err := b.db.EmitEvents(b.ctx, evs, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	got, err := b.db.ClaimDeliveries(b.ctx, store.ClaimParams{Owner: "w", Now: t0.Add(time.Second), Lease: time.Minute, Limit: 4})
	if err != nil || len(got) != 4 {
		t.Fatalf("claimed %d (%v)", len(got), err)
	}
	statuses := []string{store.StatusSucceeded, store.StatusFailed, store.StatusRetrying}
	var cs []store.Completion
	for i, s := range statuses {
		c := got[i]
		cs = append(cs, store.Completion{ID: c.ID, WebhookID: c.WebhookID, Attempt: c.Attempt, AttemptedAt: t0.Add(2 * time.Second),
			Duration: time.Duration(i+1) * time.Millisecond, StatusCode: 200 + 300*i, ErrorCode: "", Error: fmt.Sprint("e", i),
			ResponseBody: "body", Status: s, NextAttemptAt: t0.Add(time.Hour)})
	}
	if _, err := b.db.CompleteDeliveries(b.ctx, store.CompleteParams{Owner: "w", Now: t0}, cs); err != nil {
		t.Fatal(err)
	}
	// got[3] stays in flight; one more is abandoned by a process that died.
	if _, err := b.db.ClaimDeliveries(b.ctx, store.ClaimParams{Owner: "dead", Now: t0.Add(time.Second), Lease: time.Second, Limit: 1}); err != nil {
		t.Fatal(err)
	}
	if n, err := b.db.RescueExpired(b.ctx, t0.Add(3*time.Second)); err != nil || n != 1 {
		t.Fatalf("rescued %d (%v)", n, err)
	}
}

// sameContents fails unless a and b list the same webhooks, secrets,
// events, deliveries with their attempts, and counts.
func sameContents(t *testing.T, a, b *testBundle) {
	t.Helper()
	ctx := context.Background()
	check := func(what string, f func(db *store.DB) (any, error)) {
		t.Helper()
		x, err := f(a.db)
		if err != nil {
			t.Fatal(err)
		}
		y, err := f(b.db)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("%s differ:\n%s: %+v\n%s: %+v", what, a.backend, x, b.backend, y)
		}
	}
	check("webhooks", func(db *store.DB) (any, error) { return db.ListWebhooks(ctx) })
	check("events", func(db *store.DB) (any, error) { return db.ListEvents(ctx, store.ListEventsParams{}) })
	check("deliveries", func(db *store.DB) (any, error) { return db.ListDeliveries(ctx, store.ListDeliveriesParams{}) })
	check("queue", func(db *store.DB) (any, error) { return db.QueueCounts(ctx) })
	ws, _ := a.db.ListWebhooks(ctx)
	for _, w := range ws {
		check("secrets of "+w.Name, func(db *store.DB) (any, error) { return db.GetWebhookSecrets(ctx, w.ID) })
		check("stats of "+w.Name, func(db *store.DB) (any, error) { return db.GetWebhookStats(ctx, w.ID) })
	}
	ds, _ := a.db.ListDeliveries(ctx, store.ListDeliveriesParams{})
	for _, d := range ds {
		check("delivery "+d.ID, func(db *store.DB) (any, error) { return db.GetDelivery(ctx, d.ID) })
	}
	check("duplicate emit", func(db *store.DB) (any, error) {
		out, err := db.EmitEvents(ctx, []store.NewEvent{{Type: "device.created", Payload: []byte(`{}`), IdempotencyKey: "k1"}}, t0)
		if err != nil {
			return nil, err
		}
		return out[0].Event.ID, nil
	})
}
