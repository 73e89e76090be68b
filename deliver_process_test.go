package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fgwh/fgwh/store"
)

// These tests run the real fgwh binary, built once per test run, because
// what they check (signals, crashes, several processes on one database) is
// about processes.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// fgwhBinary builds fgwh into a temporary directory once.
func fgwhBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fgwh-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "fgwh")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// countingReceiver counts requests per event id and can hold them.
type countingReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	counts map[string]int
	total  int
	// reached is closed when total reaches notifyAt.
	notifyAt int
	reached  chan struct{}
	// hold, when set, makes each request wait until it is closed or the
	// client hangs up.
	hold chan struct{}
}

func newCountingReceiver(t *testing.T, notifyAt int, hold chan struct{}) *countingReceiver {
	t.Helper()
	rc := &countingReceiver{counts: map[string]int{}, notifyAt: notifyAt, reached: make(chan struct{}), hold: hold}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			EventID string `json:"eventId"`
		}
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &body)
		rc.mu.Lock()
		rc.counts[body.EventID]++
		rc.total++
		if rc.total == rc.notifyAt {
			close(rc.reached)
		}
		rc.mu.Unlock()
		if rc.hold != nil {
			select {
			case <-rc.hold:
			case <-r.Context().Done():
				return
			}
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *countingReceiver) snapshot() (map[string]int, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	m := make(map[string]int, len(rc.counts))
	for k, v := range rc.counts {
		m[k] = v
	}
	return m, rc.total
}

type processBundle struct {
	db   *store.DB
	path string
	bin  string
	ctx  context.Context
}

