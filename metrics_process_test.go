package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fgwh/fgwh/store"
	"github.com/fgwh/fgwh/store/pgtest"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestDeliverProcess_Metrics runs "fgwh deliver --metrics-addr" against
// three receivers (200, 500 and 410), scrapes /metrics over HTTP until the
// drain is over and checks every count, then /healthz. On SQLite the
// scrapes read through a handle of their own, on PostgreSQL through the
// loop's pool: both run (PostgreSQL when pgtest.EnvURL is set).
func TestDeliverProcess_Metrics(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		testMetrics(t, filepath.Join(t.TempDir(), "fgwh.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		base := pgtest.URL()
		if base == "" {
			t.Skip("PostgreSQL process tests need " + pgtest.EnvURL)
		}
		t.Parallel()
		dsn, drop, err := pgtest.NewSchema(context.Background(), base)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { drop() })
		testMetrics(t, dsn)
	})
}

func testMetrics(t *testing.T, dsn string) {
	answer := func(code int) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(code)
		}))
		t.Cleanup(s.Close)
		return s.URL
	}
	b := &processBundle{path: dsn, bin: fgwhBinary(t), ctx: context.Background()}
	db, err := store.Open(b.ctx, b.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b.db = db
	hooks := map[string]string{}
	for _, h := range []struct {
		name string
		code int
	}{{"ok", 200}, {"bad", 500}, {"gone", 410}} {
		w, _, err := db.CreateWebhook(b.ctx, store.CreateWebhookParams{Name: h.name, URL: answer(h.code), EventTypes: []string{"recording.imported"}}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		hooks[h.name] = w.ID
	}
	evs := make([]store.NewEvent, 3)
	for i := range evs {
		evs[i] = store.NewEvent{Type: "recording.imported", Payload: []byte(`{"type":"recording.imported"}`)}
	}
	if _, err := db.EmitEvents(b.ctx, evs, time.Now()); err != nil {
		t.Fatal(err)
	}

	// One attempt at a time per webhook: the 410 disables "gone" before
	// its next delivery is claimed, so its other two stay pending. The
	// 500s are retried in an hour, so they stay retrying.
	p := b.start(t, "--metrics-addr", "127.0.0.1:0", "--log-format", "json", "--max-per-webhook", "1", "--retry-schedule", "1h")
	base := metricsURL(t, p)

	want := map[string]float64{
		`fgwh_attempts_total{error_code="none",outcome="succeeded",webhook="` + hooks["ok"] + `"}`:        3,
		`fgwh_attempts_total{error_code="http_status",outcome="retrying",webhook="` + hooks["bad"] + `"}`: 3,
		`fgwh_attempts_total{error_code="http_status",outcome="failed",webhook="` + hooks["gone"] + `"}`:  1,
		`fgwh_attempt_duration_seconds_count`:        7,
		`fgwh_queue_deliveries{status="pending"}`:    2,
		`fgwh_queue_deliveries{status="retrying"}`:   3,
		`fgwh_queue_deliveries{status="delivering"}`: 0,
		`fgwh_queue_deliveries{status="succeeded"}`:  3,
		`fgwh_queue_deliveries{status="failed"}`:     1,
		`fgwh_oldest_due_age_seconds`:                0,
		`fgwh_leases_lost_total`:                     0,
		`fgwh_store_errors_total`:                    0,
		`fgwh_in_flight`:                             0,
	}
	var got map[string]float64
	var diff []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		got = scrape(t, base+"/metrics")
		diff = diffMetrics(got, want)
		if len(diff) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling a process; no event to wait on
	}
	if len(diff) > 0 {
		t.Fatalf("metrics differ after 30s:\n%s\nstderr:\n%s", strings.Join(diff, "\n"), p.stderr)
	}
	// Every series of fgwh_attempts_total is one of the three above.
	var series []string
	for k := range got {
		if strings.HasPrefix(k, "fgwh_attempts_total{") {
			series = append(series, k)
		}
	}
	if len(series) != 3 {
		t.Fatalf("attempt series %v, want 3", series)
	}

	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Fatalf("/healthz: %d %q", resp.StatusCode, body)
	}

	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("deliver exited %d after SIGTERM\n%s", code, p.stderr)
	}
	// The listener closed with the process.
	if resp, err := http.Get(base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("/healthz still answers %d after exit", resp.StatusCode)
	}
}

// TestDeliverProcess_MetricsAddrErrors: a bad --metrics-addr (or
// FGWH_METRICS_ADDR) is a usage error, a port in use an operational one.
func TestDeliverProcess_MetricsAddrErrors(t *testing.T) {
	t.Parallel()
	bin := fgwhBinary(t)
	dir := t.TempDir()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	for _, tc := range []struct {
		name   string
		args   []string
		env    string
		code   int
		stderr string
	}{
		{"no port", []string{"--metrics-addr", "localhost"}, "", 2, `fgwh: invalid --metrics-addr "localhost": address localhost: missing port in address`},
		{"port out of range", []string{"--metrics-addr", "127.0.0.1:99999"}, "", 2, `fgwh: invalid --metrics-addr "127.0.0.1:99999": port "99999" is not a number from 0 to 65535`},
		{"bad environment", nil, "127.0.0.1:http", 2, `fgwh: invalid FGWH_METRICS_ADDR "127.0.0.1:http": port "http" is not a number from 0 to 65535`},
		{"port in use", []string{"--metrics-addr", busy.Addr().String()}, "", 1, "fgwh: metrics: listen tcp " + busy.Addr().String() + ": bind: address already in use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(bin, append([]string{"deliver", "--once"}, tc.args...)...)
			cmd.Env = append(os.Environ(), "FGWH_DB="+filepath.Join(dir, tc.name+".db"), "FGWH_METRICS_ADDR="+tc.env)
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(string(out), tc.stderr+"\n") {
				t.Fatalf("exit %d, want %d; output:\n%s\nwant a line %q", code, tc.code, out, tc.stderr)
			}
			// A bad address is refused before the database is created.
			if _, err := os.Stat(filepath.Join(dir, tc.name+".db")); err == nil {
				t.Fatal("the database was created")
			}
		})
	}
}

// metricsURL waits for the "serving metrics" log line and returns the
// server's base URL.
func metricsURL(t *testing.T, p *process) string {
	t.Helper()
	var url string
	waitFor(t, 30*time.Second, "the metrics server to start", func() bool {
		sc := bufio.NewScanner(strings.NewReader(p.stderr.String()))
		for sc.Scan() {
			var line struct {
				Msg string `json:"msg"`
				URL string `json:"url"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "serving metrics" {
				url = strings.TrimSuffix(line.URL, "/metrics")
				return true
			}
		}
		return false
	})
	return url
}

// scrape fetches url and flattens the text format into name{labels} →
// value (histograms as _count and _sum).
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			key := name
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[name+"_count"] = float64(m.Histogram.GetSampleCount())
				out[name+"_sum"] = m.Histogram.GetSampleSum()
			}
		}
	}
	return out
}

// diffMetrics lists the wanted series whose value differs or is missing.
func diffMetrics(got, want map[string]float64) []string {
	var diff []string
	for k, v := range want {
		g, ok := got[k]
		switch {
		case !ok:
			diff = append(diff, fmt.Sprintf("%s missing, want %v", k, v))
		case g != v:
			diff = append(diff, fmt.Sprintf("%s = %v, want %v", k, g, v))
		}
	}
	sort.Strings(diff)
	return diff
}
