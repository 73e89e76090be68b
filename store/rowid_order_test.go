package store_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fgwh/fgwh/store"
)

// Listings that no index filters read SQLite in rowid order, with --since
// starting at a rowid found by halves: check both against created_at on
// every store, across rowid gaps.
func TestDB_ListDeliveries_SinceWithoutFilters(t *testing.T) {
	forEachStore(t, func(t *testing.T, b *testBundle) {
		b.webhook(t, "a", "recording.imported")
		b.webhook(t, "b", "recording.imported")
		for i := range 6 {
			evs := []store.NewEvent{{Type: "recording.imported", Payload: []byte(`{"type":"recording.imported","recordingId":"r"}`)}}
			if _, err := b.db.EmitEvents(b.ctx, evs, t0.Add(time.Duration(i)*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		// Gaps in rowid: the deliveries of t0+1s and t0+2s, and the first of t0+4s.
		for _, q := range []string{
			fmt.Sprintf(`DELETE FROM deliveries WHERE created_at IN (%d, %d)`, t0.Add(time.Second).UnixMilli(), t0.Add(2*time.Second).UnixMilli()),
			fmt.Sprintf(`DELETE FROM deliveries WHERE id = (SELECT min(id) FROM deliveries WHERE created_at = %d)`, t0.Add(4*time.Second).UnixMilli()),
		} {
			if err := b.db.ExecForTest(b.ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []struct {
			since time.Duration
			want  string
		}{
			{-time.Hour, "5 5 4 3 3 0 0"},
			{0, "5 5 4 3 3 0 0"},
			{time.Millisecond, "5 5 4 3 3"},
			{time.Second, "5 5 4 3 3"},
			{2500 * time.Millisecond, "5 5 4 3 3"},
			{3 * time.Second, "5 5 4 3 3"},
			{3001 * time.Millisecond, "5 5 4"},
			{5 * time.Second, "5 5"},
			{5001 * time.Millisecond, ""},
		} {
			ds, err := b.db.ListDeliveries(b.ctx, store.ListDeliveriesParams{Since: t0.Add(c.since)})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range ds {
				got = append(got, fmt.Sprint(int64(d.CreatedAt.Sub(t0)/time.Second)))
			}
			if strings.Join(got, " ") != c.want {
				t.Errorf("since t0%+v: %v, want %s", c.since, got, c.want)
			}
		}
		ds, err := b.db.ListDeliveries(b.ctx, store.ListDeliveriesParams{Since: t0.Add(3 * time.Second), Limit: 2})
		if err != nil || len(ds) != 2 || !ds[1].CreatedAt.Equal(t0.Add(5*time.Second)) {
			t.Fatalf("since with a limit: %+v %v", ds, err)
		}
	})
}

// On SQLite an emit never stores a created_at older than the newest row's,
// so rowid order stays created_at order; the queue still uses its now.
func TestDB_EmitEvents_CreatedAtNeverGoesBackOnSQLite(t *testing.T) {
	b := setup(t)
	b.webhook(t, "a", "recording.imported")
	ev := store.NewEvent{Type: "recording.imported", Payload: []byte(`{"type":"recording.imported","recordingId":"r"}`)}
	if _, err := b.db.EmitEvents(b.ctx, []store.NewEvent{ev}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	out, err := b.db.EmitEvents(b.ctx, []store.NewEvent{ev}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if e := out[0].Event; !e.CreatedAt.Equal(t0.Add(time.Minute)) || !e.Timestamp.Equal(t0) {
		t.Fatalf("late emit: created %v, timestamp %v", e.CreatedAt, e.Timestamp)
	}
	ds, err := b.db.ListDeliveries(b.ctx, store.ListDeliveriesParams{Limit: 1})
	if err != nil || len(ds) != 1 || ds[0].EventID != out[0].Event.ID || !ds[0].CreatedAt.Equal(t0.Add(time.Minute)) || !ds[0].NextAttemptAt.Equal(t0) {
		t.Fatalf("newest delivery %+v %v", ds, err)
	}
}

// Migration 5 makes created_at non-decreasing in rowid order in a
// database written before it, and drops the created_at indexes.
func TestOpen_SQLiteMigration5OrdersCreatedAt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fgwh.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for v := 1; v <= 4; v++ {
		files, _ := filepath.Glob(fmt.Sprintf("migrations/sqlite/%03d_*.sql", v))
		if len(files) != 1 {
			t.Fatalf("migration %d: %v", v, files)
		}
		body, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(string(body)); err != nil {
			t.Fatal(err)
		}
	}
	stmts := []string{
		`PRAGMA user_version = 4`,
		`INSERT INTO webhooks (id, name, url, token, created_at, updated_at) VALUES ('whk_a', 'a', 'https://example.com/a', 't', 0, 0)`,
	}
	// The third event's clock stepped back by a second.
	for i, at := range []int64{1000, 2000, 1000, 3000} {
		stmts = append(stmts,
			fmt.Sprintf(`INSERT INTO events (id, type, timestamp, payload, created_at) VALUES ('whev_%d', 'ping', %d, '{}', %d)`, i, at, at),
			fmt.Sprintf(`INSERT INTO deliveries (id, webhook_id, event_id, event_type, status, created_at, next_attempt_at) VALUES ('whd_%d', 'whk_a', 'whev_%d', 'ping', 'pending', %d, %d)`, i, i, at, at))
	}
	for _, q := range stmts {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	b := &testBundle{backend: "sqlite", dsn: path, path: path, ctx: t.Context()}
	b.db = b.open(t)
	for _, table := range []string{"events", "deliveries"} {
		var got []string
		rows, err := raw.Query(`SELECT created_at FROM ` + table + ` ORDER BY rowid`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var at string
			rows.Scan(&at)
			got = append(got, at)
		}
		rows.Close()
		if strings.Join(got, " ") != "1000 2000 2000 3000" {
			t.Errorf("%s created_at in rowid order: %v", table, got)
		}
	}
	if n, err := b.db.QueryIntForTest(b.ctx, `SELECT count(*) FROM sqlite_schema WHERE name IN ('events_created_at', 'deliveries_created_at')`); err != nil || n != 0 {
		t.Fatalf("created_at indexes left: %d %v", n, err)
	}
	ds, err := b.db.ListDeliveries(b.ctx, store.ListDeliveriesParams{Since: time.UnixMilli(2000)})
	if err != nil || len(ds) != 3 || ds[0].ID != "whd_3" || ds[2].ID != "whd_1" {
		t.Fatalf("since 2s: %+v %v", ds, err)
	}
}
