package deliver_test

// These tests check fgwh's Standard Webhooks deliveries with a verifier
// written here from the specification's text (standard-webhooks/
// standard-webhooks spec/standard-webhooks.md, "Signature scheme", "Webhook
// headers" and "Verifying signatures"), on purpose without package sign, so
// that a mistake shared by our signer and our verifier cannot hide. The
// spec's published test vector is checked against package sign in
// sign/standard_test.go (TestSignStandard); here it only proves that this
// independent verifier is right.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fgwh/fgwh/cmd"
	"github.com/fgwh/fgwh/deliver"
	"github.com/fgwh/fgwh/store"
	"github.com/fgwh/fgwh/store/pgtest"
)

// specTolerance is the replay window the spec asks receivers to enforce;
// five minutes is what its reference libraries use.
const specTolerance = 5 * time.Minute

// specVerify verifies a Standard Webhooks request as the specification
// describes it, for one symmetric secret:
//
//   - the headers webhook-id, webhook-timestamp (integer unix seconds) and
//     webhook-signature (a space-delimited list of signatures) are present;
//   - the content signed is "{msg_id}.{timestamp}.{payload}" with the exact
//     body bytes, and the id holds no '.';
//   - the secret is "whsec_" and base64; the HMAC-SHA256 key is the decoded
//     bytes;
//   - a "v1," entry whose base64 equals the computed HMAC, compared in
//     constant time, verifies; other versions are skipped;
//   - the timestamp lies within the tolerance of now.
func specVerify(secret string, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	if strings.Contains(id, ".") {
		return fmt.Errorf("webhook-id %q contains a full stop", id)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q: %v", ts, err)
	}
	b64, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return fmt.Errorf("secret %q does not start with whsec_", secret)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return fmt.Errorf("secret: %v", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := []byte(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	matched := false
	for _, entry := range strings.Split(sigs, " ") {
		version, sig, ok := strings.Cut(entry, ",")
		if ok && version == "v1" && hmac.Equal([]byte(sig), want) {
			matched = true
		}
	}
	if !matched {
		return errors.New("no v1 signature matches")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > specTolerance || d < -specTolerance {
		return fmt.Errorf("webhook-timestamp %s is %s from now", ts, d)
	}
	return nil
}

// fgwhSignature is fg-webhook-signature as SPEC.md defines it, computed
// without package sign.
func fgwhSignature(token string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

func TestSpecVerify_Vector(t *testing.T) {
	t.Parallel()
	// The test vector of the Standard Webhooks reference libraries
	// (libraries/go/webhook_test.go TestWebhookSign), also in
	// sign/standard_test.go.
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"test": 2432232314}`)
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	now := time.Unix(1614265330, 0)

	if err := specVerify(secret, h, body, now); err != nil {
		t.Fatalf("spec vector: %v", err)
	}
	// Several signatures: one that matches is enough.
	h.Set("webhook-signature", "v1a,xyz v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	if err := specVerify(secret, h, body, now); err != nil {
		t.Fatalf("signature list: %v", err)
	}
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")

	for _, tc := range []struct {
		name   string
		secret string
		body   string
		now    time.Time
		header [2]string
	}{
		{name: "changed body", body: `{"test": 2432232315}`},
		{name: "other secret", secret: "whsec_c2Vjb25kIHNlY3JldCBmb3Igcm90YXRpb24h"},
		{name: "changed id", header: [2]string{"webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJeK"}},
		{name: "changed timestamp", header: [2]string{"webhook-timestamp", "1614265331"}},
		{name: "v1a only", header: [2]string{"webhook-signature", "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}},
		{name: "too old", now: now.Add(specTolerance + time.Second)},
		{name: "too new", now: now.Add(-specTolerance - time.Second)},
	} {
		h := h.Clone()
		if tc.header[0] != "" {
			h.Set(tc.header[0], tc.header[1])
		}
		s, b, n := secret, body, now
		if tc.secret != "" {
			s = tc.secret
		}
		if tc.body != "" {
			b = []byte(tc.body)
		}
		if !tc.now.IsZero() {
			n = tc.now
		}
		if err := specVerify(s, h, b, n); err == nil {
			t.Errorf("%s: verified, want an error", tc.name)
		}
	}
}

// specClock is the loop's clock and the receivers' clock.
type specClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *specClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *specClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// specRequest is a request a specReceiver got, with its answer.
type specRequest struct {
	header http.Header
	body   []byte
	status int
	err    error
}

// specReceiver is an endpoint that holds one secret and accepts only
// requests that specVerify accepts with it (with fgwhOnly, only requests
// whose fg-webhook-signature is right), answering 401 otherwise. failNext
// makes it answer 500 to that many verified requests first.
type specReceiver struct {
	*httptest.Server
	secret   string
	fgwhOnly bool
	clock    *specClock

	mu       sync.Mutex
	failNext int
	reqs     []specRequest
}

func newSpecReceiver(t *testing.T, clock *specClock) *specReceiver {
	r := &specReceiver{clock: clock}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		rec := specRequest{header: req.Header.Clone(), body: body, status: http.StatusOK}
		if r.fgwhOnly {
			if got := req.Header.Get("fg-webhook-signature"); got != fgwhSignature(r.secret, body) {
				rec.err = fmt.Errorf("fg-webhook-signature %q is wrong", got)
			}
		} else {
			rec.err = specVerify(r.secret, req.Header, body, r.clock.Now())
		}
		switch {
		case rec.err != nil:
			rec.status = http.StatusUnauthorized
		case r.failNext > 0:
			r.failNext--
			rec.status = http.StatusInternalServerError
		}
		r.reqs = append(r.reqs, rec)
		w.WriteHeader(rec.status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *specReceiver) requests() []specRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]specRequest(nil), r.reqs...)
}

// specBundle is a real store, shared by in-process fgwh commands and a
// deliver loop on a fake clock.
type specBundle struct {
	dsn   string
	db    *store.DB
	clock *specClock
}

// setupSpec opens a SQLite file in a temp dir, or with backend "postgres"
// a fresh schema on the test server (skipping when there is none).
func setupSpec(t *testing.T, backend string) *specBundle {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "fgwh.db")
	if backend == "postgres" {
		base := pgtest.URL()
		if base == "" {
			t.Skip("PostgreSQL tests need " + pgtest.EnvURL)
		}
		var drop func() error
		var err error
		dsn, drop, err = pgtest.NewSchema(t.Context(), base)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := drop(); err != nil {
				t.Log(err)
			}
		})
	}
	db, err := store.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// The commands run on the real clock; the loop's starts at it too.
	return &specBundle{dsn: dsn, db: db, clock: &specClock{t: time.Now().UTC().Truncate(time.Second)}}
}

// fgwh runs an fgwh command in-process on the bundle's database with
// -o json and decodes its output into v.
func (b *specBundle) fgwh(t *testing.T, v any, args ...string) {
	t.Helper()
	io, _, stdout, stderr := cmd.TestIO()
	code := cmd.Main(context.Background(), append([]string{"--db", b.dsn, "-o", "json"}, args...), io)
	if code != 0 {
		t.Fatalf("fgwh %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
	}
	if err := json.Unmarshal(stdout.Bytes(), v); err != nil {
		t.Fatalf("fgwh %s: %v\n%s", strings.Join(args, " "), err, stdout)
	}
}

// createWebhook creates a webhook with fgwh and returns its id and token.
func (b *specBundle) createWebhook(t *testing.T, url, scheme string) (string, string) {
	t.Helper()
	var w struct{ ID, Token, SignatureScheme string }
	b.fgwh(t, &w, "webhook", "create", "--url", url, "--event", "recording.imported", "--signature-scheme", scheme)
	if w.SignatureScheme != scheme || !strings.HasPrefix(w.Token, "whsec_") {
		t.Fatalf("webhook create: scheme %q token %q", w.SignatureScheme, w.Token)
	}
	return w.ID, w.Token
}

// emit queues one recording.imported event and returns its id.
func (b *specBundle) emit(t *testing.T, recordingID string) string {
	t.Helper()
	em, err := b.db.EmitEvents(t.Context(), []store.NewEvent{{
		Type:    "recording.imported",
		Payload: []byte(`{"type":"recording.imported","recordingId":"` + recordingID + `"}`),
	}}, b.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return em[0].Event.ID
}

// deliverDue runs a deliver loop with Once until nothing is due.
func (b *specBundle) deliverDue(t *testing.T) deliver.Summary {
	t.Helper()
	l := deliver.NewLoop(deliver.Config{
		Store:   b.db,
		Client:  deliver.NewClient(deliver.ClientOptions{AllowPrivate: true, Timeout: 5 * time.Second}),
		Policy:  deliver.Policy{Schedule: []time.Duration{5 * time.Second, 5 * time.Minute}},
		Once:    true,
		NowFunc: b.clock.Now,
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := l.Run(ctx); err != nil {
		t.Fatalf("deliver: %v", err)
	}
	return l.Summary()
}

func (b *specBundle) delivery(t *testing.T, eventID string) store.Delivery {
	t.Helper()
	ds, err := b.db.ListDeliveries(t.Context(), store.ListDeliveriesParams{EventID: eventID})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 {
		t.Fatalf("event %s has %d deliveries, want 1", eventID, len(ds))
	}
	d, err := b.db.GetDelivery(t.Context(), ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestLoop_StandardWebhooksSpec checks real deliveries of each scheme with
// the independent verifier: standard and both carry headers it accepts,
// webhook-id is the delivery id and stays the same on a retry while the
// timestamp moves on, and every request keeps fg-webhook-signature.
func TestLoop_StandardWebhooksSpec(t *testing.T) {
	t.Parallel()
	for _, scheme := range []string{store.SchemeStandard, store.SchemeBoth, store.SchemeFGWH} {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			b := setupSpec(t, "sqlite")
			rcv := newSpecReceiver(t, b.clock)
			_, token := b.createWebhook(t, rcv.URL+"/hooks", scheme)
			rcv.secret = token
			rcv.fgwhOnly = scheme == store.SchemeFGWH
			if scheme != store.SchemeFGWH {
				rcv.failNext = 1 // the first attempt is answered 500 and retried
			}
			ev := b.emit(t, "rec_1")

			b.deliverDue(t)
			b.clock.Add(10 * time.Second) // past the first retry's delay
			b.deliverDue(t)

			d := b.delivery(t, ev)
			reqs := rcv.requests()
			if scheme == store.SchemeFGWH {
				if len(reqs) != 1 || d.Status != store.StatusSucceeded {
					t.Fatalf("%d requests, delivery %s; want 1, succeeded", len(reqs), d.Status)
				}
				for _, name := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
					if v := reqs[0].header.Get(name); v != "" {
						t.Errorf("fgwh scheme sent %s: %s", name, v)
					}
				}
				if got, want := reqs[0].header.Get("fg-webhook-signature"), fgwhSignature(token, reqs[0].body); got != want {
					t.Errorf("fg-webhook-signature = %s, want %s", got, want)
				}
				return
			}
			if d.Status != store.StatusSucceeded || d.Attempts != 2 {
				t.Fatalf("delivery %s after %d attempts, want succeeded after 2", d.Status, d.Attempts)
			}
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			for i, r := range reqs {
				if r.err != nil {
					t.Errorf("attempt %d: spec verification: %v", i+1, r.err)
				}
				if got := r.header.Get("webhook-id"); got != d.ID {
					t.Errorf("attempt %d: webhook-id %q, want the delivery id %s", i+1, got, d.ID)
				}
				if got, want := r.header.Get("fg-webhook-signature"), fgwhSignature(token, r.body); got != want {
					t.Errorf("attempt %d: fg-webhook-signature = %s, want %s", i+1, got, want)
				}
				// webhook-timestamp is the attempt time, which is also
				// deliveryAttemptedAt in the body.
				var n struct{ DeliveryAttemptedAt time.Time }
				if err := json.Unmarshal(r.body, &n); err != nil {
					t.Fatal(err)
				}
				if got, want := r.header.Get("webhook-timestamp"), strconv.FormatInt(n.DeliveryAttemptedAt.Unix(), 10); got != want {
					t.Errorf("attempt %d: webhook-timestamp %s, want deliveryAttemptedAt %s", i+1, got, want)
				}
				if got := d.AttemptLog[i].AttemptedAt.Unix(); strconv.FormatInt(got, 10) != r.header.Get("webhook-timestamp") {
					t.Errorf("attempt %d: webhook-timestamp %s, recorded attempt at %d", i+1, r.header.Get("webhook-timestamp"), got)
				}
			}
			if reqs[0].header.Get("webhook-timestamp") == reqs[1].header.Get("webhook-timestamp") {
				t.Errorf("the retry kept webhook-timestamp %s", reqs[0].header.Get("webhook-timestamp"))
			}
			// A tampered body fails the independent verifier too.
			tampered := bytes.Replace(reqs[1].body, []byte("rec_1"), []byte("rec_2"), 1)
			if err := specVerify(token, reqs[1].header, tampered, b.clock.Now()); err == nil {
				t.Error("tampered body verified")
			}
		})
	}
}

// TestLoop_RotateTokenWithGrace proves that "webhook rotate-token --grace"
// loses nothing on a Standard Webhooks webhook: a receiver that holds only
// the old secret keeps verifying deliveries during the grace period, a
// receiver that holds only the new secret verifies them too, and after the
// grace period only the new secret signs. No attempt fails on the way.
// fg-webhook-signature uses the new token at once. It runs on both stores,
// which each decide when the previous token expires.
func TestLoop_RotateTokenWithGrace(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			testRotateTokenWithGrace(t, backend)
		})
	}
}

func testRotateTokenWithGrace(t *testing.T, backend string) {
	b := setupSpec(t, backend)
	oldRcv := newSpecReceiver(t, b.clock)
	newRcv := newSpecReceiver(t, b.clock)
	id, oldToken := b.createWebhook(t, oldRcv.URL+"/hooks", store.SchemeStandard)
	oldRcv.secret = oldToken

	// Before the rotation: one signature, the old receiver verifies.
	e1 := b.emit(t, "rec_1")
	b.deliverDue(t)

	var rotated struct {
		Token                  string
		PreviousTokenExpiresAt time.Time
	}
	b.fgwh(t, &rotated, "webhook", "rotate-token", id, "--grace", "1h")
	newToken := rotated.Token
	if !strings.HasPrefix(newToken, "whsec_") || newToken == oldToken {
		t.Fatalf("rotate-token gave token %q (old %q)", newToken, oldToken)
	}
	if d := rotated.PreviousTokenExpiresAt.Sub(b.clock.Now()); d < time.Hour-time.Minute || d > time.Hour+time.Minute {
		t.Fatalf("previousTokenExpiresAt %s is %s from now, want about 1h", rotated.PreviousTokenExpiresAt, d)
	}
	newRcv.secret = newToken

	// During the grace period, the receiver still holding only the old
	// secret verifies.
	e2 := b.emit(t, "rec_2")
	b.deliverDue(t)

	// The receiver moves to the new secret (a new deployment behind a new
	// URL), still within the grace period.
	var edited struct{ URL string }
	b.fgwh(t, &edited, "webhook", "edit", id, "--url", newRcv.URL+"/hooks")
	b.clock.Add(30 * time.Minute)
	e3 := b.emit(t, "rec_3")
	b.deliverDue(t)

	// After the grace period only the new secret signs.
	b.clock.Add(31 * time.Minute)
	e4 := b.emit(t, "rec_4")
	b.deliverDue(t)

	for _, ev := range []string{e1, e2, e3, e4} {
		d := b.delivery(t, ev)
		if d.Status != store.StatusSucceeded || d.Attempts != 1 || len(d.AttemptLog) != 1 || d.AttemptLog[0].StatusCode != 200 {
			t.Errorf("event %s: delivery %s after %d attempts (%+v), want succeeded at the first attempt", ev, d.Status, d.Attempts, d.AttemptLog)
		}
	}
	oldReqs, newReqs := oldRcv.requests(), newRcv.requests()
	if len(oldReqs) != 2 || len(newReqs) != 2 {
		t.Fatalf("old receiver got %d requests, new receiver %d; want 2 each", len(oldReqs), len(newReqs))
	}
	for i, r := range append(oldReqs, newReqs...) {
		if r.status != 200 || r.err != nil {
			t.Errorf("request %d answered %d: %v", i+1, r.status, r.err)
		}
	}

	sigCount := func(r specRequest) int { return len(strings.Fields(r.header.Get("webhook-signature"))) }
	// Before: one signature, by the old token.
	if n := sigCount(oldReqs[0]); n != 1 {
		t.Errorf("before the rotation: %d signatures, want 1", n)
	}
	// During the grace period: both tokens sign, so either receiver
	// verifies either request; fg-webhook-signature already uses the new token.
	for _, r := range []specRequest{oldReqs[1], newReqs[0]} {
		if n := sigCount(r); n != 2 {
			t.Errorf("during the grace period: %d signatures, want 2", n)
		}
		for _, secret := range []string{oldToken, newToken} {
			if err := specVerify(secret, r.header, r.body, sentAt(t, r)); err != nil {
				t.Errorf("during the grace period, secret %s…: %v", secret[:10], err)
			}
		}
		if got := r.header.Get("fg-webhook-signature"); got != fgwhSignature(newToken, r.body) {
			t.Errorf("during the grace period: fg-webhook-signature %s is not the new token's", got)
		}
	}
	// After: one signature, by the new token; the old secret no longer verifies.
	after := newReqs[1]
	if n := sigCount(after); n != 1 {
		t.Errorf("after the grace period: %d signatures, want 1", n)
	}
	if err := specVerify(oldToken, after.header, after.body, sentAt(t, after)); err == nil {
		t.Error("after the grace period the old secret still verifies")
	}
}

// sentAt returns a request's webhook-timestamp, so it can be verified
// again later as if it had just arrived.
func sentAt(t *testing.T, r specRequest) time.Time {
	t.Helper()
	sec, err := strconv.ParseInt(r.header.Get("webhook-timestamp"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return time.Unix(sec, 0)
}
