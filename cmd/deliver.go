package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/fgwh/fgwh/deliver"
	"github.com/fgwh/fgwh/store"
	"github.com/spf13/cobra"
)

// DeliverOptions are the inputs of "fgwh deliver".
type DeliverOptions struct {
	App              *App
	Once             bool
	Concurrency      int
	MaxPerWebhook    int
	Timeout          time.Duration
	RetrySchedule    string
	Schedule         []time.Duration
	AllowPrivate     bool
	AutoDisableAfter int
	LogFormat        string
	MetricsAddr      string
	// NotifyFunc subscribes to SIGINT and SIGTERM; tests replace it.
	NotifyFunc func(chan<- os.Signal)
}

// Log formats for --log-format.
const (
	logText = "text"
	logJSON = "json"
)

func newCmdDeliver(app *App) *cobra.Command { return deliverCmd(app, nil) }

func deliverCmd(app *App, runF func(*DeliverOptions) error) *cobra.Command {
	opts := &DeliverOptions{App: app}
	c := &cobra.Command{
		Use:   "deliver [--once] [flags]",
		Short: "Send due notifications, retrying failures",
		Long: fmt.Sprintf(`Deliver POSTs due deliveries to their webhooks, signed, and records every
attempt. A failed attempt is retried after each delay of --retry-schedule
(±20%% jitter; a Retry-After answer is a minimum); after the last one the
delivery is failed. HTTP 410 Gone fails the delivery at once and disables
its webhook. A webhook whose last --auto-disable-after deliveries all
failed is disabled; "fgwh webhook enable" turns it back on.

Without --once, deliver runs until SIGINT or SIGTERM, picking up new events
within milliseconds, even when another process emits them. Then it stops
claiming, lets the attempts in flight finish (at most --timeout), gives back
what it had claimed but not started, and exits 0. A second Ctrl-C aborts
the attempts in flight (they are sent again later) and exits 130.

With --once, it delivers what is due now and exits when nothing is due and
nothing is in flight: 0, or 4 if a delivery it attempted ended failed.
Deliveries whose retry comes due later are left for the next run.

--concurrency is how many attempts run at once. Against slow receivers
throughput is concurrency ÷ latency: %d workers deliver about 2,500/s to
endpoints that take 50 ms, 32 only about 600/s. An idle worker costs almost
nothing, so the default is generous; --max-per-webhook (default: a quarter
of the concurrency, at most %d) keeps one slow or dead endpoint from taking
every worker, and any one receiver from seeing more connections than that.

Several deliver processes may share one database; none sends a delivery
another holds. If a process dies, its deliveries are sent again once their
lease (4 × --timeout) expires.

One line per attempt is logged on stderr (--log-format text or json).`, deliver.DefaultConcurrency, deliver.DefaultMaxPerWebhook),
		Example: `  fgwh deliver
  fgwh deliver --once --timeout 10s
  fgwh deliver --concurrency 512 --max-per-webhook 128 --log-format json
  FGWH_ALLOW_PRIVATE_NETWORKS=1 fgwh deliver   # receivers on localhost or a private network`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if err := opts.validate(c); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return deliverRun(c.Context(), opts)
		},
	}
	f := c.Flags()
	f.BoolVar(&opts.Once, "once", false, "deliver what is due now, then exit (4 if a delivery ended failed)")
	f.IntVar(&opts.Concurrency, "concurrency", deliver.DefaultConcurrency, "attempts in flight at once")
	f.IntVar(&opts.MaxPerWebhook, "max-per-webhook", 0, "attempts in flight for one webhook (default min(32, concurrency/4))")
	f.DurationVar(&opts.Timeout, "timeout", deliver.DefaultTimeout, "time limit of one attempt")
	f.StringVar(&opts.RetrySchedule, "retry-schedule", deliver.DefaultScheduleText, `delays before each automatic retry, or "none"`)
	f.BoolVar(&opts.AllowPrivate, "allow-private-networks", false, "allow loopback and private addresses (env FGWH_ALLOW_PRIVATE_NETWORKS=1)")
	f.IntVar(&opts.AutoDisableAfter, "auto-disable-after", deliver.DefaultAutoDisableAfter, "disable a webhook after this many failed deliveries in a row (0: never)")
	f.StringVar(&opts.LogFormat, "log-format", logText, "log format: {text|json}")
	f.StringVar(&opts.MetricsAddr, "metrics-addr", "", "serve Prometheus /metrics and /healthz on HOST:PORT (env FGWH_METRICS_ADDR)")
	return c
}

