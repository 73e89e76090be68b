package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"time"
	"unicode/utf8"
)

// This file is the delivery queue: claim due deliveries under a lease,
// complete them while the lease still holds, and rescue those whose
// process died. Every method is batch-first (DESIGN.md).

// Claimed is a delivery claimed for one attempt, with everything a worker
// needs to send it.
type Claimed struct {
	ID        string
	WebhookID string
	EventID   string
	EventType string
	// Attempt is this attempt's number (1 for the first).
	Attempt int
	// Manual is true for a manual retry's single attempt.
	Manual bool
	URL    string
	Token  string
	// PreviousToken is set while a token rotation's grace period lasts.
	PreviousToken   string
	SignatureScheme string
	EventTime       time.Time
	Payload         json.RawMessage
	// Row locates the delivery in a SQLite store faster than ID does; pass
	// it back in Completion.Row. 0 when the claim did not give one
	// (PostgreSQL, ClaimDelivery).
	Row int64
}

// ClaimParams bounds a claim.
type ClaimParams struct {
	// Owner names the claiming process; completions must present it.
	Owner string
	Now   time.Time
	// Lease is how long the claim holds unless extended.
	Lease time.Duration
	// Limit is the most deliveries claimed.
	Limit int
	// PerWebhook caps one webhook's deliveries in flight; 0 means no cap.
	PerWebhook int
	// InFlight counts the caller's deliveries in flight per webhook; they
	// count against PerWebhook.
	InFlight map[string]int
}

// ClaimDeliveries claims up to p.Limit due deliveries of enabled webhooks,
// earliest due first, taking at most p.PerWebhook - p.InFlight[w] from each
// webhook w so that one slow endpoint cannot take every worker. It marks
// them delivering with a lease and counts the attempt.
func (db *DB) ClaimDeliveries(ctx context.Context, p ClaimParams) ([]Claimed, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	if db.dialect == Postgres {
		return db.claimPostgres(ctx, p)
	}
	if err := db.prepareHot(ctx); err != nil {
		return nil, db.wrap(err)
	}
	var out []Claimed
	err := db.inTx(ctx, func(tx *sql.Tx) (err error) {
		out, err = db.claimSQLite(ctx, tx, p)
		return err
	})
	return out, db.wrap(err)
}

// CompleteAndClaim is CompleteDeliveries followed by ClaimDeliveries. On
// SQLite both happen in one transaction, so the delivery loop pays one
// commit per iteration instead of two; elsewhere they are the two calls.
// The claim sees what the completions did (a webhook they disabled, a
// retry already due). Where they are two calls the claim can fail after
// the completions were recorded: then err is a *ClaimError and res is
// the completions' result.
func (db *DB) CompleteAndClaim(ctx context.Context, cp CompleteParams, cs []Completion, p ClaimParams) (CompleteResult, []Claimed, error) {
	if db.dialect != SQLite || len(cs) == 0 || p.Limit <= 0 {
		res, err := db.CompleteDeliveries(ctx, cp, cs)
		if err != nil {
			return res, nil, err
		}
		got, err := db.ClaimDeliveries(ctx, p)
		if err != nil {
			return res, nil, &ClaimError{Err: err}
		}
		return res, got, nil
	}
	if err := db.prepareHot(ctx); err != nil {
		return CompleteResult{}, nil, db.wrap(err)
	}
	var res CompleteResult
	var got []Claimed
	err := db.inTx(ctx, func(tx *sql.Tx) (err error) {
		if res, err = db.complete(ctx, tx, cp, cs); err != nil {
			return err
		}
		got, err = db.claimSQLite(ctx, tx, p)
		return err
	})
	if err != nil {
		return CompleteResult{}, nil, db.wrap(err)
	}
	return res, got, nil
}

// ClaimError reports a claim that failed after the completions made with
// it were recorded (CompleteAndClaim).
type ClaimError struct{ Err error }

func (e *ClaimError) Error() string { return "claim deliveries: " + e.Err.Error() }
func (e *ClaimError) Unwrap() error { return e.Err }

// claimSQLite is ClaimDeliveries on SQLite, in tx.
func (db *DB) claimSQLite(ctx context.Context, tx *sql.Tx, p ClaimParams) ([]Claimed, error) {
	rows, err := db.dueRows(ctx, tx, p)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return db.markClaimed(ctx, tx, p, rows)
}

type due struct {
	row  int64
	next int64
}

// dueScanFactor bounds dueIDs' first pass: it reads at most this many due
// deliveries per delivery it may claim.
const dueScanFactor = 4

