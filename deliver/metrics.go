package deliver

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/fgwh/fgwh/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics tunables.
const (
	// DefaultHealthyWithin is how recent the loop's last successful
	// iteration must be for /healthz to answer 200. An idle loop still
	// iterates every quarter lease (the default attempt timeout).
	DefaultHealthyWithin = 30 * time.Second
	// DefaultScrapeTimeout bounds the store reads of one scrape (queue
	// depth and oldest due delivery), well under Prometheus's default 10 s
	// scrape timeout.
	DefaultScrapeTimeout = 2 * time.Second
)

// Outcome label values of fgwh_attempts_total besides the statuses
// succeeded, retrying and failed.
const (
	// outcomeLost counts attempts whose lease had expired: another process
	// took the delivery over and this outcome was not recorded.
	outcomeLost = "lost"
	// errorCodeNone is the error_code label of an attempt without error.
	errorCodeNone = "none"
)

// MetricsOptions configures Metrics.
type MetricsOptions struct {
	// Queue is read at scrape time for the queue depth and the oldest due
	// delivery. On SQLite give it a handle of its own: the loop's handle
	// has one connection, and a scrape must never make the loop wait.
	Queue *store.DB
	// HealthyWithin is how recent the last successful iteration must be
	// for /healthz to answer 200; 0 means DefaultHealthyWithin.
	HealthyWithin time.Duration
	// ScrapeTimeout bounds the store reads of one scrape; 0 means
	// DefaultScrapeTimeout.
	ScrapeTimeout time.Duration
	// NowFunc is the clock due times are compared with; nil means time.Now.
	NowFunc func() time.Time
	// Logger gets scrape errors; nil discards.
	Logger *slog.Logger
}

// Metrics counts what a Loop does, in Prometheus metrics on a registry of
// its own, and answers health checks. Feed it with OnAttempt and
// OnIteration (Config.OnAttemptFunc and Config.OnIterationFunc) and call
// Stopped when Run returned. Its methods are safe for concurrent use.
type Metrics struct {
	reg           *prometheus.Registry
	attempts      *prometheus.CounterVec
	duration      prometheus.Histogram
	leasesLost    prometheus.Counter
	storeErrors   prometheus.Counter
	inFlight      prometheus.Gauge
	healthyWithin time.Duration
	log           *slog.Logger

	mu      sync.Mutex
	lastOK  time.Time // monotonic
	lastErr error
	stopped bool
}

// NewMetrics returns Metrics for one deliver process. It panics if
// opts.Queue is nil.
func NewMetrics(opts MetricsOptions) *Metrics {
	if opts.Queue == nil {
		panic("deliver: NewMetrics needs a Queue")
	}
	m := &Metrics{reg: prometheus.NewRegistry(), healthyWithin: opts.HealthyWithin, log: opts.Logger}
	if m.healthyWithin <= 0 {
		m.healthyWithin = DefaultHealthyWithin
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fgwh_attempts_total",
		Help: "Delivery attempts made by this process, by webhook, outcome (the delivery's status after the attempt, or lost) and error code.",
	}, []string{"webhook", "outcome", "error_code"})
	m.duration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "fgwh_attempt_duration_seconds",
		Help:    "How long delivery attempts took, from the request to the end of the response body.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	})
	m.leasesLost = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fgwh_leases_lost_total",
		Help: "Attempts whose outcome was not recorded because their lease expired and another process took the delivery over.",
	})
	m.storeErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fgwh_store_errors_total",
		Help: "Delivery loop iterations that failed on a database error (retried with backoff).",
	})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "fgwh_in_flight",
		Help: "Deliveries this process has claimed and not yet got back from a worker.",
	})
	now := opts.NowFunc
	if now == nil {
		now = time.Now
	}
	timeout := opts.ScrapeTimeout
	if timeout <= 0 {
		timeout = DefaultScrapeTimeout
	}
	m.reg.MustRegister(m.attempts, m.duration, m.leasesLost, m.storeErrors, m.inFlight,
		&queueCollector{db: opts.Queue, now: now, timeout: timeout})
	return m
}

// OnAttempt counts one recorded attempt; it fits Config.OnAttemptFunc.
func (m *Metrics) OnAttempt(a Attempt) {
	outcome := a.Status
	if a.Lost {
		outcome = outcomeLost
		m.leasesLost.Inc()
	}
	code := a.Outcome.ErrorCode
	if code == "" {
		code = errorCodeNone
	}
	m.attempts.WithLabelValues(a.WebhookID, outcome, code).Inc()
	m.duration.Observe(a.Outcome.Duration.Seconds())
}

// OnIteration notes one loop iteration; it fits Config.OnIterationFunc.
func (m *Metrics) OnIteration(it Iteration) {
	m.inFlight.Set(float64(it.InFlight))
	if it.Err != nil {
		m.storeErrors.Inc()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastErr = it.Err
	if it.Err == nil {
		m.lastOK = time.Now()
	}
}

// Stopped makes /healthz answer 503: the loop has returned.
func (m *Metrics) Stopped() {
	m.inFlight.Set(0)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopped = true
}

// health returns "" when the loop is healthy, or why not.
func (m *Metrics) health() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.stopped:
		return "stopped"
	case m.lastErr != nil:
		return "store error: " + m.lastErr.Error()
	case m.lastOK.IsZero():
		return "starting"
	case time.Since(m.lastOK) > m.healthyWithin:
		return fmt.Sprintf("no successful store call for %s", time.Since(m.lastOK).Round(time.Second))
	}
	return ""
}

// Handler serves GET /metrics (Prometheus text format) and GET /healthz:
// 200 "ok" while the loop runs and its last iteration's store calls
// succeeded within HealthyWithin, else 503 and the reason.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A failed queue read drops those gauges, not the whole scrape.
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      errorLog{m.log},
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if why := m.health(); why != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, why+"\n")
			return
		}
		io.WriteString(w, "ok\n")
	})
	return mux
}

// errorLog passes promhttp's errors to the logger.
type errorLog struct{ log *slog.Logger }

func (e errorLog) Println(v ...any) { e.log.Warn("metrics: " + fmt.Sprint(v...)) }

// queueCollector reads the queue at scrape time, bounded by a timeout,
// from a handle the loop does not use.
type queueCollector struct {
	db      *store.DB
	now     func() time.Time
	timeout time.Duration
}

var (
	queueDesc = prometheus.NewDesc("fgwh_queue_deliveries",
		"Deliveries in the database by status (all processes), read at scrape time.", []string{"status"}, nil)
	oldestDueDesc = prometheus.NewDesc("fgwh_oldest_due_age_seconds",
		"How long the oldest due delivery of an enabled webhook has waited past its attempt time (0 when none is due), read at scrape time.", nil, nil)
)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDesc
	ch <- oldestDueDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	counts, err := c.db.QueueCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queueDesc, fmt.Errorf("queue counts: %w", err))
	} else {
		for _, s := range store.Statuses {
			ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(counts[s]), s)
		}
	}
	at, ok, err := c.db.OldestDue(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(oldestDueDesc, fmt.Errorf("oldest due delivery: %w", err))
		return
	}
	age := 0.0
	if ok {
		age = max(c.now().Sub(at).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(oldestDueDesc, prometheus.GaugeValue, age)
}
