package store_test

import (
	"testing"
	"time"

	"github.com/fgwh/fgwh/store"
)

// TestDB_ClaimDeliveries_DueOrderAcrossWebhooks claims across several
// webhooks in due order: a disabled webhook's earlier deliveries are
// skipped, each webhook's cap counts what the caller has in flight, and a
// claim that every webhook's cap or backlog cuts short finds nothing more.
func TestDB_ClaimDeliveries_DueOrderAcrossWebhooks(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		emitAt := func(typ, key string, n int, at time.Time) {
			t.Helper()
			evs := make([]store.NewEvent, n)
			for i := range evs {
				evs[i] = store.NewEvent{Type: typ, Payload: []byte(`{"type":"` + typ + `","` + key + `":"x"}`)}
			}
			if _, err := b.db.EmitEvents(b.ctx, evs, at); err != nil {
				t.Fatal(err)
			}
		}
		off := b.webhook(t, "off", "session.created")
		a := b.webhook(t, "a", "device.created")
		bb := b.webhook(t, "b", "device.updated")
		d := b.webhook(t, "d", "event.created")
		emitAt("session.created", "sessionId", 5, t0)
		emitAt("device.created", "deviceId", 6, t0.Add(time.Millisecond))
		emitAt("device.updated", "deviceId", 2, t0.Add(2*time.Millisecond))
		emitAt("event.created", "eventId", 1, t0.Add(3*time.Millisecond))
		if _, err := b.db.SetWebhookEnabled(b.ctx, off.ID, false, "test", t0); err != nil {
			t.Fatal(err)
		}

		claim := func(limit int, inFlight map[string]int) map[string]int {
			t.Helper()
			got, err := b.db.ClaimDeliveries(b.ctx, store.ClaimParams{Owner: "w", Now: t0.Add(time.Second), Lease: time.Minute,
				Limit: limit, PerWebhook: 3, InFlight: inFlight})
			if err != nil {
				t.Fatal(err)
			}
			per := map[string]int{}
			for _, c := range got {
				per[c.WebhookID]++
			}
			return per
		}
		per := claim(6, map[string]int{bb.ID: 1})
		if len(per) != 3 || per[a.ID] != 3 || per[bb.ID] != 2 || per[d.ID] != 1 {
			t.Fatalf("first claim per webhook %v, want a 3, b 2, d 1 (a %s, b %s, d %s)", per, a.ID, bb.ID, d.ID)
		}
		// a has 3 left but 3 in flight; b and d have none; off is disabled.
		if per := claim(10, map[string]int{a.ID: 3, bb.ID: 3, d.ID: 1}); len(per) != 0 {
			t.Fatalf("second claim per webhook %v, want nothing", per)
		}
		// With a's slots free again it gets the rest, in one claim.
		if per := claim(10, nil); len(per) != 1 || per[a.ID] != 3 {
			t.Fatalf("third claim per webhook %v, want a 3", per)
		}
	})
}
