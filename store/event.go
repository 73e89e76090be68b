package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Event is something that happened, fanned out to subscribed webhooks.
type Event struct {
	ID        string
	Type      string
	Timestamp time.Time
	// Payload is the exact JSON object sent as the notification's payload,
	// with "type" first.
	Payload        json.RawMessage
	IdempotencyKey string
	CreatedAt      time.Time
}

// NewEvent is an event to emit.
type NewEvent struct {
	Type string
	// Timestamp is when the event occurred; zero means now.
	Timestamp time.Time
	// Payload is the notification's payload object, already validated.
	Payload []byte
	// IdempotencyKey, when set, makes a repeated emit return the first event
	// and queue nothing.
	IdempotencyKey string
	// WebhookID, when set, sends the event to that webhook alone (ping),
	// whatever it subscribes to. It must exist and be enabled.
	WebhookID string
}

// Emitted is the result of emitting one event.
type Emitted struct {
	Event Event
	// Deliveries is how many deliveries this emit queued.
	Deliveries int
	// Duplicate is true when the idempotency key was seen before; Event is
	// then the first event with that key.
	Duplicate bool
}

// rowsPerInsert bounds multi-row INSERTs: 100 rows a statement is where
// DESIGN.md measured the best SQLite insert rate.
const rowsPerInsert = 100

