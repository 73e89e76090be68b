package store

import "context"

// ExecForTest runs a raw statement, for tests that need a state no method makes.
func (db *DB) ExecForTest(ctx context.Context, query string) error {
	_, err := db.sql.ExecContext(ctx, query)
	return err
}

// QueryIntForTest runs a query that returns one integer.
func (db *DB) QueryIntForTest(ctx context.Context, query string) (int, error) {
	var n int
	err := db.sql.QueryRowContext(ctx, query).Scan(&n)
	return n, err
}

// BreakListenForTest points Watch's LISTEN connections at a port where
// nothing listens, as if the server could not be reached for them.
func (db *DB) BreakListenForTest() {
	db.pg.cfg.Host, db.pg.cfg.Port = "127.0.0.1", 1
	db.pg.cfg.Fallbacks = nil
}

// CacheKiBForTest is the size of each connection's page cache.
const CacheKiBForTest = cacheKiB
