package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMigrateSQLite_004RewritesChecksInPlace upgrades a database written
// at schema 3, with data in it, and checks that migration 004 kept every
// row, left a sound file, still enforces the constraints it rewrote, and
// that they no longer compile to a temporary B-tree per row.
func TestMigrateSQLite_004RewritesChecksInPlace(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fgwh.db")
	if err := createFile(path); err != nil {
		t.Fatal(err)
	}
	old, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range loadMigrations(sqliteMigrations, "migrations/sqlite")[:3] {
		if _, err := old.Exec(m.sql); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
	}
	for _, q := range []string{
		`PRAGMA user_version = 3`,
		`INSERT INTO webhooks (id, name, url, token, signature_scheme, created_at, updated_at) VALUES ('whk_1', 'a', 'https://a.example', 't', 'both', 1, 1)`,
		`INSERT INTO events (id, type, timestamp, payload, created_at) VALUES ('whev_1', 'x', 1, '{}', 1)`,
		`INSERT INTO deliveries (id, webhook_id, event_id, event_type, status, created_at, next_attempt_at) VALUES ('whd_1', 'whk_1', 'whev_1', 'x', 'pending', 1, 1)`,
		`INSERT INTO deliveries (id, webhook_id, event_id, event_type, status, created_at, completed_at) VALUES ('whd_2', 'whk_1', 'whev_1', 'x', 'succeeded', 1, 2)`,
	} {
		if _, err := old.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	old.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var version int
	var check string
	db.sql.QueryRow(`PRAGMA user_version`).Scan(&version)
	db.sql.QueryRow(`PRAGMA integrity_check`).Scan(&check)
	if version != len(loadMigrations(sqliteMigrations, "migrations/sqlite")) || check != "ok" {
		t.Fatalf("after migrating: user_version %d, integrity_check %q", version, check)
	}
	var n int
	db.sql.QueryRow(`SELECT count(*) FROM deliveries WHERE status IN ('pending', 'succeeded')`).Scan(&n)
	if n != 2 {
		t.Fatalf("%d deliveries after migrating, want 2", n)
	}
	var schema string
	db.sql.QueryRow(`SELECT group_concat(sql, ';') FROM sqlite_schema WHERE name IN ('deliveries', 'webhooks')`).Scan(&schema)
	for _, gone := range []string{"status IN ('pending'", "signature_scheme IN ("} {
		if strings.Contains(schema, gone) {
			t.Errorf("schema still has %q", gone)
		}
	}
	for _, bad := range []string{
		`UPDATE deliveries SET status = 'bogus' WHERE id = 'whd_1'`,
		`UPDATE webhooks SET signature_scheme = 'none' WHERE id = 'whk_1'`,
	} {
		if _, err := db.sql.Exec(bad); err == nil || !strings.Contains(err.Error(), "CHECK constraint failed") {
			t.Errorf("%s: got %v, want a CHECK constraint error", bad, err)
		}
	}
	if _, err := db.sql.Exec(`UPDATE deliveries SET status = 'failed', completed_at = 3, next_attempt_at = NULL WHERE id = 'whd_1'`); err != nil {
		t.Errorf("a valid update: %v", err)
	}
	if n := ephemeralTables(t, db, sqlCompleteByID); n != 0 {
		t.Errorf("the completion update opens %d temporary tables per row, want 0", n)
	}
}

// ephemeralTables counts the temporary B-trees query's program opens.
func ephemeralTables(t *testing.T, db *DB, query string) int {
	t.Helper()
	args := make([]any, strings.Count(query, "?"))
	rows, err := db.sql.Query("EXPLAIN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var addr, p1, p2, p3 int
		var op string
		var p4, p5, comment any
		if err := rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
			t.Fatal(err)
		}
		if op == "OpenEphemeral" {
			n++
		}
	}
	return n
}

// TestEmitEvents_ForeignKeysBackOn checks that the connection EmitEvents
// used without foreign key enforcement enforces them again afterwards, so
// deleting a webhook still deletes its deliveries.
func TestEmitEvents_ForeignKeysBackOn(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "fgwh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w, _, err := db.CreateWebhook(ctx, CreateWebhookParams{URL: "https://a.example", EventTypes: []string{"x"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.EmitEvents(ctx, []NewEvent{{Type: "x", Payload: []byte(`{"type":"x"}`)}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	var on int
	if err := db.sql.QueryRow(`PRAGMA foreign_keys`).Scan(&on); err != nil || on != 1 {
		t.Fatalf("foreign_keys after an emit: %d, %v; want 1", on, err)
	}
	if _, err := db.sql.Exec(`DELETE FROM webhooks WHERE id = ?`, w.ID); err != nil {
		t.Fatal(err)
	}
	var n int
	db.sql.QueryRow(`SELECT count(*) FROM deliveries`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d deliveries left after deleting their webhook", n)
	}
}
