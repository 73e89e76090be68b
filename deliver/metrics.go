package deliver

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fgwh/fgwh/store"
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

// Metrics counts what a Loop does and serves it in the Prometheus text
// format, and answers health checks. Feed it with OnAttempt and OnIteration
// (Config.OnAttemptFunc and Config.OnIterationFunc) and call Stopped when
// Run returned. Its methods are safe for concurrent use.
//
// It writes the text format itself, as github.com/prometheus/client_golang
// wrote it: that library, with protobuf, procfs and client_model, was linked
// into every fgwh command and added its package init and page faults to
// their start-up, for seven metrics that need none of it.
type Metrics struct {
	queue         *store.DB
	now           func() time.Time
	scrapeTimeout time.Duration
	healthyWithin time.Duration
	log           *slog.Logger

	mu          sync.Mutex
	attempts    map[attemptSeries]uint64
	durations   [len(attemptDurationBuckets) + 1]uint64 // by bucket, not cumulative; the last is +Inf
	durationSum float64
	leasesLost  uint64
	storeErrors uint64
	inFlight    int
	lastOK      time.Time // monotonic
	lastErr     error
	stopped     bool
}

// attemptSeries is the label values of one fgwh_attempts_total series.
type attemptSeries struct{ webhook, outcome, errorCode string }