func setupProcess(t *testing.T, url string, events int) (*processBundle, []string) {
	t.Helper()
	b := &processBundle{path: filepath.Join(t.TempDir(), "fgwh.db"), bin: fgwhBinary(t), ctx: context.Background()}
	db, err := store.Open(b.ctx, b.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b.db = db
	if _, _, err := db.CreateWebhook(b.ctx, store.CreateWebhookParams{URL: url, EventTypes: []string{"recording.imported"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	evs := make([]store.NewEvent, events)
	for i := range evs {
		evs[i] = store.NewEvent{Type: "recording.imported", Payload: []byte(fmt.Sprintf(`{"type":"recording.imported","recordingId":"r%d"}`, i))}
	}
	out, err := db.EmitEvents(b.ctx, evs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(out))
	for i, e := range out {
		ids[i] = e.Event.ID
	}
	return b, ids
}

// process is a running fgwh deliver.
type process struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

func (b *processBundle) start(t *testing.T, args ...string) *process {
	t.Helper()
	cmd := exec.Command(b.bin, append([]string{"deliver"}, args...)...)
	cmd.Env = append(os.Environ(), "FGWH_DB="+b.path, "FGWH_ALLOW_PRIVATE_NETWORKS=1")
	p := &process{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *process) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("deliver still running after %v\nstderr:\n%s", within, p.stderr)
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	}
	t.Fatal(p.err)
	return -1
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		<-tick.C
	}
}

func (b *processBundle) counts(t *testing.T) map[string]int {
	t.Helper()
	c, err := b.db.QueueCounts(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func waitUntil(t *testing.T, ch <-chan struct{}, within time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(within):
		t.Fatalf("timed out after %v waiting for %s", within, what)
	}
}

// TestDeliverProcess_KillMidDrain: SIGKILL deliver while it drains a few
// thousand deliveries; a new deliver sends the rest once the dead process's
// leases expire. Every delivery ends succeeded, and only attempts that were
// in flight at the kill may arrive twice.
func TestDeliverProcess_KillMidDrain(t *testing.T) {
	t.Parallel()
	const n = 3000
	rc := newCountingReceiver(t, 1000, nil)
	b, events := setupProcess(t, rc.URL, n)
	// A 1 s timeout makes the lease 4 s.
	p := b.start(t, "--concurrency", "32", "--timeout", "1s")
	waitUntil(t, rc.reached, 30*time.Second, "1000 deliveries")
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t, 10*time.Second)
	inFlight := b.counts(t)[store.StatusDelivering]
	_, before := rc.snapshot()
	if inFlight == 0 || before >= n {
		t.Fatalf("killed with %d delivering and %d received: not mid-drain", inFlight, before)
	}
	q := b.start(t, "--concurrency", "32", "--timeout", "1s")
	waitFor(t, 30*time.Second, "every delivery to succeed", func() bool { return b.counts(t)[store.StatusSucceeded] == n })
	q.cmd.Process.Signal(syscall.SIGTERM)
	if code := q.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("deliver exited %d after SIGTERM\n%s", code, q.stderr)
	}
	got, total := rc.snapshot()
	// A receipt whose attempt timed out on a loaded machine is retried and
	// arrives twice too, but its failed attempt is on record.
	failed := 0
	for _, id := range events {
		if got[id] == 0 {
			t.Fatalf("event %s never received", id)
		}
		if got[id] == 1 {
			continue
		}
		ds, err := b.db.ListDeliveries(b.ctx, store.ListDeliveriesParams{EventID: id})
		if err != nil || len(ds) != 1 {
			t.Fatalf("deliveries of %s: %v %v", id, ds, err)
		}
		d, err := b.db.GetDelivery(b.ctx, ds[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range d.AttemptLog {
			if a.ErrorCode != "" && a.ErrorCode != store.ErrorCodeAbandoned {
				failed++
			}
		}
	}
	if dups := total - n; dups > inFlight+failed {
		t.Fatalf("%d duplicates, more than the %d deliveries in flight at the kill (and %d failed attempts)", dups, inFlight, failed)
	}
	t.Logf("killed with %d in flight; %d duplicates, %d failed attempts", inFlight, total-n, failed)
}

// TestDeliverProcess_TwoProcesses: two deliver processes on one database
// never send the same delivery twice.
func TestDeliverProcess_TwoProcesses(t *testing.T) {
	t.Parallel()
	const n = 2000
	rc := newCountingReceiver(t, n, nil)
	b, events := setupProcess(t, rc.URL, n)
	p1 := b.start(t, "--concurrency", "16")
	p2 := b.start(t, "--concurrency", "16")
	waitFor(t, 30*time.Second, "every delivery to succeed", func() bool { return b.counts(t)[store.StatusSucceeded] == n })
	for _, p := range []*process{p1, p2} {
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range []*process{p1, p2} {
		if code := p.wait(t, 10*time.Second); code != 0 {
			t.Fatalf("deliver exited %d\n%s", code, p.stderr)
		}
	}
	got, total := rc.snapshot()
	if total != n {
		t.Fatalf("receiver got %d requests for %d deliveries", total, n)
	}
	for _, id := range events {
		if got[id] != 1 {
			t.Fatalf("event %s received %d times", id, got[id])
		}
	}
}

// TestDeliverProcess_SIGTERM: SIGTERM lets the attempts in flight finish,
// gives back the rest, and exits 0 with nothing delivering.
func TestDeliverProcess_SIGTERM(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	rc := newCountingReceiver(t, 4, hold)
	b, _ := setupProcess(t, rc.URL, 50)
	p := b.start(t, "--concurrency", "4", "--max-per-webhook", "4")
	waitUntil(t, rc.reached, 30*time.Second, "4 attempts in flight")
	p.cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, 10*time.Second, "the stop to be logged", func() bool {
		return bytes.Contains(p.stdErr(), []byte("stopping"))
	})
	close(hold)
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("deliver exited %d after SIGTERM\n%s", code, p.stderr)
	}
	c := b.counts(t)
	if c[store.StatusSucceeded] != 4 || c[store.StatusPending] != 46 || c[store.StatusDelivering] != 0 {
		t.Fatalf("counts %v, want 4 succeeded and 46 pending", c)
	}
}

// TestDeliverProcess_SecondInterrupt: a second SIGINT aborts the attempts
// in flight; deliver exits 130 and gives them back.
func TestDeliverProcess_SecondInterrupt(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	rc := newCountingReceiver(t, 2, hold)
	b, _ := setupProcess(t, rc.URL, 10)
	p := b.start(t, "--concurrency", "2", "--max-per-webhook", "2")
	waitUntil(t, rc.reached, 30*time.Second, "2 attempts in flight")
	p.cmd.Process.Signal(os.Interrupt)
	waitFor(t, 10*time.Second, "the stop to be logged", func() bool {
		return bytes.Contains(p.stdErr(), []byte("stopping"))
	})
	p.cmd.Process.Signal(os.Interrupt)
	if code := p.wait(t, 10*time.Second); code != 130 {
		t.Fatalf("deliver exited %d after two interrupts, want 130\n%s", code, p.stderr)
	}
	c := b.counts(t)
	if c[store.StatusPending] != 10 || c[store.StatusDelivering] != 0 {
		t.Fatalf("counts %v, want 10 pending", c)
	}
}

// stdErr returns what the process wrote to stderr so far.
func (p *process) stdErr() []byte { return []byte(p.stderr.String()) }

// syncBuffer is a bytes.Buffer safe to read while the process writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestDeliverProcess_SIGTERMAtStart: a SIGTERM that arrives while deliver
// is still opening the database is a clean stop too.
func TestDeliverProcess_SIGTERMAtStart(t *testing.T) {
	t.Parallel()
	rc := newCountingReceiver(t, 1, nil)
	b, _ := setupProcess(t, rc.URL, 1)
	for i := range 5 {
		p := b.start(t)
		p.cmd.Process.Signal(syscall.SIGTERM)
		if code := p.wait(t, 10*time.Second); code != 0 && code != -1 {
			t.Fatalf("run %d: deliver exited %d after an early SIGTERM\n%s", i, code, p.stderr)
		}
	}
	if c := b.counts(t); c[store.StatusDelivering] != 0 {
		t.Fatalf("counts %v: left delivering", c)
	}
}
