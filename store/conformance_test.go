package store_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fgwh/fgwh/store"
	"github.com/fgwh/fgwh/store/pgtest"
)

// This file holds conformance tests that matter most where the two stores
// differ: concurrency (SQLite has one writer, PostgreSQL many), waking
// deliver processes, and every remaining query run on both stores.

func TestDB_ClaimDeliveries_ConcurrentClaimersNeverShareARow(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		const hooks, events = 4, 500 // 2,000 due deliveries
		for i := range hooks {
			b.webhook(t, fmt.Sprintf("h%d", i), "recording.imported")
		}
		b.emit(t, "recording.imported", events)
		const want = hooks * events

		// Two handles (two processes' pools), two claimers each.
		dbs := []*store.DB{b.open(t), b.open(t)}
		var mu sync.Mutex
		seen := map[string]string{}
		var dup []string
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for i := range 4 {
			db, owner := dbs[i%2], fmt.Sprintf("w%d", i)
			wg.Go(func() {
				deadline := time.Now().Add(2 * time.Minute)
				for time.Now().Before(deadline) {
					got, err := db.ClaimDeliveries(b.ctx, store.ClaimParams{Owner: owner, Now: t0, Lease: time.Minute, Limit: 50})
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					for _, c := range got {
						if prev, ok := seen[c.ID]; ok {
							dup = append(dup, c.ID+" by "+prev+" and "+owner)
						}
						seen[c.ID] = owner
					}
					n := len(seen)
					mu.Unlock()
					if n >= want {
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(dup) > 0 {
			t.Fatalf("%d deliveries claimed twice, e.g. %s", len(dup), dup[0])
		}
		if len(seen) != want {
			t.Fatalf("claimed %d distinct deliveries, want %d", len(seen), want)
		}
		counts, err := b.db.QueueCounts(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if counts[store.StatusDelivering] != want || counts[store.StatusPending] != 0 {
			t.Fatalf("queue counts %v, want all %d delivering", counts, want)
		}
	})
}

func TestDB_Watch_WakesOnEmitFromAnotherHandle(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		b.webhook(t, "a", "recording.imported")
		// On PostgreSQL the poll interval is far longer than the test, so
		// only a notification can wake the watcher.
		poll := map[string]time.Duration{"sqlite": 5 * time.Millisecond, "postgres": time.Hour}[b.backend]
		ctx, cancel := context.WithCancel(b.ctx)
		defer cancel()
		wake := b.db.Watch(ctx, poll)
		other := b.open(t)
		emit := func() {
			ev := store.NewEvent{Type: "recording.imported", Payload: []byte(`{"type":"recording.imported","recordingId":"r"}`)}
			if _, err := other.EmitEvents(b.ctx, []store.NewEvent{ev}, t0); err != nil {
				t.Fatal(err)
			}
		}
		// The watcher starts listening in the background: emit until it
		// hears one, then check that every later emit wakes it too (a
		// watcher that lost its connection would wake once, then only
		// after the hour-long poll interval).
		deadline := time.Now().Add(20 * time.Second)
		// Before the first wake, emit again often; after it, allow a loaded
		// machine seconds (far below the hour-long poll) for each wake.
		wait := 250 * time.Millisecond
		for heard := 0; heard < 3; {
			if time.Now().After(deadline) {
				t.Fatalf("heard %d emits before the deadline, want 3", heard)
			}
			emit()
			select {
			case _, ok := <-wake:
				if !ok {
					t.Fatal("watch channel closed")
				}
				heard++
				wait = 5 * time.Second
			case <-time.After(wait):
				if heard > 0 {
					t.Fatalf("emit %d did not wake the watcher", heard+1)
				}
			}
		}
		cancel()
		for range wake {
		}
	})
}

// TestDB_Watch_SeesEveryCommit: commits in quick succession, within one
// tick of the file clock, each wake the watcher; none waits for the
// one-second recheck.
func TestDB_Watch_SeesEveryCommit(t *testing.T) {
	b := setup(t)
	b.webhook(t, "a", "recording.imported")
	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	wake := b.db.Watch(ctx, 2*time.Millisecond)
	other := b.open(t)
	ev := store.NewEvent{Type: "recording.imported", Payload: []byte(`{"type":"recording.imported","recordingId":"r"}`)}
	for i := range 50 {
		if _, err := other.EmitEvents(b.ctx, []store.NewEvent{ev}, t0); err != nil {
			t.Fatal(err)
		}
		select {
		case <-wake:
		case <-time.After(500 * time.Millisecond):
			if i > 0 {
				t.Fatalf("commit %d did not wake the watcher within 500ms", i+1)
			}
		}
	}
}

func TestDB_Watch_PostgresClosesWithTheDB(t *testing.T) {
	b := setupPostgres(t)
	db := b.open(t)
	wake := db.Watch(context.Background(), time.Hour)
	db.Close()
	select {
	case <-drained(wake):
	case <-time.After(10 * time.Second):
		t.Fatal("watch channel still open 10s after Close")
	}
}

// setupPostgres opens a fresh PostgreSQL store for a PostgreSQL-only test,
// which runs in parallel with the others.
func setupPostgres(t *testing.T) *testBundle {
	t.Helper()
	if pgtest.URL() == "" {
		t.Skip("PostgreSQL tests need " + pgtest.EnvURL)
	}
	t.Parallel()
	return setupBackend(t, "postgres")
}

// drained closes when ch is closed, discarding its values.
func drained(ch <-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		for range ch {
		}
		close(done)
	}()
	return done
}

func TestOpen_ConcurrentFirstOpenMigratesOnce(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			dsn := newDSN(t, backend)
			var wg sync.WaitGroup
			errs := make(chan error, 6)
			for range 6 {
				wg.Go(func() {
					db, err := store.Open(context.Background(), dsn)
					if err != nil {
						errs <- err
						return
					}
					_, err = db.ListWebhooks(context.Background())
					db.Close()
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestDB_CreateWebhook_Names(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		first := b.webhook(t, "a", "recording.imported")
		_, _, err := b.db.CreateWebhook(b.ctx, store.CreateWebhookParams{Name: "a", URL: "https://example.com/x", EventTypes: []string{"device.created"}}, t0)
		if !errors.Is(err, store.ErrNameTaken) || !strings.Contains(err.Error(), first.ID) {
			t.Fatalf("err = %v, want ErrNameTaken naming %s", err, first.ID)
		}
		// Unnamed webhooks get the URL's host and path, made unique, even
		// when created at the same moment from several handles.
		const n = 8
		dbs := []*store.DB{b.db, b.open(t)}
		names := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				w, _, err := dbs[i%2].CreateWebhook(b.ctx, store.CreateWebhookParams{URL: "https://hooks.example.com/in/", EventTypes: []string{"device.created"}}, t0)
				names[i], errs[i] = w.Name, err
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		sort.Strings(names)
		want := []string{"hooks.example.com/in"}
		for i := 2; i <= n; i++ {
			want = append(want, fmt.Sprintf("hooks.example.com/in-%d", i))
		}
		sort.Strings(want)
		if strings.Join(names, " ") != strings.Join(want, " ") {
			t.Fatalf("names %v, want %v", names, want)
		}
		// Renaming onto a taken name fails the same way.
		taken := "a"
		_, err = b.db.UpdateWebhook(b.ctx, store.UpdateWebhookParams{ID: mustWebhookNamed(t, b, "hooks.example.com/in").ID, Name: &taken}, t0)
		if !errors.Is(err, store.ErrNameTaken) {
			t.Fatalf("rename err = %v, want ErrNameTaken", err)
		}
	})
}

func mustWebhookNamed(t *testing.T, b *testBundle, name string) store.Webhook {
	t.Helper()
	ws, err := b.db.ListWebhooks(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if w.Name == name {
			return w
		}
	}
	t.Fatalf("no webhook named %q", name)
	return store.Webhook{}
}

func TestDB_EmitEvents_ConcurrentIdempotencyKey(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		b.webhook(t, "a", "recording.imported")
		const n = 8
		dbs := []*store.DB{b.db, b.open(t)}
		out := make([]store.Emitted, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				ev := store.NewEvent{Type: "recording.imported", Payload: []byte(`{"type":"recording.imported","recordingId":"r"}`), IdempotencyKey: "same"}
				got, err := dbs[i%2].EmitEvents(b.ctx, []store.NewEvent{ev}, t0)
				errs[i] = err
				if err == nil {
					out[i] = got[0]
				}
			})
		}
		wg.Wait()
		firsts := 0
		for i, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
			if !out[i].Duplicate {
				firsts++
			}
			if out[i].Event.ID != out[0].Event.ID {
				t.Fatalf("emit %d got event %s, emit 0 got %s", i, out[i].Event.ID, out[0].Event.ID)
			}
		}
		if firsts != 1 {
			t.Fatalf("%d emits were not duplicates, want 1", firsts)
		}
		if ds, _ := b.db.ListDeliveries(b.ctx, store.ListDeliveriesParams{}); len(ds) != 1 {
			t.Fatalf("%d deliveries, want 1", len(ds))
		}
	})
}

