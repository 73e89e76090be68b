package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fgwh/fgwh/store"
	"github.com/fgwh/fgwh/store/pgtest"
)

var t0 = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

type testBundle struct {
	db *store.DB
	// backend is "sqlite" or "postgres".
	backend string
	// dsn is what store.Open was given: a file path or a postgres:// URL.
	dsn string
	// path is the SQLite file ("" on PostgreSQL).
	path string
	ctx  context.Context
}

// backends are the stores the conformance tests run against.
var backends = []string{"sqlite", "postgres"}

// forEachStore runs fn against every store, as parallel subtests named
// after the backend, each with a fresh database: a SQLite file in a temp
// directory, or its own schema on the PostgreSQL server named by
// FGWH_TEST_POSTGRES_URL (the postgres subtest skips when that is unset).
func forEachStore(t *testing.T, fn func(t *testing.T, b *testBundle)) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			fn(t, setupBackend(t, backend))
		})
	}
}

// setup opens a fresh SQLite store, for tests of SQLite alone.
func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupBackend(t, "sqlite")
}

func setupBackend(t testing.TB, backend string) *testBundle {
	t.Helper()
	b := &testBundle{backend: backend, dsn: newDSN(t, backend), ctx: context.Background()}
	if backend == "sqlite" {
		b.path = b.dsn
	}
	b.db = b.open(t)
	return b
}

// open opens another handle on b's database, closed when the test ends.
func (b *testBundle) open(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(b.ctx, b.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newDSN names a new, empty database for backend.
func newDSN(t testing.TB, backend string) string {
	t.Helper()
	switch backend {
	case "sqlite":
		return filepath.Join(t.TempDir(), "sub", "fgwh.db")
	case "postgres":
		base := pgtest.URL()
		if base == "" {
			t.Skip("PostgreSQL tests need " + pgtest.EnvURL)
		}
		dsn, drop, err := pgtest.NewSchema(context.Background(), base)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := drop(); err != nil {
				t.Error(err)
			}
		})
		return dsn
	}
	t.Fatalf("unknown backend %q", backend)
	return ""
}

func (b *testBundle) webhook(t testing.TB, name string, types ...string) store.Webhook {
	t.Helper()
	w, _, err := b.db.CreateWebhook(b.ctx, store.CreateWebhookParams{Name: name, URL: "https://example.com/" + name, EventTypes: types}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (b *testBundle) emit(t testing.TB, typ string, n int) []store.Emitted {
	t.Helper()
	evs := make([]store.NewEvent, n)
	for i := range evs {
		evs[i] = store.NewEvent{Type: typ, Payload: []byte(`{"type":"` + typ + `","recordingId":"r"}`)}
	}
	out, err := b.db.EmitEvents(b.ctx, evs, t0)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestOpen_CreatesPrivateFileAndDirectory(t *testing.T) {
	b := setup(t)
	fi, err := os.Stat(b.path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode = %o, want 600", got)
	}
	di, err := os.Stat(filepath.Dir(b.path))
	if err != nil {
		t.Fatal(err)
	}
	if got := di.Mode().Perm(); got != 0o700 {
		t.Errorf("dir mode = %o, want 700", got)
	}
	b.webhook(t, "a", "recording.imported")
	for _, suffix := range []string{"-wal", "-shm"} {
		fi, err := os.Stat(b.path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s mode = %o, want 600", suffix, got)
		}
	}
}

func TestOpen_Refuses(t *testing.T) {
	ctx := context.Background()
	t.Run("garbage", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "garbage.db")
		if err := os.WriteFile(path, []byte(strings.Repeat("not a database ", 500)), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := store.Open(ctx, path)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a database") {
			t.Fatalf("err = %v, want one naming %s and saying it is not a database", err, path)
		}
	})
	t.Run("directory cannot be created", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := store.Open(ctx, filepath.Join(file, "db", "fgwh.db"))
		if err == nil || !strings.Contains(err.Error(), "create database directory") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestOpen_RefusesNewerSchema(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		bump := map[string]string{
			"sqlite":   "PRAGMA user_version = 99",
			"postgres": "INSERT INTO fgwh_schema_version (version, name, applied_at) VALUES (99, '099_future.sql', 0)",
		}[b.backend]
		if err := b.db.ExecForTest(b.ctx, bump); err != nil {
			t.Fatal(err)
		}
		_, err := store.Open(b.ctx, b.dsn)
		if !errors.Is(err, store.ErrNewerSchema) || !strings.Contains(err.Error(), "schema version 99") {
			t.Fatalf("err = %v, want ErrNewerSchema naming version 99", err)
		}
	})
}

func TestDB_EmitEvents_FansOutToEnabledSubscribers(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		a := b.webhook(t, "a", "recording.imported", "device.created")
		b.webhook(t, "b", "device.created")
		off := b.webhook(t, "off", "recording.imported")
		if _, err := b.db.SetWebhookEnabled(b.ctx, off.ID, false, "test", t0); err != nil {
			t.Fatal(err)
		}
		out := b.emit(t, "recording.imported", 3)
		for _, e := range out {
			if e.Deliveries != 1 {
				t.Fatalf("deliveries = %d, want 1", e.Deliveries)
			}
		}
		ds, err := b.db.ListDeliveries(b.ctx, store.ListDeliveriesParams{})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 3 {
			t.Fatalf("got %d deliveries, want 3", len(ds))
		}
		for _, d := range ds {
			if d.WebhookID != a.ID || d.Status != store.StatusPending || !d.NextAttemptAt.Equal(t0) {
				t.Errorf("delivery %+v", d)
			}
		}
		if got := b.emit(t, "device.created", 1)[0].Deliveries; got != 2 {
			t.Errorf("device.created deliveries = %d, want 2", got)
		}
	})
}