// EmitEvents stores events and queues one pending delivery per enabled
// webhook subscribed to each event's type, all in one transaction: either
// every event and delivery is stored, or nothing is.
func (db *DB) EmitEvents(ctx context.Context, evs []NewEvent, now time.Time) ([]Emitted, error) {
	var out []Emitted
	err := db.emit(ctx, now, func(m *emission) error {
		var err error
		out, err = m.add(evs, 0, len(evs), len(evs))
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EmitCounts sums up an EmitStream.
type EmitCounts struct {
	// Events is how many events were stored.
	Events int
	// Deliveries is how many deliveries they queued.
	Deliveries int
	// Duplicates is how many events were not stored because their
	// idempotency key had been seen before.
	Duplicates int
}

// EmitStream is EmitEvents for events that arrive in batches, such as the
// lines of a big file while they are parsed: next returns the next batch,
// or no events and a nil error at the end. All batches go into one
// transaction, which commits at the end; if next or a batch fails, it
// rolls back and nothing is stored. On SQLite each batch is stored as soon
// as next returns it, so that the caller's work on the next batch overlaps
// with the store's. total is about how many events next will return in all
// (for ids; see sortedIDs); more or fewer is not an error.
func (db *DB) EmitStream(ctx context.Context, total int, next func() ([]NewEvent, error), now time.Time) (EmitCounts, error) {
	var c EmitCounts
	count := func(out []Emitted) {
		for _, em := range out {
			if em.Duplicate {
				c.Duplicates++
				continue
			}
			c.Events++
			c.Deliveries += em.Deliveries
		}
	}
	if db.dialect != SQLite {
		// retryUnique may run the transaction again: gather the events
		// first, since next cannot give them twice.
		var all []NewEvent
		for {
			evs, err := next()
			if err != nil {
				return EmitCounts{}, err
			}
			if len(evs) == 0 {
				break
			}
			all = append(all, evs...)
		}
		out, err := db.EmitEvents(ctx, all, now)
		if err != nil {
			return EmitCounts{}, err
		}
		count(out)
		return c, nil
	}
	var nextErr error // returned as it is, not as a database error
	err := db.emit(ctx, now, func(m *emission) error {
		done := 0
		for {
			evs, err := next()
			if err != nil {
				nextErr = err
				return err
			}
			if len(evs) == 0 {
				return nil
			}
			out, err := m.add(evs, done, done+len(evs), max(total, done+len(evs)))
			if err != nil {
				return err
			}
			count(out)
			done += len(evs)
		}
	})
	if nextErr != nil {
		return EmitCounts{}, nextErr
	}
	if err != nil {
		return EmitCounts{}, err
	}
	return c, nil
}

// emission is an emit transaction under way: the events of one or more
// batches, stored with one created time.
type emission struct {
	db   *DB
	ctx  context.Context
	tx   *sql.Tx
	conn *sql.Conn // on SQLite, the connection tx runs on (insertMany)
	now  time.Time
	// created is every row's created_at.
	created time.Time
	// subs maps event types to the enabled webhooks subscribed to them; nil
	// until a batch needs it.
	subs map[string][]string
	// seen holds the events of this emission that have idempotency keys,
	// and those found stored under the keys of its batches.
	seen map[string]Event
	// queued is true once a delivery was queued.
	queued bool
}

// emit runs fn in one emit transaction and commits if it succeeds.
func (db *DB) emit(ctx context.Context, now time.Time, fn func(m *emission) error) error {
	now = now.UTC().Truncate(time.Millisecond)
	run := func(tx *sql.Tx, conn *sql.Conn) error {
		m := &emission{db: db, ctx: ctx, tx: tx, conn: conn, now: now, created: now, seen: map[string]Event{}}
		if db.dialect == SQLite {
			// Never older than the newest row: rowid order stays created_at
			// order (newestFirst). An emit that waited for the write lock
			// while another committed takes that one's time.
			last, err := lastCreatedAt(ctx, tx)
			if err != nil {
				return err
			}
			if t := fromMS(last); t.After(m.created) {
				m.created = t
			}
		}
		if err := fn(m); err != nil {
			return err
		}
		if m.queued {
			return db.notifyDue(ctx, tx)
		}
		return nil
	}
	var err error
	if db.dialect == SQLite {
		err = db.inTxKnownParents(ctx, run)
	} else {
		err = db.retryUnique(ctx, func(tx *sql.Tx) error { return run(tx, nil) })
	}
	return db.wrap(err)
}

// add stores a batch of events and queues their deliveries. The batch is
// the events at places [from, to) of the emission's of.
func (m *emission) add(evs []NewEvent, from, to, of int) ([]Emitted, error) {
	ctx, tx, db := m.ctx, m.tx, m.db
	out := make([]Emitted, len(evs))
	if err := db.checkPingTargets(ctx, tx, evs); err != nil {
		return nil, err
	}
	if m.subs == nil && slices.ContainsFunc(evs, func(e NewEvent) bool { return e.WebhookID == "" }) {
		subs, err := db.subscriptions(ctx, tx)
		if err != nil {
			return nil, err
		}
		m.subs = subs
	}
	stored, err := db.eventsByKey(ctx, tx, evs)
	if err != nil {
		return nil, err
	}
	for k, e := range stored {
		m.seen[k] = e
	}
	// Plan first: which events are new, and where each one's deliveries go.
	var news []int
	targets := make([][]string, len(evs))
	total := 0
	for i, ne := range evs {
		if ne.IdempotencyKey != "" {
			if _, ok := m.seen[ne.IdempotencyKey]; ok {
				out[i] = Emitted{Duplicate: true}
				continue
			}
			// A later event with the same key is a duplicate of this one.
			m.seen[ne.IdempotencyKey] = Event{}
		}
		news = append(news, i)
		targets[i] = m.subs[ne.Type]
		if ne.WebhookID != "" {
			targets[i] = []string{ne.WebhookID}
		}
		total += len(targets[i])
	}
	evIDs := sortedIDs(EventIDPrefix, len(news), from, to, of)
	for j, i := range news {
		ne := evs[i]
		e := Event{
			ID:             evIDs[j],
			Type:           ne.Type,
			Timestamp:      ne.Timestamp.UTC().Truncate(time.Millisecond),
			Payload:        json.RawMessage(ne.Payload),
			IdempotencyKey: ne.IdempotencyKey,
			CreatedAt:      m.created,
		}
		if e.Timestamp.IsZero() {
			e.Timestamp = m.now
		}
		if e.IdempotencyKey != "" {
			m.seen[e.IdempotencyKey] = e
		}
		out[i] = Emitted{Event: e, Deliveries: len(targets[i])}
	}
	for i, ne := range evs {
		if out[i].Duplicate {
			out[i].Event = m.seen[ne.IdempotencyKey]
		}
	}
	// The times are the same for every row: written into the statement
	// as literals, they are not bound a million times.
	nowLit, createdLit := strconv.FormatInt(ms(m.now), 10), strconv.FormatInt(ms(m.created), 10)
	err = db.insertMany(ctx, tx, m.conn, `INSERT INTO events (id, type, timestamp, payload, idempotency_key, created_at) VALUES `, 5, len(news),
		func(j int, row []any) {
			e := out[news[j]].Event
			var key any
			if e.IdempotencyKey != "" {
				key = e.IdempotencyKey
			}
			row[0], row[1], row[2], row[3], row[4] = e.ID, e.Type, ms(e.Timestamp), string(e.Payload), key
		}, createdLit)
	if err != nil {
		return nil, err
	}
	dlIDs := sortedIDs(DeliveryIDPrefix, total, from, to, of)
	// The rows are produced in order: j walks events, k their targets.
	j, k := 0, 0
	var evID, evType any
	err = db.insertMany(ctx, tx, m.conn, `INSERT INTO deliveries (id, webhook_id, event_id, event_type, created_at, next_attempt_at, status) VALUES `, 4, total,
		func(n int, row []any) {
			for k == len(targets[news[j]]) {
				j, k = j+1, 0
				evID, evType = nil, nil
			}
			i := news[j]
			if evID == nil {
				evID, evType = out[i].Event.ID, out[i].Event.Type
			}
			row[0], row[1], row[2], row[3] = dlIDs[n], targets[i][k], evID, evType
			k++
		}, createdLit, nowLit, "'pending'")
	if err != nil {
		return nil, err
	}
	m.queued = m.queued || total > 0
	return out, nil
}

// checkPingTargets checks that the webhook of every ping in evs exists and
// is enabled.
func (db *DB) checkPingTargets(ctx context.Context, tx *sql.Tx, evs []NewEvent) error {
	for _, e := range evs {
		if e.WebhookID == "" {
			continue
		}
		var enabled int
		err := tx.QueryRowContext(ctx, db.rebind(`SELECT enabled FROM webhooks WHERE id = ?`), e.WebhookID).Scan(&enabled)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("webhook %s: %w", e.WebhookID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if enabled == 0 {
			return fmt.Errorf("webhook %s: %w", e.WebhookID, ErrWebhookDisabled)
		}
	}
	return nil
}

// subscriptions maps each event type to the enabled webhooks subscribed
// to it.
func (db *DB) subscriptions(ctx context.Context, tx *sql.Tx) (map[string][]string, error) {
	subs := map[string][]string{}
	rows, err := tx.QueryContext(ctx, `SELECT s.event_type, s.webhook_id
		FROM webhook_event_types s JOIN webhooks w ON w.id = s.webhook_id
		WHERE w.enabled = 1 ORDER BY s.webhook_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var t, id string
		if err := rows.Scan(&t, &id); err != nil {
			return nil, err
		}
		subs[t] = append(subs[t], id)
	}
	return subs, rows.Err()
}

// eventsByKey returns the stored events whose idempotency keys appear in evs.
func (db *DB) eventsByKey(ctx context.Context, tx *sql.Tx, evs []NewEvent) (map[string]Event, error) {
	seen := map[string]Event{}
	var keys []any
	for _, e := range evs {
		if e.IdempotencyKey != "" {
			keys = append(keys, e.IdempotencyKey)
		}
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		chunk := keys[:n]
		keys = keys[n:]
		rows, err := tx.QueryContext(ctx, db.rebind(`SELECT `+eventColumns+` FROM events WHERE idempotency_key IN (`+placeholders(n)+`)`), chunk...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			e, err := scanEvent(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			seen[e.IdempotencyKey] = e
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return seen, nil
}

// insertMany inserts n rows of cols values, rowsPerInsert rows a
// statement; fill(i, row) sets row i's values, and is called for i = 0, 1,
// … in order. consts are SQL literals appended to every row after the
// values. The full-size statement is prepared once: preparing a 100-row
// INSERT costs about as much as running it. conn, when not nil, is the
// SQLite connection tx runs on (inTxKnownParents): the full-size
// statements then go to the driver directly (withPrepared).
func (db *DB) insertMany(ctx context.Context, tx *sql.Tx, conn *sql.Conn, head string, cols, n int, fill func(i int, row []any), consts ...string) error {
	row := "(" + placeholders(cols)
	for _, c := range consts {
		row += ", " + c
	}
	row += ")"
	values := func(rows int) string {
		return db.rebind(head + strings.TrimSuffix(strings.Repeat(row+",", rows), ","))
	}
	args := make([]any, cols*min(n, rowsPerInsert))
	fillRows := func(i, rows int) []any {
		a := args[:rows*cols]
		for r := range rows {
			fill(i+r, a[r*cols:(r+1)*cols])
		}
		return a
	}
	i := 0
	if n >= 2*rowsPerInsert {
		err := withPrepared(ctx, tx, conn, values(rowsPerInsert), func(exec func(args []any) error) error {
			for ; n-i >= rowsPerInsert; i += rowsPerInsert {
				if err := exec(fillRows(i, rowsPerInsert)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for i < n {
		rows := min(n-i, rowsPerInsert)
		if _, err := tx.ExecContext(ctx, values(rows), fillRows(i, rows)...); err != nil {
			return err
		}
		i += rows
	}
	return nil
}

// withPrepared prepares query in tx and calls run with a function that
// executes it with args. With conn, the connection tx runs on, it
// prepares and executes through the driver itself, with one argument
// slice for every call: database/sql would copy each call's arguments
// into a new one, 36 MB for an emit of 100,000 events, and on our VMs
// every 4 KiB of fresh memory costs a page fault.
func withPrepared(ctx context.Context, tx *sql.Tx, conn *sql.Conn, query string, run func(exec func(args []any) error) error) error {
	if conn == nil {
		st, err := tx.PrepareContext(ctx, query)
		if err != nil {
			return err
		}
		defer st.Close()
		return run(func(args []any) error {
			_, err := st.ExecContext(ctx, args...)
			return err
		})
	}
	return conn.Raw(func(dc any) error {
		pc, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return fmt.Errorf("the driver's connection (%T) cannot prepare with a context", dc)
		}
		st, err := pc.PrepareContext(ctx, query)
		if err != nil {
			return err
		}
		defer st.Close()
		se, ok := st.(driver.StmtExecContext)
		if !ok {
			return fmt.Errorf("the driver's statement (%T) cannot execute with a context", st)
		}
		var nv []driver.NamedValue
		return run(func(args []any) error {
			if len(nv) != len(args) {
				nv = make([]driver.NamedValue, len(args))
			}
			for j, a := range args {
				v, err := driver.DefaultParameterConverter.ConvertValue(a)
				if err != nil {
					return fmt.Errorf("argument %d: %w", j+1, err)
				}
				nv[j] = driver.NamedValue{Ordinal: j + 1, Value: v}
			}
			_, err := se.ExecContext(ctx, nv)
			return err
		})
	})
}

// insertRows inserts flat args, cols values a row, as insertMany does.
func (db *DB) insertRows(ctx context.Context, tx *sql.Tx, head string, cols int, args []any, consts ...string) error {
	return db.insertMany(ctx, tx, nil, head, cols, len(args)/cols, func(i int, row []any) {
		copy(row, args[i*cols:(i+1)*cols])
	}, consts...)
}

// sortedIDs returns n new ids with prefix, in ascending order, for the
// events (or their deliveries) at places [from, to) of an emission of of
// events. Events, and deliveries in event order, then go into the id
// indexes in key order: a big batch writes each index page once instead of
// at random. The batches of one emission take their ids from successive
// shares of the id space (by their first two characters; see newIDsIn),
// so that later batches go in after earlier ones instead of across them,
// which cost a bulk emit in 10,000-event batches 12%. An emission in one
// batch takes them from all of it: the ids are uniformly random.
func sortedIDs(prefix string, n, from, to, of int) []string {
	lo, hi := 0, idHeads
	if of > 0 {
		lo = from * idHeads / of
		hi = max((to*idHeads+of-1)/of, lo+1)
	}
	ids := newIDsIn(prefix, n, lo, hi)
	slices.Sort(ids)
	return ids
}

// placeholders returns "?, ?, …" with n marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

const eventColumns = `id, type, timestamp, payload, idempotency_key, created_at`

func scanEvent(s interface{ Scan(...any) error }) (Event, error) {
	var e Event
	var ts, created int64
	var payload string
	var key sql.NullString
	if err := s.Scan(&e.ID, &e.Type, &ts, &payload, &key, &created); err != nil {
		return Event{}, err
	}
	e.Timestamp, e.CreatedAt = fromMS(ts), fromMS(created)
	e.Payload = json.RawMessage(payload)
	e.IdempotencyKey = key.String
	return e, nil
}

// GetEvent returns the event with the given id.
func (db *DB) GetEvent(ctx context.Context, id string) (Event, error) {
	e, err := scanEvent(db.sql.QueryRowContext(ctx, db.rebind(`SELECT `+eventColumns+` FROM events WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Event{}, fmt.Errorf("event %s: %w", id, ErrNotFound)
	}
	return e, db.wrap(err)
}

// ListEventsParams filters ListEvents.
type ListEventsParams struct {
	// Type, when set, keeps events of that type.
	Type string
	// Limit is the most events returned, newest first; 0 means no limit.
	Limit int
}

// ListEvents returns events, newest first.
func (db *DB) ListEvents(ctx context.Context, p ListEventsParams) ([]Event, error) {
	query := `SELECT ` + eventColumns + ` FROM events`
	var args []any
	if p.Type != "" {
		query += ` WHERE type = ?`
		args = append(args, p.Type)
	}
	query += ` ORDER BY ` + db.newestFirst(p.Type != "")
	if p.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, p.Limit)
	}
	rows, err := db.sql.QueryContext(ctx, db.rebind(query), args...)
	if err != nil {
		return nil, db.wrap(err)
	}
	defer rows.Close()
	evs := []Event{}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, db.wrap(err)
		}
		evs = append(evs, e)
	}
	return evs, db.wrap(rows.Err())
}
