package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fgwh/fgwh/store"
)

// Process faults at scale, next to the basic ones in deliver_process_test.go:
// several SIGKILLs at random moments of a 10,000-delivery drain, and two and
// four deliver processes on one SQLite file. The long variants run with
//
//	FGWH_FAULTS_LONG=1 go test -run 'TestDeliverFaults' -v -timeout 30m .
//
// and FGWH_FAULTS_SEED=N replays the random kill moments of a run.

// faultsLong reports whether the long variants were asked for.
func faultsLong() bool { return os.Getenv("FGWH_FAULTS_LONG") == "1" }

// faultsRand returns the source of kill moments, logging its seed.
func faultsRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FGWH_FAULTS_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("FGWH_FAULTS_SEED: %v", err)
		}
	}
	t.Logf("kill moments from FGWH_FAULTS_SEED=%d", seed)
	return rand.New(rand.NewPCG(seed, seed))
}

// keyReceiver counts the notifications it gets per delivery, keyed by
// webhook and event id, and answers 200.
type keyReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	counts map[string]int
	total  int
}

func newKeyReceiver(t *testing.T) *keyReceiver {
	t.Helper()
	rc := &keyReceiver{counts: map[string]int{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			WebhookID string `json:"webhookId"`
			EventID   string `json:"eventId"`
		}
		b, err := io.ReadAll(r.Body)
		// A request cut off by a killed process is not a delivery.
		if err != nil || json.Unmarshal(b, &body) != nil || body.EventID == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.counts[body.WebhookID+"/"+body.EventID]++
		rc.total++
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *keyReceiver) snapshot() (map[string]int, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	m := make(map[string]int, len(rc.counts))
	for k, v := range rc.counts {
		m[k] = v
	}
	return m, rc.total
}

func (rc *keyReceiver) received() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.total
}

func (rc *keyReceiver) distinct() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.counts)
}

// waitAllSucceeded waits until the receiver has seen all n deliveries (a
// cheap check), then until the database has them all succeeded.
func waitAllSucceeded(t *testing.T, b *processBundle, rc *keyReceiver, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	waitFor(t, within, fmt.Sprintf("all %d deliveries to arrive", n), func() bool { return rc.distinct() == n })
	waitFor(t, time.Until(deadline), fmt.Sprintf("all %d deliveries to succeed", n), func() bool { return b.counts(t)[store.StatusSucceeded] == n })
}