// TestDB_EmitEvents_Batch emits more events than fit in two full
// multi-row INSERTs, so that the prepared full-size statement (on SQLite
// run through the driver directly) and the short tail both run, and
// checks every stored event and delivery against what was emitted.
func TestDB_EmitEvents_Batch(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		a := b.webhook(t, "a", "recording.imported", "device.created")
		c := b.webhook(t, "c", "recording.imported")
		const n = 350
		evs := make([]store.NewEvent, n)
		for i := range evs {
			typ := "recording.imported"
			if i%7 == 0 {
				typ = "device.created"
			}
			evs[i] = store.NewEvent{Type: typ, Timestamp: t0.Add(-time.Duration(i) * time.Second),
				Payload: fmt.Appendf(nil, `{"type":%q,"n":%d,"s":"quote \" é"}`, typ, i)}
			if i%3 == 0 {
				evs[i].IdempotencyKey = fmt.Sprintf("key-%d", i)
			}
		}
		out, err := b.db.EmitEvents(b.ctx, evs, t0)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]store.NewEvent{}
		for i, em := range out {
			want[em.Event.ID] = evs[i]
		}
		if len(want) != n {
			t.Fatalf("%d distinct event ids, want %d", len(want), n)
		}
		stored, err := b.db.ListEvents(b.ctx, store.ListEventsParams{})
		if err != nil {
			t.Fatal(err)
		}
		if len(stored) != n {
			t.Fatalf("%d events stored, want %d", len(stored), n)
		}
		for _, e := range stored {
			w, ok := want[e.ID]
			if !ok || e.Type != w.Type || !e.Timestamp.Equal(w.Timestamp) || string(e.Payload) != string(w.Payload) || e.IdempotencyKey != w.IdempotencyKey {
				t.Fatalf("stored %+v (payload %s), emitted %+v (payload %s)", e, e.Payload, w, w.Payload)
			}
		}
		ds, err := b.db.ListDeliveries(b.ctx, store.ListDeliveriesParams{})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]string{} // event id → webhook ids
		for _, d := range ds {
			if w := want[d.EventID]; d.EventType != w.Type || d.Status != store.StatusPending {
				t.Fatalf("delivery %+v of an event of type %q", d, w.Type)
			}
			got[d.EventID] = append(got[d.EventID], d.WebhookID)
		}
		for id, w := range want {
			targets := []string{a.ID}
			if w.Type == "recording.imported" {
				targets = append(targets, c.ID)
			}
			slices.Sort(targets)
			slices.Sort(got[id])
			if !slices.Equal(got[id], targets) {
				t.Fatalf("event %s (%s): deliveries to %v, want %v", id, w.Type, got[id], targets)
			}
		}
	})
}

