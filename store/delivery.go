package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Delivery statuses (SPEC.md, "Deliveries"). The claim moves pending and
// retrying deliveries to delivering; completion moves them on.
const (
	// StatusPending waits for its first attempt, or for a manual retry's
	// attempt. Emit and "deliveries retry" put deliveries here.
	StatusPending = "pending"
	// StatusRetrying had a failed attempt and waits for the next automatic
	// one at next_attempt_at.
	StatusRetrying = "retrying"
	// StatusDelivering is claimed by a deliver process whose lease has not
	// expired; completion or lease expiry moves it on.
	StatusDelivering = "delivering"
	// StatusSucceeded got a 2xx answer. Terminal.
	StatusSucceeded = "succeeded"
	// StatusFailed exhausted its automatic attempts, had a permanent
	// failure (410), or failed a manual retry. Terminal until retried.
	StatusFailed = "failed"
)

// Statuses lists every delivery status.
var Statuses = []string{StatusPending, StatusRetrying, StatusDelivering, StatusSucceeded, StatusFailed}

// Delivery is one event's notification to one webhook.
type Delivery struct {
	ID             string
	WebhookID      string
	EventID        string
	EventType      string
	Status         string
	Attempts       int
	Manual         bool
	CreatedAt      time.Time
	NextAttemptAt  time.Time // zero when none is scheduled
	LastAttemptAt  time.Time // zero before the first attempt
	LastStatusCode int       // 0 when the last attempt got no HTTP answer
	LastError      string
	CompletedAt    time.Time // zero unless succeeded or failed
	// AttemptLog is filled by GetDelivery only.
	AttemptLog []Attempt
}

// Attempt is one try at sending a delivery.
type Attempt struct {
	Number       int
	AttemptedAt  time.Time
	Duration     time.Duration
	StatusCode   int
	ErrorCode    string
	Error        string
	ResponseBody string
	Manual       bool
}

// ErrorCodeAbandoned marks an attempt whose deliver process stopped (crashed
// or lost its lease) before recording an outcome.
const ErrorCodeAbandoned = "abandoned"

const deliveryColumns = `id, webhook_id, event_id, event_type, status, attempts, manual, created_at,
	next_attempt_at, last_attempt_at, last_status_code, last_error, completed_at`

func scanDelivery(s interface{ Scan(...any) error }) (Delivery, error) {
	var d Delivery
	var manual int
	var created int64
	var next, last, completed, code sql.NullInt64
	if err := s.Scan(&d.ID, &d.WebhookID, &d.EventID, &d.EventType, &d.Status, &d.Attempts, &manual, &created,
		&next, &last, &code, &d.LastError, &completed); err != nil {
		return Delivery{}, err
	}
	d.Manual = manual == 1
	d.CreatedAt = fromMS(created)
	d.NextAttemptAt, d.LastAttemptAt, d.CompletedAt = nullMS(next), nullMS(last), nullMS(completed)
	d.LastStatusCode = int(code.Int64)
	return d, nil
}

// ListDeliveriesParams filters ListDeliveries; zero fields do not filter.
type ListDeliveriesParams struct {
	Status    string
	WebhookID string
	EventID   string
	Type      string
	// Since keeps deliveries created at or after it.
	Since time.Time
	// Limit is the most deliveries returned, newest first; 0 means no limit.
	Limit int
}

// ListDeliveries returns deliveries, newest first.
func (db *DB) ListDeliveries(ctx context.Context, p ListDeliveriesParams) ([]Delivery, error) {
	query := `SELECT ` + deliveryColumns + ` FROM deliveries WHERE 1 = 1`
	var args []any
	if p.Status != "" {
		query += ` AND status = ?`
		args = append(args, p.Status)
	}
	if p.WebhookID != "" {
		query += ` AND webhook_id = ?`
		args = append(args, p.WebhookID)
	}
	if p.EventID != "" {
		query += ` AND event_id = ?`
		args = append(args, p.EventID)
	}
	if p.Type != "" {
		query += ` AND event_type = ?`
		args = append(args, p.Type)
	}
	indexed := p.Status != "" || p.WebhookID != "" || p.EventID != "" || p.Type != ""
	if !p.Since.IsZero() {
		if db.dialect == SQLite && !indexed {
			// No index on created_at alone (newestFirst): start at its rowid.
			from, err := db.rowidFrom(ctx, nil, "deliveries", ms(p.Since))
			if err != nil {
				return nil, db.wrap(err)
			}
			query += ` AND rowid >= ?`
			args = append(args, from)
		}
		query += ` AND created_at >= ?`
		args = append(args, ms(p.Since))
	}
	query += ` ORDER BY ` + db.newestFirst(indexed)
	if p.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, p.Limit)
	}
	rows, err := db.sql.QueryContext(ctx, db.rebind(query), args...)
	if err != nil {
		return nil, db.wrap(err)
	}
	defer rows.Close()
	ds := []Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, db.wrap(err)
		}
		ds = append(ds, d)
	}
	return ds, db.wrap(rows.Err())
}

