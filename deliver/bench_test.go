package deliver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fgwh/fgwh/store"
)

// Benchmarks of the whole loop against a local receiver. Run them with
//
//	go test ./deliver -run '^$' -bench . -benchtime 3x
//
// FGWH_BENCH_N sets how many deliveries BenchmarkLoop_Drain sends (default 20000).
// FGWH_BENCH_ONLY=setup|fgwh|raw makes it run only the setup (filling the
// store), the setup and the drain, or the raw baseline: counting the
// instructions of each (valgrind --tool=callgrind) at two values of N gives
// the cost of a delivery and of a raw request, free of the noise of a
// shared machine (see README, "Benchmarks").

// drainConcurrency is the concurrency both sides of the drain benchmark use.
const drainConcurrency = 32

func benchN() int {
	if n, err := strconv.Atoi(os.Getenv("FGWH_BENCH_N")); err == nil && n > 0 {
		return n
	}
	return 20000
}

// newBenchReceiver answers 200 to every POST after reading the body, like
// a receiver that queues the work.
func newBenchReceiver(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// benchStore opens a new store with one webhook for url and n pending deliveries.
func benchStore(b *testing.B, url string, n int) *store.DB {
	b.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(b.TempDir(), "fgwh.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if _, _, err := db.CreateWebhook(ctx, store.CreateWebhookParams{URL: url, EventTypes: []string{"recording.imported"}}, time.Now()); err != nil {
		b.Fatal(err)
	}
	for done := 0; done < n; {
		k := min(n-done, 5000)
		evs := make([]store.NewEvent, k)
		for i := range evs {
			evs[i] = store.NewEvent{Type: "recording.imported", Payload: []byte(fmt.Sprintf(`{"type":"recording.imported","recordingId":"rec_%08d"}`, done+i))}
		}
		if _, err := db.EmitEvents(ctx, evs, time.Now()); err != nil {
			b.Fatal(err)
		}
		done += k
	}
	return db
}

// BenchmarkLoop_Drain drains N pending deliveries to a local receiver at
// concurrency 32, then sends N requests of the same size to the same
// receiver with a plain Go HTTP client on the same transport at the same
// concurrency, and reports both rates and their ratio.
func BenchmarkLoop_Drain(b *testing.B) {
	n := benchN()
	srv := newBenchReceiver(b)
	var fgwhRate, rawRate, fgwhCPU, rawCPU []float64
	only := os.Getenv("FGWH_BENCH_ONLY")
	// As "fgwh deliver" runs (TuneGC); the raw baseline gets the same.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(GCPercent))
	}
	for b.Loop() {
		b.StopTimer()
		if only == "raw" {
			b.StartTimer()
			rawPhase(b, srv.URL, n, &rawRate, &rawCPU)
			continue
		}
		db := benchStore(b, srv.URL, n)
		if only == "setup" {
			b.StartTimer()
			continue
		}
		client := NewClient(ClientOptions{AllowPrivate: true, MaxConnsPerHost: drainConcurrency, UserAgent: "fgwh/bench"})
		l := NewLoop(Config{Store: db, Client: client, Concurrency: drainConcurrency, MaxPerWebhook: 4 * drainConcurrency,
			Policy: DefaultPolicy(), Once: true})
		b.StartTimer()
		start, cpu := time.Now(), processCPU(b)
		if err := l.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		fgwhCPU = append(fgwhCPU, float64(n)/(processCPU(b)-cpu).Seconds())
		if s := l.Summary(); s.Succeeded != n {
			b.Fatalf("summary %+v, want %d succeeded", s, n)
		}
		fgwhRate = append(fgwhRate, float64(n)/elapsed.Seconds())
		client.CloseIdleConnections()
		if only == "" {
			rawPhase(b, srv.URL, n, &rawRate, &rawCPU)
		}
	}
	if only != "" {
		return
	}
	f, r := median(fgwhRate), median(rawRate)
	b.ReportMetric(f, "fgwh_deliveries/s")
	b.ReportMetric(r, "raw_requests/s")
	b.ReportMetric(f/r, "ratio")
	// Per CPU second of this process (sender and receiver both): steadier
	// than the rates on a busy machine, and what the rates tend to on an
	// idle one where both sides can use every core.
	fc, rc := median(fgwhCPU), median(rawCPU)
	b.ReportMetric(fc, "fgwh_deliveries/cpu-s")
	b.ReportMetric(rc, "raw_requests/cpu-s")
	b.ReportMetric(fc/rc, "cpu_ratio")
	b.ReportMetric(0, "ns/op")
}

