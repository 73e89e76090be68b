// Package store keeps fgwh's webhooks, events, deliveries and delivery
// attempts. It is the only package that speaks SQL. Open picks the database
// from a DSN: a SQLite file path (the default) or a postgres:// URL.
//
// Every time-dependent method takes now as an argument; times are stored as
// integer unix milliseconds and converted only here.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Errors returned by the store. Callers test them with errors.Is.
var (
	// ErrNotFound means no webhook, event or delivery has the given id.
	ErrNotFound = errors.New("not found")
	// ErrNameTaken means another webhook already has the name.
	ErrNameTaken = errors.New("name already in use")
	// ErrWebhookDisabled means the operation needs an enabled webhook.
	ErrWebhookDisabled = errors.New("webhook is disabled")
	// ErrNewerSchema means the database was written by a newer fgwh.
	ErrNewerSchema = errors.New("database was written by a newer fgwh")
)

// Dialect names the database behind a DB.
type Dialect string

// The supported databases.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open fgwh database.
type DB struct {
	sql     *sql.DB
	dialect Dialect
	// where names the database in error messages: a file path or a URL without its password.
	where string
	// pg holds PostgreSQL-only state.
	pg *pgState
	// hot holds SQLite's prepared queue statements.
	hot hotStmts
	// rowidFrom holds rowidFromQuery prepared, by table (SQLite only).
	rowidFromMu    sync.Mutex
	rowidFromStmts map[string]*sql.Stmt
}

// Dialect reports which database this is.
func (db *DB) Dialect() Dialect { return db.dialect }

// Where names the database: its file path, or its URL without a password.
func (db *DB) Where() string { return db.where }

// Close closes the database.
func (db *DB) Close() error {
	if db.pg != nil {
		db.pg.close()
	}
	db.closeHot()
	for _, st := range db.rowidFromStmts {
		st.Close()
	}
	return db.sql.Close()
}

// DefaultPath returns the SQLite file used when no DSN is given:
// $XDG_DATA_HOME/fgwh/fgwh.db, else ~/.local/share/fgwh/fgwh.db.
func DefaultPath() (string, error) {
	if dir := os.Getenv("XDG_DATA_HOME"); dir != "" {
		return filepath.Join(dir, "fgwh", "fgwh.db"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the default database: %w (set --db or FGWH_DB)", err)
	}
	return filepath.Join(home, ".local", "share", "fgwh", "fgwh.db"), nil
}

// IsPostgresDSN reports whether dsn names a PostgreSQL database.
func IsPostgresDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens (creating and migrating if needed) the database named by dsn:
// a postgres:// URL, or a SQLite file path ("" means DefaultPath).
func Open(ctx context.Context, dsn string) (*DB, error) {
	if IsPostgresDSN(dsn) {
		return openPostgres(ctx, dsn)
	}
	if dsn == "" {
		p, err := DefaultPath()
		if err != nil {
			return nil, err
		}
		dsn = p
	}
	return openSQLite(ctx, dsn)
}

// q is what both *sql.Tx and *sql.Conn offer.
type q interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// inTx runs fn in a transaction, committing if it returns nil and rolling
// back on error or panic. On SQLite the transaction is BEGIN IMMEDIATE
// (_txlock=immediate), so it takes the write lock up front.
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return db.wrap(err)
	}
	return db.runTx(tx, fn)
}

// inTxKnownParents is inTx on SQLite with foreign keys not enforced, on
// the connection held for it, for a transaction whose rows reference only
// parents it read or wrote itself under its write lock (EmitEvents): the
// per-row parent lookups would only repeat what it knows, and cost 8% of a
// bulk emit. The connection enforces them again afterwards, or is closed.
// fn also gets the connection, for insertMany.
func (db *DB) inTxKnownParents(ctx context.Context, fn func(tx *sql.Tx, conn *sql.Conn) error) error {
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return db.wrap(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
		return db.wrap(err)
	}
	defer func() {
		if _, err := conn.ExecContext(context.Background(), "PRAGMA foreign_keys = ON"); err != nil {
			// Never hand the pool a connection that does not enforce them.
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return db.wrap(err)
	}
	return db.runTx(tx, func(tx *sql.Tx) error { return fn(tx, conn) })
}

// runTx runs fn in tx and commits, or rolls back if fn fails or panics.
func (db *DB) runTx(tx *sql.Tx, fn func(tx *sql.Tx) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			tx.Rollback()
			panic(p)
		}
		if err != nil {
			tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	return db.wrap(tx.Commit())
}

// rebind rewrites ? placeholders as $1, $2, … for PostgreSQL. Queries in
// this package never contain a literal question mark.
func (db *DB) rebind(query string) string {
	if db.dialect != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// wrap adds the database's name to driver errors so a user knows which
// file or server failed.
func (db *DB) wrap(err error) error {
	// Domain errors are about the input, not the database: callers show them as they are.
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrNameTaken) ||
		errors.Is(err, ErrWebhookDisabled) || errors.Is(err, context.Canceled) {
		return err
	}
	var se *StoreError
	if errors.As(err, &se) {
		return err
	}
	if uniqueViolation(err) == "webhooks_name_key" {
		// A concurrent writer took the name after we checked it (PostgreSQL only).
		return fmt.Errorf("webhook name: %w", ErrNameTaken)
	}
	return &StoreError{Where: db.where, Err: err}
}

// StoreError is a database failure, naming the database.
type StoreError struct {
	Where string
	Err   error
}

func (e *StoreError) Error() string { return fmt.Sprintf("database %s: %v", e.Where, e.Err) }
func (e *StoreError) Unwrap() error { return e.Err }

// ms converts a time to stored unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

// fromMS converts stored unix milliseconds to a UTC time.
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// nullMS converts a nullable stored time; the zero time means NULL.
func nullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}