// GetDelivery returns a delivery with its attempt log, oldest attempt first.
func (db *DB) GetDelivery(ctx context.Context, id string) (Delivery, error) {
	d, err := scanDelivery(db.sql.QueryRowContext(ctx, db.rebind(`SELECT `+deliveryColumns+` FROM deliveries WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Delivery{}, fmt.Errorf("delivery %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Delivery{}, db.wrap(err)
	}
	rows, err := db.sql.QueryContext(ctx, db.rebind(`SELECT number, attempted_at, duration_ms, status_code, error_code, error, response_body, manual
		FROM delivery_attempts WHERE delivery_id = ? ORDER BY number`), id)
	if err != nil {
		return Delivery{}, db.wrap(err)
	}
	defer rows.Close()
	d.AttemptLog = []Attempt{}
	for rows.Next() {
		var a Attempt
		var at, dur int64
		var manual int
		if err := rows.Scan(&a.Number, &at, &dur, &a.StatusCode, &a.ErrorCode, &a.Error, &a.ResponseBody, &manual); err != nil {
			return Delivery{}, db.wrap(err)
		}
		a.AttemptedAt, a.Duration, a.Manual = fromMS(at), time.Duration(dur)*time.Millisecond, manual == 1
		d.AttemptLog = append(d.AttemptLog, a)
	}
	return d, db.wrap(rows.Err())
}

// RetryResult says what RetryDeliveries did with each id.
type RetryResult struct {
	// Retried are the ids now due at once.
	Retried []string
	// InFlight are ids being delivered right now: they are left alone.
	InFlight []string
}

// RetryDeliveries makes deliveries due now. A failed or succeeded delivery
// gets one manual attempt (if it fails, the delivery is failed again); a
// pending or retrying one keeps its schedule but is attempted at once. A
// delivery in flight is never touched. Unknown ids fail the whole call
// with ErrNotFound before anything changes.
func (db *DB) RetryDeliveries(ctx context.Context, ids []string, now time.Time) (RetryResult, error) {
	res := RetryResult{Retried: []string{}, InFlight: []string{}}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			var status string
			err := tx.QueryRowContext(ctx, db.rebind(`SELECT status FROM deliveries WHERE id = ?`), id).Scan(&status)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("delivery %s: %w", id, ErrNotFound)
			}
			if err != nil {
				return err
			}
			if status == StatusDelivering {
				res.InFlight = append(res.InFlight, id)
				continue
			}
			if _, err := tx.ExecContext(ctx, db.rebind(retryQuery+` WHERE id = ? AND status <> 'delivering'`), retryArgs(now, id)...); err != nil {
				return err
			}
			res.Retried = append(res.Retried, id)
		}
		if len(res.Retried) > 0 {
			return db.notifyDue(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return RetryResult{}, db.wrap(err)
	}
	return res, nil
}

// retryQuery makes a delivery due now; finished ones get a manual attempt.
const retryQuery = `UPDATE deliveries SET
	manual = CASE WHEN status IN ('succeeded', 'failed') THEN 1 ELSE manual END,
	status = CASE WHEN status IN ('succeeded', 'failed') THEN 'pending' ELSE status END,
	completed_at = NULL,
	next_attempt_at = ?`

func retryArgs(now time.Time, extra ...any) []any {
	return append([]any{ms(now)}, extra...)
}

// RetryFailedParams selects the failed deliveries RetryFailed retries.
type RetryFailedParams struct {
	WebhookID string
	// Since keeps deliveries created at or after it.
	Since time.Time
}

// RetryFailed gives every matching failed delivery one manual attempt and
// returns their ids.
func (db *DB) RetryFailed(ctx context.Context, p RetryFailedParams, now time.Time) ([]string, error) {
	where := ` WHERE status = 'failed'`
	var args []any
	if p.WebhookID != "" {
		where += ` AND webhook_id = ?`
		args = append(args, p.WebhookID)
	}
	if !p.Since.IsZero() {
		where += ` AND created_at >= ?`
		args = append(args, ms(p.Since))
	}
	ids := []string{}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, db.rebind(retryQuery+where+` RETURNING id`), retryArgs(now, args...)...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) > 0 {
			return db.notifyDue(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return nil, db.wrap(err)
	}
	sort.Strings(ids)
	return ids, nil
}

// PruneDeliveries removes succeeded and failed deliveries completed before
// cutoff, with their attempts, and events left with no deliveries that were
// created before cutoff. It returns how many deliveries it removed.
func (db *DB) PruneDeliveries(ctx context.Context, cutoff time.Time) (int, error) {
	var n int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		c := ms(cutoff)
		if _, err := tx.ExecContext(ctx, db.rebind(`DELETE FROM delivery_attempts WHERE delivery_id IN
			(SELECT id FROM deliveries WHERE status IN ('succeeded', 'failed') AND completed_at < ?)`), c); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.rebind(`DELETE FROM deliveries WHERE status IN ('succeeded', 'failed') AND completed_at < ?`), c)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		query, args := `DELETE FROM events WHERE created_at < ?`, []any{c}
		if db.dialect == SQLite {
			// No index on created_at alone (newestFirst): stop at its rowid.
			from, err := db.rowidFrom(ctx, tx, "events", c)
			if err != nil {
				return err
			}
			query += ` AND rowid < ?`
			args = append(args, from)
		}
		_, err = tx.ExecContext(ctx, db.rebind(query+` AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id)`), args...)
		return err
	})
	return int(n), db.wrap(err)
}

// WebhookStats summarises a webhook's deliveries.
type WebhookStats struct {
	// ByStatus counts deliveries per status; every status is present.
	ByStatus map[string]int
	// SuccessRate is succeeded ÷ (succeeded + failed), 0 when neither.
	SuccessRate float64
	// RecentAttempts is how many attempts the latencies were taken over.
	RecentAttempts int
	P50, P95       time.Duration
	// LastError is the newest failed attempt's error, with its time.
	LastError   string
	LastErrorAt time.Time
}

// statsWindow is how many recent attempts the latency percentiles read.
const statsWindow = 1000

// GetWebhookStats returns a webhook's delivery statistics.
func (db *DB) GetWebhookStats(ctx context.Context, id string) (WebhookStats, error) {
	st := WebhookStats{ByStatus: map[string]int{}}
	for _, s := range Statuses {
		st.ByStatus[s] = 0
	}
	rows, err := db.sql.QueryContext(ctx, db.rebind(`SELECT status, count(*) FROM deliveries WHERE webhook_id = ? GROUP BY status`), id)
	if err != nil {
		return st, db.wrap(err)
	}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			rows.Close()
			return st, db.wrap(err)
		}
		st.ByStatus[s] = n
	}
	rows.Close()
	if done := st.ByStatus[StatusSucceeded] + st.ByStatus[StatusFailed]; done > 0 {
		st.SuccessRate = float64(st.ByStatus[StatusSucceeded]) / float64(done)
	}
	rows, err = db.sql.QueryContext(ctx, db.rebind(`SELECT duration_ms FROM delivery_attempts
		WHERE webhook_id = ? AND error_code <> 'abandoned' ORDER BY attempted_at DESC LIMIT ?`), id, statsWindow)
	if err != nil {
		return st, db.wrap(err)
	}
	var lat []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return st, db.wrap(err)
		}
		lat = append(lat, v)
	}
	rows.Close()
	if len(lat) > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		st.RecentAttempts = len(lat)
		st.P50 = time.Duration(lat[(len(lat)-1)*50/100]) * time.Millisecond
		st.P95 = time.Duration(lat[(len(lat)-1)*95/100]) * time.Millisecond
	}
	var at int64
	err = db.sql.QueryRowContext(ctx, db.rebind(`SELECT error, attempted_at FROM delivery_attempts
		WHERE webhook_id = ? AND error <> '' ORDER BY attempted_at DESC LIMIT 1`), id).Scan(&st.LastError, &at)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return st, db.wrap(err)
	}
	if err == nil {
		st.LastErrorAt = fromMS(at)
	}
	return st, nil
}
