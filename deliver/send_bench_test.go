package deliver

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const benchConcurrency = 32

// BenchmarkSend compares Client.Send with a plain net/http client that has the
// same transport settings and posts a body of the same size, both at
// concurrency 32 against one local receiver. The req/s metrics show what
// building, signing and classifying costs on top of raw HTTP.
func BenchmarkSend(b *testing.B) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	req := testRequest(srv.URL + "/hook")
	body := req.AppendBody(nil, testNow)

	b.Run("fgwh", func(b *testing.B) {
		c := NewClient(ClientOptions{AllowPrivate: true, MaxConnsPerHost: benchConcurrency})
		defer c.CloseIdleConnections()
		conns.Store(0)
		runConcurrent(b, func() error {
			out := c.Send(context.Background(), req, time.Now())
			if !out.Succeeded() {
				return &sendError{out}
			}
			return nil
		})
		// Keep-alive works when this stays at about the concurrency.
		b.ReportMetric(float64(conns.Load()), "conns")
	})

	b.Run("plain", func(b *testing.B) {
		t := &http.Transport{
			MaxIdleConns:        max(100, 2*benchConcurrency),
			MaxIdleConnsPerHost: benchConcurrency,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			ForceAttemptHTTP2:   true,
		}
		defer t.CloseIdleConnections()
		hc := &http.Client{Transport: t, Timeout: DefaultTimeout}
		conns.Store(0)
		runConcurrent(b, func() error {
			r, err := http.NewRequest(http.MethodPost, srv.URL+"/hook", bytes.NewReader(body))
			if err != nil {
				return err
			}
			r.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(r)
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil
		})
		// Keep-alive works when this stays at about the concurrency.
		b.ReportMetric(float64(conns.Load()), "conns")
	})
}

type sendError struct{ out Outcome }

func (e *sendError) Error() string { return e.out.ErrorCode + ": " + e.out.Error }

// runConcurrent runs f b.N times across benchConcurrency goroutines and
// reports requests per second.
func runConcurrent(b *testing.B, f func() error) {
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		firstErr atomic.Pointer[error]
	)
	b.ReportAllocs()
	b.ResetTimer()
	cpuStart := cpuTime()
	start := time.Now()
	for range benchConcurrency {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := f(); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpuStart
	b.StopTimer()
	if err := firstErr.Load(); err != nil {
		b.Fatal(*err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	// CPU per request (client and receiver together) is steadier than req/s
	// on a shared machine.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/req")
}

// cpuTime returns the user and system CPU time used by this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
