package cmd

import (
	"context"
	"os"
	"time"

	"github.com/fgwh/fgwh/store"
)

// App holds what commands need, created lazily so that commands which do
// not use the database (version, verify, help) never open it.
type App struct {
	IO *IO
	// Now is the clock; tests may fix it.
	Now func() time.Time
	// Getenv reads the environment; tests may replace it.
	Getenv func(string) string

	// dsn is --db, defaulting to FGWH_DB, then to store.DefaultPath.
	dsn string
	// output is -o: "table" or "json".
	output string
	// ran is set once a command's flags and arguments were accepted, so
	// Main can tell Cobra's usage errors from a command's own errors.
	ran bool
	db  *store.DB
}

// NewApp returns an App on the given streams with the real clock and environment.
func NewApp(io *IO) *App {
	return &App{IO: io, Now: time.Now, Getenv: os.Getenv}
}

// Store opens the database on first use.
func (a *App) Store(ctx context.Context) (*store.DB, error) {
	if a.db != nil {
		return a.db, nil
	}
	db, err := store.Open(ctx, a.dsn)
	if err != nil {
		return nil, err
	}
	a.db = db
	return db, nil
}

// JSON reports whether -o json was given.
func (a *App) JSON() bool { return a.output == formatJSON }

// now returns the clock's time in UTC, at millisecond precision (what is stored).
func (a *App) now() time.Time { return a.Now().UTC().Truncate(time.Millisecond) }

// Close closes the database if it was opened.
func (a *App) Close() error {
	if a.db == nil {
		return nil
	}
	return a.db.Close()
}