// TestDB_EmitStream emits batches in one transaction: a key repeated in a
// later batch is a duplicate, ids ascend across batches (SQLite takes them
// from successive shares of the id space), and an error from next, after
// batches were stored, leaves nothing and comes back as it is.
func TestDB_EmitStream(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		b.webhook(t, "a", "recording.imported")
		batch := func(from, n int) []store.NewEvent {
			evs := make([]store.NewEvent, n)
			for i := range evs {
				evs[i] = store.NewEvent{Type: "recording.imported", Payload: fmt.Appendf(nil, `{"type":"recording.imported","recordingId":"r%d"}`, from+i)}
			}
			evs[0].IdempotencyKey = fmt.Sprintf("key-%d", from%400)
			return evs
		}
		stream := func(batches [][]store.NewEvent, fail error) func() ([]store.NewEvent, error) {
			return func() ([]store.NewEvent, error) {
				if len(batches) == 0 {
					return nil, fail
				}
				evs := batches[0]
				batches = batches[1:]
				return evs, nil
			}
		}
		boom := errors.New("line 900: boom")
		_, err := b.db.EmitStream(b.ctx, 1000, stream([][]store.NewEvent{batch(0, 300), batch(300, 300)}, boom), t0)
		if err != boom {
			t.Fatalf("failing stream: error %v, want %v as it is", err, boom)
		}
		if evs, dls := countRows(t, b.db, b.ctx); evs != 0 || dls != 0 {
			t.Fatalf("after the failing stream: %d events and %d deliveries, want none", evs, dls)
		}
		// key-0 comes again in the third batch (800 % 400 == 0).
		c, err := b.db.EmitStream(b.ctx, 1000, stream([][]store.NewEvent{batch(0, 300), batch(300, 300), batch(800, 200)}, nil), t0)
		if err != nil {
			t.Fatal(err)
		}
		if want := (store.EmitCounts{Events: 799, Deliveries: 799, Duplicates: 1}); c != want {
			t.Fatalf("counts %+v, want %+v", c, want)
		}
		stored, err := b.db.ListEvents(b.ctx, store.ListEventsParams{})
		if err != nil {
			t.Fatal(err)
		}
		if len(stored) != 799 {
			t.Fatalf("%d events stored, want 799", len(stored))
		}
		if b.db.Dialect() == store.SQLite {
			// Newest first is rowid order descending: ids descend too.
			for i := 1; i < len(stored); i++ {
				if stored[i].ID >= stored[i-1].ID {
					t.Fatalf("event %d (%s) does not sort before event %d (%s)", i, stored[i].ID, i-1, stored[i-1].ID)
				}
			}
		}
	})
}

func TestDB_EmitEvents_Idempotent(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		b.webhook(t, "a", "recording.imported")
		ev := store.NewEvent{Type: "recording.imported", Payload: []byte(`{"type":"recording.imported","recordingId":"r"}`), IdempotencyKey: "k1"}
		first, err := b.db.EmitEvents(b.ctx, []store.NewEvent{ev, ev}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if first[0].Duplicate || !first[1].Duplicate || first[1].Event.ID != first[0].Event.ID || first[1].Deliveries != 0 {
			t.Fatalf("in-batch duplicate: %+v", first)
		}
		again, err := b.db.EmitEvents(b.ctx, []store.NewEvent{ev}, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if !again[0].Duplicate || again[0].Event.ID != first[0].Event.ID {
			t.Fatalf("repeat: %+v", again)
		}
		ds, _ := b.db.ListDeliveries(b.ctx, store.ListDeliveriesParams{})
		if len(ds) != 1 {
			t.Fatalf("%d deliveries, want 1", len(ds))
		}
	})
}

