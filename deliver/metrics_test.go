package deliver

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fgwh/fgwh/store"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// get returns the status and body of GET url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestMetrics_Health: /healthz follows the loop's iterations, and the
// gauges read at scrape time follow the store and the clock.
func TestMetrics_Health(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	b.webhook(t, "https://example.com/hook", store.CreateWebhookParams{})
	b.emit(t, 2)
	m := NewMetrics(MetricsOptions{Queue: b.db, NowFunc: b.clock.Now})
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)

	health := []struct {
		step       func()
		code       int
		body       string
		metricLine string
	}{
		{func() {}, 503, "starting\n", "fgwh_in_flight 0"},
		{func() { m.OnIteration(Iteration{InFlight: 3}) }, 200, "ok\n", "fgwh_in_flight 3"},
		{func() { m.OnIteration(Iteration{Err: errors.New("database is locked"), InFlight: 3}) }, 503,
			"store error: database is locked\n", "fgwh_store_errors_total 1"},
		{func() { m.OnIteration(Iteration{}) }, 200, "ok\n", "fgwh_in_flight 0"},
		{func() { b.clock.Add(90 * time.Second) }, 200, "ok\n", "fgwh_oldest_due_age_seconds 90"},
		{func() { m.Stopped() }, 503, "stopped\n", `fgwh_queue_deliveries{status="pending"} 2`},
	}
	for i, h := range health {
		h.step()
		if code, body := get(t, srv.URL+"/healthz"); code != h.code || body != h.body {
			t.Fatalf("step %d: /healthz %d %q, want %d %q", i, code, body, h.code, h.body)
		}
		code, body := get(t, srv.URL+"/metrics")
		if code != 200 || !strings.Contains(body, "\n"+h.metricLine+"\n") {
			t.Fatalf("step %d: /metrics %d without the line %q:\n%s", i, code, h.metricLine, body)
		}
	}
}

// scraped is one /metrics body as Prometheus's own text parser read it.
type scraped struct {
	body string
	// types maps each family to its type: COUNTER, GAUGE or HISTOGRAM.
	types map[string]string
	// values maps family{label="value",...} (labels in name order, values
	// unescaped by the parser and quoted again with %q) to the counter or
	// gauge value.
	values map[string]float64
	// histograms maps each histogram family to its only series.
	histograms map[string]histogram
}

type histogram struct {
	buckets []bucket
	sum     float64
	count   uint64
}

type bucket struct {
	le    float64
	count uint64 // cumulative
}

