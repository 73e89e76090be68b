package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

//go:embed migrations/postgres/*.sql
var postgresMigrations embed.FS

// Connection pool bounds for PostgreSQL. A deliver process uses a handful
// of connections at once (claimer, completer, lease keeper, rescuer) plus
// the dedicated LISTEN connection; a CLI command uses one.
const (
	DefaultPostgresMaxConns     = 8
	DefaultPostgresMaxIdleConns = 4
	DefaultPostgresConnIdleTime = 5 * time.Minute
	// DefaultPostgresConnectTimeout bounds opening a connection when the
	// DSN gives no connect_timeout.
	DefaultPostgresConnectTimeout = 10 * time.Second
)

// pgState holds what only a PostgreSQL store needs.
type pgState struct {
	// cfg opens the dedicated LISTEN connections of Watch.
	cfg *pgx.ConnConfig
	// schema is current_schema() of our connections: NOTIFY carries it so
	// that fgwh installations in other schemas of one database do not wake
	// each other.
	schema string

	mu       sync.Mutex
	closed   bool
	watchers map[int]context.CancelFunc
	next     int
}

// close stops every Watch of this DB.
func (p *pgState) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, cancel := range p.watchers {
		cancel()
	}
	p.watchers = nil
}

// track registers a watcher's cancel func; untrack removes it.
func (p *pgState) track(cancel context.CancelFunc) (untrack func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		cancel()
		return func() {}
	}
	if p.watchers == nil {
		p.watchers = map[int]context.CancelFunc{}
	}
	id := p.next
	p.next++
	p.watchers[id] = cancel
	return func() {
		p.mu.Lock()
		delete(p.watchers, id)
		p.mu.Unlock()
	}
}

// redactDSN names a PostgreSQL database for messages: the URL without its
// password (in the user part or a password= parameter).
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	if q := u.Query(); q.Has("password") || q.Has("sslpassword") {
		q.Del("password")
		q.Del("sslpassword")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// openPostgres connects to the PostgreSQL database named by a postgres://
// URL and migrates it. Our queries go through database/sql (pgx's stdlib
// adapter) so SQLite and PostgreSQL share them; Watch alone uses a raw pgx
// connection, for LISTEN.
func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	where := redactDSN(dsn)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors quote the DSN with its password masked.
		return nil, fmt.Errorf("database %s: %w", where, err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultPostgresConnectTimeout
	}
	// Name our connections in pg_stat_activity unless the DSN does.
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "fgwh"
	}
	sqldb := stdlib.OpenDB(*cfg)
	sqldb.SetMaxOpenConns(DefaultPostgresMaxConns)
	sqldb.SetMaxIdleConns(DefaultPostgresMaxIdleConns)
	sqldb.SetConnMaxIdleTime(DefaultPostgresConnIdleTime)
	db := &DB{sql: sqldb, dialect: Postgres, where: where, pg: &pgState{cfg: cfg}}
	var schema sql.NullString
	if err := sqldb.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		sqldb.Close()
		return nil, db.wrap(err)
	}
	if !schema.Valid {
		sqldb.Close()
		return nil, fmt.Errorf("database %s: no schema to use: search_path names no existing schema (create it first: CREATE SCHEMA …)", where)
	}
	db.pg.schema = schema.String
	if err := db.migratePostgres(ctx); err != nil {
		sqldb.Close()
		return nil, err
	}
	return db, nil
}

// pgVersionTable records each applied migration of the current schema.
const pgVersionTable = `fgwh_schema_version`