func TestDB_ClaimComplete(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		w := b.webhook(t, "a", "recording.imported")
		b.emit(t, "recording.imported", 5)
		p := store.ClaimParams{Owner: "w1", Now: t0, Lease: 15 * time.Second, Limit: 3}
		got, err := b.db.ClaimDeliveries(b.ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("claimed %d, want 3", len(got))
		}
		c := got[0]
		if c.Attempt != 1 || c.URL != w.URL || !strings.HasPrefix(c.Token, "whsec_") || string(c.Payload) != `{"type":"recording.imported","recordingId":"r"}` {
			t.Fatalf("claimed %+v", c)
		}
		// A second owner gets only what is left.
		p2 := p
		p2.Owner, p2.Limit = "w2", 10
		rest, err := b.db.ClaimDeliveries(b.ctx, p2)
		if err != nil || len(rest) != 2 {
			t.Fatalf("second claim: %d, %v", len(rest), err)
		}
		res, err := b.db.CompleteDeliveries(b.ctx, store.CompleteParams{Owner: "w1", Now: t0}, []store.Completion{
			{ID: c.ID, WebhookID: c.WebhookID, Attempt: 1, AttemptedAt: t0, Duration: 12 * time.Millisecond, StatusCode: 200, Status: store.StatusSucceeded},
			{ID: got[1].ID, WebhookID: c.WebhookID, Attempt: 1, AttemptedAt: t0, StatusCode: 500, ErrorCode: "http_status", Error: "HTTP 500", Status: store.StatusRetrying, NextAttemptAt: t0.Add(5 * time.Second)},
			// w2's claim: w1 cannot complete it.
			{ID: rest[0].ID, WebhookID: c.WebhookID, Attempt: 1, AttemptedAt: t0, StatusCode: 200, Status: store.StatusSucceeded},
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Applied != 2 || len(res.Lost) != 1 || res.Lost[0] != rest[0].ID {
			t.Fatalf("result %+v", res)
		}
		d, err := b.db.GetDelivery(b.ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != store.StatusSucceeded || d.CompletedAt.IsZero() || len(d.AttemptLog) != 1 || d.AttemptLog[0].Duration != 12*time.Millisecond {
			t.Fatalf("delivery %+v", d)
		}
		d, _ = b.db.GetDelivery(b.ctx, got[1].ID)
		if d.Status != store.StatusRetrying || !d.NextAttemptAt.Equal(t0.Add(5*time.Second)) || d.LastStatusCode != 500 || d.LastError != "HTTP 500" {
			t.Fatalf("retrying delivery %+v", d)
		}
		// Not due before its time; due after.
		if again, _ := b.db.ClaimDeliveries(b.ctx, store.ClaimParams{Owner: "w1", Now: t0.Add(time.Second), Lease: time.Second, Limit: 10}); len(again) != 0 {
			t.Fatalf("claimed %d before due", len(again))
		}
		again, _ := b.db.ClaimDeliveries(b.ctx, store.ClaimParams{Owner: "w1", Now: t0.Add(5 * time.Second), Lease: time.Second, Limit: 10})
		if len(again) != 1 || again[0].Attempt != 2 {
			t.Fatalf("re-claim %+v", again)
		}
	})
}

// TestDB_CompleteDeliveries_Row checks that a completion finds its
// delivery by Claimed.Row, and that a Row that names another delivery's row
// (as after a VACUUM renumbered them) neither touches that delivery nor
// loses the completion.
func TestDB_CompleteDeliveries_Row(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		b.webhook(t, "a", "recording.imported")
		b.emit(t, "recording.imported", 3)
		got, err := b.db.ClaimDeliveries(b.ctx, store.ClaimParams{Owner: "w1", Now: t0, Lease: time.Minute, Limit: 3})
		if err != nil || len(got) != 3 {
			t.Fatalf("claimed %d, %v", len(got), err)
		}
		if b.backend == "sqlite" && (got[0].Row == 0 || got[0].Row == got[1].Row) {
			t.Fatalf("rows %d, %d: want distinct rows on SQLite", got[0].Row, got[1].Row)
		}
		done := func(c store.Claimed, row int64) store.Completion {
			return store.Completion{ID: c.ID, Row: row, WebhookID: c.WebhookID, Attempt: c.Attempt, AttemptedAt: t0,
				StatusCode: 200, Status: store.StatusSucceeded}
		}
		res, err := b.db.CompleteDeliveries(b.ctx, store.CompleteParams{Owner: "w1", Now: t0},
			[]store.Completion{done(got[0], got[0].Row), done(got[1], got[2].Row)})
		if err != nil || res.Applied != 2 {
			t.Fatalf("applied %d, %v; want 2", res.Applied, err)
		}
		for i, want := range []string{store.StatusSucceeded, store.StatusSucceeded, store.StatusDelivering} {
			d, err := b.db.GetDelivery(b.ctx, got[i].ID)
			if err != nil || d.Status != want {
				t.Errorf("delivery %d: %q, %v; want %q", i, d.Status, err, want)
			}
		}
	})
}

