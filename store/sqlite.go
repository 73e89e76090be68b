package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

// DefaultBusyTimeout is how long a SQLite statement waits for another
// process's write lock before failing. FGWH_BUSY_TIMEOUT overrides it.
const DefaultBusyTimeout = 10 * time.Second

func busyTimeout() (time.Duration, error) {
	v := os.Getenv("FGWH_BUSY_TIMEOUT")
	if v == "" {
		return DefaultBusyTimeout, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("FGWH_BUSY_TIMEOUT: %q is not a duration such as 10s", v)
	}
	return d, nil
}

// cacheKiB is the size of each connection's SQLite page cache.
const cacheKiB = 8 << 10

// openSQLite opens the SQLite file at path, creating it 0600 (and its
// directory 0700) on first use: the file holds webhook tokens.
func openSQLite(ctx context.Context, path string) (*DB, error) {
	path = strings.TrimPrefix(path, "sqlite://")
	timeout, err := busyTimeout()
	if err != nil {
		return nil, err
	}
	if err := createFile(path); err != nil {
		return nil, err
	}
	// Pragmas go in the DSN so every connection the pool opens gets them.
	// The statement journal stays in memory. The page cache is kept small
	// (8 MiB, cacheKiB): a transaction bigger than the cache spills its
	// pages to the WAL, where SQLite rewrites a page already spilled in
	// place, and that costs less than a big cache does. Every page the
	// cache holds is fresh memory (about 8 KiB of it, a slot of the
	// driver's allocator), and each first touch of 4 KiB is a page fault,
	// about 10 µs on our 2-core virtual machines; closing the database then
	// hands it all back to the kernel. "event emit --file" of 100,000
	// events took 2.02 s with 8 MiB against 2.65 s with 64 MiB (README,
	// Benchmarks).
	dsn := path + "?_pragma=busy_timeout(" + strconv.FormatInt(timeout.Milliseconds(), 10) + ")" +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=cache_size(" + strconv.Itoa(-cacheKiB) + ")&_pragma=temp_store(MEMORY)&_pragma=foreign_keys(1)&_txlock=immediate"
	sqldb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	// SQLite has one writer: one connection serialises our statements in
	// this process instead of making them wait on each other's locks, and
	// keeps PRAGMA data_version blind to our own commits.
	sqldb.SetMaxOpenConns(1)
	sqldb.SetMaxIdleConns(1)
	sqldb.SetConnMaxLifetime(0)
	db := &DB{sql: sqldb, dialect: SQLite, where: path}
	if err := pingSQLite(ctx, sqldb, timeout); err != nil {
		sqldb.Close()
		return nil, db.wrap(err)
	}
	if err := db.migrateSQLite(ctx); err != nil {
		sqldb.Close()
		return nil, err
	}
	return db, nil
}

// pingSQLite opens the first connection, which sets the DSN's pragmas. On a
// new file, journal_mode(WAL) takes an exclusive lock, and SQLite answers a
// concurrent opener's switch with SQLITE_BUSY at once, without its busy
// handler: two processes starting on a fresh database would see "database
// is locked". Retry that for up to the busy timeout.
func pingSQLite(ctx context.Context, sqldb *sql.DB, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := sqldb.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || !time.Now().Before(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// createFile makes path's directory (0700) and an empty file (0600) if they
// do not exist yet. SQLite gives its -wal and -shm files the same mode.
func createFile(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create database directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return fmt.Errorf("create database: %w", err)
	}
	return f.Close()
}

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations(fsys embed.FS, dir string) []migration {
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		panic(err) // embedded at build time
	}
	var ms []migration
	for _, e := range entries {
		n, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			panic("migration without a number: " + e.Name())
		}
		b, err := fsys.ReadFile(dir + "/" + e.Name())
		if err != nil {
			panic(err)
		}
		ms = append(ms, migration{version: n, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			panic("migrations must be numbered 1, 2, 3, …: " + m.name)
		}
	}
	return ms
}

// migrateSQLite brings the schema to the newest version, tracked in PRAGMA
// user_version, and refuses a database written by a newer fgwh.
func (db *DB) migrateSQLite(ctx context.Context) error {
	var mode string
	if err := db.sql.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return db.wrap(err)
	}
	var version int
	if err := db.sql.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return db.wrap(err)
	}
	ms := loadMigrations(sqliteMigrations, "migrations/sqlite")
	if version > len(ms) {
		return fmt.Errorf("database %s: %w (schema version %d; this fgwh knows up to %d): upgrade fgwh",
			db.where, ErrNewerSchema, version, len(ms))
	}
	if version == len(ms) {
		if mode != "wal" {
			return fmt.Errorf("database %s: journal mode is %q, want wal", db.where, mode)
		}
		return nil
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		// Re-read inside the write lock: another process may have migrated meanwhile.
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
			return err
		}
		if version == 0 {
			// A version-0 file must be empty: refuse to write our schema into
			// another program's database. Checked under the write lock, so a
			// process that migrated meanwhile is not taken for another program.
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return fmt.Errorf("database %s: not an fgwh database (it has tables but no fgwh schema version)", db.where)
			}
		}
		for _, m := range ms[version:] {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Migration 004 rewrites table definitions in place, which the
	// connection that ran it does not reread: close it, so the next
	// statement opens a connection that reads the schema afresh.
	db.sql.SetMaxIdleConns(0)
	db.sql.SetMaxIdleConns(1)
	return nil
}
