package deliver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/fgwh/fgwh/sign"
	"github.com/fgwh/fgwh/store"
)

// Loop tunables.
const (
	// DefaultConcurrency is how many attempts run at once. With slow
	// receivers throughput is concurrency ÷ latency (DESIGN.md: 128 workers
	// against a 50 ms receiver deliver about 2,500/s, 32 only 625/s), and an
	// idle worker costs a goroutine, so the default is generous; the
	// per-webhook cap keeps any one receiver from seeing all of them.
	DefaultConcurrency = 128
	// DefaultMaxPerWebhook caps one webhook's attempts in flight (claimed
	// deliveries waiting for a worker included), so a dead endpoint holds at
	// most this many workers and a receiver never sees more connections.
	// It is lowered to a quarter of the concurrency when that is smaller.
	DefaultMaxPerWebhook = 32
	// DefaultAutoDisableAfter disables a webhook whose last 10 deliveries
	// all ended failed.
	DefaultAutoDisableAfter = 10
	// DefaultWatchPoll is how often another process's commits are looked
	// for (PRAGMA data_version): a few microseconds each, and it bounds how
	// late an emit from another process is noticed.
	DefaultWatchPoll = 10 * time.Millisecond
	// DefaultLeaseTimeouts is the lease in attempt timeouts: 4 × 5 s = 20 s,
	// so a crashed process delays its deliveries by seconds, not minutes.
	DefaultLeaseTimeouts = 4
	// DefaultMinLease bounds the lease from below for very short timeouts.
	DefaultMinLease = 2 * time.Second
	// maxStoreBackoff caps the wait after a failed store call.
	maxStoreBackoff = 5 * time.Second
	// minStoreBackoff is the first wait after a failed store call.
	minStoreBackoff = 50 * time.Millisecond
	// storeLogEvery rate-limits repeated store error logs.
	storeLogEvery = 5 * time.Second
	// onceMaxStoreErrors makes --once give up after this many store
	// failures in a row instead of retrying forever in a CI step.
	onceMaxStoreErrors = 10
	// aheadFactor × concurrency deliveries may be claimed and not yet back,
	// so that each transaction records and claims about concurrency of
	// them while the workers stay busy with the rest: batches that small
	// cost a commit per few deliveries and halve throughput (DESIGN.md).
	aheadFactor = 4
	// minNarrowClaim is the least a narrowed claim asks for.
	minNarrowClaim = 8
	// recordLinger is the longest an outcome waits for others to be
	// recorded with it while the workers have other work.
	recordLinger = 2 * time.Millisecond
	// releaseTimeout bounds the store calls made after an abort.
	releaseTimeout = 5 * time.Second
)

// ErrAborted is returned by Run when Abort cut the drain short.
var ErrAborted = errors.New("delivery aborted before in-flight attempts finished")

// Config configures a Loop.
type Config struct {
	Store  *store.DB
	Client *Client
	// Owner names this process in leases; empty makes one from the host
	// name, the pid and random bytes.
	Owner string
	// Concurrency is the number of HTTP workers; 0 means DefaultConcurrency.
	Concurrency int
	// MaxPerWebhook caps one webhook's deliveries in flight; 0 means
	// min(DefaultMaxPerWebhook, Concurrency/4), at least 1.
	MaxPerWebhook int
	// Lease is how long a claim holds without renewal; 0 means
	// DefaultLeaseTimeouts × the client's timeout (at least DefaultMinLease).
	Lease time.Duration
	// Policy schedules automatic retries.
	Policy Policy
	// AutoDisableAfter disables a webhook after that many deliveries in a
	// row ended failed; 0 turns it off.
	AutoDisableAfter int
	// Once makes Run return when nothing is due and nothing is in flight.
	Once bool
	// Logger gets one line per attempt and store errors; nil discards.
	Logger *slog.Logger
	// NowFunc is the clock; nil means time.Now.
	NowFunc func() time.Time
	// WatchPoll is how often other processes' commits are polled for; 0
	// means DefaultWatchPoll.
	WatchPoll time.Duration
	// OnAttemptFunc, if set, is called from the loop's goroutine after each
	// attempt is recorded.
	OnAttemptFunc func(Attempt)
	// OnIterationFunc, if set, is called from Run's goroutine after each
	// iteration (at least every quarter lease, even when idle): the
	// metrics' health check and in-flight gauge.
	OnIterationFunc func(Iteration)
}