// dueRows picks the earliest due deliveries of enabled webhooks, at most
// p.PerWebhook - p.InFlight[w] from each webhook w. It first reads due
// deliveries in due order on the deliveries_due_at index, skipping those of
// disabled or capped webhooks, so a claim costs what it claims. When that
// pass is cut short by a backlog of skipped deliveries (a dead webhook's at
// the front), it walks the enabled webhooks and seeks each one's earliest
// due deliveries on the deliveries_due index, so the cost follows the number
// of webhooks, not the backlog of a dead one.
func (db *DB) dueRows(ctx context.Context, tx *sql.Tx, p ClaimParams) ([]int64, error) {
	rows, err := db.query(ctx, tx, sqlEnabledHooks)
	if err != nil {
		return nil, err
	}
	var hooks []string
	enabled := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		hooks = append(hooks, id)
		enabled[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if rows, ok, err := db.dueInOrder(ctx, tx, p, enabled); err != nil || ok {
		return rows, err
	}
	stmt, err := tx.PrepareContext(ctx, `SELECT rowid, next_attempt_at FROM deliveries
		WHERE webhook_id = ? AND status IN ('pending', 'retrying') AND next_attempt_at <= ?
		ORDER BY next_attempt_at LIMIT ?`)
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	var cands []due
	now := ms(p.Now)
	for _, h := range hooks {
		n := p.Limit
		if p.PerWebhook > 0 {
			n = min(n, p.PerWebhook-p.InFlight[h])
		}
		if n <= 0 {
			continue
		}
		rows, err := stmt.QueryContext(ctx, h, now, n)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var d due
			if err := rows.Scan(&d.row, &d.next); err != nil {
				rows.Close()
				return nil, err
			}
			cands = append(cands, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].next < cands[j].next })
	if len(cands) > p.Limit {
		cands = cands[:p.Limit]
	}
	out := make([]int64, len(cands))
	for i, c := range cands {
		out[i] = c.row
	}
	return out, nil
}

