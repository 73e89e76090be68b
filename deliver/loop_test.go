package deliver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fgwh/fgwh/sign"
	"github.com/fgwh/fgwh/store"
)

// loopT0 is the fake clock's start; the store keeps milliseconds.
var loopT0 = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

// fakeClock is a clock tests move by hand; workers read it concurrently.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.Set(t)
	return c
}

func (c *fakeClock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// after sets the clock to d after loopT0.
func (c *fakeClock) after(d time.Duration) { c.Set(loopT0.Add(d)) }

// loopBundle is a store in a temp dir, a loop on it with a fake clock, and
// the loop's configuration for tests to adjust before newLoop.
type loopBundle struct {
	db    *store.DB
	path  string
	ctx   context.Context
	clock *fakeClock
	cfg   Config
	loop  *Loop
}

func setupLoop(t *testing.T) *loopBundle {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fgwh.db")
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b := &loopBundle{db: db, path: path, ctx: context.Background(), clock: newFakeClock(loopT0)}
	b.cfg = Config{
		Store:       db,
		Client:      newTestClient(t, ClientOptions{AllowPrivate: true, Timeout: 2 * time.Second}),
		Owner:       "test-owner",
		Concurrency: 8,
		Policy:      Policy{Schedule: []time.Duration{5 * time.Second, 5 * time.Minute}, Jitter: 0.2, RandFunc: func() float64 { return 0.5 }},
		NowFunc:     b.clock.Now,
	}
	return b
}

// start builds the loop from b.cfg; call it after adjusting b.cfg.
func (b *loopBundle) start(t *testing.T) *Loop {
	t.Helper()
	b.loop = NewLoop(b.cfg)
	t.Cleanup(func() {
		b.loop.Abort()
		b.loop.Shutdown()
	})
	return b.loop
}

// webhook creates a webhook for url subscribed to recording.imported.
func (b *loopBundle) webhook(t *testing.T, url string, p store.CreateWebhookParams) (store.Webhook, string) {
	t.Helper()
	p.URL = url
	if len(p.EventTypes) == 0 {
		p.EventTypes = []string{"recording.imported"}
	}
	w, token, err := b.db.CreateWebhook(b.ctx, p, b.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return w, token
}

// emit emits n recording.imported events at the clock's time.
func (b *loopBundle) emit(t *testing.T, n int) []store.Emitted {
	t.Helper()
	evs := make([]store.NewEvent, n)
	for i := range evs {
		evs[i] = store.NewEvent{Type: "recording.imported", Timestamp: loopT0.Add(-time.Minute),
			Payload: []byte(fmt.Sprintf(`{"type":"recording.imported","recordingId":"r%d"}`, i))}
	}
	out, err := b.db.EmitEvents(b.ctx, evs, b.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// step runs one iteration, waits until every attempt it started has an
// outcome, and records them: one claim → send → complete round.
func (b *loopBundle) step(t *testing.T) int {
	t.Helper()
	l := b.loop
	// As if another process had committed: the claim always looks.
	l.claimWanted = true
	if err := l.RunOnce(b.ctx); err != nil {
		t.Fatal(err)
	}
	started := l.outstanding
	deadline := time.After(10 * time.Second)
	for l.outstanding > 0 {
		select {
		case r := <-l.results:
			l.take(r)
		case <-deadline:
			t.Fatalf("%d attempts still outstanding after 10s", l.outstanding)
		}
	}
	if err := l.record(b.ctx); err != nil {
		t.Fatal(err)
	}
	return started
}

func (b *loopBundle) delivery(t *testing.T, id string) store.Delivery {
	t.Helper()
	d, err := b.db.GetDelivery(b.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (b *loopBundle) onlyDelivery(t *testing.T) store.Delivery {
	t.Helper()
	ds, err := b.db.ListDeliveries(b.ctx, store.ListDeliveriesParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 {
		t.Fatalf("%d deliveries, want 1", len(ds))
	}
	return b.delivery(t, ds[0].ID)
}

// request is what a loop test receiver saw.
type request struct {
	header http.Header
	body   []byte
}

// receiver answers every request with h (200 "ok" when nil) and keeps what it saw.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []request
}

func newReceiver(t *testing.T, h http.HandlerFunc) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, request{header: r.Header.Clone(), body: body})
		rc.mu.Unlock()
		if h == nil {
			io.WriteString(w, "ok")
			return
		}
		h(w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) got() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.reqs...)
}

func status(code int, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, "answer %d", code)
	}
}

func TestLoop_Notification(t *testing.T) {
	t.Parallel()
	for _, scheme := range []string{store.SchemeFGWH, store.SchemeStandard, store.SchemeBoth} {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			b := setupLoop(t)
			rc := newReceiver(t, nil)
			w, token := b.webhook(t, rc.URL+"/hook", store.CreateWebhookParams{SignatureScheme: scheme})
			em := b.emit(t, 1)
			b.start(t)
			b.clock.Add(1234 * time.Millisecond)
			if n := b.step(t); n != 1 {
				t.Fatalf("started %d attempts, want 1", n)
			}
			got := rc.got()
			if len(got) != 1 {
				t.Fatalf("receiver got %d requests", len(got))
			}
			d := b.onlyDelivery(t)
			want := `{"timestamp":"2026-11-27T07:59:00.000Z","deliveryAttemptedAt":"2026-11-27T08:00:01.234Z",` +
				`"webhookId":"` + w.ID + `","eventId":"` + em[0].Event.ID + `","payload":{"type":"recording.imported","recordingId":"r0"}}`
			r := got[0]
			if string(r.body) != want {
				t.Fatalf("body\n got %s\nwant %s", r.body, want)
			}
			if s := r.header.Get("Fg-Webhook-Signature"); s != sign.Sign(token, r.body) {
				t.Fatalf("fg-webhook-signature %q, want %q", s, sign.Sign(token, r.body))
			}
			if ct, ua := r.header.Get("Content-Type"), r.header.Get("User-Agent"); ct != "application/json" || ua != "fgwh/test" {
				t.Fatalf("Content-Type %q, User-Agent %q", ct, ua)
			}
			v := sign.Verifier{Secrets: []string{token}, NowFunc: b.clock.Now}
			stdID := r.header.Get("Webhook-Id")
			if scheme == store.SchemeFGWH {
				if stdID != "" || r.header.Get("Webhook-Signature") != "" {
					t.Fatalf("fgwh scheme sent Standard Webhooks headers: %v", r.header)
				}
			} else {
				if stdID != d.ID || r.header.Get("Webhook-Timestamp") != strconv.FormatInt(loopT0.Unix()+1, 10) {
					t.Fatalf("webhook-id %q (want %s), webhook-timestamp %q", stdID, d.ID, r.header.Get("Webhook-Timestamp"))
				}
				if err := v.VerifyStandard(stdID, r.header.Get("Webhook-Timestamp"), r.header.Get("Webhook-Signature"), r.body); err != nil {
					t.Fatalf("standard signature: %v", err)
				}
			}
			if d.Status != store.StatusSucceeded || d.Attempts != 1 || d.LastStatusCode != 200 || len(d.AttemptLog) != 1 {
				t.Fatalf("delivery %+v", d)
			}
			a := d.AttemptLog[0]
			if a.Number != 1 || a.StatusCode != 200 || a.ErrorCode != "" || a.ResponseBody != "ok" || !a.AttemptedAt.Equal(loopT0.Add(1234*time.Millisecond)) {
				t.Fatalf("attempt %+v", a)
			}
		})
	}
}