// rawPhase is the drain benchmark's baseline: the same requests, the same
// transport, no queue.
func rawPhase(b *testing.B, url string, n int, rate, cpu *[]float64) {
	raw := NewClient(ClientOptions{AllowPrivate: true, MaxConnsPerHost: drainConcurrency}).HTTPClient()
	defer raw.CloseIdleConnections()
	body := Request{WebhookID: "whk_0123456789abcdef", EventID: "whev_0123456789abcdef", EventTime: time.Now(),
		Payload: []byte(`{"type":"recording.imported","recordingId":"rec_00000000"}`)}.AppendBody(nil, time.Now())
	start, used := time.Now(), processCPU(b)
	rawSend(b, raw, url, body, n, drainConcurrency)
	*rate = append(*rate, float64(n)/time.Since(start).Seconds())
	*cpu = append(*cpu, float64(n)/(processCPU(b)-used).Seconds())
}

// rawSend POSTs body n times from c workers.
func rawSend(b *testing.B, client *http.Client, url string, body []byte, n, c int) {
	var wg sync.WaitGroup
	next := make(chan struct{}, n)
	for range n {
		next <- struct{}{}
	}
	close(next)
	for range c {
		wg.Go(func() {
			for range next {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkLoop_EmitLatency runs the loop as "fgwh deliver" does and emits
// events one at a time through a second store handle (as another process
// would), every 10 ms; it reports the time from the emit call to the
// receiver getting the notification.
func BenchmarkLoop_EmitLatency(b *testing.B) {
	const events = 200
	var mu sync.Mutex
	received := map[string]time.Time{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		var body struct {
			EventID string `json:"eventId"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		received[body.EventID] = now
		mu.Unlock()
	}))
	b.Cleanup(srv.Close)
	var all []time.Duration
	for b.Loop() {
		db := benchStore(b, srv.URL, 0)
		emitter, err := store.Open(context.Background(), db.Where())
		if err != nil {
			b.Fatal(err)
		}
		l := NewLoop(Config{Store: db, Client: NewClient(ClientOptions{AllowPrivate: true}), Policy: DefaultPolicy()})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- l.Run(ctx) }()
		emitted := map[string]time.Time{}
		tick := time.NewTicker(10 * time.Millisecond)
		for i := range events {
			<-tick.C
			at := time.Now()
			out, err := emitter.EmitEvents(context.Background(), []store.NewEvent{{Type: "recording.imported",
				Payload: []byte(`{"type":"recording.imported","recordingId":"rec_` + strconv.Itoa(i) + `"}`)}}, at)
			if err != nil {
				b.Fatal(err)
			}
			emitted[out[0].Event.ID] = at
		}
		tick.Stop()
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			n := 0
			for id := range emitted {
				if _, ok := received[id]; ok {
					n++
				}
			}
			mu.Unlock()
			if n == events {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d events received", n, events)
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		emitter.Close()
		mu.Lock()
		for id, at := range emitted {
			all = append(all, received[id].Sub(at))
		}
		mu.Unlock()
	}
	slices.Sort(all)
	b.ReportMetric(float64(all[len(all)*50/100])/1e6, "p50_ms")
	b.ReportMetric(float64(all[len(all)*99/100])/1e6, "p99_ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkLoop_IdleCPU runs an idle loop (nothing due) for two seconds
// and reports the CPU the whole process used meanwhile, in percent of one core.
func BenchmarkLoop_IdleCPU(b *testing.B) {
	srv := newBenchReceiver(b)
	var pct []float64
	for b.Loop() {
		db := benchStore(b, srv.URL, 0)
		l := NewLoop(Config{Store: db, Client: NewClient(ClientOptions{AllowPrivate: true}), Policy: DefaultPolicy()})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- l.Run(ctx) }()
		time.Sleep(200 * time.Millisecond) // let it settle
		before, start := processCPU(b), time.Now()
		time.Sleep(2 * time.Second)
		used, wall := processCPU(b)-before, time.Since(start)
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		pct = append(pct, 100*used.Seconds()/wall.Seconds())
	}
	b.ReportMetric(median(pct), "cpu_%")
	b.ReportMetric(0, "ns/op")
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