func (opts *DeliverOptions) validate(c *cobra.Command) error {
	switch {
	case opts.Concurrency < 1:
		return usagef("invalid --concurrency %d: must be at least 1", opts.Concurrency)
	case opts.MaxPerWebhook < 0:
		return usagef("invalid --max-per-webhook %d: must be at least 1 (or 0 for the default)", opts.MaxPerWebhook)
	case opts.Timeout <= 0:
		return usagef("invalid --timeout %s: must be positive", opts.Timeout)
	case opts.AutoDisableAfter < 0:
		return usagef("invalid --auto-disable-after %d: must be 0 (off) or more", opts.AutoDisableAfter)
	case opts.LogFormat != logText && opts.LogFormat != logJSON:
		return usagef("invalid --log-format %q: use text or json", opts.LogFormat)
	}
	s, err := deliver.ParseSchedule(opts.RetrySchedule)
	if err != nil {
		return usagef("invalid --retry-schedule: %v", err)
	}
	opts.Schedule = s
	if !c.Flags().Changed("allow-private-networks") && opts.App.Getenv("FGWH_ALLOW_PRIVATE_NETWORKS") == "1" {
		opts.AllowPrivate = true
	}
	addrFrom := "--metrics-addr"
	if !c.Flags().Changed("metrics-addr") {
		if addr := opts.App.Getenv("FGWH_METRICS_ADDR"); addr != "" {
			opts.MetricsAddr, addrFrom = addr, "FGWH_METRICS_ADDR"
		}
	}
	if opts.MetricsAddr != "" {
		if err := validateMetricsAddr(addrFrom, opts.MetricsAddr); err != nil {
			return err
		}
	}
	if opts.NotifyFunc == nil {
		opts.NotifyFunc = func(ch chan<- os.Signal) { signal.Notify(ch, os.Interrupt, syscall.SIGTERM) }
	}
	return nil
}

