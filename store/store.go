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
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
// (a bulk emit) tie on created_at; SQLite breaks the tie with rowid, which
// every index already ends with, so a filtered listing reads LIMIT index
// entries instead of sorting every tied row. PostgreSQL's seq column is the
// same insertion order, and its created_at indexes end with it.
func (db *DB) newestFirst() string {
	if db.dialect == SQLite {
		return `created_at DESC, rowid DESC`
	}
	return `created_at DESC, seq DESC`
}
