package deliver

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fgwh/fgwh/store"
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