// TestDB_CompleteAndClaim checks that the claim made with a batch of
// completions sees what they did: a webhook they disabled has nothing
// claimed, the other webhook's due deliveries are.
func TestDB_CompleteAndClaim(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		gone := b.webhook(t, "gone", "recording.imported").ID
		b.webhook(t, "live", "recording.imported")
		b.emit(t, "recording.imported", 3)
		p := store.ClaimParams{Owner: "w1", Now: t0, Lease: time.Minute, Limit: 2, PerWebhook: 1}
		got, err := b.db.ClaimDeliveries(b.ctx, p)
		if err != nil || len(got) != 2 {
			t.Fatalf("claimed %d, %v; want 2", len(got), err)
		}
		var cs []store.Completion
		for _, c := range got {
			comp := store.Completion{ID: c.ID, Row: c.Row, WebhookID: c.WebhookID, Attempt: c.Attempt, AttemptedAt: t0,
				StatusCode: 200, Status: store.StatusSucceeded}
			if c.WebhookID == gone {
				comp.StatusCode, comp.Status, comp.DisableWebhook = 410, store.StatusFailed, "gone"
			}
			cs = append(cs, comp)
		}
		p.Limit = 10
		res, again, err := b.db.CompleteAndClaim(b.ctx, store.CompleteParams{Owner: "w1", Now: t0}, cs, p)
		if err != nil {
			t.Fatal(err)
		}
		if res.Applied != 2 || res.Disabled[gone] != "gone" {
			t.Fatalf("completion result %+v", res)
		}
		if len(again) != 1 || again[0].WebhookID == gone || again[0].Attempt != 1 {
			t.Fatalf("claimed %+v; want one delivery of the live webhook", again)
		}
	})
}

func TestDB_ClaimDeliveries_PerWebhookCap(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		slow := b.webhook(t, "slow", "recording.imported")
		b.emit(t, "recording.imported", 50)
		fast := b.webhook(t, "fast", "device.created")
		evs := []store.NewEvent{{Type: "device.created", Payload: []byte(`{"type":"device.created","deviceId":"d"}`)}}
		if _, err := b.db.EmitEvents(b.ctx, evs, t0.Add(time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		got, err := b.db.ClaimDeliveries(b.ctx, store.ClaimParams{Owner: "w", Now: t0.Add(time.Second), Lease: time.Minute, Limit: 10, PerWebhook: 4,
			InFlight: map[string]int{slow.ID: 1}})
		if err != nil {
			t.Fatal(err)
		}
		per := map[string]int{}
		for _, c := range got {
			per[c.WebhookID]++
		}
		if per[slow.ID] != 3 || per[fast.ID] != 1 {
			t.Fatalf("claimed per webhook %v, want slow 3 and fast 1", per)
		}
	})
}

func TestDB_RescueExpired(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		b.webhook(t, "a", "recording.imported")
		b.emit(t, "recording.imported", 2)
		got, _ := b.db.ClaimDeliveries(b.ctx, store.ClaimParams{Owner: "dead", Now: t0, Lease: 10 * time.Second, Limit: 2})
		if n, err := b.db.RescueExpired(b.ctx, t0.Add(9*time.Second)); err != nil || n != 0 {
			t.Fatalf("rescued %d before expiry (%v)", n, err)
		}
		if n, err := b.db.RescueExpired(b.ctx, t0.Add(10*time.Second)); err != nil || n != 2 {
			t.Fatalf("rescued %d, want 2 (%v)", n, err)
		}
		d, _ := b.db.GetDelivery(b.ctx, got[0].ID)
		if d.Status != store.StatusRetrying || len(d.AttemptLog) != 1 || d.AttemptLog[0].ErrorCode != store.ErrorCodeAbandoned {
			t.Fatalf("rescued delivery %+v", d)
		}
		again, _ := b.db.ClaimDeliveries(b.ctx, store.ClaimParams{Owner: "w", Now: t0.Add(10 * time.Second), Lease: time.Second, Limit: 5})
		if len(again) != 2 || again[0].Attempt != 2 {
			t.Fatalf("re-claim %+v", again)
		}
		// The dead owner's late completion does not apply.
		res, _ := b.db.CompleteDeliveries(b.ctx, store.CompleteParams{Owner: "dead", Now: t0}, []store.Completion{
			{ID: got[0].ID, WebhookID: got[0].WebhookID, Attempt: 1, AttemptedAt: t0, Status: store.StatusSucceeded}})
		if res.Applied != 0 {
			t.Fatalf("late completion applied")
		}
	})
}

func TestDB_ReleaseAndExtend(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		b.webhook(t, "a", "recording.imported")
		b.emit(t, "recording.imported", 2)
		got, _ := b.db.ClaimDeliveries(b.ctx, store.ClaimParams{Owner: "w", Now: t0, Lease: 10 * time.Second, Limit: 2})
		if n, err := b.db.ExtendLeases(b.ctx, "w", t0.Add(time.Minute)); err != nil || n != 2 {
			t.Fatalf("extended %d (%v)", n, err)
		}
		if n, _ := b.db.RescueExpired(b.ctx, t0.Add(30*time.Second)); n != 0 {
			t.Fatalf("rescued %d despite extension", n)
		}
		if n, err := b.db.ReleaseDeliveries(b.ctx, "w", []string{got[0].ID, got[1].ID}); err != nil || n != 2 {
			t.Fatalf("released %d (%v)", n, err)
		}
		d, _ := b.db.GetDelivery(b.ctx, got[0].ID)
		if d.Status != store.StatusPending || d.Attempts != 0 {
			t.Fatalf("released delivery %+v", d)
		}
	})
}