// Iteration reports one iteration of Run.
type Iteration struct {
	// Err is the iteration's store error; nil when its store calls succeeded.
	Err error
	// InFlight is how many claimed deliveries are not yet back from a worker.
	InFlight int
}

// Attempt reports one recorded attempt.
type Attempt struct {
	DeliveryID string
	WebhookID  string
	EventType  string
	Number     int
	Manual     bool
	Outcome    Outcome
	// Status is the delivery's status after the attempt.
	Status string
	// NextAttemptAt is set when Status is retrying.
	NextAttemptAt time.Time
	// Lost is set when the claim had expired and another process took the
	// delivery over, so this outcome was not recorded.
	Lost bool
	// DisabledReason is set when this attempt disabled the webhook.
	DisabledReason string
}

// Summary counts what a Loop did.
type Summary struct {
	Attempts  int
	Succeeded int
	Retrying  int
	Failed    int
	Lost      int
}

// Loop claims due deliveries, sends them through a pool of workers and
// records the outcomes (DESIGN.md, "The shape that works"). Only the loop's
// own goroutine touches the database; workers only send.
type Loop struct {
	cfg         Config
	db          *store.DB
	client      *Client
	log         *slog.Logger
	now         func() time.Time
	owner       string
	concurrency int
	capacity    int // most deliveries claimed and not yet back
	perWebhook  int
	lease       time.Duration
	extendEvery time.Duration
	rescueEvery time.Duration
	queue       chan store.Claimed
	results     chan result
	sendCtx     context.Context
	runCtx      atomic.Pointer[context.Context] // Run's, read by the workers
	abort       context.CancelFunc
	workersDone chan struct{}
	started     bool
	stopping    bool
	outstanding int            // claimed and not yet back from a worker
	inFlight    map[string]int // outstanding per webhook
	pending     []result       // back from workers, not yet recorded
	claimWanted bool
	narrow      int // when > 0, the most the next claim asks for
	// foundNothing is set when the last iteration's claim found nothing due.
	foundNothing  bool
	nextRescue    time.Time
	nextExtend    time.Time
	nextWake      time.Time // zero: no timer
	idleSpins     int
	summary       Summary
	storeErrs     int
	lastStoreLog  time.Time
	suppressedLog int
}

type result struct {
	c   store.Claimed
	out Outcome
	// unstarted is set when a worker took c after the stop and did not send it.
	unstarted bool
}

// NewLoop returns a Loop for cfg. It panics if Store or Client is nil.
func NewLoop(cfg Config) *Loop {
	if cfg.Store == nil || cfg.Client == nil {
		panic("deliver: NewLoop needs a Store and a Client")
	}
	l := &Loop{cfg: cfg, db: cfg.Store, client: cfg.Client, log: cfg.Logger, now: cfg.NowFunc, owner: cfg.Owner}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.owner == "" {
		l.owner = NewOwner()
	}
	l.concurrency = cfg.Concurrency
	if l.concurrency <= 0 {
		l.concurrency = DefaultConcurrency
	}
	l.perWebhook = cfg.MaxPerWebhook
	if l.perWebhook <= 0 {
		l.perWebhook = DefaultPerWebhook(l.concurrency)
	}
	l.lease = cfg.Lease
	if l.lease <= 0 {
		l.lease = max(DefaultLeaseTimeouts*l.client.Timeout(), DefaultMinLease)
	}
	l.extendEvery = l.lease / 4
	l.rescueEvery = l.lease / 4
	l.capacity = aheadFactor * l.concurrency
	// Neither the loop nor the workers ever wait on these channels: at
	// most capacity deliveries are outstanding.
	l.queue = make(chan store.Claimed, l.capacity)
	l.results = make(chan result, l.capacity)
	l.inFlight = map[string]int{}
	l.claimWanted = true
	l.workersDone = make(chan struct{})
	l.sendCtx, l.abort = context.WithCancel(context.Background())
	return l
}