// msOrNull stores the zero time as NULL.
func msOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// newestFirst orders listings newest first. Rows created in one millisecond
// (a bulk emit) tie on created_at and are ordered by insertion: SQLite's
// rowid, or PostgreSQL's seq column. Their created_at indexes end with it,
// so a filtered listing reads LIMIT index entries instead of sorting every
// tied row.
//
// SQLite has no index on created_at alone: keeping one cost an index insert
// for every event and delivery emitted. There created_at never decreases in
// rowid order (lastCreatedAt), so a listing that no index filters (indexed
// false) reads the table backwards by rowid, in the same order.
func (db *DB) newestFirst(indexed bool) string {
	if db.dialect == SQLite {
		if !indexed {
			return `rowid DESC`
		}
		return `created_at DESC, rowid DESC`
	}
	return `created_at DESC, seq DESC`
}

// rowidFrom returns the smallest rowid of table (events or deliveries)
// whose created_at is at least cutoff, or one past the last rowid when
// there is none. It stands in for an index on created_at on SQLite, where
// created_at never decreases in rowid order (lastCreatedAt). It runs in tx
// when tx is not nil.
func (db *DB) rowidFrom(ctx context.Context, tx *sql.Tx, table string, cutoff int64) (int64, error) {
	var rowid int64
	if tx != nil {
		// Preparing on db.sql would wait for tx's connection: the only one.
		err := tx.QueryRowContext(ctx, rowidFromQuery(table), cutoff, cutoff).Scan(&rowid)
		return rowid, err
	}
	// Prepared once: compiling the query costs more than running it.
	db.rowidFromMu.Lock()
	st := db.rowidFromStmts[table]
	if st == nil {
		var err error
		if st, err = db.sql.PrepareContext(ctx, rowidFromQuery(table)); err != nil {
			db.rowidFromMu.Unlock()
			return 0, err
		}
		if db.rowidFromStmts == nil {
			db.rowidFromStmts = map[string]*sql.Stmt{}
		}
		db.rowidFromStmts[table] = st
	}
	db.rowidFromMu.Unlock()
	err := st.QueryRowContext(ctx, cutoff, cutoff).Scan(&rowid)
	return rowid, err
}

// rowidFromQuery finds rowidFrom's answer by halves, one rowid seek a
// step (about 20 for a million rows). Its two parameters are the cutoff.
func rowidFromQuery(table string) string {
	// at(mid) says whether the first row at or after rowid mid is at or
	// after the cutoff (past the last row counts as after).
	at := func(mid string) string {
		return `coalesce((SELECT created_at >= ? FROM ` + table + ` WHERE rowid >= ` + mid + ` ORDER BY rowid LIMIT 1), 1)`
	}
	// min and max in separate queries: together they would scan the table.
	// Each row of halves holds the range [lo, hi] left to search and at
	// its midpoint; the next row keeps the half that holds the answer.
	lo, hi := `iif(at, lo, (lo + hi) / 2 + 1)`, `iif(at, (lo + hi) / 2, hi)`
	return `WITH RECURSIVE
		bounds(lo, hi) AS (SELECT coalesce((SELECT min(rowid) FROM ` + table + `), 0), coalesce((SELECT max(rowid) FROM ` + table + `), 0) + 1),
		halves(lo, hi, at) AS (
			SELECT lo, hi, ` + at(`(lo + hi) / 2`) + ` FROM bounds
			UNION ALL
			SELECT ` + lo + `, ` + hi + `, ` + at(`(`+lo+` + `+hi+`) / 2`) + ` FROM halves WHERE lo < hi)
		SELECT max(lo) FROM halves`
}

// lastCreatedAt returns the created_at of the newest event or delivery on
// SQLite, 0 when there is none. EmitEvents stores nothing older, so that
// created_at never decreases in rowid order (newestFirst, rowidFrom).
func lastCreatedAt(ctx context.Context, tx *sql.Tx) (int64, error) {
	var last int64
	err := tx.QueryRowContext(ctx, `SELECT max(
		coalesce((SELECT created_at FROM events ORDER BY rowid DESC LIMIT 1), 0),
		coalesce((SELECT created_at FROM deliveries ORDER BY rowid DESC LIMIT 1), 0))`).Scan(&last)
	return last, err
}
