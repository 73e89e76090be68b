// Package pgtest gives each test its own PostgreSQL schema, so that tests
// against one PostgreSQL database can run in parallel. Tests find the
// server through FGWH_TEST_POSTGRES_URL and skip PostgreSQL when it is unset.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"sync"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// EnvURL names the environment variable holding the test server's URL,
// e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvURL = "FGWH_TEST_POSTGRES_URL"

// URL returns the test server's URL, "" when PostgreSQL tests are off.
func URL() string { return os.Getenv(EnvURL) }

var (
	adminOnce sync.Once
	admin     *sql.DB
	adminErr  error
)

func adminDB(base string) (*sql.DB, error) {
	adminOnce.Do(func() {
		admin, adminErr = sql.Open("pgx", base)
		if adminErr == nil {
			admin.SetMaxOpenConns(4)
		}
	})
	return admin, adminErr
}

// NewSchema creates an empty schema fgwh_test_<random> on the server at
// base and returns base with search_path set to it, and a func that drops
// the schema with everything in it.
func NewSchema(ctx context.Context, base string) (dsn string, drop func() error, err error) {
	db, err := adminDB(base)
	if err != nil {
		return "", nil, err
	}
	name := "fgwh_test_" + randomName()
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+name); err != nil {
		return "", nil, fmt.Errorf("create schema %s: %w", name, err)
	}
	drop = func() error {
		_, err := db.ExecContext(context.Background(), `DROP SCHEMA `+name+` CASCADE`)
		return err
	}
	dsn, err = WithSearchPath(base, name)
	if err != nil {
		drop()
		return "", nil, err
	}
	return dsn, drop, nil
}

// WithSearchPath returns the URL base with search_path set to schema.
func WithSearchPath(base, schema string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("%s: %w", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// randomName returns 12 random lower-case letters and digits: a valid
// unquoted identifier suffix.
func randomName() string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 12)
	rand.Read(b)
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return string(b)
}