// DefaultPerWebhook is the per-webhook cap used for a concurrency when none
// is given: a quarter of the workers, at most DefaultMaxPerWebhook.
func DefaultPerWebhook(concurrency int) int {
	return max(1, min(DefaultMaxPerWebhook, concurrency/4))
}

// NewOwner returns a lease owner name unique to this process.
func NewOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Owner returns the name this loop leases deliveries under.
func (l *Loop) Owner() string { return l.owner }

// Summary returns what the loop did so far. Call it from the goroutine
// that runs the loop, or after Run returned.
func (l *Loop) Summary() Summary { return l.summary }

// Abort cancels the attempts in flight; Run then releases them and returns
// ErrAborted. It is the second Ctrl-C. It is safe to call from any goroutine.
func (l *Loop) Abort() { l.abort() }

// start launches the workers once.
func (l *Loop) start() {
	if l.started {
		return
	}
	l.started = true
	done := make(chan struct{}, l.concurrency)
	for range l.concurrency {
		go func() {
			defer func() { done <- struct{}{} }()
			for c := range l.queue {
				// Once Run's context ends no new attempt starts: the
				// delivery goes back unstarted and is given back.
				if ctx := l.runCtx.Load(); ctx != nil && (*ctx).Err() != nil {
					l.results <- result{c: c, unstarted: true}
					continue
				}
				l.results <- result{c: c, out: l.send(c)}
			}
		}()
	}
	go func() {
		for range l.concurrency {
			<-done
		}
		close(l.workersDone)
	}()
}

// send makes one attempt. Deliveries of webhooks with the standard or both
// schemes also carry the Standard Webhooks headers, with the delivery id as
// webhook-id (stable across retries) and the attempt time as timestamp.
func (l *Loop) send(c store.Claimed) Outcome {
	req := Request{URL: c.URL, Token: c.Token, WebhookID: c.WebhookID, EventID: c.EventID, EventTime: c.EventTime, Payload: c.Payload}
	if c.SignatureScheme == store.SchemeStandard || c.SignatureScheme == store.SchemeBoth {
		secrets := []string{c.Token}
		if c.PreviousToken != "" {
			secrets = append(secrets, c.PreviousToken)
		}
		req.ExtraHeadersFunc = func(body []byte, at time.Time) http.Header {
			h := http.Header{}
			// A token that is not base64 cannot sign this scheme; the
			// receiver then rejects the attempt and its log says why.
			sign.SetStandardHeaders(h, secrets, c.ID, at, body)
			return h
		}
	}
	return l.client.Send(l.sendCtx, req, l.now())
}

// Run delivers until ctx ends (or, with Config.Once, until nothing is due
// and nothing is in flight). Then it stops claiming, gives back claimed
// deliveries no worker started, waits for the attempts in flight (each
// bounded by the client's timeout) and records them. Store errors are
// logged and retried with backoff; Run returns an error only when Abort
// cut the drain short, or when --once cannot reach the store.
func (l *Loop) Run(ctx context.Context) error {
	l.runCtx.Store(&ctx)
	l.start()
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	poll := l.cfg.WatchPoll
	if poll <= 0 {
		poll = DefaultWatchPoll
	}
	watch := l.db.Watch(watchCtx, poll)
	var backoff time.Duration
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if ctx.Err() != nil {
			return l.Shutdown()
		}
		err := l.RunOnce(ctx)
		if l.cfg.OnIterationFunc != nil && (err == nil || ctx.Err() == nil) {
			l.cfg.OnIterationFunc(Iteration{Err: err, InFlight: l.outstanding})
		}
		switch {
		case err == nil:
			backoff, l.storeErrs = 0, 0
		case ctx.Err() != nil:
			continue
		default:
			l.storeErrs++
			l.logStoreError(err)
			if l.cfg.Once && l.storeErrs >= onceMaxStoreErrors {
				l.Shutdown()
				return err
			}
			backoff = min(max(2*backoff, minStoreBackoff), maxStoreBackoff)
		}
		if l.cfg.Once && err == nil && l.Idle() {
			return l.Shutdown()
		}
		watch = l.sleep(ctx, watch, timer, backoff)
	}
}