func TestLoop_StandardRotation(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	rc := newReceiver(t, nil)
	w, old := b.webhook(t, rc.URL, store.CreateWebhookParams{SignatureScheme: store.SchemeBoth})
	token, err := b.db.RotateToken(b.ctx, w.ID, time.Hour, b.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	b.emit(t, 1)
	b.start(t)
	b.step(t)
	r := rc.got()[0]
	for _, secret := range []string{token, old} {
		v := sign.Verifier{Secrets: []string{secret}, NowFunc: b.clock.Now}
		if err := v.VerifyStandard(r.header.Get("Webhook-Id"), r.header.Get("Webhook-Timestamp"), r.header.Get("Webhook-Signature"), r.body); err != nil {
			t.Fatalf("signature with %s token: %v", map[string]string{token: "new", old: "old"}[secret], err)
		}
	}
	if s := r.header.Get("Fg-Webhook-Signature"); s != sign.Sign(token, r.body) {
		t.Fatalf("fg-webhook-signature is not the new token's")
	}
}

// TestLoop_FailureKinds checks that each kind of failure is recorded with its
// error code, and the delivery waits for its first retry.
func TestLoop_FailureKinds(t *testing.T) {
	t.Parallel()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedURL := "http://" + closed.Addr().String() + "/"
	closed.Close()
	for _, tc := range []struct {
		name     string
		h        http.HandlerFunc
		url      string
		private  bool
		code     int
		errCode  string
		errMatch string
	}{
		{name: "ServerError", h: status(500), code: 500, errCode: ErrCodeHTTPStatus, errMatch: "receiver answered 500 Internal Server Error"},
		{name: "NotFound", h: status(404), code: 404, errCode: ErrCodeHTTPStatus, errMatch: "receiver answered 404 Not Found"},
		{name: "Redirect", h: status(302, "Location", "https://elsewhere.example/"), code: 302, errCode: ErrCodeRedirect, errMatch: "redirects are not followed"},
		{name: "Timeout", h: func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body); <-r.Context().Done() }, errCode: ErrCodeTimeout, errMatch: "within 300ms"},
		{name: "Reset", h: func(w http.ResponseWriter, r *http.Request) {
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}, errCode: ErrCodeConnectionReset, errMatch: "connection"},
		{name: "Refused", url: refusedURL, errCode: ErrCodeConnectionRefused, errMatch: "connection refused by " + strings.TrimSuffix(strings.TrimPrefix(refusedURL, "http://"), "/")},
		{name: "Blocked", private: true, errCode: ErrCodeBlockedAddress, errMatch: "--allow-private-networks"},
		{name: "DNS", url: "http://no-such-host.test/", errCode: ErrCodeDNS, errMatch: `cannot resolve host "no-such-host.test"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupLoop(t)
			b.cfg.Client = newTestClient(t, ClientOptions{AllowPrivate: !tc.private, Timeout: 300 * time.Millisecond})
			url := tc.url
			if url == "" {
				url = newReceiver(t, tc.h).URL + "/"
			}
			b.webhook(t, url, store.CreateWebhookParams{})
			b.emit(t, 1)
			b.start(t)
			b.step(t)
			d := b.onlyDelivery(t)
			if d.Status != store.StatusRetrying || d.LastStatusCode != tc.code || len(d.AttemptLog) != 1 {
				t.Fatalf("delivery %+v", d)
			}
			a := d.AttemptLog[0]
			if a.ErrorCode != tc.errCode || a.StatusCode != tc.code || !strings.Contains(a.Error, tc.errMatch) || d.LastError != a.Error {
				t.Fatalf("attempt code %q status %d error %q; want %q %d containing %q", a.ErrorCode, a.StatusCode, a.Error, tc.errCode, tc.code, tc.errMatch)
			}
			if tc.code != 0 && a.ResponseBody != fmt.Sprintf("answer %d", tc.code) {
				t.Fatalf("response body %q", a.ResponseBody)
			}
			if !d.NextAttemptAt.Equal(loopT0.Add(5 * time.Second)) {
				t.Fatalf("next attempt at %v, want +5s", d.NextAttemptAt)
			}
		})
	}
}

// TestLoop_RetrySchedule walks a delivery through its schedule with the
// clock and jitter under test control: never early, jitter within ±20%,
// failed after the last scheduled retry.
func TestLoop_RetrySchedule(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	rc := newReceiver(t, status(503))
	b.webhook(t, rc.URL, store.CreateWebhookParams{})
	draws := []float64{0, 0.999999, 0.5}
	var drawn atomic.Int32
	b.cfg.Policy = Policy{Schedule: []time.Duration{10 * time.Second, time.Minute, time.Hour}, Jitter: 0.2,
		RandFunc: func() float64 { return draws[drawn.Add(1)-1] }}
	b.emit(t, 1)
	b.start(t)
	b.step(t)
	// Attempt 1 failed at t0; r=0 gives the shortest delay, 0.8 × 10s.
	d := b.onlyDelivery(t)
	if !d.NextAttemptAt.Equal(loopT0.Add(8 * time.Second)) {
		t.Fatalf("next attempt after 1: %v, want t0+8s", d.NextAttemptAt.Sub(loopT0))
	}
	// Not due a millisecond early.
	b.clock.after(8*time.Second - time.Millisecond)
	if n := b.step(t); n != 0 {
		t.Fatalf("attempted %d before due", n)
	}
	b.clock.after(8 * time.Second)
	if n := b.step(t); n != 1 {
		t.Fatalf("attempted %d when due", n)
	}
	// r→1 gives the longest delay, just under 1.2 × 1m.
	d = b.onlyDelivery(t)
	delay := d.NextAttemptAt.Sub(loopT0.Add(8 * time.Second))
	if delay < 71999*time.Millisecond || delay > 72*time.Second {
		t.Fatalf("second delay %v, want just under 72s", delay)
	}
	b.clock.Set(d.NextAttemptAt)
	b.step(t)
	d = b.onlyDelivery(t)
	if d.Status != store.StatusRetrying || !d.NextAttemptAt.Equal(b.clock.Now().Add(time.Hour)) {
		t.Fatalf("after 3 attempts: %s next %v, want retrying in 1h", d.Status, d.NextAttemptAt.Sub(b.clock.Now()))
	}
	b.clock.Set(d.NextAttemptAt)
	b.step(t)
	d = b.onlyDelivery(t)
	if d.Status != store.StatusFailed || d.Attempts != 4 || len(d.AttemptLog) != 4 || !d.NextAttemptAt.IsZero() {
		t.Fatalf("after 4 attempts: %+v", d)
	}
	b.clock.Add(24 * time.Hour)
	if n := b.step(t); n != 0 || len(rc.got()) != 4 {
		t.Fatalf("attempted a failed delivery again")
	}
}

func TestLoop_RetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		retryAfter string
		want       time.Duration
	}{
		{"Longer", "120", 120 * time.Second},
		{"Shorter", "1", 5 * time.Second},
		{"Date", "Fri, 27 Nov 2026 08:10:00 GMT", 10 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupLoop(t)
			rc := newReceiver(t, status(429, "Retry-After", tc.retryAfter))
			b.webhook(t, rc.URL, store.CreateWebhookParams{})
			b.emit(t, 1)
			b.start(t)
			b.step(t)
			d := b.onlyDelivery(t)
			if d.Status != store.StatusRetrying || !d.NextAttemptAt.Equal(loopT0.Add(tc.want)) {
				t.Fatalf("%s, next in %v; want retrying in %v", d.Status, d.NextAttemptAt.Sub(loopT0), tc.want)
			}
		})
	}
}

func TestLoop_Gone(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	rc := newReceiver(t, status(410))
	w, _ := b.webhook(t, rc.URL, store.CreateWebhookParams{})
	b.cfg.Concurrency, b.cfg.MaxPerWebhook = 1, 1
	em := b.emit(t, 3)
	b.start(t)
	// One at a time: the first answer disables the webhook.
	b.step(t)
	b.clock.Add(time.Hour)
	for range 3 {
		b.step(t)
	}
	if n := len(rc.got()); n != 1 {
		t.Fatalf("receiver got %d requests after 410, want 1", n)
	}
	var failed, pending int
	for _, e := range em {
		ds, _ := b.db.ListDeliveries(b.ctx, store.ListDeliveriesParams{EventID: e.Event.ID})
		switch ds[0].Status {
		case store.StatusFailed:
			failed++
		case store.StatusPending:
			pending++
		}
	}
	if failed != 1 || pending != 2 {
		t.Fatalf("failed %d pending %d, want 1 and 2", failed, pending)
	}
	hw, _ := b.db.GetWebhook(b.ctx, w.ID)
	if hw.Enabled || hw.DisabledReason != "the endpoint answered 410 Gone on 2026-11-27T08:00:00.000Z: it is gone" {
		t.Fatalf("webhook enabled %v, reason %q", hw.Enabled, hw.DisabledReason)
	}
}

func TestLoop_AutoDisable(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	rc := newReceiver(t, status(500))
	w, _ := b.webhook(t, rc.URL, store.CreateWebhookParams{})
	b.cfg.Policy.Schedule = []time.Duration{}
	b.cfg.AutoDisableAfter = 3
	b.cfg.Concurrency, b.cfg.MaxPerWebhook = 1, 1
	b.emit(t, 5)
	b.start(t)
	for range 5 {
		b.step(t)
	}
	if n := len(rc.got()); n != 3 {
		t.Fatalf("receiver got %d requests, want 3 before the webhook was disabled", n)
	}
	hw, _ := b.db.GetWebhook(b.ctx, w.ID)
	if hw.Enabled || hw.DisabledReason != "disabled automatically: the last 3 deliveries failed" {
		t.Fatalf("webhook enabled %v reason %q", hw.Enabled, hw.DisabledReason)
	}
	counts, _ := b.db.QueueCounts(b.ctx)
	if counts[store.StatusFailed] != 3 || counts[store.StatusPending] != 2 {
		t.Fatalf("counts %v", counts)
	}
}

// TestLoop_AutoDisableOff: 0 turns auto-disable off.
func TestLoop_AutoDisableOff(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	rc := newReceiver(t, status(500))
	w, _ := b.webhook(t, rc.URL, store.CreateWebhookParams{})
	b.cfg.Policy.Schedule = []time.Duration{}
	b.cfg.MaxPerWebhook = 16
	b.emit(t, 12)
	b.start(t)
	b.step(t)
	hw, _ := b.db.GetWebhook(b.ctx, w.ID)
	if !hw.Enabled || len(rc.got()) != 12 {
		t.Fatalf("enabled %v after %d failures", hw.Enabled, len(rc.got()))
	}
}

func TestLoop_DisabledWebhookWaits(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	rc := newReceiver(t, nil)
	w, _ := b.webhook(t, rc.URL, store.CreateWebhookParams{})
	b.emit(t, 2)
	if _, err := b.db.SetWebhookEnabled(b.ctx, w.ID, false, "maintenance", b.clock.Now()); err != nil {
		t.Fatal(err)
	}
	b.start(t)
	b.clock.Add(time.Hour)
	if n := b.step(t); n != 0 || len(rc.got()) != 0 {
		t.Fatalf("attempted %d deliveries of a disabled webhook", n)
	}
	if counts, _ := b.db.QueueCounts(b.ctx); counts[store.StatusPending] != 2 {
		t.Fatalf("counts %v, want 2 pending", counts)
	}
	if _, err := b.db.SetWebhookEnabled(b.ctx, w.ID, true, "", b.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if n := b.step(t); n != 2 {
		t.Fatalf("attempted %d after enable, want 2", n)
	}
	if counts, _ := b.db.QueueCounts(b.ctx); counts[store.StatusSucceeded] != 2 {
		t.Fatalf("counts %v, want 2 succeeded", counts)
	}
}

// TestLoop_ManualRetry: a manual retry is one attempt; when it fails the
// delivery is failed again, with no automatic retries.
func TestLoop_ManualRetry(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	rc := newReceiver(t, status(500))
	b.webhook(t, rc.URL, store.CreateWebhookParams{})
	b.cfg.Policy.Schedule = []time.Duration{}
	b.emit(t, 1)
	b.start(t)
	b.step(t)
	d := b.onlyDelivery(t)
	if d.Status != store.StatusFailed {
		t.Fatalf("status %s, want failed", d.Status)
	}
	b.cfg.Policy.Schedule = []time.Duration{time.Second, time.Second}
	b.loop.cfg.Policy = b.cfg.Policy
	b.clock.Add(time.Minute)
	if _, err := b.db.RetryDeliveries(b.ctx, []string{d.ID}, b.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if n := b.step(t); n != 1 {
		t.Fatalf("manual retry made %d attempts", n)
	}
	d = b.delivery(t, d.ID)
	if d.Status != store.StatusFailed || d.Attempts != 2 || len(d.AttemptLog) != 2 || !d.AttemptLog[1].Manual || d.AttemptLog[0].Manual {
		t.Fatalf("after manual retry: %+v", d)
	}
	b.clock.Add(time.Hour)
	if n := b.step(t); n != 0 || len(rc.got()) != 2 {
		t.Fatalf("a failed manual retry was retried automatically")
	}
}

// TestLoop_Fairness: a black-hole endpoint (accepts, never answers) with
// 1,000 pending deliveries holds at most its cap of workers, and a healthy
// webhook's deliveries all complete before any black-hole attempt ends.
func TestLoop_Fairness(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	var accepted atomic.Int32
	hole := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accepted.Add(1)
		// The server notices the client hanging up only once the body is read.
		io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	t.Cleanup(hole.Close)
	healthy := newReceiver(t, nil)
	b.cfg.Client = newTestClient(t, ClientOptions{AllowPrivate: true, Timeout: 30 * time.Second})
	b.cfg.Concurrency, b.cfg.MaxPerWebhook = 8, 4
	b.webhook(t, hole.URL, store.CreateWebhookParams{Name: "hole"})
	b.emit(t, 1000)
	hw, _ := b.webhook(t, healthy.URL, store.CreateWebhookParams{Name: "healthy", EventTypes: []string{"device.created"}})
	b.clock.Add(time.Second)
	evs := make([]store.NewEvent, 50)
	for i := range evs {
		evs[i] = store.NewEvent{Type: "device.created", Payload: []byte(`{"type":"device.created","deviceId":"d"}`)}
	}
	if _, err := b.db.EmitEvents(b.ctx, evs, b.clock.Now()); err != nil {
		t.Fatal(err)
	}
	var order []string
	b.cfg.OnAttemptFunc = func(a Attempt) { order = append(order, a.WebhookID) }
	l := b.start(t)
	// Run the loop as Run does, until the healthy deliveries are done.
	deadline := time.After(20 * time.Second)
	for {
		if err := l.RunOnce(b.ctx); err != nil {
			t.Fatal(err)
		}
		if l.inFlight[hw.ID] == 0 && len(healthy.got()) == 50 && len(order) >= 50 {
			break
		}
		select {
		case r := <-l.results:
			l.take(r)
		case <-deadline:
			t.Fatalf("healthy deliveries not done: %d received, %d recorded", len(healthy.got()), len(order))
		}
	}
	for i, wid := range order[:50] {
		if wid != hw.ID {
			t.Fatalf("attempt %d recorded was the black hole's, before the healthy webhook's were done", i)
		}
	}
	counts, _ := b.db.QueueCounts(b.ctx)
	if counts[store.StatusDelivering] != 4 || counts[store.StatusPending] != 996 {
		t.Fatalf("counts %v: the black hole should hold exactly its cap of 4", counts)
	}
	if n := accepted.Load(); n > 4 {
		t.Fatalf("black hole saw %d requests, cap is 4", n)
	}
}

// TestLoop_LeaseRescue: a delivery claimed by a process that died is
// rescued once its lease expires: the lost attempt is recorded as
// abandoned, and the delivery is sent again.
func TestLoop_LeaseRescue(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	rc := newReceiver(t, nil)
	b.webhook(t, rc.URL, store.CreateWebhookParams{})
	b.emit(t, 1)
	if _, err := b.db.ClaimDeliveries(b.ctx, store.ClaimParams{Owner: "dead", Now: b.clock.Now(), Lease: 20 * time.Second, Limit: 1}); err != nil {
		t.Fatal(err)
	}
	b.start(t)
	b.clock.Add(20*time.Second - time.Millisecond)
	if n := b.step(t); n != 0 {
		t.Fatalf("attempted %d before the lease expired", n)
	}
	b.clock.Add(5 * time.Second)
	if n := b.step(t); n != 1 {
		t.Fatalf("attempted %d after the lease expired, want 1", n)
	}
	d := b.onlyDelivery(t)
	if d.Status != store.StatusSucceeded || len(d.AttemptLog) != 2 || d.AttemptLog[0].ErrorCode != store.ErrorCodeAbandoned || d.AttemptLog[1].Number != 2 {
		t.Fatalf("delivery %+v", d)
	}
}

// TestLoop_ExtendsLeases: deliveries waiting for a worker keep their lease.
func TestLoop_ExtendsLeases(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	release := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { <-release })
	b.webhook(t, rc.URL, store.CreateWebhookParams{})
	b.cfg.Concurrency, b.cfg.MaxPerWebhook, b.cfg.Lease = 1, 2, 20*time.Second
	b.emit(t, 2)
	l := b.start(t)
	if err := l.RunOnce(b.ctx); err != nil {
		t.Fatal(err)
	}
	// 15 s later the leases are renewed to now + 20 s.
	b.clock.Add(15 * time.Second)
	if err := l.RunOnce(b.ctx); err != nil {
		t.Fatal(err)
	}
	other, _ := store.Open(b.ctx, b.path)
	defer other.Close()
	if n, err := other.RescueExpired(b.ctx, loopT0.Add(34*time.Second)); err != nil || n != 0 {
		t.Fatalf("rescued %d (%v): leases were not extended", n, err)
	}
	close(release)
	for l.outstanding > 0 {
		l.take(<-l.results)
	}
	if err := l.record(b.ctx); err != nil {
		t.Fatal(err)
	}
	if counts, _ := b.db.QueueCounts(b.ctx); counts[store.StatusSucceeded] != 2 {
		t.Fatalf("counts %v", counts)
	}
}

// TestLoop_RunOnce_Once: Run with Once delivers what is due and returns.
func TestLoop_Run_Once(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	ok := newReceiver(t, nil)
	bad := newReceiver(t, status(500))
	b.webhook(t, ok.URL, store.CreateWebhookParams{Name: "ok"})
	b.webhook(t, bad.URL, store.CreateWebhookParams{Name: "bad"})
	b.cfg.NowFunc = nil
	b.cfg.Once = true
	b.cfg.MaxPerWebhook = 8
	// No retry comes due while the test runs, however slow the machine.
	b.cfg.Policy.Schedule = []time.Duration{time.Hour}
	b.emit(t, 300)
	l := b.start(t)
	if err := l.Run(b.ctx); err != nil {
		t.Fatal(err)
	}
	s := l.Summary()
	if s.Attempts != 600 || s.Succeeded != 300 || s.Retrying != 300 || s.Failed != 0 {
		t.Fatalf("summary %+v", s)
	}
	counts, _ := b.db.QueueCounts(b.ctx)
	if counts[store.StatusSucceeded] != 300 || counts[store.StatusRetrying] != 300 || counts[store.StatusDelivering] != 0 {
		t.Fatalf("counts %v", counts)
	}
}

// TestLoop_Run_Shutdown: cancelling Run lets the attempts in flight finish
// and be recorded, gives back claimed deliveries no worker started, and
// leaves nothing delivering.
func TestLoop_Run_Shutdown(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	started := make(chan struct{}, 100)
	release := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
	})
	b.webhook(t, rc.URL, store.CreateWebhookParams{})
	b.cfg.NowFunc = nil
	b.cfg.Concurrency, b.cfg.MaxPerWebhook = 2, 4
	b.emit(t, 10)
	l := b.start(t)
	ctx, cancel := context.WithCancel(b.ctx)
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	<-started
	<-started
	cancel()
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	counts, _ := b.db.QueueCounts(b.ctx)
	if counts[store.StatusSucceeded] != 2 || counts[store.StatusPending] != 8 || counts[store.StatusDelivering] != 0 {
		t.Fatalf("counts %v, want 2 succeeded and 8 pending", counts)
	}
	ds, _ := b.db.ListDeliveries(b.ctx, store.ListDeliveriesParams{Status: store.StatusPending})
	for _, d := range ds {
		if d.Attempts != 0 {
			t.Fatalf("released delivery %s has %d attempts", d.ID, d.Attempts)
		}
	}
}

// TestLoop_Run_Abort: Abort cuts the attempts in flight short and gives
// them back.
func TestLoop_Run_Abort(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	started := make(chan struct{}, 100)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		started <- struct{}{}
		<-r.Context().Done()
	})
	b.webhook(t, rc.URL, store.CreateWebhookParams{})
	b.cfg.NowFunc = nil
	b.cfg.Concurrency, b.cfg.MaxPerWebhook = 2, 4
	b.emit(t, 3)
	l := b.start(t)
	ctx, cancel := context.WithCancel(b.ctx)
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	<-started
	<-started
	cancel()
	l.Abort()
	if err := <-done; !errors.Is(err, ErrAborted) {
		t.Fatalf("Run = %v, want ErrAborted", err)
	}
	counts, _ := b.db.QueueCounts(b.ctx)
	if counts[store.StatusPending] != 3 || counts[store.StatusDelivering] != 0 {
		t.Fatalf("counts %v, want 3 pending", counts)
	}
}

// TestLoop_Run_WakesOnEmit: a running loop notices another connection's
// emit without being told.
func TestLoop_Run_WakesOnEmit(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	got := make(chan struct{}, 1)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { got <- struct{}{} })
	b.webhook(t, rc.URL, store.CreateWebhookParams{})
	b.cfg.NowFunc = nil
	l := b.start(t)
	ctx, cancel := context.WithCancel(b.ctx)
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	other, err := store.Open(b.ctx, b.path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.EmitEvents(b.ctx, []store.NewEvent{{Type: "recording.imported", Payload: []byte(`{"type":"recording.imported","recordingId":"x"}`)}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the emit was not delivered within 10s")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if counts, _ := b.db.QueueCounts(b.ctx); counts[store.StatusSucceeded] != 1 {
		t.Fatalf("counts %v", counts)
	}
}

// TestLoop_DeliverNow: one delivery is attempted at once, whenever it is
// due, and recorded; a finished one cannot be.
func TestLoop_DeliverNow(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	rc := newReceiver(t, status(503))
	b.webhook(t, rc.URL, store.CreateWebhookParams{})
	em := b.emit(t, 2)
	l := b.start(t)
	ds, _ := b.db.ListDeliveries(b.ctx, store.ListDeliveriesParams{EventID: em[0].Event.ID})
	id := ds[0].ID
	b.clock.Add(-time.Hour) // not due yet
	a, ok, err := l.DeliverNow(b.ctx, id)
	if err != nil || !ok {
		t.Fatalf("DeliverNow: %v %v", ok, err)
	}
	if a.DeliveryID != id || a.Number != 1 || a.Status != store.StatusRetrying || a.Outcome.StatusCode != 503 ||
		a.Outcome.ErrorCode != ErrCodeHTTPStatus || a.Lost {
		t.Fatalf("attempt %+v", a)
	}
	d := b.delivery(t, id)
	if d.Status != store.StatusRetrying || len(d.AttemptLog) != 1 || len(rc.got()) != 1 {
		t.Fatalf("delivery %+v, %d requests", d, len(rc.got()))
	}
	if counts, _ := b.db.QueueCounts(b.ctx); counts[store.StatusPending] != 1 {
		t.Fatalf("the other delivery was touched: %v", counts)
	}
	// A delivery another process holds is left alone.
	if _, err := b.db.RetryDeliveries(b.ctx, []string{id}, b.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.ClaimDeliveries(b.ctx, store.ClaimParams{Owner: "other", Now: b.clock.Now(), Lease: time.Minute, Limit: 10}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := l.DeliverNow(b.ctx, id); ok || err != nil {
		t.Fatalf("claimed a delivery another owner holds (%v)", err)
	}
}