// scrape GETs /metrics from srv and parses it with expfmt.TextParser.
func scrape(t *testing.T, srv *httptest.Server) scraped {
	t.Helper()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %s\n%s", resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("/metrics Content-Type %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	s := scraped{body: string(body), types: map[string]string{}, values: map[string]float64{}, histograms: map[string]histogram{}}
	for name, f := range fams {
		s.types[name] = f.GetType().String()
		for _, m := range f.GetMetric() {
			if h := m.GetHistogram(); h != nil {
				hs := histogram{sum: h.GetSampleSum(), count: h.GetSampleCount()}
				for _, b := range h.GetBucket() {
					hs.buckets = append(hs.buckets, bucket{b.GetUpperBound(), b.GetCumulativeCount()})
				}
				s.histograms[name] = hs
				continue
			}
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			key := name
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			s.values[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return s
}

// TestMetrics_Exposition scrapes every family after a few attempts and
// reads it back with Prometheus's text parser: types, counter values per
// label set, cumulative buckets, a label value that needs escaping.
func TestMetrics_Exposition(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	b.webhook(t, "https://example.com/hook", store.CreateWebhookParams{})
	b.emit(t, 2)
	m := NewMetrics(MetricsOptions{Queue: b.db, NowFunc: b.clock.Now})
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)

	const odd = "a\"b\\c\nd" // a quote, a backslash and a newline
	attempts := []Attempt{
		{WebhookID: "wh_a", Status: store.StatusSucceeded, Outcome: Outcome{Duration: 3 * time.Millisecond}},
		{WebhookID: "wh_a", Status: store.StatusSucceeded, Outcome: Outcome{Duration: 5 * time.Millisecond}}, // on a bound: le="0.005"
		{WebhookID: "wh_a", Status: store.StatusRetrying, Outcome: Outcome{Duration: 70 * time.Millisecond, ErrorCode: ErrCodeHTTPStatus}},
		{WebhookID: odd, Status: store.StatusFailed, Outcome: Outcome{Duration: 31 * time.Second, ErrorCode: ErrCodeTimeout}}, // only +Inf
		{WebhookID: odd, Status: store.StatusRetrying, Outcome: Outcome{Duration: 2 * time.Second, ErrorCode: ErrCodeConnectionRefused}},
		{WebhookID: odd, Status: store.StatusRetrying, Lost: true, Outcome: Outcome{Duration: 400 * time.Millisecond}},
		{WebhookID: odd, Status: store.StatusFailed, Outcome: Outcome{Duration: 10 * time.Second, ErrorCode: ErrCodeTimeout}},
	}
	var sum float64
	for _, a := range attempts {
		m.OnAttempt(a)
		sum += a.Outcome.Duration.Seconds()
	}
	m.OnIteration(Iteration{Err: errors.New("database is locked"), InFlight: 5})
	b.clock.Add(90 * time.Second)

	got := scrape(t, srv)
	wantTypes := map[string]string{
		"fgwh_attempts_total":           "COUNTER",
		"fgwh_attempt_duration_seconds": "HISTOGRAM",
		"fgwh_leases_lost_total":        "COUNTER",
		"fgwh_store_errors_total":       "COUNTER",
		"fgwh_in_flight":                "GAUGE",
		"fgwh_queue_deliveries":         "GAUGE",
		"fgwh_oldest_due_age_seconds":   "GAUGE",
	}
	if !maps.Equal(got.types, wantTypes) {
		t.Errorf("families %v, want %v", got.types, wantTypes)
	}
	// The parser gave back odd itself: the keys quote it the same way.
	oddQ := strconv.Quote(odd)
	wantValues := map[string]float64{
		`fgwh_attempts_total{error_code="none",outcome="succeeded",webhook="wh_a"}`:                    2,
		`fgwh_attempts_total{error_code="http_status",outcome="retrying",webhook="wh_a"}`:              1,
		`fgwh_attempts_total{error_code="timeout",outcome="failed",webhook=` + oddQ + `}`:              2,
		`fgwh_attempts_total{error_code="connection_refused",outcome="retrying",webhook=` + oddQ + `}`: 1,
		`fgwh_attempts_total{error_code="none",outcome="lost",webhook=` + oddQ + `}`:                   1,
		`fgwh_leases_lost_total`:                     1,
		`fgwh_store_errors_total`:                    1,
		`fgwh_in_flight`:                             5,
		`fgwh_oldest_due_age_seconds`:                90,
		`fgwh_queue_deliveries{status="pending"}`:    2,
		`fgwh_queue_deliveries{status="retrying"}`:   0,
		`fgwh_queue_deliveries{status="delivering"}`: 0,
		`fgwh_queue_deliveries{status="succeeded"}`:  0,
		`fgwh_queue_deliveries{status="failed"}`:     0,
	}
	if !maps.Equal(got.values, wantValues) {
		t.Errorf("values\n%v\nwant\n%v\nbody:\n%s", got.values, wantValues, got.body)
	}
	wantHist := histogram{sum: sum, count: uint64(len(attempts)), buckets: []bucket{
		{.005, 2}, {.01, 2}, {.025, 2}, {.05, 2}, {.1, 3}, {.25, 3}, {.5, 4}, {1, 4}, {2.5, 5}, {5, 5}, {10, 6}, {30, 6}, {math.Inf(1), 7},
	}}
	if h := got.histograms["fgwh_attempt_duration_seconds"]; h.sum != wantHist.sum || h.count != wantHist.count || !slices.Equal(h.buckets, wantHist.buckets) {
		t.Errorf("fgwh_attempt_duration_seconds\n%+v\nwant\n%+v", h, wantHist)
	}

	// The spelling Prometheus's own client wrote: escapes, bucket bounds,
	// families in name order.
	for _, line := range []string{
		`fgwh_attempts_total{error_code="timeout",outcome="failed",webhook="a\"b\\c\nd"} 2`,
		`fgwh_attempt_duration_seconds_bucket{le="0.005"} 2`,
		`fgwh_attempt_duration_seconds_bucket{le="2.5"} 5`,
		`fgwh_attempt_duration_seconds_bucket{le="30"} 6`,
		`fgwh_attempt_duration_seconds_bucket{le="+Inf"} 7`,
		`fgwh_attempt_duration_seconds_count 7`,
	} {
		if !strings.Contains(got.body, "\n"+line+"\n") {
			t.Errorf("no line %s in\n%s", line, got.body)
		}
	}
	var names []string
	for _, line := range strings.Split(got.body, "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			names = append(names, strings.Fields(name)[0])
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("families not in name order: %v", names)
	}
}

// TestMetrics_QueueReadFails: a failed queue read leaves the queue gauges
// out and is logged; the rest of the scrape is served with 200.
func TestMetrics_QueueReadFails(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	closed, err := store.Open(b.ctx, b.path)
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	var log lockedBuffer
	m := NewMetrics(MetricsOptions{Queue: closed, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	m.OnAttempt(Attempt{WebhookID: "wh_a", Status: store.StatusSucceeded})

	got := scrape(t, srv)
	names := slices.Sorted(maps.Keys(got.types))
	want := []string{"fgwh_attempt_duration_seconds", "fgwh_attempts_total", "fgwh_in_flight", "fgwh_leases_lost_total", "fgwh_store_errors_total"}
	if !slices.Equal(names, want) {
		t.Fatalf("families %v, want %v:\n%s", names, want, got.body)
	}
	for _, w := range []string{
		`level=WARN msg="metrics: left out of the scrape" metric=fgwh_queue_deliveries error="queue counts: `,
		`level=WARN msg="metrics: left out of the scrape" metric=fgwh_oldest_due_age_seconds error="oldest due delivery: `,
	} {
		if !strings.Contains(log.String(), w) {
			t.Errorf("log without %s:\n%s", w, log.String())
		}
	}
}

// TestMetrics_Concurrent: attempts and iterations counted while scrapes
// run (go test -race checks the locking).
func TestMetrics_Concurrent(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	m := NewMetrics(MetricsOptions{Queue: b.db})
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	const workers, each = 4, 250
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				m.OnAttempt(Attempt{WebhookID: fmt.Sprint("wh_", i%3), Status: store.StatusSucceeded, Outcome: Outcome{Duration: time.Duration(w) * time.Second}})
				m.OnIteration(Iteration{InFlight: i})
			}
		})
	}
	for range 5 {
		scrape(t, srv)
	}
	wg.Wait()
	got := scrape(t, srv)
	total := 0.0
	for k, v := range got.values {
		if strings.HasPrefix(k, "fgwh_attempts_total{") {
			total += v
		}
	}
	if n := got.histograms["fgwh_attempt_duration_seconds"].count; total != workers*each || n != workers*each {
		t.Fatalf("%v attempts counted, %d observed; want %d", total, n, workers*each)
	}
}