func TestDB_RetryAndAutoDisable(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		w := b.webhook(t, "a", "recording.imported")
		b.emit(t, "recording.imported", 3)
		got, _ := b.db.ClaimDeliveries(b.ctx, store.ClaimParams{Owner: "w", Now: t0, Lease: time.Minute, Limit: 3})
		var cs []store.Completion
		for _, c := range got {
			cs = append(cs, store.Completion{ID: c.ID, WebhookID: c.WebhookID, Attempt: 1, AttemptedAt: t0, StatusCode: 500, Status: store.StatusFailed})
		}
		res, err := b.db.CompleteDeliveries(b.ctx, store.CompleteParams{Owner: "w", Now: t0, AutoDisableAfter: 3}, cs)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(res.Disabled[w.ID], "last 3 deliveries failed") {
			t.Fatalf("disabled %v", res.Disabled)
		}
		hw, _ := b.db.GetWebhook(b.ctx, w.ID)
		if hw.Enabled || hw.DisabledReason == "" {
			t.Fatalf("webhook %+v", hw)
		}
		ids, err := b.db.RetryFailed(b.ctx, store.RetryFailedParams{WebhookID: w.ID}, t0.Add(time.Minute))
		if err != nil || len(ids) != 3 {
			t.Fatalf("retried %v (%v)", ids, err)
		}
		// Disabled: the retried deliveries wait.
		if c, _ := b.db.ClaimDeliveries(b.ctx, store.ClaimParams{Owner: "w", Now: t0.Add(time.Hour), Lease: time.Minute, Limit: 5}); len(c) != 0 {
			t.Fatalf("claimed %d for a disabled webhook", len(c))
		}
		if _, err := b.db.SetWebhookEnabled(b.ctx, w.ID, true, "", t0); err != nil {
			t.Fatal(err)
		}
		c, _ := b.db.ClaimDeliveries(b.ctx, store.ClaimParams{Owner: "w", Now: t0.Add(time.Hour), Lease: time.Minute, Limit: 5})
		if len(c) != 3 || !c[0].Manual || c[0].Attempt != 2 {
			t.Fatalf("after enable: %+v", c)
		}
	})
}

func TestDB_ClaimDelivery(t *testing.T) {
	b := setup(t)
	w := b.webhook(t, "a", "recording.imported")
	em := b.emit(t, "recording.imported", 2)
	ds, _ := b.db.ListDeliveries(b.ctx, store.ListDeliveriesParams{EventID: em[0].Event.ID})
	id := ds[0].ID
	// Claimed at once, whatever its due time.
	p := store.ClaimOneParams{ID: id, Owner: "ping", Now: t0.Add(-time.Hour), Lease: time.Minute}
	c, ok, err := b.db.ClaimDelivery(b.ctx, p)
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if c.ID != id || c.Attempt != 1 || c.URL != w.URL || string(c.Payload) != `{"type":"recording.imported","recordingId":"r"}` {
		t.Fatalf("claimed %+v", c)
	}
	// Not twice; the other delivery is untouched.
	if _, ok, err := b.db.ClaimDelivery(b.ctx, p); ok || err != nil {
		t.Fatalf("claimed twice (%v)", err)
	}
	counts, _ := b.db.QueueCounts(b.ctx)
	if counts[store.StatusDelivering] != 1 || counts[store.StatusPending] != 1 {
		t.Fatalf("counts %v", counts)
	}
	// Not for a disabled webhook.
	if _, err := b.db.SetWebhookEnabled(b.ctx, w.ID, false, "off", t0); err != nil {
		t.Fatal(err)
	}
	ds, _ = b.db.ListDeliveries(b.ctx, store.ListDeliveriesParams{EventID: em[1].Event.ID})
	if _, ok, err := b.db.ClaimDelivery(b.ctx, store.ClaimOneParams{ID: ds[0].ID, Owner: "ping", Now: t0, Lease: time.Minute}); ok || err != nil {
		t.Fatalf("claimed a disabled webhook's delivery (%v)", err)
	}
}