// sleep waits for a reason to run another iteration: another process
// committed (watch), the next delivery or lease is due, the store backoff
// is over, ctx ended, or enough outcomes are waiting. Outcomes are
// batched: they wait up to recordLinger for company while the workers
// still have claimed deliveries queued, so one transaction records many.
func (l *Loop) sleep(ctx context.Context, watch <-chan struct{}, timer *time.Timer, backoff time.Duration) <-chan struct{} {
	var deadline, lingerUntil time.Time
	if backoff > 0 {
		deadline = time.Now().Add(backoff)
	} else if !l.nextWake.IsZero() {
		deadline = time.Now().Add(max(l.nextWake.Sub(l.now()), 0))
	}
	for {
		if backoff == 0 && l.ready() {
			return watch
		}
		if len(l.pending) > 0 && lingerUntil.IsZero() {
			lingerUntil = time.Now().Add(recordLinger)
		}
		until := deadline
		if backoff == 0 && !lingerUntil.IsZero() && (until.IsZero() || lingerUntil.Before(until)) {
			until = lingerUntil
		}
		if until.IsZero() {
			timer.Stop()
		} else {
			timer.Reset(max(time.Until(until), 0))
		}
		select {
		case <-ctx.Done():
			return watch
		case r := <-l.results:
			l.take(r)
		case _, ok := <-watch:
			if !ok {
				// A store without change notifications: rely on NextWake.
				watch = nil
				continue
			}
			l.claimWanted, l.narrow = true, 0
			if backoff == 0 {
				return watch
			}
		case <-timer.C:
			now := time.Now()
			if !deadline.IsZero() && !now.Before(deadline) {
				l.claimWanted, l.narrow = true, 0
				return watch
			}
			if backoff == 0 && !lingerUntil.IsZero() && !now.Before(lingerUntil) {
				return watch
			}
		}
	}
}

// ready reports whether waiting outcomes should be recorded now: many are
// waiting, all are back, or the workers ran out of queued deliveries while
// more are due and some are back.
func (l *Loop) ready() bool {
	if len(l.pending) == 0 {
		return false
	}
	if len(l.pending) >= l.concurrency || l.outstanding == 0 {
		return true
	}
	// Workers are running out while more is due, typically one webhook at
	// its cap: claim again once a quarter of the cap is back (or the linger
	// is over), not after every outcome, which would cost two transactions
	// a delivery.
	return l.claimWanted && len(l.queue) == 0 && len(l.pending) >= max(1, min(l.concurrency, l.perWebhook)/4)
}

// Idle reports whether the last iteration found nothing due and nothing is
// in flight or waiting to be recorded.
func (l *Loop) Idle() bool {
	return l.outstanding == 0 && len(l.pending) == 0 && l.foundNothing
}

// take accounts for an outcome handed back by a worker.
func (l *Loop) take(r result) {
	l.pending = append(l.pending, r)
	l.done(r.c)
}

// done frees the capacity a claimed delivery held.
func (l *Loop) done(c store.Claimed) {
	l.outstanding--
	if n := l.inFlight[c.WebhookID] - 1; n > 0 {
		l.inFlight[c.WebhookID] = n
	} else {
		delete(l.inFlight, c.WebhookID)
	}
}