// newDeliverLogger returns the attempt logger on w.
func newDeliverLogger(w io.Writer, format string) *slog.Logger {
	if format == logJSON {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// newDeliverClient returns the HTTP client deliver and ping --wait share.
func newDeliverClient(opts *DeliverOptions) *deliver.Client {
	return deliver.NewClient(deliver.ClientOptions{
		AllowPrivate:    opts.AllowPrivate,
		MaxConnsPerHost: opts.Concurrency,
		Timeout:         opts.Timeout,
		UserAgent:       "fgwh/" + Version,
	})
}

func deliverRun(ctx context.Context, opts *DeliverOptions) error {
	app := opts.App
	deliver.TuneGC()
	ln, err := listenMetrics(opts)
	if err != nil {
		return err
	}
	// A SIGTERM while the database opens means there is nothing to drain:
	// open it anyway (it takes milliseconds) and let the loop exit 0.
	db, err := app.Store(context.WithoutCancel(ctx))
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		return err
	}
	errOut := app.IO.ErrOut
	var prog *progress
	if opts.Once && app.IO.ErrTTY {
		prog = &progress{w: errOut}
		errOut = prog
	}
	log := newDeliverLogger(errOut, opts.LogFormat)
	client := newDeliverClient(opts)
	defer client.CloseIdleConnections()
	cfg := deliver.Config{
		Store:            db,
		Client:           client,
		Concurrency:      opts.Concurrency,
		MaxPerWebhook:    opts.MaxPerWebhook,
		Policy:           deliver.Policy{Schedule: opts.Schedule, Jitter: deliver.DefaultJitter, MaxDelay: deliver.DefaultMaxDelay},
		AutoDisableAfter: opts.AutoDisableAfter,
		Once:             opts.Once,
		Logger:           log,
		NowFunc:          app.Now,
	}
	if prog != nil {
		cfg.OnAttemptFunc = prog.attempt
	}
	ms, err := startMetrics(context.WithoutCancel(ctx), app, ln, &cfg, opts, log)
	if err != nil {
		return err
	}
	loop := deliver.NewLoop(cfg)
	perWebhook := opts.MaxPerWebhook
	if perWebhook == 0 {
		perWebhook = deliver.DefaultPerWebhook(opts.Concurrency)
	}
	log.Info("deliver started", "db", db.Where(), "owner", loop.Owner(), "concurrency", opts.Concurrency,
		"max_per_webhook", perWebhook, "timeout", opts.Timeout.String(), "retry_schedule", deliver.FormatSchedule(opts.Schedule),
		"once", opts.Once)

	// The first SIGINT or SIGTERM stops claiming and drains; the second
	// aborts the attempts in flight.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	sigs := make(chan os.Signal, 2)
	opts.NotifyFunc(sigs)
	defer signal.Stop(sigs)
	runDone := make(chan struct{})
	go func() {
		// main's NotifyContext sees the same signals; only ours are counted.
		n := 0
		for {
			select {
			case <-sigs:
			case <-runDone:
				return
			}
			n++
			if n == 1 {
				log.Info("stopping: finishing the attempts in flight (interrupt again to abort them)")
				stop()
				continue
			}
			log.Warn("aborting the attempts in flight")
			loop.Abort()
			return
		}
	}()
	err = loop.Run(ctx)
	close(runDone)
	ms.stop()
	prog.clear()
	s := loop.Summary()
	if errors.Is(err, deliver.ErrAborted) {
		return &exitError{code: ExitInterrupted, msg: "interrupted: attempts in flight were aborted and will be sent again"}
	}
	if err != nil {
		return err
	}
	if opts.Once {
		fmt.Fprintf(app.IO.ErrOut, "%s, %d retrying later, %d failed\n",
			formatCount(s.Succeeded, "delivery succeeded", "deliveries succeeded"), s.Retrying, s.Failed)
		if s.Failed > 0 {
			return &exitError{code: ExitDeliveryFailed,
				msg: formatCount(s.Failed, "delivery", "deliveries") + " ended failed; see 'fgwh deliveries list --status failed'"}
		}
	}
	return nil
}

// progress keeps one status line at the bottom of a terminal during
// "deliver --once", clearing it around each log line.
type progress struct {
	mu        sync.Mutex
	w         io.Writer
	line      string
	counts    deliver.Summary
	lastDrawn time.Time
}

// Write writes a log line above the status line.
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.line != "" {
		io.WriteString(p.w, "\r\x1b[K")
	}
	n, err := p.w.Write(b)
	if p.line != "" {
		io.WriteString(p.w, p.line)
	}
	return n, err
}

// attempt counts an attempt and redraws the status line, at most ten times a second.
func (p *progress) attempt(a deliver.Attempt) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts.Attempts++
	switch a.Status {
	case store.StatusSucceeded:
		p.counts.Succeeded++
	case store.StatusRetrying:
		p.counts.Retrying++
	case store.StatusFailed:
		p.counts.Failed++
	}
	if time.Since(p.lastDrawn) < 100*time.Millisecond {
		return
	}
	p.lastDrawn = time.Now()
	p.line = fmt.Sprintf("%d attempts: %d succeeded, %d retrying, %d failed", p.counts.Attempts, p.counts.Succeeded, p.counts.Retrying, p.counts.Failed)
	io.WriteString(p.w, "\r\x1b[K"+p.line)
}

// clear removes the status line.
func (p *progress) clear() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.line != "" {
		io.WriteString(p.w, "\r\x1b[K")
		p.line = ""
	}
}