// migratePostgres brings the schema to the newest version, tracked in
// fgwh_schema_version, and refuses a database written by a newer fgwh.
// Several processes may open a new database at once: the migration runs
// under a transaction-scoped advisory lock and re-reads the version inside
// it, so exactly one of them applies each migration.
func (db *DB) migratePostgres(ctx context.Context) error {
	migs := loadMigrations(postgresMigrations, "migrations/postgres")
	version, err := db.pgVersion(ctx, db.sql)
	if err != nil {
		return db.wrap(err)
	}
	if err := db.checkVersion(version, len(migs)); err != nil || version == len(migs) {
		return err
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		// The key is per schema: installations in other schemas need not wait.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('fgwh migrate ' || current_schema()))`); err != nil {
			return err
		}
		version, err := db.pgVersion(ctx, tx)
		if err != nil {
			return err
		}
		if err := db.checkVersion(version, len(migs)); err != nil {
			return err
		}
		if version == 0 {
			// Refuse to write our schema over tables of the same names that we did not make.
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables
				WHERE table_schema = current_schema()
				AND table_name IN ('webhooks', 'webhook_event_types', 'events', 'deliveries', 'delivery_attempts')`).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return fmt.Errorf("database %s: not an fgwh database (schema %s has fgwh's table names but no fgwh schema version)",
					db.where, db.pg.schema)
			}
			if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+pgVersionTable+` (
				version    INTEGER PRIMARY KEY,
				name       TEXT NOT NULL,
				applied_at BIGINT NOT NULL)`); err != nil {
				return err
			}
		}
		for _, m := range migs[version:] {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO `+pgVersionTable+` (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, ms(time.Now())); err != nil {
				return err
			}
		}
		return nil
	})
}

// pgVersion returns the newest applied migration, 0 for a new schema.
func (db *DB) pgVersion(ctx context.Context, qr q) (int, error) {
	// Read the catalog with a fresh snapshot rather than to_regclass, whose
	// cache can still say "no such table" after another process created it
	// while we waited for the migration lock.
	var exists bool
	if err := qr.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables
		WHERE schemaname = current_schema() AND tablename = '`+pgVersionTable+`')`).Scan(&exists); err != nil {
		return 0, err
	}
	if !exists {
		return 0, nil
	}
	var v int
	err := qr.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM `+pgVersionTable).Scan(&v)
	return v, err
}

func (db *DB) checkVersion(version, known int) error {
	if version > known {
		return fmt.Errorf("database %s: %w (schema version %d; this fgwh knows up to %d): upgrade fgwh",
			db.where, ErrNewerSchema, version, known)
	}
	return nil
}

// pgChannel is the LISTEN/NOTIFY channel that wakes deliver processes. The
// payload is the schema whose deliveries may be due.
const pgChannel = "fgwh_due"

// claimPostgres is ClaimDeliveries on PostgreSQL, in one transaction. It
// picks due deliveries as dueIDs does on SQLite: first in due order on
// deliveries_due_at, skipping disabled and capped webhooks, so a claim
// costs what it claims; and when a backlog of skipped deliveries cuts that
// pass short, by walking the enabled webhooks (pgDueWalk). Both lock what
// they pick with FOR UPDATE SKIP LOCKED, so concurrent claimers never take
// one row twice and never wait on each other. One UPDATE then leases the
// picked rows and returns what sending needs.
func (db *DB) claimPostgres(ctx context.Context, p ClaimParams) ([]Claimed, error) {
	var out []Claimed
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		// Every step is an index seek or an ordered index range. Before
		// autovacuum has analyzed a freshly filled table, the planner may
		// instead sort the whole backlog (23 ms instead of 0.1 ms at 20,000
		// due), and so may a generic plan of pgx's prepared statements, which
		// ignores the values: leave it no other choice. (SET LOCAL, not
		// connection parameters, which poolers such as PgBouncer refuse.)
		if _, err := tx.ExecContext(ctx, `SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off;
			SET LOCAL plan_cache_mode = force_custom_plan`); err != nil {
			return err
		}
		ids, ok, err := db.pgDueInOrder(ctx, tx, p)
		if err != nil {
			return err
		}
		if !ok {
			if ids, err = db.pgDueWalk(ctx, tx, p); err != nil {
				return err
			}
		}
		if len(ids) == 0 {
			return nil
		}
		out, err = db.pgMarkClaimed(ctx, tx, p, ids)
		return err
	})
	if err != nil {
		return nil, db.wrap(fmt.Errorf("claim deliveries: %w", err))
	}
	return out, nil
}

// pgDueInOrder is the first pass: it locks up to dueScanFactor × p.Limit
// due deliveries in due order and keeps those of enabled webhooks within
// their cap. ok is false when it read its bound without filling the claim.
// The rows it locks and does not keep stay locked until the claim commits;
// as a lock is a write on PostgreSQL, it reads only p.Limit rows when no
// webhook's cap can bind.
func (db *DB) pgDueInOrder(ctx context.Context, tx *sql.Tx, p ClaimParams) (ids []string, ok bool, err error) {
	scan := dueScanFactor * p.Limit
	if capFree(p) {
		scan = p.Limit
	}
	rows, err := tx.QueryContext(ctx, `SELECT d.id, d.webhook_id, w.enabled FROM (
			SELECT id, webhook_id, next_attempt_at FROM deliveries
			WHERE status IN ('pending', 'retrying') AND next_attempt_at <= $1
			ORDER BY next_attempt_at LIMIT $2
			FOR UPDATE SKIP LOCKED
		) d JOIN webhooks w ON w.id = d.webhook_id
		ORDER BY d.next_attempt_at`, ms(p.Now), scan)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	taken := map[string]int{}
	read := 0
	for rows.Next() {
		read++
		var id, hook string
		var enabled int
		if err := rows.Scan(&id, &hook, &enabled); err != nil {
			return nil, false, err
		}
		if enabled != 1 || (p.PerWebhook > 0 && p.InFlight[hook]+taken[hook] >= p.PerWebhook) || len(ids) == p.Limit {
			continue
		}
		taken[hook]++
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	// Fewer rows than the bound: every due delivery nobody else holds was considered.
	return ids, len(ids) == p.Limit || read < scan, nil
}

// capFree reports whether p.PerWebhook leaves every webhook room for a
// whole claim.
func capFree(p ClaimParams) bool {
	if p.PerWebhook <= 0 {
		return true
	}
	most := 0
	for _, n := range p.InFlight {
		most = max(most, n)
	}
	return p.PerWebhook-most >= p.Limit
}

// pgDueWalk is the second pass: for each enabled webhook it seeks the
// earliest due deliveries on deliveries_due, at most the webhook's room
// under the cap, and keeps the earliest p.Limit of them.
func (db *DB) pgDueWalk(ctx context.Context, tx *sql.Tx, p ClaimParams) ([]string, error) {
	hooks := make([]string, 0, len(p.InFlight))
	counts := make([]int32, 0, len(p.InFlight))
	for h, n := range p.InFlight {
		hooks = append(hooks, h)
		counts = append(counts, int32(n))
	}
	rows, err := tx.QueryContext(ctx, `WITH inflight AS (
			SELECT * FROM unnest($3::text[], $4::int[]) AS f (webhook_id, n)
		), hooks AS (
			SELECT w.id, CASE WHEN $2::int > 0 THEN LEAST($5::int, $2::int - coalesce(f.n, 0)) ELSE $5::int END AS room
			FROM webhooks w LEFT JOIN inflight f ON f.webhook_id = w.id
			WHERE w.enabled = 1
		)
		SELECT d.id
		FROM hooks h CROSS JOIN LATERAL (
			SELECT id, next_attempt_at FROM deliveries
			WHERE webhook_id = h.id AND status IN ('pending', 'retrying') AND next_attempt_at <= $1
			ORDER BY next_attempt_at
			LIMIT GREATEST(h.room, 0)
			FOR UPDATE SKIP LOCKED
		) d
		ORDER BY d.next_attempt_at
		LIMIT $5`, ms(p.Now), p.PerWebhook, hooks, counts, p.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// pgMarkClaimed leases the picked (and locked) ids to p.Owner and returns
// them with what sending needs, earliest due first.
func (db *DB) pgMarkClaimed(ctx context.Context, tx *sql.Tx, p ClaimParams, ids []string) ([]Claimed, error) {
	rows, err := tx.QueryContext(ctx, `UPDATE deliveries d
		SET status = 'delivering', attempts = d.attempts + 1, lease_owner = $1, lease_expires_at = $2
		FROM webhooks w, events e
		WHERE d.id = ANY($3::text[]) AND w.id = d.webhook_id AND e.id = d.event_id AND d.status IN ('pending', 'retrying')
		RETURNING d.id, d.webhook_id, d.event_id, d.event_type, d.attempts, d.manual, d.next_attempt_at,
			w.url, w.token, w.previous_token, w.previous_token_expires_at, w.signature_scheme, e.timestamp, e.payload`,
		p.Owner, ms(p.Now.Add(p.Lease)), ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type row struct {
		c    Claimed
		next int64
	}
	var got []row
	for rows.Next() {
		var r row
		var manual int
		var prevExp, ts int64
		var payload string
		if err := rows.Scan(&r.c.ID, &r.c.WebhookID, &r.c.EventID, &r.c.EventType, &r.c.Attempt, &manual, &r.next,
			&r.c.URL, &r.c.Token, &r.c.PreviousToken, &prevExp, &r.c.SignatureScheme, &ts, &payload); err != nil {
			return nil, err
		}
		r.c.Manual = manual == 1
		if prevExp <= ms(p.Now) {
			r.c.PreviousToken = ""
		}
		r.c.EventTime = fromMS(ts)
		r.c.Payload = []byte(payload)
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// RETURNING has no order: earliest due first, as on SQLite.
	sort.Slice(got, func(i, j int) bool {
		if got[i].next != got[j].next {
			return got[i].next < got[j].next
		}
		return got[i].c.ID < got[j].c.ID
	})
	out := make([]Claimed, len(got))
	for i, r := range got {
		out[i] = r.c
	}
	return out, nil
}

// Timing of the PostgreSQL watcher. The poll interval callers pass is made
// for SQLite's cheap local check (milliseconds); on PostgreSQL it only sets
// how often to wake while the LISTEN connection is down.
const (
	// pgPingInterval is how long the LISTEN connection may be quiet before
	// a ping checks that it still works (at least the poll interval).
	pgPingInterval = 5 * time.Second
	// pgReconnectDelay is the least time between attempts to reconnect.
	pgReconnectDelay = time.Second
	// pgMinFallbackPoll is the least time between wakes while the LISTEN
	// connection is down: each wake costs the caller a query to the server
	// (and, when the server itself is down, a failed connection attempt).
	pgMinFallbackPoll = 500 * time.Millisecond
)

// watchPostgres wakes on NOTIFY fgwh_due from any process using this
// schema, heard on a dedicated connection. While that connection is down
// it wakes every poll interval (at least every 500 ms) instead, the
// fallback: the caller then looks for due work itself; and it tries to
// reconnect every second or poll interval, whichever is longer; after a reconnect it wakes once, for what
// it may have missed. A quiet connection is pinged every 5 s (or poll
// interval), which finds one that died silently.
func (db *DB) watchPostgres(ctx context.Context, poll time.Duration) <-chan struct{} {
	ch := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(ctx)
	untrack := db.pg.track(cancel)
	wake := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	go func() {
		defer close(ch)
		defer untrack()
		defer cancel()
		for first := true; ; first = false {
			db.pg.listen(ctx, max(poll, pgPingInterval), wake, !first)
			if ctx.Err() != nil {
				return
			}
			if !db.pg.fallBack(ctx, max(poll, pgMinFallbackPoll), wake) {
				return
			}
		}
	}()
	return ch
}

// fallBack wakes at once and then every poll interval until it is time to
// reconnect; it returns false if ctx ended meanwhile.
func (p *pgState) fallBack(ctx context.Context, poll time.Duration, wake func()) bool {
	wake()
	retry := time.NewTimer(max(poll, pgReconnectDelay))
	defer retry.Stop()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
			wake()
		case <-retry.C:
			return true
		}
	}
}

// listen connects, LISTENs and wakes on each notification for our schema
// until ctx ends or the connection fails, pinging it after each quiet
// interval. With again set (a reconnect) it wakes once as soon as it listens.
func (p *pgState) listen(ctx context.Context, quiet time.Duration, wake func(), again bool) error {
	cfg := p.cfg.Copy()
	if cfg.RuntimeParams["application_name"] == "fgwh" {
		cfg.RuntimeParams["application_name"] = "fgwh listen " + p.schema
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `LISTEN `+pgChannel); err != nil {
		return err
	}
	if again {
		wake()
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, quiet)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			if n.Payload == p.schema {
				wake()
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case pgconn.Timeout(err):
			pctx, cancel := context.WithTimeout(ctx, pgPingInterval)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// markCompletedPostgres is markCompleted in one statement: a round trip
// per row would cost more than the update itself.
func (db *DB) markCompletedPostgres(ctx context.Context, tx *sql.Tx, owner string, cs []Completion, next, completed []*int64) ([]bool, error) {
	ids := make([]string, len(cs))
	attempts := make([]int32, len(cs))
	statuses := make([]string, len(cs))
	at := make([]int64, len(cs))
	codes := make([]int32, len(cs))
	errs := make([]string, len(cs))
	for i, c := range cs {
		ids[i], attempts[i], statuses[i], at[i] = c.ID, int32(c.Attempt), c.Status, ms(c.AttemptedAt)
		codes[i], errs[i] = int32(c.StatusCode), db.pgText(c.Error)
	}
	rows, err := tx.QueryContext(ctx, `UPDATE deliveries d SET
			status = v.status, next_attempt_at = v.next_at, last_attempt_at = v.attempted_at,
			last_status_code = v.code, last_error = v.err, completed_at = v.completed_at,
			manual = 0, lease_owner = '', lease_expires_at = NULL
		FROM unnest($1::text[], $2::int[], $3::text[], $4::bigint[], $5::bigint[], $6::int[], $7::text[], $8::bigint[])
			AS v (id, attempt, status, next_at, attempted_at, code, err, completed_at)
		WHERE d.id = v.id AND d.status = 'delivering' AND d.lease_owner = $9 AND d.attempts = v.attempt
		RETURNING d.id, d.attempts`, ids, attempts, statuses, next, at, codes, errs, completed, owner)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	done := map[string]int{}
	for rows.Next() {
		var id string
		var attempt int
		if err := rows.Scan(&id, &attempt); err != nil {
			return nil, err
		}
		done[id] = attempt
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// A delivery updates once; a second completion of it in the batch is
	// lost, as it would be one row at a time.
	applied := make([]bool, len(cs))
	for i, c := range cs {
		if a, ok := done[c.ID]; ok && a == c.Attempt {
			applied[i] = true
			delete(done, c.ID)
		}
	}
	return applied, nil
}

// skipLocked ends a SELECT that picks rows to change, so that concurrent
// transactions pick different rows: FOR UPDATE SKIP LOCKED on PostgreSQL,
// nothing on SQLite, whose writers take turns.
func (db *DB) skipLocked() string {
	if db.dialect == Postgres {
		return ` FOR UPDATE SKIP LOCKED`
	}
	return ``
}

// uniqueViolation returns the constraint a PostgreSQL unique violation
// names, or "" for any other error.
func uniqueViolation(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return pe.ConstraintName
	}
	return ""
}

// retryUnique runs fn in a transaction and, on PostgreSQL, runs it again
// (up to three times) when it failed on a unique index. PostgreSQL runs
// writers concurrently where SQLite serialises them: two transactions can
// both find a name or idempotency key free and both insert it. The second
// then fails on the index; run again, it sees the first one's row and
// does what SQLite would have done (ErrNameTaken, a duplicate emit, the
// next free derived name). fn must not keep state from a failed run.
func (db *DB) retryUnique(ctx context.Context, fn func(tx *sql.Tx) error) error {
	for i := 0; ; i++ {
		err := db.inTx(ctx, fn)
		if db.dialect != Postgres || i == 2 || uniqueViolation(err) == "" {
			return err
		}
	}
}

// pgText makes a string storable in a PostgreSQL TEXT column, which cannot
// hold NUL bytes (SQLite can); it leaves other strings, and every string
// on SQLite, as they are.
func (db *DB) pgText(s string) string {
	if db.dialect != Postgres || !strings.Contains(s, "\x00") {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}
