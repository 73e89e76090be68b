package store

import (
	"context"
	"database/sql"
	"strings"
	"sync"
)

// The delivery queue's statements on SQLite have fixed texts (sets of ids
// travel as one JSON array), so they are prepared once on the single
// connection and reused by every transaction instead of being parsed again
// at each claim and completion.

// Hot statements, prepared by prepareHot.
const (
	// jsonIDSet is idSet's form on SQLite.
	jsonIDSet = `(SELECT value FROM json_each(?))`
	// sqlEnabledHooks lists the webhooks a claim may take from (dueRows).
	sqlEnabledHooks = `SELECT id FROM webhooks WHERE enabled = 1`
	// sqlDueInOrder reads due deliveries in due order (dueInOrder).
	sqlDueInOrder = `SELECT rowid, webhook_id FROM deliveries INDEXED BY deliveries_due_at
		WHERE status IN ('pending', 'retrying') AND next_attempt_at <= ?
		ORDER BY next_attempt_at LIMIT ?`
	// sqlClaimUpdate leases the deliveries whose rowids it is given. Rowids
	// find the rows without the id index. The unary + keeps SQLite from
	// searching deliveries_status_created_at for every pending row (the
	// whole backlog) instead: 10 ms instead of 0.1 ms a claim at 20,000 pending.
	sqlClaimUpdate = `UPDATE deliveries
		SET status = 'delivering', attempts = attempts + 1, lease_owner = ?, lease_expires_at = ?
		WHERE rowid IN (SELECT value FROM json_each(?)) AND +status IN ('pending', 'retrying')
		RETURNING rowid, id, attempts, manual, webhook_id, event_id, event_type`
	claimEventsHead = `SELECT id, timestamp, payload FROM events WHERE id IN `
	sqlClaimEvents  = claimEventsHead + jsonIDSet
	sqlClaimHook    = `SELECT url, token, previous_token, previous_token_expires_at, signature_scheme FROM webhooks WHERE id = ?`
	completeSet     = `UPDATE deliveries SET
			status = ?, next_attempt_at = ?, last_attempt_at = ?, last_status_code = ?, last_error = ?,
			completed_at = ?, manual = 0, lease_owner = '', lease_expires_at = NULL `
	// sqlCompleteByRow checks the id too: a VACUUM may have renumbered rowids.
	sqlCompleteByRow = completeSet + `WHERE rowid = ? AND id = ? AND status = 'delivering' AND lease_owner = ? AND attempts = ?`
	sqlCompleteByID  = completeSet + `WHERE id = ? AND status = 'delivering' AND lease_owner = ? AND attempts = ?`
)

// attemptsInsertHead inserts rows of attemptCols values into the attempt log.
const attemptsInsertHead = `INSERT INTO delivery_attempts
	(delivery_id, webhook_id, number, attempted_at, duration_ms, status_code, error_code, error, response_body, manual) VALUES `

const attemptCols = 10

// attemptChunks are the row counts of the held attempt inserts, largest
// first: a completion of n attempts takes at most one statement of each
// size, plus one of the largest per 128 attempts.
var attemptChunks = []int{128, 64, 32, 16, 8, 4, 2, 1}

// sqlAttemptsInsert[i] inserts attemptChunks[i] rows.
var sqlAttemptsInsert = func() []string {
	qs := make([]string, len(attemptChunks))
	for i, k := range attemptChunks {
		qs[i] = attemptsInsertHead + strings.TrimSuffix(strings.Repeat("("+placeholders(attemptCols)+"), ", k), ", ")
	}
	return qs
}()

var hotQueries = append([]string{sqlEnabledHooks, sqlDueInOrder, sqlClaimUpdate, sqlClaimEvents, sqlClaimHook, sqlCompleteByRow, sqlCompleteByID},
	sqlAttemptsInsert...)

// insertAttempts inserts attempt rows (attemptCols values each, flat) with
// the held statements of attemptChunks.
func (db *DB) insertAttempts(ctx context.Context, tx *sql.Tx, args []any) error {
	for i, k := range attemptChunks {
		for len(args) >= k*attemptCols {
			s, err := db.prepared(ctx, tx, sqlAttemptsInsert[i])
			if err != nil {
				return err
			}
			_, err = s.ExecContext(ctx, args[:k*attemptCols]...)
			s.Close()
			if err != nil {
				return err
			}
			args = args[k*attemptCols:]
		}
	}
	return nil
}

// hotStmts holds the prepared hot statements of one SQLite DB.
type hotStmts struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// prepareHot prepares the hot statements once. It must be called outside
// a transaction: SQLite's one connection is the pool's only one.
func (db *DB) prepareHot(ctx context.Context) error {
	db.hot.mu.Lock()
	defer db.hot.mu.Unlock()
	if db.hot.m != nil {
		return nil
	}
	m := make(map[string]*sql.Stmt, len(hotQueries))
	for _, q := range hotQueries {
		s, err := db.sql.PrepareContext(ctx, q)
		if err != nil {
			for _, s := range m {
				s.Close()
			}
			return err
		}
		m[q] = s
	}
	db.hot.m = m
	return nil
}

// held returns the statement prepareHot prepared for query, bound to tx,
// or nil.
func (db *DB) held(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	db.hot.mu.Lock()
	s := db.hot.m[query]
	db.hot.mu.Unlock()
	if s == nil {
		return nil
	}
	return tx.StmtContext(ctx, s)
}

// prepared returns query prepared for tx: its held statement if it has
// one. The caller closes it.
func (db *DB) prepared(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if s := db.held(ctx, tx, query); s != nil {
		return s, nil
	}
	return tx.PrepareContext(ctx, db.rebind(query))
}

// query runs query in tx, on its held statement if it has one.
func (db *DB) query(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	if s := db.held(ctx, tx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, db.rebind(query), args...)
}

func (db *DB) closeHot() {
	db.hot.mu.Lock()
	defer db.hot.mu.Unlock()
	for _, s := range db.hot.m {
		s.Close()
	}
	db.hot.m = nil
}
