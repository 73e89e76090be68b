package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrTargetNotEmpty means Copy was asked to write into a database that
// already holds fgwh data, without CopyParams.Replace.
var ErrTargetNotEmpty = errors.New("target database is not empty")

// CopyParams controls Copy.
type CopyParams struct {
	// Replace empties a target that already holds webhooks, events or
	// deliveries; without it Copy refuses such a target.
	Replace bool
}

// CopyResult counts what Copy copied, table by table.
type CopyResult struct {
	Webhooks      int
	Subscriptions int
	Events        int
	Deliveries    int
	Attempts      int
}

// copyTable is one table as Copy reads and writes it. The two stores have
// the same columns under the same names, so rows go across as they are.
type copyTable struct {
	name string
	cols string
	// order is the ORDER BY that reproduces the source's insertion order
	// in the target; "" means created_at then insertion order, which
	// listings use to break created_at ties (DB.newestFirst). On SQLite
	// that is rowid order alone, served without a sort.
	order string
}

// copyTables lists the tables parents first.
var copyTables = []copyTable{
	{"webhooks", `id, name, url, token, previous_token, previous_token_expires_at, signature_scheme, enabled,
		disabled_reason, consecutive_failures, created_at, updated_at`, "created_at, id"},
	{"webhook_event_types", "webhook_id, event_type", "webhook_id, event_type"},
	{"events", "id, type, timestamp, payload, idempotency_key, created_at", ""},
	{"deliveries", `id, webhook_id, event_id, event_type, status, attempts, manual, created_at, next_attempt_at,
		last_attempt_at, last_status_code, last_error, completed_at, lease_owner, lease_expires_at`, ""},
	{"delivery_attempts", `delivery_id, webhook_id, number, attempted_at, duration_ms, status_code, error_code,
		error, response_body, manual`, "delivery_id, number"},
}

// copyBatch is how many rows Copy reads before writing them.
const copyBatch = 1000

// Copy copies every webhook (with its tokens), subscription, event,
// delivery and attempt from src to dst, in either direction between SQLite
// and PostgreSQL. It reads one consistent snapshot of src (on SQLite it
// holds the write lock meanwhile, so writers wait) and writes dst in one
// transaction: all or nothing. Before committing it counts every table on
// both sides and fails if any count differs. A delivery in flight in src
// is copied in flight; its lease expires in dst and it is attempted again.
func Copy(ctx context.Context, src, dst *DB, p CopyParams) (CopyResult, error) {
	if sameFile(src, dst) {
		return CopyResult{}, fmt.Errorf("copy %s to itself", src.where)
	}
	var res CopyResult
	counts := map[string]*int{
		"webhooks": &res.Webhooks, "webhook_event_types": &res.Subscriptions, "events": &res.Events,
		"deliveries": &res.Deliveries, "delivery_attempts": &res.Attempts,
	}
	err := src.readTx(ctx, func(stx *sql.Tx) error {
		// Count the source first: that fixes its snapshot before the target is touched.
		srcCounts, err := countTables(ctx, stx)
		if err != nil {
			return src.wrap(err)
		}
		return dst.wrap(dst.inTx(ctx, func(dtx *sql.Tx) error {
			dstCounts, err := countTables(ctx, dtx)
			if err != nil {
				return err
			}
			if n := dstCounts["webhooks"] + dstCounts["events"] + dstCounts["deliveries"]; n > 0 {
				if !p.Replace {
					return fmt.Errorf("%w (%d webhooks, %d events, %d deliveries)",
						ErrTargetNotEmpty, dstCounts["webhooks"], dstCounts["events"], dstCounts["deliveries"])
				}
				for i := len(copyTables) - 1; i >= 0; i-- {
					if _, err := dtx.ExecContext(ctx, `DELETE FROM `+copyTables[i].name); err != nil {
						return err
					}
				}
			}
			for _, t := range copyTables {
				n, err := copyRows(ctx, stx, dst, dtx, t, src.dialect)
				if err != nil {
					return fmt.Errorf("copy %s: %w", t.name, err)
				}
				*counts[t.name] = n
			}
			after, err := countTables(ctx, dtx)
			if err != nil {
				return err
			}
			for _, t := range copyTables {
				if s, c, d := srcCounts[t.name], *counts[t.name], after[t.name]; s != c || c != d {
					return fmt.Errorf("verify %s: source has %d rows, %d were copied, target has %d", t.name, s, c, d)
				}
			}
			return dst.notifyDue(ctx, dtx)
		}))
	})
	if err != nil {
		return CopyResult{}, err
	}
	return res, nil
}

// copyRows copies one table's rows in the order that keeps listings' tie
// order, and returns how many it copied.
func copyRows(ctx context.Context, stx *sql.Tx, dst *DB, dtx *sql.Tx, t copyTable, from Dialect) (int, error) {
	order := t.order
	if order == "" {
		order = "rowid"
		if from == Postgres {
			order = "created_at, seq"
		}
	}
	rows, err := stx.QueryContext(ctx, `SELECT `+t.cols+` FROM `+t.name+` ORDER BY `+order)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	ncols := strings.Count(t.cols, ",") + 1
	head := `INSERT INTO ` + t.name + ` (` + t.cols + `) VALUES `
	buf := make([]any, 0, ncols*copyBatch)
	n := 0
	for rows.Next() {
		vals := make([]any, ncols)
		ptrs := make([]any, ncols)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, v := range vals {
			switch v := v.(type) {
			case string:
				vals[i] = dst.pgText(v)
			case []byte:
				vals[i] = dst.pgText(string(v))
			}
		}
		buf = append(buf, vals...)
		n++
		if n%copyBatch == 0 {
			if err := dst.insertRows(ctx, dtx, head, ncols, buf); err != nil {
				return n, err
			}
			buf = buf[:0]
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, dst.insertRows(ctx, dtx, head, ncols, buf)
}

// countTables counts the rows of every copied table.
func countTables(ctx context.Context, tx *sql.Tx) (map[string]int, error) {
	counts := map[string]int{}
	for _, t := range copyTables {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+t.name).Scan(&n); err != nil {
			return nil, err
		}
		counts[t.name] = n
	}
	return counts, nil
}

// readTx runs fn in a transaction that sees one snapshot: on PostgreSQL a
// read-only REPEATABLE READ one; on SQLite our usual BEGIN IMMEDIATE, whose
// write lock keeps writers out until it ends.
func (db *DB) readTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if db.dialect != Postgres {
		return db.inTx(ctx, fn)
	}
	tx, err := db.sql.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return db.wrap(err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return db.wrap(tx.Commit())
}

// sameFile reports whether a and b are one SQLite file, which Copy cannot
// read and write at once (the read holds the write lock). Copying a
// PostgreSQL database onto itself needs Replace and leaves it as it was.
func sameFile(a, b *DB) bool {
	if a.dialect != SQLite || b.dialect != SQLite {
		return false
	}
	fa, errA := os.Stat(a.where)
	fb, errB := os.Stat(b.where)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}
