package store

import (
	"context"
	"errors"
	"time"
)

// pgState holds what only a PostgreSQL store needs.
type pgState struct{}

func (p *pgState) close() {}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	return nil, errors.New("PostgreSQL is not supported yet")
}

// pgChannel is the LISTEN/NOTIFY channel that wakes deliver processes.
const pgChannel = "fgwh_due"

func (db *DB) claimPostgres(ctx context.Context, p ClaimParams) ([]Claimed, error) {
	return nil, errors.New("PostgreSQL is not supported yet")
}

func (db *DB) watchPostgres(ctx context.Context, poll time.Duration) <-chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}