func TestDB_Webhooks_EditRotateDelete(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		w := b.webhook(t, "a", "recording.imported")
		url, scheme := "https://example.com/new", store.SchemeBoth
		got, err := b.db.UpdateWebhook(b.ctx, store.UpdateWebhookParams{ID: w.ID, URL: &url, SignatureScheme: &scheme,
			EventTypes: []string{"device.updated", "device.created", "device.updated"}}, t0.Add(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if got.URL != url || got.SignatureScheme != store.SchemeBoth || strings.Join(got.EventTypes, ",") != "device.created,device.updated" ||
			!got.UpdatedAt.Equal(t0.Add(time.Second)) || !got.CreatedAt.Equal(t0) {
			t.Fatalf("updated %+v", got)
		}
		old, err := b.db.GetWebhookSecrets(b.ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := b.db.RotateToken(b.ctx, w.ID, time.Hour, t0)
		if err != nil {
			t.Fatal(err)
		}
		s, err := b.db.GetWebhookSecrets(b.ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if s.Token != tok || s.PreviousToken != old.Token || !s.PreviousTokenExpiresAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("secrets after rotation %+v", s)
		}
		b.emit(t, "device.created", 2)
		if err := b.db.DeleteWebhook(b.ctx, w.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := b.db.GetWebhook(b.ctx, w.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get deleted: %v", err)
		}
		if err := b.db.DeleteWebhook(b.ctx, w.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
		if ds, _ := b.db.ListDeliveries(b.ctx, store.ListDeliveriesParams{}); len(ds) != 0 {
			t.Fatalf("%d deliveries left after delete", len(ds))
		}
		if _, err := b.db.SetWebhookEnabled(b.ctx, w.ID, true, "", t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("enable deleted: %v", err)
		}
		ping := store.NewEvent{Type: store.PingEventType, Payload: []byte(`{"type":"ping","webhookId":"x"}`), WebhookID: w.ID}
		if _, err := b.db.EmitEvents(b.ctx, []store.NewEvent{ping}, t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("ping deleted: %v", err)
		}
		off := b.webhook(t, "off", "device.created")
		if _, err := b.db.SetWebhookEnabled(b.ctx, off.ID, false, "paused", t0); err != nil {
			t.Fatal(err)
		}
		ping.WebhookID = off.ID
		if _, err := b.db.EmitEvents(b.ctx, []store.NewEvent{ping}, t0); !errors.Is(err, store.ErrWebhookDisabled) {
			t.Fatalf("ping disabled: %v", err)
		}
	})
}

func TestDB_Listings_OrderAndFilters(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		a := b.webhook(t, "a", "recording.imported", "device.created")
		b.webhook(t, "b", "device.created")
		for i := range 3 {
			evs := []store.NewEvent{
				{Type: "recording.imported", Payload: []byte(`{"type":"recording.imported","recordingId":"r"}`)},
				{Type: "device.created", Payload: []byte(`{"type":"device.created","deviceId":"d"}`)},
			}
			if _, err := b.db.EmitEvents(b.ctx, evs, t0.Add(time.Duration(i)*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		evs, err := b.db.ListEvents(b.ctx, store.ListEventsParams{Type: "device.created", Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 || !evs[0].CreatedAt.Equal(t0.Add(2*time.Second)) || evs[0].Type != "device.created" {
			t.Fatalf("events %+v", evs)
		}
		// Newest first; events emitted together (one created_at) in reverse
		// order of emission, on both stores.
		all, _ := b.db.ListEvents(b.ctx, store.ListEventsParams{})
		var got []string
		for _, e := range all {
			got = append(got, fmt.Sprintf("%d:%s", e.CreatedAt.Sub(t0)/time.Second, e.Type))
		}
		want := "2:device.created 2:recording.imported 1:device.created 1:recording.imported 0:device.created 0:recording.imported"
		if strings.Join(got, " ") != want {
			t.Fatalf("events listed as %v, want %s", got, want)
		}
		e, err := b.db.GetEvent(b.ctx, evs[0].ID)
		if err != nil || string(e.Payload) != `{"type":"device.created","deviceId":"d"}` || !e.Timestamp.Equal(e.CreatedAt) {
			t.Fatalf("event %+v (%v)", e, err)
		}
		if _, err := b.db.GetEvent(b.ctx, "whev_nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get missing event: %v", err)
		}
		ds, _ := b.db.ListDeliveries(b.ctx, store.ListDeliveriesParams{WebhookID: a.ID, Type: "device.created", Since: t0.Add(time.Second)})
		if len(ds) != 2 {
			t.Fatalf("filtered deliveries %d, want 2", len(ds))
		}
		ds, _ = b.db.ListDeliveries(b.ctx, store.ListDeliveriesParams{EventID: evs[0].ID, Status: store.StatusPending, Limit: 1})
		if len(ds) != 1 || ds[0].EventID != evs[0].ID {
			t.Fatalf("by event %+v", ds)
		}
		if _, err := b.db.GetDelivery(b.ctx, "whd_nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get missing delivery: %v", err)
		}
		if _, err := b.db.RetryDeliveries(b.ctx, []string{ds[0].ID, "whd_nope"}, t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("retry missing delivery: %v", err)
		}
	})
}

func TestDB_StatsNextWakePrune(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		if _, ok, err := b.db.NextWake(b.ctx); err != nil || ok {
			t.Fatalf("empty queue: ok=%v err=%v", ok, err)
		}
		w := b.webhook(t, "a", "recording.imported")
		b.emit(t, "recording.imported", 3)
		next, ok, err := b.db.NextWake(b.ctx)
		if err != nil || !ok || !next.Equal(t0) {
			t.Fatalf("next wake %v %v %v, want %v", next, ok, err, t0)
		}
		got, _ := b.db.ClaimDeliveries(b.ctx, store.ClaimParams{Owner: "w", Now: t0, Lease: time.Minute, Limit: 3})
		if next, _, _ := b.db.NextWake(b.ctx); !next.Equal(t0.Add(time.Minute)) {
			t.Fatalf("next wake %v, want the lease expiry %v", next, t0.Add(time.Minute))
		}
		cs := []store.Completion{
			{ID: got[0].ID, WebhookID: w.ID, Attempt: 1, AttemptedAt: t0, Duration: 10 * time.Millisecond, StatusCode: 200, Status: store.StatusSucceeded},
			{ID: got[1].ID, WebhookID: w.ID, Attempt: 1, AttemptedAt: t0.Add(time.Second), Duration: 30 * time.Millisecond, StatusCode: 200, Status: store.StatusSucceeded},
			{ID: got[2].ID, WebhookID: w.ID, Attempt: 1, AttemptedAt: t0.Add(2 * time.Second), Duration: 20 * time.Millisecond, StatusCode: 500,
				ErrorCode: "http_status", Error: "HTTP 500", ResponseBody: "no\x00pe", Status: store.StatusFailed},
		}
		if res, err := b.db.CompleteDeliveries(b.ctx, store.CompleteParams{Owner: "w", Now: t0}, cs); err != nil || res.Applied != 3 {
			t.Fatalf("complete %+v %v", res, err)
		}
		d, err := b.db.GetDelivery(b.ctx, got[2].ID)
		if err != nil {
			t.Fatal(err)
		}
		// PostgreSQL TEXT cannot hold NUL: it is stored as U+FFFD.
		wantBody := map[string]string{"sqlite": "no\x00pe", "postgres": "no\uFFFDpe"}[b.backend]
		if len(d.AttemptLog) != 1 || d.AttemptLog[0].ResponseBody != wantBody || d.AttemptLog[0].ErrorCode != "http_status" {
			t.Fatalf("attempt log %+v", d.AttemptLog)
		}
		st, err := b.db.GetWebhookStats(b.ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if st.ByStatus[store.StatusSucceeded] != 2 || st.ByStatus[store.StatusFailed] != 1 || st.ByStatus[store.StatusPending] != 0 ||
			st.RecentAttempts != 3 || st.P50 != 20*time.Millisecond || st.P95 != 20*time.Millisecond ||
			st.LastError != "HTTP 500" || !st.LastErrorAt.Equal(t0.Add(2*time.Second)) || fmt.Sprintf("%.3f", st.SuccessRate) != "0.667" {
			t.Fatalf("stats %+v", st)
		}
		if _, ok, _ := b.db.NextWake(b.ctx); ok {
			t.Fatal("next wake with nothing due or leased")
		}
		// Completed at t0+10ms, t0+1.03s and t0+2.02s.
		n, err := b.db.PruneDeliveries(b.ctx, t0.Add(1500*time.Millisecond))
		if err != nil || n != 2 {
			t.Fatalf("pruned %d (%v), want 2", n, err)
		}
		evs, _ := b.db.ListEvents(b.ctx, store.ListEventsParams{})
		ds, _ := b.db.ListDeliveries(b.ctx, store.ListDeliveriesParams{})
		if len(evs) != 1 || len(ds) != 1 || ds[0].ID != got[2].ID || ds[0].EventID != evs[0].ID {
			t.Fatalf("after prune: %d events, deliveries %+v", len(evs), ds)
		}
	})
}

func TestDB_OldestDue(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		if _, ok, err := b.db.OldestDue(b.ctx); err != nil || ok {
			t.Fatalf("empty queue: ok=%v err=%v", ok, err)
		}
		w := b.webhook(t, "a", "recording.imported")
		off := b.webhook(t, "off", "recording.deleted")
		b.emit(t, "recording.imported", 2)
		got, err := b.db.ClaimDeliveries(b.ctx, store.ClaimParams{Owner: "w", Now: t0, Lease: time.Minute, Limit: 1})
		if err != nil || len(got) != 1 {
			t.Fatalf("claim %d: %v", len(got), err)
		}
		// One pending since t0, one delivering: the pending one is the oldest.
		if at, ok, err := b.db.OldestDue(b.ctx); err != nil || !ok || !at.Equal(t0) {
			t.Fatalf("oldest due %v %v %v, want %v", at, ok, err, t0)
		}
		// A retry scheduled later than the pending one does not count first.
		retryAt := t0.Add(time.Hour)
		cs := []store.Completion{{ID: got[0].ID, WebhookID: w.ID, Attempt: 1, AttemptedAt: t0, StatusCode: 500, ErrorCode: "http_status",
			Error: "HTTP 500", Status: store.StatusRetrying, NextAttemptAt: retryAt}}
		if _, err := b.db.CompleteDeliveries(b.ctx, store.CompleteParams{Owner: "w", Now: t0}, cs); err != nil {
			t.Fatal(err)
		}
		if at, _, _ := b.db.OldestDue(b.ctx); !at.Equal(t0) {
			t.Fatalf("oldest due %v, want %v", at, t0)
		}
		// A disabled webhook's deliveries wait for "webhook enable", not a worker.
		earlier := t0.Add(-time.Minute)
		if _, err := b.db.EmitEvents(b.ctx, []store.NewEvent{{Type: "recording.deleted", Payload: []byte(`{}`)}}, earlier); err != nil {
			t.Fatal(err)
		}
		if at, _, _ := b.db.OldestDue(b.ctx); !at.Equal(earlier) {
			t.Fatalf("oldest due %v, want the enabled webhook's %v", at, earlier)
		}
		if _, err := b.db.SetWebhookEnabled(b.ctx, off.ID, false, "test", t0); err != nil {
			t.Fatal(err)
		}
		if at, _, _ := b.db.OldestDue(b.ctx); !at.Equal(t0) {
			t.Fatalf("oldest due %v with the webhook disabled, want %v", at, t0)
		}
		if _, err := b.db.SetWebhookEnabled(b.ctx, w.ID, false, "test", t0); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := b.db.OldestDue(b.ctx); err != nil || ok {
			t.Fatalf("all webhooks disabled: ok=%v err=%v", ok, err)
		}
	})
}

func TestOpen_PostgresErrors(t *testing.T) {
	base := pgtest.URL()
	if base == "" {
		t.Skip("PostgreSQL tests need " + pgtest.EnvURL)
	}
	t.Parallel()
	ctx := context.Background()
	t.Run("names the server without the password", func(t *testing.T) {
		// Nothing listens on port 1.
		_, err := store.Open(ctx, "postgres://fgwh:s3cret@127.0.0.1:1/fgwh?sslmode=disable&connect_timeout=5")
		if err == nil || !strings.Contains(err.Error(), "database postgres://fgwh@127.0.0.1:1/fgwh") || strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("err = %v, want one naming postgres://fgwh@127.0.0.1:1/fgwh and no password", err)
		}
		_, err = store.Open(ctx, "postgres://fgwh@127.0.0.1:1/fgwh?password=s3cret&sslmode=disable&connect_timeout=5")
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("err = %v, want one without the password", err)
		}
	})
	t.Run("search_path names no schema", func(t *testing.T) {
		dsn, err := pgtest.WithSearchPath(base, "fgwh_test_missing")
		if err != nil {
			t.Fatal(err)
		}
		_, err = store.Open(ctx, dsn)
		if err == nil || !strings.Contains(err.Error(), "search_path names no existing schema") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("tables of another program", func(t *testing.T) {
		b := setupBackend(t, "postgres")
		if err := b.db.ExecForTest(ctx, "DROP TABLE fgwh_schema_version"); err != nil {
			t.Fatal(err)
		}
		_, err := store.Open(ctx, b.dsn)
		if err == nil || !strings.Contains(err.Error(), "not an fgwh database") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestDB_Watch_PostgresReconnectsAfterConnectionLoss(t *testing.T) {
	b := setupPostgres(t)
	b.webhook(t, "a", "recording.imported")
	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	wake := b.db.Watch(ctx, 50*time.Millisecond)
	other := b.open(t)
	u, err := url.Parse(b.dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := u.Query().Get("search_path")
	// listener returns the pid of the watcher's connection, 0 while there is none.
	listener := func() int {
		t.Helper()
		pid, err := other.QueryIntForTest(b.ctx, `SELECT coalesce(max(pid), 0) FROM pg_stat_activity
			WHERE application_name = 'fgwh listen `+schema+`'`)
		if err != nil {
			t.Fatal(err)
		}
		return pid
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !ok(); {
			if time.Now().After(deadline) {
				t.Fatalf("no %s after 20s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	var pid int
	waitFor("listener", func() bool { pid = listener(); return pid != 0 })
	if _, err := other.QueryIntForTest(b.ctx, fmt.Sprintf(`SELECT count(*) FROM (SELECT pg_terminate_backend(%d)) t`, pid)); err != nil {
		t.Fatal(err)
	}
	waitFor("new listener", func() bool { p := listener(); return p != 0 && p != pid })
	// Listening again: every emit wakes the watcher. (The first wake may be
	// the one a reconnect sends for what it missed; the others are not.)
	for i := range 3 {
		for len(wake) > 0 {
			<-wake
		}
		ev := store.NewEvent{Type: "recording.imported", Payload: []byte(`{"type":"recording.imported","recordingId":"r"}`)}
		if _, err := other.EmitEvents(b.ctx, []store.NewEvent{ev}, t0); err != nil {
			t.Fatal(err)
		}
		select {
		case <-wake:
		case <-time.After(10 * time.Second):
			t.Fatalf("emit %d after the reconnect did not wake the watcher", i+1)
		}
	}
}

func TestDB_CompleteDeliveries_SameDeliveryTwiceInABatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		b.webhook(t, "a", "recording.imported")
		b.emit(t, "recording.imported", 2)
		got, _ := b.db.ClaimDeliveries(b.ctx, store.ClaimParams{Owner: "w", Now: t0, Lease: time.Minute, Limit: 2})
		c := got[0]
		done := store.Completion{ID: c.ID, WebhookID: c.WebhookID, Attempt: 1, AttemptedAt: t0, StatusCode: 200, Status: store.StatusSucceeded}
		stale := store.Completion{ID: got[1].ID, WebhookID: c.WebhookID, Attempt: 2, AttemptedAt: t0, StatusCode: 200, Status: store.StatusSucceeded}
		res, err := b.db.CompleteDeliveries(b.ctx, store.CompleteParams{Owner: "w", Now: t0}, []store.Completion{done, done, stale})
		if err != nil {
			t.Fatal(err)
		}
		if res.Applied != 1 || strings.Join(res.Lost, ",") != c.ID+","+got[1].ID {
			t.Fatalf("result %+v, want 1 applied and %s, %s lost", res, c.ID, got[1].ID)
		}
		d, _ := b.db.GetDelivery(b.ctx, c.ID)
		if d.Status != store.StatusSucceeded || len(d.AttemptLog) != 1 {
			t.Fatalf("delivery %+v", d)
		}
		if _, err := b.db.CompleteDeliveries(b.ctx, store.CompleteParams{Owner: "w", Now: t0},
			[]store.Completion{{ID: got[1].ID, WebhookID: c.WebhookID, Attempt: 1, Status: "bogus"}}); err == nil || !strings.Contains(err.Error(), `bad status "bogus"`) {
			t.Fatalf("bad status: %v", err)
		}
	})
}

func TestDB_RescueExpired_ConcurrentRescuers(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		b.webhook(t, "a", "recording.imported")
		b.emit(t, "recording.imported", 300)
		for {
			got, err := b.db.ClaimDeliveries(b.ctx, store.ClaimParams{Owner: "dead", Now: t0, Lease: time.Second, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 {
				break
			}
		}
		// Every process rescues; each expired lease must be rescued once.
		dbs := []*store.DB{b.open(t), b.open(t), b.open(t)}
		rescued := make([]int, len(dbs))
		errs := make([]error, len(dbs))
		var wg sync.WaitGroup
		for i, db := range dbs {
			wg.Go(func() {
				for {
					n, err := db.RescueExpired(b.ctx, t0.Add(time.Minute))
					if err != nil || n == 0 {
						errs[i] = err
						return
					}
					rescued[i] += n
				}
			})
		}
		wg.Wait()
		total := 0
		for i := range dbs {
			if errs[i] != nil {
				t.Fatalf("rescuer %d: %v", i, errs[i])
			}
			total += rescued[i]
		}
		if total != 300 {
			t.Fatalf("rescued %v = %d, want 300 in all", rescued, total)
		}
		c, _ := b.db.QueueCounts(b.ctx)
		if c[store.StatusRetrying] != 300 {
			t.Fatalf("counts %v", c)
		}
	})
}

func TestDB_Watch_PostgresPollsWhileItCannotListen(t *testing.T) {
	b := setupPostgres(t)
	db := b.open(t)
	db.BreakListenForTest()
	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	wake := db.Watch(ctx, time.Millisecond)
	// Nothing is emitted: the wakes are the fallback's polls.
	for i := range 3 {
		select {
		case <-wake:
		case <-time.After(10 * time.Second):
			t.Fatalf("wake %d did not come while LISTEN was down", i+1)
		}
	}
}