// TestMetrics_Gzip: a scraper that accepts gzip (as Prometheus does) gets
// the same body gzipped.
func TestMetrics_Gzip(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	m := NewMetrics(MetricsOptions{Queue: b.db})
	m.OnAttempt(Attempt{WebhookID: "wh_a", Status: store.StatusSucceeded})
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	get := func(accept string) (string, string) {
		req, err := http.NewRequest("GET", srv.URL+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		// Without DisableCompression the client would ask for gzip itself.
		resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r io.Reader = resp.Body
		if resp.Header.Get("Content-Encoding") == "gzip" {
			if r, err = gzip.NewReader(resp.Body); err != nil {
				t.Fatal(err)
			}
		}
		body, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Header.Get("Content-Encoding"), string(body)
	}
	_, plain := get("")
	for accept, want := range map[string]string{
		"":                    "",
		"gzip":                "gzip",
		"deflate, gzip;q=0.5": "gzip",
		"GZIP":                "gzip",
		"*":                   "gzip",
		"gzip;q=0, *":         "",
		"identity":            "",
		"br;q=1.0, gzip; q=0": "",
	} {
		enc, body := get(accept)
		if enc != want {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want %q", accept, enc, want)
		}
		if body != plain {
			t.Errorf("Accept-Encoding %q: body differs from the plain one:\n%s", accept, body)
		}
	}
}

// lockedBuffer is a log the handler writes to while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestFamily_Write: HELP escapes backslash and newline but not quotes, and
// values are spelled as Prometheus spells them.
func TestFamily_Write(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	w := bufio.NewWriter(&buf)
	family{name: "x", typ: "gauge", help: `back\slash` + "\n" + `new "line"`, samples: []sample{
		{"", nil, math.Inf(1)},
		{"", []string{"a", "1"}, math.Inf(-1)},
		{"_sum", []string{"a", "2", "b", ""}, math.NaN()},
		{"", nil, 1e6},
		{"", nil, 0.1},
		{"", nil, -1},
	}}.write(w)
	w.Flush()
	want := `# HELP x back\\slash\nnew "line"
# TYPE x gauge
x +Inf
x{a="1"} -Inf
x_sum{a="2",b=""} NaN
x 1e+06
x 0.1
x -1
`
	if buf.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", buf.String(), want)
	}
}
