package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/fgwh/fgwh/store/pgtest"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestScriptsPostgres runs every testdata/script/*.txtar again against
// PostgreSQL when FGWH_TEST_POSTGRES_URL is set: FGWH_DB is then a
// postgres:// URL naming a fresh schema for each script. A script about
// the SQLite file itself skips this run with "[postgres] skip"; one that
// needs PostgreSQL skips the other with "[!postgres] skip".
func TestScriptsPostgres(t *testing.T) {
	base := pgtest.URL()
	if base == "" {
		t.Skip("PostgreSQL scripts need " + pgtest.EnvURL)
	}
	t.Parallel()
	p := scriptParams("testdata/script")
	setup := p.Setup
	p.Setup = func(env *testscript.Env) error {
		if err := setup(env); err != nil {
			return err
		}
		dsn, drop, err := pgtest.NewSchema(context.Background(), base)
		if err != nil {
			return err
		}
		env.Defer(func() {
			if err := drop(); err != nil {
				env.T().Log(err)
			}
		})
		env.Setenv("FGWH_DB", dsn)
		return nil
	}
	p.Condition = backendCondition("postgres")
	testscript.Run(t, p)
}

// backendCondition answers the script conditions [sqlite] and [postgres]:
// which store FGWH_DB names in this run.
func backendCondition(backend string) func(string) (bool, error) {
	return func(cond string) (bool, error) {
		switch cond {
		case "sqlite", "postgres":
			return cond == backend, nil
		}
		return false, fmt.Errorf("unknown condition %q", cond)
	}
}
