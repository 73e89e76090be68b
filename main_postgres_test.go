package main

import (
	"bytes"
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/fgwh/fgwh/store"
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

// TestDeliverProcess_PostgresFourWorkers: four deliver processes share one
// PostgreSQL database and 20,000 deliveries; one is killed mid-drain. Every
// delivery succeeds, and only attempts in flight at the kill may arrive
// twice: no delivery is claimed by two live processes.
func TestDeliverProcess_PostgresFourWorkers(t *testing.T) {
	base := pgtest.URL()
	if base == "" {
		t.Skip("PostgreSQL process tests need " + pgtest.EnvURL)
	}
	t.Parallel()
	const n = 20000
	dsn, drop, err := pgtest.NewSchema(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { drop() })
	rc := newCountingReceiver(t, n/4, nil)
	b, events := setupProcessDSN(t, dsn, rc.URL, n)
	var ps []*process
	for range 4 {
		// A 1 s timeout makes the lease 4 s.
		ps = append(ps, b.start(t, "--concurrency", "16", "--max-per-webhook", "16", "--timeout", "1s"))
	}
	waitUntil(t, rc.reached, 2*time.Minute, "a quarter of the deliveries")
	ps[0].cmd.Process.Signal(syscall.SIGKILL)
	ps[0].wait(t, 10*time.Second)
	inFlight := b.counts(t)[store.StatusDelivering]
	if _, got := rc.snapshot(); got >= n {
		t.Fatalf("killed after all %d were received: not mid-drain", got)
	}
	waitFor(t, 3*time.Minute, "every delivery to succeed", func() bool { return b.counts(t)[store.StatusSucceeded] == n })
	for _, p := range ps[1:] {
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range ps[1:] {
		if code := p.wait(t, 30*time.Second); code != 0 {
			t.Fatalf("deliver exited %d after SIGTERM\n%s", code, p.stderr)
		}
	}
	// Sharing the database costs no failed transactions.
	for _, p := range ps {
		if bytes.Contains(p.stdErr(), []byte("store error")) {
			t.Fatalf("a deliver process logged a store error:\n%s", p.stderr)
		}
	}
	got, total := rc.snapshot()
	for _, id := range events {
		if got[id] == 0 {
			t.Fatalf("event %s never received", id)
		}
	}
	if dups := total - n; dups > inFlight {
		t.Fatalf("%d duplicates, more than the %d deliveries in flight at the kill", dups, inFlight)
	}
	t.Logf("killed one of 4 with %d in flight in all; %d duplicates", inFlight, total-n)
}

// setupProcessDSN is setupProcess on any database: one webhook for url
// and n events of its type, emitted in batches.
func setupProcessDSN(t *testing.T, dsn, url string, n int) (*processBundle, []string) {
	t.Helper()
	b := &processBundle{path: dsn, bin: fgwhBinary(t), ctx: context.Background()}
	db, err := store.Open(b.ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b.db = db
	if _, _, err := db.CreateWebhook(b.ctx, store.CreateWebhookParams{URL: url, EventTypes: []string{"recording.imported"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for len(ids) < n {
		evs := make([]store.NewEvent, min(n-len(ids), 5000))
		for i := range evs {
			evs[i] = store.NewEvent{Type: "recording.imported", Payload: []byte(fmt.Sprintf(`{"type":"recording.imported","recordingId":"r%d"}`, len(ids)+i))}
		}
		out, err := db.EmitEvents(b.ctx, evs, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range out {
			ids = append(ids, e.Event.ID)
		}
	}
	return b, ids
}