// attemptDurationBuckets are the upper bounds of the
// fgwh_attempt_duration_seconds buckets, ascending; +Inf follows.
var attemptDurationBuckets = [...]float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// NewMetrics returns Metrics for one deliver process. It panics if
// opts.Queue is nil.
func NewMetrics(opts MetricsOptions) *Metrics {
	if opts.Queue == nil {
		panic("deliver: NewMetrics needs a Queue")
	}
	m := &Metrics{
		queue:         opts.Queue,
		now:           opts.NowFunc,
		scrapeTimeout: opts.ScrapeTimeout,
		healthyWithin: opts.HealthyWithin,
		log:           opts.Logger,
		attempts:      map[attemptSeries]uint64{},
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.scrapeTimeout <= 0 {
		m.scrapeTimeout = DefaultScrapeTimeout
	}
	if m.healthyWithin <= 0 {
		m.healthyWithin = DefaultHealthyWithin
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	return m
}

// OnAttempt counts one recorded attempt; it fits Config.OnAttemptFunc.
func (m *Metrics) OnAttempt(a Attempt) {
	s := attemptSeries{webhook: a.WebhookID, outcome: a.Status, errorCode: a.Outcome.ErrorCode}
	if a.Lost {
		s.outcome = outcomeLost
	}
	if s.errorCode == "" {
		s.errorCode = errorCodeNone
	}
	secs := a.Outcome.Duration.Seconds()
	// A duration equal to a bound falls in that bucket ("le").
	bucket := sort.SearchFloat64s(attemptDurationBuckets[:], secs)
	m.mu.Lock()
	defer m.mu.Unlock()
	if a.Lost {
		m.leasesLost++
	}
	m.attempts[s]++
	m.durations[bucket]++
	m.durationSum += secs
}

// OnIteration notes one loop iteration; it fits Config.OnIterationFunc.
func (m *Metrics) OnIteration(it Iteration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inFlight = it.InFlight
	m.lastErr = it.Err
	if it.Err != nil {
		m.storeErrors++
	} else {
		m.lastOK = time.Now()
	}
}

// Stopped makes /healthz answer 503: the loop has returned.
func (m *Metrics) Stopped() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inFlight = 0
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
	mux.HandleFunc("GET /metrics", m.serveMetrics)
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

// textContentType is the media type of the text format, version 0.0.4.
const textContentType = "text/plain; version=0.0.4; charset=utf-8"

// serveMetrics answers one scrape, gzipped when the scraper accepts it (as
// Prometheus does). A failed queue read leaves those gauges out of the
// scrape and is logged; the other metrics are still served, with 200.
func (m *Metrics) serveMetrics(w http.ResponseWriter, r *http.Request) {
	fams := append(m.queueFamilies(), m.families()...)
	// Families in name order, each one's series in label value order, as
	// client_golang wrote them.
	slices.SortFunc(fams, func(a, b family) int { return strings.Compare(a.name, b.name) })

	w.Header().Set("Content-Type", textContentType)
	w.Header().Add("Vary", "Accept-Encoding")
	var out io.Writer = w
	var gz *gzip.Writer
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		gz = gzip.NewWriter(w)
		out = gz
	}
	bw := bufio.NewWriter(out)
	for _, f := range fams {
		f.write(bw)
	}
	err := bw.Flush()
	if gz != nil {
		err = errors.Join(err, gz.Close())
	}
	if err != nil {
		m.log.Warn("metrics: sending a scrape failed", "error", err)
	}
}

// family is one metric family of a scrape: its HELP and TYPE lines and its
// samples, with label pairs in name order.
type family struct {
	name, help, typ string
	samples         []sample
}

type sample struct {
	suffix string   // of the family name: "", "_bucket", "_sum" or "_count"
	labels []string // name, value, name, value...
	value  float64
}

// families returns the families this process counts, as of now. A labelled
// family without series yet is left out, as client_golang left it out.
func (m *Metrics) families() []family {
	type attemptCount struct {
		attemptSeries
		n uint64
	}
	m.mu.Lock()
	attempts := make([]attemptCount, 0, len(m.attempts))
	for s, n := range m.attempts {
		attempts = append(attempts, attemptCount{s, n})
	}
	durations, durationSum := m.durations, m.durationSum
	leasesLost, storeErrors, inFlight := m.leasesLost, m.storeErrors, m.inFlight
	m.mu.Unlock()

	duration := family{name: "fgwh_attempt_duration_seconds", typ: "histogram",
		help: "How long delivery attempts took, from the request to the end of the response body."}
	var cumulative uint64
	for i, n := range durations {
		cumulative += n
		le := math.Inf(1)
		if i < len(attemptDurationBuckets) {
			le = attemptDurationBuckets[i]
		}
		duration.samples = append(duration.samples, sample{"_bucket", []string{"le", formatFloat(le)}, float64(cumulative)})
	}
	duration.samples = append(duration.samples,
		sample{"_sum", nil, durationSum},
		sample{"_count", nil, float64(cumulative)})

	fams := []family{duration,
		{name: "fgwh_in_flight", typ: "gauge",
			help:    "Deliveries this process has claimed and not yet got back from a worker.",
			samples: []sample{{value: float64(inFlight)}}},
		{name: "fgwh_leases_lost_total", typ: "counter",
			help:    "Attempts whose outcome was not recorded because their lease expired and another process took the delivery over.",
			samples: []sample{{value: float64(leasesLost)}}},
		{name: "fgwh_store_errors_total", typ: "counter",
			help:    "Delivery loop iterations that failed on a database error (retried with backoff).",
			samples: []sample{{value: float64(storeErrors)}}},
	}
	if len(attempts) > 0 {
		// By label values, in label name order.
		slices.SortFunc(attempts, func(a, b attemptCount) int {
			return cmp.Or(strings.Compare(a.errorCode, b.errorCode),
				strings.Compare(a.outcome, b.outcome),
				strings.Compare(a.webhook, b.webhook))
		})
		f := family{name: "fgwh_attempts_total", typ: "counter",
			help: "Delivery attempts made by this process, by webhook, outcome (the delivery's status after the attempt, or lost) and error code."}
		for _, a := range attempts {
			f.samples = append(f.samples,
				sample{"", []string{"error_code", a.errorCode, "outcome", a.outcome, "webhook", a.webhook}, float64(a.n)})
		}
		fams = append(fams, f)
	}
	return fams
}

// queueFamilies reads the queue at scrape time, bounded by the scrape
// timeout, from a handle the loop does not use. A failed read is logged
// and its family left out.
func (m *Metrics) queueFamilies() []family {
	ctx, cancel := context.WithTimeout(context.Background(), m.scrapeTimeout)
	defer cancel()
	var fams []family
	counts, err := m.queue.QueueCounts(ctx)
	if err != nil {
		m.log.Warn("metrics: left out of the scrape", "metric", "fgwh_queue_deliveries", "error", fmt.Errorf("queue counts: %w", err))
	} else {
		queue := family{name: "fgwh_queue_deliveries", typ: "gauge",
			help: "Deliveries in the database by status (all processes), read at scrape time."}
		statuses := slices.Sorted(slices.Values(store.Statuses))
		for _, s := range statuses {
			queue.samples = append(queue.samples, sample{"", []string{"status", s}, float64(counts[s])})
		}
		fams = append(fams, queue)
	}
	at, ok, err := m.queue.OldestDue(ctx)
	if err != nil {
		m.log.Warn("metrics: left out of the scrape", "metric", "fgwh_oldest_due_age_seconds", "error", fmt.Errorf("oldest due delivery: %w", err))
		return fams
	}
	age := 0.0
	if ok {
		age = max(m.now().Sub(at).Seconds(), 0)
	}
	return append(fams, family{name: "fgwh_oldest_due_age_seconds", typ: "gauge",
		help:    "How long the oldest due delivery of an enabled webhook has waited past its attempt time (0 when none is due), read at scrape time.",
		samples: []sample{{value: age}}})
}

// write writes f in the text format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/).
func (f family) write(w *bufio.Writer) {
	w.WriteString("# HELP " + f.name + " ")
	helpEscaper.WriteString(w, f.help)
	w.WriteString("\n# TYPE " + f.name + " " + f.typ + "\n")
	for _, s := range f.samples {
		w.WriteString(f.name + s.suffix)
		for i := 0; i < len(s.labels); i += 2 {
			if i == 0 {
				w.WriteByte('{')
			} else {
				w.WriteByte(',')
			}
			w.WriteString(s.labels[i] + `="`)
			labelEscaper.WriteString(w, s.labels[i+1])
			w.WriteByte('"')
		}
		if len(s.labels) > 0 {
			w.WriteByte('}')
		}
		w.WriteString(" " + formatFloat(s.value) + "\n")
	}
}

// The text format escapes backslash and newline in HELP text, and double
// quote too in label values.
var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// formatFloat spells a sample value or bucket bound as Prometheus does:
// the shortest representation, and +Inf, -Inf and NaN.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// acceptsGzip reports whether an Accept-Encoding header value allows gzip
// (RFC 9110 section 12.5.3): gzip, or else *, listed without q=0.
func acceptsGzip(accept string) bool {
	gzipQ, anyQ := -1.0, -1.0
	for _, part := range strings.Split(accept, ",") {
		coding, params, _ := strings.Cut(part, ";")
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
		switch strings.ToLower(strings.TrimSpace(coding)) {
		case "gzip":
			gzipQ = q
		case "*":
			anyQ = q
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return anyQ > 0
}
