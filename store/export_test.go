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