// dueInOrder is dueRows' first pass. ok is false when it read its bound of
// due deliveries without filling the claim.
func (db *DB) dueInOrder(ctx context.Context, tx *sql.Tx, p ClaimParams, enabled map[string]bool) (out []int64, ok bool, err error) {
	scan := dueScanFactor * p.Limit
	rows, err := db.query(ctx, tx, sqlDueInOrder, ms(p.Now), scan)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	taken := map[string]int{}
	read := 0
	for rows.Next() {
		read++
		var row int64
		var hook string
		if err := rows.Scan(&row, &hook); err != nil {
			return nil, false, err
		}
		if !enabled[hook] || (p.PerWebhook > 0 && p.InFlight[hook]+taken[hook] >= p.PerWebhook) {
			continue
		}
		taken[hook]++
		out = append(out, row)
		if len(out) == p.Limit {
			return out, true, nil
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	// Fewer rows than the bound: every due delivery was considered.
	return out, read < scan, nil
}

// markClaimed leases the deliveries in rows to p.Owner and returns them
// ready to send, in the order of rows.
func (db *DB) markClaimed(ctx context.Context, tx *sql.Tx, p ClaimParams, rowids []int64) ([]Claimed, error) {
	set, err := json.Marshal(rowids)
	if err != nil {
		return nil, err
	}
	rows, err := db.query(ctx, tx, sqlClaimUpdate, p.Owner, ms(p.Now.Add(p.Lease)), string(set))
	if err != nil {
		return nil, err
	}
	got := make(map[int64]Claimed, len(rowids))
	for rows.Next() {
		var c Claimed
		var manual int
		if err := rows.Scan(&c.Row, &c.ID, &c.Attempt, &manual, &c.WebhookID, &c.EventID, &c.EventType); err != nil {
			rows.Close()
			return nil, err
		}
		c.Manual = manual == 1
		got[c.Row] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]Claimed, 0, len(got))
	for _, r := range rowids {
		if c, ok := got[r]; ok {
			out = append(out, c)
		}
	}
	return out, db.claimDetails(ctx, tx, out, p.Now)
}

// idSet returns the right-hand side of "id IN …" for ids and its
// arguments. On SQLite it is one JSON array read by json_each: parsing a
// statement with a placeholder per id cost more than the claim's updates
// (a claim's statements differ in length, so none can be prepared once).
// Elsewhere, and for an id JSON would not carry unchanged, it is a list of
// placeholders.
func (db *DB) idSet(ids []string) (string, []any) {
	if db.dialect == SQLite {
		valid := true
		for _, id := range ids {
			valid = valid && utf8.ValidString(id)
		}
		if b, err := json.Marshal(ids); valid && err == nil {
			return jsonIDSet, []any{string(b)}
		}
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return `(` + placeholders(len(ids)) + `)`, args
}

// claimDetails fills in what sending needs for claimed deliveries whose
// WebhookID and EventID are set: each event's payload once, however many
// webhooks it fans out to, and each webhook's address and secrets once.
func (db *DB) claimDetails(ctx context.Context, tx *sql.Tx, cs []Claimed, now time.Time) error {
	if len(cs) == 0 {
		return nil
	}
	type event struct {
		at      time.Time
		payload json.RawMessage
	}
	events := make(map[string]event, len(cs))
	var eventIDs []string
	for _, c := range cs {
		if _, ok := events[c.EventID]; !ok {
			events[c.EventID] = event{}
			eventIDs = append(eventIDs, c.EventID)
		}
	}
	in, args := db.idSet(eventIDs)
	rows, err := db.query(ctx, tx, claimEventsHead+in, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id, payload string
		var ts int64
		if err := rows.Scan(&id, &ts, &payload); err != nil {
			rows.Close()
			return err
		}
		events[id] = event{fromMS(ts), json.RawMessage(payload)}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	type hook struct{ url, token, previous, scheme string }
	hooks := map[string]hook{}
	for i := range cs {
		c := &cs[i]
		h, ok := hooks[c.WebhookID]
		if !ok {
			rows, err := db.query(ctx, tx, sqlClaimHook, c.WebhookID)
			if err != nil {
				return err
			}
			var prevExp int64
			if rows.Next() {
				err = rows.Scan(&h.url, &h.token, &h.previous, &prevExp, &h.scheme)
			}
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
			if err != nil {
				return err
			}
			if prevExp <= ms(now) {
				h.previous = ""
			}
			hooks[c.WebhookID] = h
		}
		e := events[c.EventID]
		c.URL, c.Token, c.PreviousToken, c.SignatureScheme = h.url, h.token, h.previous, h.scheme
		c.EventTime, c.Payload = e.at, e.payload
	}
	return nil
}

// Completion is the outcome of one claimed attempt and what follows it.
// The caller's retry policy decides Status and NextAttemptAt.
type Completion struct {
	ID        string
	WebhookID string
	// Attempt is Claimed.Attempt: the completion applies only if the
	// delivery is still at that attempt under the same owner.
	Attempt      int
	Manual       bool
	AttemptedAt  time.Time
	Duration     time.Duration
	StatusCode   int
	ErrorCode    string
	Error        string
	ResponseBody string
	// Status is StatusSucceeded, StatusRetrying or StatusFailed.
	Status string
	// NextAttemptAt is when a retrying delivery is due.
	NextAttemptAt time.Time
	// DisableWebhook, when set, disables the webhook with this reason
	// (e.g. after 410 Gone).
	DisableWebhook string
	// Row is Claimed.Row, or 0 to find the delivery by ID.
	Row int64
}

// CompleteParams applies to a batch of completions.
type CompleteParams struct {
	Owner string
	Now   time.Time
	// AutoDisableAfter disables a webhook once this many of its deliveries
	// in a row have ended failed; 0 turns it off.
	AutoDisableAfter int
}

// CompleteResult reports what a batch of completions did.
type CompleteResult struct {
	// Applied counts completions whose claim still held.
	Applied int
	// Lost lists ids whose claim had moved on (lease expired and re-claimed).
	Lost []string
	// Disabled maps webhooks disabled by this batch to the reason.
	Disabled map[string]string
}

// CompleteDeliveries records attempts and moves deliveries on, in one
// transaction, each only where p.Owner's claim on that attempt still holds,
// so a late finisher cannot overwrite a delivery another process re-claimed.
func (db *DB) CompleteDeliveries(ctx context.Context, p CompleteParams, cs []Completion) (CompleteResult, error) {
	res := CompleteResult{Disabled: map[string]string{}}
	if len(cs) == 0 {
		return res, nil
	}
	// No prepareHot here: preparing every hot statement takes a few
	// milliseconds, more than a one-off completion ("webhook ping --wait")
	// saves. The loop's claims prepare them.
	err := db.inTx(ctx, func(tx *sql.Tx) (err error) {
		res, err = db.complete(ctx, tx, p, cs)
		return err
	})
	if err != nil {
		return CompleteResult{}, db.wrap(err)
	}
	return res, nil
}

// complete is CompleteDeliveries in tx.
func (db *DB) complete(ctx context.Context, tx *sql.Tx, p CompleteParams, cs []Completion) (CompleteResult, error) {
	res := CompleteResult{Disabled: map[string]string{}}
	applied, err := db.markCompleted(ctx, tx, p.Owner, cs)
	if err != nil {
		return res, err
	}
	var attempts []any
	failures := map[string]int{} // webhook -> +n failed, or -1 to reset on success
	for i, c := range cs {
		if !applied[i] {
			res.Lost = append(res.Lost, c.ID)
			continue
		}
		res.Applied++
		attempts = append(attempts, c.ID, c.WebhookID, c.Attempt, ms(c.AttemptedAt), c.Duration.Milliseconds(),
			c.StatusCode, c.ErrorCode, db.pgText(c.Error), db.pgText(c.ResponseBody), boolInt(c.Manual))
		switch c.Status {
		case StatusSucceeded:
			failures[c.WebhookID] = -1
		case StatusFailed:
			if failures[c.WebhookID] >= 0 {
				failures[c.WebhookID]++
			}
		}
		if c.DisableWebhook != "" {
			res.Disabled[c.WebhookID] = c.DisableWebhook
		}
	}
	if db.dialect == Postgres {
		err = db.insertRows(ctx, tx, attemptsInsertHead, attemptCols, attempts)
	} else {
		err = db.insertAttempts(ctx, tx, attempts)
	}
	if err != nil {
		return res, err
	}
	return res, db.updateWebhookHealth(ctx, tx, p, failures, res.Disabled)
}

// markCompleted moves each completion's delivery to its new status where
// owner's claim on that attempt still holds, and reports which did.
func (db *DB) markCompleted(ctx context.Context, tx *sql.Tx, owner string, cs []Completion) ([]bool, error) {
	next := make([]*int64, len(cs))
	completed := make([]*int64, len(cs))
	for i, c := range cs {
		switch c.Status {
		case StatusRetrying:
			v := ms(c.NextAttemptAt)
			next[i] = &v
		case StatusSucceeded, StatusFailed:
			v := ms(c.AttemptedAt.Add(c.Duration))
			completed[i] = &v
		default:
			return nil, fmt.Errorf("complete delivery %s: bad status %q", c.ID, c.Status)
		}
	}
	if db.dialect == Postgres {
		return db.markCompletedPostgres(ctx, tx, owner, cs, next, completed)
	}
	byRow, err := db.prepared(ctx, tx, sqlCompleteByRow)
	if err != nil {
		return nil, err
	}
	defer byRow.Close()
	byID, err := db.prepared(ctx, tx, sqlCompleteByID)
	if err != nil {
		return nil, err
	}
	defer byID.Close()
	applied := make([]bool, len(cs))
	for i, c := range cs {
		var r sql.Result
		if c.Row != 0 {
			r, err = byRow.ExecContext(ctx, c.Status, next[i], ms(c.AttemptedAt), c.StatusCode, c.Error, completed[i],
				c.Row, c.ID, owner, c.Attempt)
			if err != nil {
				return nil, err
			}
			if n, _ := r.RowsAffected(); n > 0 {
				applied[i] = true
				continue
			}
		}
		// Without a row, or if the row moved (a VACUUM renumbers rowids), by id.
		r, err = byID.ExecContext(ctx, c.Status, next[i], ms(c.AttemptedAt), c.StatusCode, c.Error, completed[i],
			c.ID, owner, c.Attempt)
		if err != nil {
			return nil, err
		}
		n, _ := r.RowsAffected()
		applied[i] = n > 0
	}
	return applied, nil
}

// updateWebhookHealth keeps each webhook's count of deliveries failed in a
// row, and disables webhooks that reached p.AutoDisableAfter or were asked
// to be disabled. Webhooks it disables are added to disabled.
func (db *DB) updateWebhookHealth(ctx context.Context, tx *sql.Tx, p CompleteParams, failures map[string]int, disabled map[string]string) error {
	hooks := make([]string, 0, len(failures))
	for h := range failures {
		hooks = append(hooks, h)
	}
	sort.Strings(hooks)
	for _, h := range hooks {
		n := failures[h]
		var q string
		var args []any
		if n < 0 {
			// Only when it changes: an unchanged webhook row is then not written, nor
			// locked against other processes completing its deliveries (PostgreSQL).
			q, args = `UPDATE webhooks SET consecutive_failures = 0 WHERE id = ? AND consecutive_failures <> 0`, []any{h}
		} else {
			q, args = `UPDATE webhooks SET consecutive_failures = consecutive_failures + ? WHERE id = ?`, []any{n, h}
		}
		if _, err := tx.ExecContext(ctx, db.rebind(q), args...); err != nil {
			return err
		}
		if n <= 0 || p.AutoDisableAfter <= 0 {
			continue
		}
		var count, enabled int
		if err := tx.QueryRowContext(ctx, db.rebind(`SELECT consecutive_failures, enabled FROM webhooks WHERE id = ?`), h).Scan(&count, &enabled); err != nil {
			return err
		}
		if enabled == 1 && count >= p.AutoDisableAfter {
			if _, ok := disabled[h]; !ok {
				disabled[h] = fmt.Sprintf("disabled automatically: the last %d deliveries failed", count)
			}
		}
	}
	// In id order, as above: concurrent completers on PostgreSQL then lock
	// webhook rows in one order and cannot deadlock.
	off := make([]string, 0, len(disabled))
	for h := range disabled {
		off = append(off, h)
	}
	sort.Strings(off)
	for _, h := range off {
		if _, err := tx.ExecContext(ctx, db.rebind(`UPDATE webhooks SET enabled = 0, disabled_reason = ?, updated_at = ?
			WHERE id = ? AND enabled = 1`), disabled[h], ms(p.Now), h); err != nil {
			return err
		}
	}
	return nil
}

// ExtendLeases moves the lease of every delivery owner holds to until. The
// deliver loop calls it while claimed deliveries wait for a worker.
func (db *DB) ExtendLeases(ctx context.Context, owner string, until time.Time) (int, error) {
	res, err := db.sql.ExecContext(ctx, db.rebind(`UPDATE deliveries SET lease_expires_at = ?
		WHERE status = 'delivering' AND lease_owner = ?`), ms(until), owner)
	if err != nil {
		return 0, db.wrap(err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// ReleaseDeliveries gives back claimed deliveries that were never
// attempted, as if they had not been claimed.
func (db *DB) ReleaseDeliveries(ctx context.Context, owner string, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	var n int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for len(ids) > 0 {
			k := min(len(ids), 500)
			args := []any{owner}
			for _, id := range ids[:k] {
				args = append(args, id)
			}
			ids = ids[k:]
			res, err := tx.ExecContext(ctx, db.rebind(`UPDATE deliveries SET
					status = CASE WHEN manual = 1 OR attempts = 1 THEN 'pending' ELSE 'retrying' END,
					attempts = attempts - 1, lease_owner = '', lease_expires_at = NULL
				WHERE status = 'delivering' AND lease_owner = ? AND id IN (`+placeholders(k)+`)`), args...)
			if err != nil {
				return err
			}
			m, _ := res.RowsAffected()
			n += m
		}
		return db.notifyDue(ctx, tx)
	})
	return int(n), db.wrap(err)
}

// rescueBatch bounds one RescueExpired transaction.
const rescueBatch = 1000

// RescueExpired finds deliveries whose lease expired (their process died
// or hung), records the lost attempt as abandoned, and makes them due now.
// An abandoned attempt never fails a delivery: nothing is known to have
// gone wrong at the endpoint.
func (db *DB) RescueExpired(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		// Several processes rescue at once: on PostgreSQL each takes the rows
		// it can lock and skips the others' (SQLite runs one writer at a time).
		rows, err := tx.QueryContext(ctx, db.rebind(`SELECT id, webhook_id, attempts, manual, lease_owner FROM deliveries
			WHERE status = 'delivering' AND lease_expires_at <= ? LIMIT ?`+db.skipLocked()), ms(now), rescueBatch)
		if err != nil {
			return err
		}
		var attempts, ids []any
		for rows.Next() {
			var id, hook, owner string
			var number, manual int
			if err := rows.Scan(&id, &hook, &number, &manual, &owner); err != nil {
				rows.Close()
				return err
			}
			msg := fmt.Sprintf("deliver process %s stopped before recording the outcome (lease expired)", owner)
			attempts = append(attempts, id, hook, number, ms(now), 0, 0, ErrorCodeAbandoned, msg, "", manual)
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		n = len(ids)
		if n == 0 {
			return nil
		}
		insert := db.insertAttempts
		if db.dialect == Postgres {
			insert = func(ctx context.Context, tx *sql.Tx, args []any) error {
				return db.insertRows(ctx, tx, attemptsInsertHead, attemptCols, args)
			}
		}
		if err := insert(ctx, tx, attempts); err != nil {
			return err
		}
		for len(ids) > 0 {
			k := min(len(ids), 500)
			args := append([]any{ms(now), ms(now)}, ids[:k]...)
			ids = ids[k:]
			if _, err := tx.ExecContext(ctx, db.rebind(`UPDATE deliveries SET
					status = CASE WHEN manual = 1 THEN 'pending' ELSE 'retrying' END,
					next_attempt_at = ?, last_attempt_at = ?, last_status_code = 0,
					last_error = 'abandoned: deliver process stopped before recording the outcome',
					lease_owner = '', lease_expires_at = NULL
				WHERE status = 'delivering' AND id IN (`+placeholders(k)+`)`), args...); err != nil {
				return err
			}
		}
		return db.notifyDue(ctx, tx)
	})
	return n, db.wrap(err)
}

// NextWake returns the earliest time a claim or a rescue could find work:
// the next due delivery of an enabled webhook or the next lease to expire.
// ok is false when there is nothing at all to wait for.
func (db *DB) NextWake(ctx context.Context) (t time.Time, ok bool, err error) {
	var next, lease sql.NullInt64
	err = db.sql.QueryRowContext(ctx, `SELECT
		(SELECT min((SELECT min(d.next_attempt_at) FROM deliveries d
			WHERE d.webhook_id = w.id AND d.status IN ('pending', 'retrying'))) FROM webhooks w WHERE w.enabled = 1),
		(SELECT min(lease_expires_at) FROM deliveries WHERE status = 'delivering')`).Scan(&next, &lease)
	if err != nil {
		return time.Time{}, false, db.wrap(err)
	}
	switch {
	case next.Valid && lease.Valid:
		return fromMS(min(next.Int64, lease.Int64)), true, nil
	case next.Valid:
		return fromMS(next.Int64), true, nil
	case lease.Valid:
		return fromMS(lease.Int64), true, nil
	}
	return time.Time{}, false, nil
}

// Watch returns a channel that receives a value (coalesced, never blocking
// the watcher) soon after another process commits a change that may make
// deliveries due. On SQLite it reads PRAGMA data_version, which sees every
// other connection's commit, when the WAL file changes (watch_sqlite.go).
// The channel closes when ctx ends.
func (db *DB) Watch(ctx context.Context, poll time.Duration) <-chan struct{} {
	if db.dialect == Postgres {
		return db.watchPostgres(ctx, poll)
	}
	return db.watchSQLite(ctx, poll)
}

// notifyDue tells other processes' watchers that deliveries may be due.
// SQLite watchers see any commit through data_version, so it does nothing
// there. On PostgreSQL the notification, sent when tx commits, names the
// schema so that watchers of other schemas in the database ignore it.
func (db *DB) notifyDue(ctx context.Context, tx *sql.Tx) error {
	if db.dialect == Postgres {
		_, err := tx.ExecContext(ctx, `SELECT pg_notify('`+pgChannel+`', current_schema())`)
		return err
	}
	return nil
}

// QueueCounts returns how many deliveries are in each status.
func (db *DB) QueueCounts(ctx context.Context) (map[string]int, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT status, count(*) FROM deliveries GROUP BY status`)
	if err != nil {
		return nil, db.wrap(err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for _, s := range Statuses {
		counts[s] = 0
	}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, db.wrap(err)
		}
		counts[s] = n
	}
	return counts, db.wrap(rows.Err())
}

// OldestDue returns the earliest next attempt time among deliveries of
// enabled webhooks waiting to be sent (pending or retrying), due or not;
// ok is false when none waits. Deliveries of disabled webhooks wait for
// "webhook enable", not for a worker, so they do not count. It reads one
// index entry per enabled webhook, like NextWake.
func (db *DB) OldestDue(ctx context.Context) (t time.Time, ok bool, err error) {
	var next sql.NullInt64
	err = db.sql.QueryRowContext(ctx, `SELECT min((SELECT min(d.next_attempt_at) FROM deliveries d
			WHERE d.webhook_id = w.id AND d.status IN ('pending', 'retrying'))) FROM webhooks w WHERE w.enabled = 1`).Scan(&next)
	if err != nil || !next.Valid {
		return time.Time{}, false, db.wrap(err)
	}
	return fromMS(next.Int64), true, nil
}