// setupFaults creates a database with webhooks webhooks, all pointing at
// url, and events events of a type they all subscribe to: webhooks × events
// pending deliveries.
func setupFaults(t *testing.T, url string, webhooks, events int) *processBundle {
	t.Helper()
	b := &processBundle{path: filepath.Join(t.TempDir(), "fgwh.db"), bin: fgwhBinary(t), ctx: context.Background()}
	db, err := store.Open(b.ctx, b.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b.db = db
	now := time.Now()
	for i := range webhooks {
		if _, _, err := db.CreateWebhook(b.ctx, store.CreateWebhookParams{
			URL: fmt.Sprintf("%s/hook/%d", url, i), EventTypes: []string{"device.updated"},
		}, now); err != nil {
			t.Fatal(err)
		}
	}
	const batch = 1000
	for done := 0; done < events; done += batch {
		evs := make([]store.NewEvent, min(batch, events-done))
		for i := range evs {
			evs[i] = store.NewEvent{Type: "device.updated", Payload: fmt.Appendf(nil, `{"type":"device.updated","deviceId":"dev%d"}`, done+i)}
		}
		if _, err := db.EmitEvents(b.ctx, evs, now); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.counts(t)[store.StatusPending]; got != webhooks*events {
		t.Fatalf("%d pending deliveries, want %d", got, webhooks*events)
	}
	return b
}

// leased is a delivery in flight: its attempt number and lease owner.
type leased struct {
	attempt int
	owner   string
}

// delivering returns the deliveries in flight by key. The lease owner is
// not part of store.Delivery, so it is read with SQL.
func (b *processBundle) delivering(t *testing.T) map[string]leased {
	t.Helper()
	rows, err := b.raw(t).QueryContext(b.ctx, `SELECT webhook_id, event_id, attempts, lease_owner FROM deliveries WHERE status = 'delivering'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := map[string]leased{}
	for rows.Next() {
		var hook, event string
		var l leased
		if err := rows.Scan(&hook, &event, &l.attempt, &l.owner); err != nil {
			t.Fatal(err)
		}
		m[hook+"/"+event] = l
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

var (
	rawMu  sync.Mutex
	rawDBs = map[string]*sql.DB{}
)

// raw returns a read-only SQL handle on b's SQLite file, for what the store
// does not expose.
func (b *processBundle) raw(t *testing.T) *sql.DB {
	t.Helper()
	rawMu.Lock()
	defer rawMu.Unlock()
	if db, ok := rawDBs[b.path]; ok {
		return db
	}
	db, err := sql.Open("sqlite", "file:"+b.path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	rawDBs[b.path] = db
	t.Cleanup(func() {
		rawMu.Lock()
		delete(rawDBs, b.path)
		rawMu.Unlock()
		db.Close()
	})
	return db
}

// checkDrained checks that every delivery succeeded and was received at
// least once, and that every extra receipt is explained by an attempt the
// database recorded as not succeeded (abandoned by a killed process, or
// failed): nothing is lost and nothing is sent twice without a record of
// why. It returns the number of extra receipts.
func checkDrained(t *testing.T, b *processBundle, rc *keyReceiver, n int) int {
	t.Helper()
	if c := b.counts(t); c[store.StatusSucceeded] != n {
		t.Fatalf("queue counts %v, want %d succeeded", c, n)
	}
	ds, err := b.db.ListDeliveries(b.ctx, store.ListDeliveriesParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != n {
		t.Fatalf("%d deliveries in the database, want %d", len(ds), n)
	}
	got, total := rc.snapshot()
	extra := 0
	for _, d := range ds {
		k := d.WebhookID + "/" + d.EventID
		c := got[k]
		if c == 0 {
			t.Fatalf("delivery %s (%s) succeeded but never arrived", d.ID, k)
		}
		if c > d.Attempts {
			t.Fatalf("delivery %s arrived %d times but has %d attempts", d.ID, c, d.Attempts)
		}
		if c == 1 {
			continue
		}
		extra += c - 1
		full, err := b.db.GetDelivery(b.ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		ok := 0
		for _, a := range full.AttemptLog {
			if a.ErrorCode == "" && a.StatusCode >= 200 && a.StatusCode < 300 {
				ok++
			}
		}
		if ok != 1 || len(full.AttemptLog)-ok < c-1 {
			t.Fatalf("delivery %s arrived %d times; its %d attempts, %d succeeded, do not explain it: %+v", d.ID, c, len(full.AttemptLog), ok, full.AttemptLog)
		}
	}
	if total-n != extra {
		t.Fatalf("receiver got %d requests for %d deliveries but counted %d extra", total, n, extra)
	}
	return extra
}

// deliverArgs are the flags of every deliver process here: a 1 s attempt
// timeout makes the lease 4 s, so a killed process's deliveries come back
// within seconds; quick retries keep a rare timeout from stretching the run.
var deliverArgs = []string{"--concurrency", "64", "--timeout", "1s", "--retry-schedule", "200ms,200ms,200ms,200ms,200ms"}

// TestDeliverFaults_KillRounds drains 10,000 deliveries (10 webhooks × 1,000
// events) with a deliver process that is SIGKILLed at random moments,
// several times, then a last one runs to the end. Every delivery succeeds,
// and every duplicate is a delivery that was in flight at a kill.
func TestDeliverFaults_KillRounds(t *testing.T) {
	t.Parallel()
	webhooks, events, kills := 10, 1000, 4
	if faultsLong() {
		webhooks, events, kills = 20, 5000, 10
	}
	n := webhooks * events
	rnd := faultsRand(t)
	rc := newKeyReceiver(t)
	b := setupFaults(t, rc.URL, webhooks, events)

	var ks []killRecord
	seen := map[string]int{} // key → attempt already counted as in flight at a kill
	for k := range kills {
		p := b.start(t, deliverArgs...)
		after := killMoment(t, rnd, k, rc, n/(kills+1), p)
		ks = append(ks, killProcess(t, b, p, after, "", seen))
	}
	last := b.start(t, deliverArgs...)
	waitAllSucceeded(t, b, rc, n, 60*time.Second)
	last.cmd.Process.Signal(syscall.SIGTERM)
	if code := last.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("last deliver exited %d after SIGTERM\n%s", code, last.stderr)
	}
	extra := checkDrained(t, b, rc, n)
	reportKills(t, rc, ks, extra)
	t.Logf("%d deliveries, %d kills: all succeeded, %d duplicates", n, kills, extra)
}

// TestDeliverFaults_KillAmongFour runs four deliver processes on one
// database and SIGKILLs a random one of them at random moments, starting a
// new one in its place each time. Every delivery succeeds; the processes
// still alive never send what another holds, so every duplicate is a
// delivery the killed process had in flight.
func TestDeliverFaults_KillAmongFour(t *testing.T) {
	t.Parallel()
	webhooks, events, kills := 8, 500, 3
	if faultsLong() {
		webhooks, events, kills = 20, 5000, 10
	}
	n := webhooks * events
	rnd := faultsRand(t)
	rc := newKeyReceiver(t)
	b := setupFaults(t, rc.URL, webhooks, events)
	args := append([]string{}, deliverArgs...)
	args[1] = "16" // --concurrency: four processes share two cores
	ps := make([]*process, 4)
	for i := range ps {
		ps[i] = b.start(t, args...)
	}
	var ks []killRecord
	seen := map[string]int{}
	for k := range kills {
		i := rnd.IntN(len(ps))
		after := killMoment(t, rnd, k, rc, n/(2*(kills+1)), ps[i])
		ks = append(ks, killProcess(t, b, ps[i], after, ownerOf(ps[i]), seen))
		ps[i] = b.start(t, args...)
	}
	waitAllSucceeded(t, b, rc, n, 60*time.Second)
	for _, p := range ps {
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range ps {
		if code := p.wait(t, 10*time.Second); code != 0 {
			t.Fatalf("deliver exited %d after SIGTERM\n%s", code, p.stderr)
		}
	}
	extra := checkDrained(t, b, rc, n)
	reportKills(t, rc, ks, extra)
	t.Logf("%d deliveries, 4 processes, %d kills: all succeeded, %d duplicates", n, kills, extra)
}

// killRecord is what was in flight when a process was killed.
type killRecord struct {
	after    string
	inFlight map[string]int
}

// killMoment waits for a random moment to kill p: in even rounds after a
// random number (1 to most) of receipts, in odd rounds after a random delay
// within the first half second (starting up, claiming or sending).
func killMoment(t *testing.T, rnd *rand.Rand, round int, rc *keyReceiver, most int, p *process) string {
	t.Helper()
	if round%2 == 0 {
		start := rc.received()
		want := start + 1 + rnd.IntN(most)
		after := fmt.Sprintf("%d receipts", want-start)
		waitFor(t, 30*time.Second, after, func() bool { return rc.received() >= want })
		return after
	}
	d := time.Duration(rnd.IntN(500)) * time.Millisecond
	select {
	case <-time.After(d):
	case <-p.done:
		t.Fatalf("deliver exited early\n%s", p.stderr)
	}
	return d.String()
}

// ownerOf returns the part of a lease owner name ("host:pid:random") that
// names p's process.
func ownerOf(p *process) string { return fmt.Sprintf(":%d:", p.cmd.Process.Pid) }

// killProcess SIGKILLs p and records the deliveries it left delivering:
// those leased to an owner containing owner ("" for any) that no earlier
// kill already counted at the same attempt.
func killProcess(t *testing.T, b *processBundle, p *process, after, owner string, seen map[string]int) killRecord {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t, 10*time.Second)
	inFlight := map[string]int{}
	for key, d := range b.delivering(t) {
		if !strings.Contains(d.owner, owner) || seen[key] == d.attempt {
			continue
		}
		seen[key] = d.attempt
		inFlight[key] = d.attempt
	}
	return killRecord{after: after, inFlight: inFlight}
}

// reportKills logs each kill and fails if there are more duplicates than
// deliveries in flight at the kills.
func reportKills(t *testing.T, rc *keyReceiver, ks []killRecord, extra int) {
	t.Helper()
	got, _ := rc.snapshot()
	most := 0
	for i, k := range ks {
		dups := 0
		for key := range k.inFlight {
			if got[key] > 1 {
				dups++
			}
		}
		most += len(k.inFlight)
		t.Logf("kill %d after %s: %d in flight, %d of them arrived twice", i+1, k.after, len(k.inFlight), dups)
	}
	if extra > most {
		t.Fatalf("%d duplicates, more than the %d deliveries in flight at the kills", extra, most)
	}
}

// TestDeliverFaults_ConcurrentProcesses runs two, then four deliver
// processes on one SQLite file over 4,000 deliveries (100,000 in the long
// variant): leases hold, so every delivery arrives exactly once.
func TestDeliverFaults_ConcurrentProcesses(t *testing.T) {
	t.Parallel()
	webhooks, events := 8, 500
	if faultsLong() {
		webhooks, events = 20, 5000
	}
	for _, procs := range []int{2, 4} {
		t.Run(fmt.Sprintf("%dProcesses", procs), func(t *testing.T) {
			n := webhooks * events
			rc := newKeyReceiver(t)
			b := setupFaults(t, rc.URL, webhooks, events)
			ps := make([]*process, procs)
			for i := range ps {
				ps[i] = b.start(t, "--concurrency", "32")
			}
			waitAllSucceeded(t, b, rc, n, 60*time.Second)
			for _, p := range ps {
				p.cmd.Process.Signal(syscall.SIGTERM)
			}
			for _, p := range ps {
				if code := p.wait(t, 10*time.Second); code != 0 {
					t.Fatalf("deliver exited %d after SIGTERM\n%s", code, p.stderr)
				}
			}
			if extra := checkDrained(t, b, rc, n); extra != 0 {
				t.Fatalf("%d deliveries arrived more than once with %d processes", extra, procs)
			}
		})
	}
}