// RunOnce is one iteration: record every outcome waiting, rescue expired
// leases and extend this process's leases when due, claim due deliveries up
// to free capacity and hand them to the workers, and work out when to wake
// next. It never waits for an attempt.
func (l *Loop) RunOnce(ctx context.Context) error {
	l.start()
	for {
		select {
		case r := <-l.results:
			l.take(r)
			continue
		default:
		}
		break
	}
	now := l.now()
	if !l.nextWake.IsZero() && !now.Before(l.nextWake) {
		l.claimWanted, l.narrow = true, 0
	}
	if !now.Before(l.nextRescue) {
		n, err := l.db.RescueExpired(ctx, now)
		if err != nil {
			return fmt.Errorf("rescue expired leases: %w", err)
		}
		l.nextRescue = now.Add(l.rescueEvery)
		if n > 0 {
			l.log.Warn("rescued deliveries whose lease expired", "count", n)
			l.claimWanted, l.narrow = true, 0
		}
	}
	if l.outstanding > 0 && !now.Before(l.nextExtend) {
		if _, err := l.db.ExtendLeases(ctx, l.owner, now.Add(l.lease)); err != nil {
			return fmt.Errorf("extend leases: %w", err)
		}
		l.nextExtend = now.Add(l.extendEvery)
	}
	l.foundNothing = false
	if l.stopping {
		return l.record(ctx)
	}
	if l.cfg.Once {
		// --once must see a claim come back empty before it stops.
		l.claimWanted = true
	}
	limit := l.capacity - l.outstanding
	if l.narrow > 0 {
		limit = min(limit, l.narrow)
	}
	if !l.claimWanted || limit <= 0 {
		if err := l.record(ctx); err != nil {
			return err
		}
	} else {
		inFlight := make(map[string]int, len(l.inFlight))
		for k, v := range l.inFlight {
			inFlight[k] = v
		}
		got, err := l.recordAndClaim(ctx, &store.ClaimParams{Owner: l.owner, Now: now, Lease: l.lease, Limit: limit,
			PerWebhook: l.perWebhook, InFlight: inFlight})
		if err != nil {
			return err
		}
		if l.outstanding == 0 && len(got) > 0 {
			l.nextExtend = now.Add(l.extendEvery)
		}
		for _, c := range got {
			l.outstanding++
			l.inFlight[c.WebhookID]++
			l.queue <- c
		}
		l.foundNothing = len(got) == 0
		// More may be due if the claim was cut by the limit or a webhook
		// is at its cap; the next outcome frees room and wakes the loop.
		l.claimWanted = len(got) == limit || l.anyCapped()
		// A claim reads a few times its limit in due order and skips
		// webhooks at their cap: while only capped webhooks have work
		// (one busy webhook, typically), ask for about what came back
		// last time, not for the whole free capacity. New work (a commit
		// by another process, a retry or lease coming due) widens it again.
		switch {
		case len(got) == limit && l.narrow > 0:
			l.narrow *= 2
		case len(got) < limit && l.anyCapped():
			l.narrow = max(2*len(got), minNarrowClaim)
		case len(got) < limit:
			l.narrow = 0
		}
		if len(got) > 0 {
			l.idleSpins = 0
		}
	}
	return l.planWake(ctx, now)
}

func (l *Loop) anyCapped() bool {
	for _, n := range l.inFlight {
		if n >= l.perWebhook {
			return true
		}
	}
	return false
}

// planWake sets when the loop must wake without being signalled: the next
// due delivery or expiring lease, the next lease renewal and the next rescue.
func (l *Loop) planWake(ctx context.Context, now time.Time) error {
	wake := l.nextRescue
	if l.outstanding > 0 && l.nextExtend.Before(wake) {
		wake = l.nextExtend
	}
	if !l.claimWanted {
		next, ok, err := l.db.NextWake(ctx)
		if err != nil {
			return fmt.Errorf("next due delivery: %w", err)
		}
		switch {
		case !ok:
			l.idleSpins = 0
		case next.After(now):
			l.idleSpins = 0
			wake = minTime(wake, next)
		case l.idleSpins < 2:
			// Something came due between the claim and this query (an
			// emit, or a lease that expired): look again at once.
			l.idleSpins++
			l.claimWanted = true
			l.nextRescue = now
			wake = now
		}
	}
	l.nextWake = wake
	return nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// record writes every waiting outcome in one transaction. On error the
// outcomes stay waiting and are written by a later call.
func (l *Loop) record(ctx context.Context) error {
	_, err := l.recordAndClaim(ctx, nil)
	return err
}

// recordAndClaim writes every waiting outcome and, if claim is not nil,
// claims due deliveries, in one transaction on SQLite (a commit per
// iteration, not two). On error nothing is claimed and the outcomes stay
// waiting, to be written by a later call.
func (l *Loop) recordAndClaim(ctx context.Context, claim *store.ClaimParams) ([]store.Claimed, error) {
	// Unstarted deliveries are no attempt: Shutdown gives them back.
	var unstarted []result
	started := l.pending[:0]
	for _, r := range l.pending {
		if r.unstarted {
			unstarted = append(unstarted, r)
		} else {
			started = append(started, r)
		}
	}
	l.pending = started
	defer func() { l.pending = append(l.pending, unstarted...) }()
	if len(l.pending) == 0 {
		if claim == nil {
			return nil, nil
		}
		got, err := l.db.ClaimDeliveries(ctx, *claim)
		if err != nil {
			return nil, fmt.Errorf("claim deliveries: %w", err)
		}
		return got, nil
	}
	now := l.now()
	cs := make([]store.Completion, len(l.pending))
	for i, r := range l.pending {
		cs[i] = completion(l.cfg.Policy, r.c, r.out, now)
	}
	cp := store.CompleteParams{Owner: l.owner, Now: now, AutoDisableAfter: l.cfg.AutoDisableAfter}
	var res store.CompleteResult
	var got []store.Claimed
	var err error
	if claim == nil {
		res, err = l.db.CompleteDeliveries(ctx, cp, cs)
	} else {
		res, got, err = l.db.CompleteAndClaim(ctx, cp, cs, *claim)
	}
	// A claim that failed after the outcomes were recorded: report them,
	// then the error.
	var claimErr *store.ClaimError
	if errors.As(err, &claimErr) {
		err = nil
	}
	if err != nil {
		if claim != nil {
			return nil, fmt.Errorf("record attempts and claim deliveries: %w", err)
		}
		return nil, fmt.Errorf("record attempts: %w", err)
	}
	lost := map[string]bool{}
	for _, id := range res.Lost {
		lost[id] = true
	}
	for i, r := range l.pending {
		a := Attempt{DeliveryID: r.c.ID, WebhookID: r.c.WebhookID, EventType: r.c.EventType, Number: r.c.Attempt,
			Manual: r.c.Manual, Outcome: r.out, Status: cs[i].Status, NextAttemptAt: cs[i].NextAttemptAt, Lost: lost[r.c.ID]}
		if reason, ok := res.Disabled[r.c.WebhookID]; ok && (cs[i].DisableWebhook != "" || cs[i].Status == store.StatusFailed) {
			a.DisabledReason = reason
			delete(res.Disabled, r.c.WebhookID)
		}
		l.report(a)
		if cs[i].Status == store.StatusRetrying && !a.Lost && !cs[i].NextAttemptAt.After(now) {
			l.claimWanted = true
		}
	}
	l.pending = l.pending[:0]
	if claimErr != nil {
		return nil, claimErr
	}
	return got, nil
}

// report counts and logs one recorded attempt.
func (l *Loop) report(a Attempt) {
	l.summary.Attempts++
	switch {
	case a.Lost:
		l.summary.Lost++
	case a.Status == store.StatusSucceeded:
		l.summary.Succeeded++
	case a.Status == store.StatusRetrying:
		l.summary.Retrying++
	case a.Status == store.StatusFailed:
		l.summary.Failed++
	}
	o := a.Outcome
	attrs := []any{"delivery", a.DeliveryID, "webhook", a.WebhookID, "event", a.EventType, "attempt", a.Number,
		"status", a.Status, "code", o.StatusCode, "duration_ms", o.Duration.Milliseconds()}
	if a.Manual {
		attrs = append(attrs, "manual", true)
	}
	if a.Status == store.StatusRetrying {
		attrs = append(attrs, "next", a.NextAttemptAt.UTC().Format(TimeLayout))
	}
	if o.ErrorCode != "" {
		attrs = append(attrs, "error_code", o.ErrorCode, "error", o.Error)
	}
	switch {
	case a.Lost:
		l.log.Warn("attempt not recorded: the lease expired and another process took the delivery over", attrs...)
	case o.Succeeded():
		l.log.Info("delivered", attrs...)
	default:
		l.log.Warn("attempt failed", attrs...)
	}
	if a.DisabledReason != "" {
		l.log.Warn("webhook disabled", "webhook", a.WebhookID, "reason", a.DisabledReason)
	}
	if l.cfg.OnAttemptFunc != nil {
		l.cfg.OnAttemptFunc(a)
	}
}

// completion decides what follows an attempt: success; failure for good
// after 410 Gone (disabling the webhook), after a manual retry's single
// attempt, or when the schedule is exhausted; otherwise a retry after the
// policy's delay, Retry-After being a minimum.
func completion(p Policy, c store.Claimed, o Outcome, now time.Time) store.Completion {
	out := store.Completion{ID: c.ID, Row: c.Row, WebhookID: c.WebhookID, Attempt: c.Attempt, Manual: c.Manual,
		AttemptedAt: o.AttemptedAt, Duration: o.Duration, StatusCode: o.StatusCode, ErrorCode: o.ErrorCode,
		Error: o.Error, ResponseBody: o.ResponseBody}
	switch {
	case o.Succeeded():
		out.Status = store.StatusSucceeded
	case o.Permanent:
		out.Status = store.StatusFailed
		out.DisableWebhook = fmt.Sprintf("the endpoint answered %d %s on %s: it is gone",
			o.StatusCode, http.StatusText(o.StatusCode), o.AttemptedAt.UTC().Format(TimeLayout))
	case c.Manual:
		out.Status = store.StatusFailed
	default:
		delay, ok := p.Next(c.Attempt, o.RetryAfter)
		if !ok {
			out.Status = store.StatusFailed
			break
		}
		out.Status = store.StatusRetrying
		out.NextAttemptAt = now.Add(delay)
	}
	return out
}

// Shutdown stops claiming, gives back the deliveries no worker started,
// waits for the attempts in flight and records them. After Abort, the
// attempts it cut short are given back instead and it returns ErrAborted.
func (l *Loop) Shutdown() error {
	if l.stopping {
		return nil
	}
	l.start()
	l.stopping = true
	ctx := context.Background()
	var unstarted []string
	for {
		select {
		case c := <-l.queue:
			unstarted = append(unstarted, c.ID)
			l.done(c)
			continue
		default:
		}
		break
	}
	if len(unstarted) > 0 {
		l.retryStore(func() error {
			_, err := l.db.ReleaseDeliveries(ctx, l.owner, unstarted)
			return err
		})
	}
	for l.outstanding > 0 {
		l.take(<-l.results)
	}
	close(l.queue)
	<-l.workersDone
	// Give back what was never sent, and, after Abort, what was cut short.
	aborted := l.sendCtx.Err() != nil
	var giveBack []string
	kept := l.pending[:0]
	for _, r := range l.pending {
		if r.unstarted || (aborted && r.out.ErrorCode == ErrCodeCanceled) {
			giveBack = append(giveBack, r.c.ID)
			continue
		}
		kept = append(kept, r)
	}
	l.pending = kept
	if len(giveBack) > 0 {
		l.retryStore(func() error {
			_, err := l.db.ReleaseDeliveries(ctx, l.owner, giveBack)
			return err
		})
	}
	l.retryStore(func() error { return l.record(ctx) })
	l.abort()
	if aborted {
		return ErrAborted
	}
	return nil
}

// retryStore runs a store call made while stopping a few times, so a busy
// database does not leave deliveries delivering until their lease expires.
func (l *Loop) retryStore(fn func() error) {
	deadline := time.Now().Add(releaseTimeout)
	backoff := minStoreBackoff
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			l.log.Error("could not finish recording before exit; leases will expire", "error", err)
			return
		}
		l.logStoreError(err)
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
	}
}

// logStoreError logs a store error at most once per storeLogEvery.
func (l *Loop) logStoreError(err error) {
	now := time.Now()
	if now.Sub(l.lastStoreLog) < storeLogEvery {
		l.suppressedLog++
		return
	}
	attrs := []any{"error", err}
	if l.suppressedLog > 0 {
		attrs = append(attrs, "suppressed", l.suppressedLog)
	}
	l.log.Error("store error; retrying", attrs...)
	l.lastStoreLog, l.suppressedLog = now, 0
}
