package deliver

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const benchConcurrency = 32

// BenchmarkSend compares Client.Send with a plain net/http client that has the
// same transport settings and posts a body of the same size, both at
// concurrency 32 against one local receiver. The req/s metrics show what
// building, signing and classifying costs on top of raw HTTP.
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	req := testRequest(srv.URL + "/hook")
	body := req.AppendBody(nil, testNow)

	b.Run("fgwh", func(b *testing.B) {
		c := NewClient(ClientOptions{AllowPrivate: true, MaxConnsPerHost: benchConcurrency})
		defer c.CloseIdleConnections()
		runConcurrent(b, func() error {
			out := c.Send(context.Background(), req, time.Now())
			if !out.Succeeded() {
				return &sendError{out}
			}
			return nil
		})
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
	b.StopTimer()
	if err := firstErr.Load(); err != nil {
		b.Fatal(*err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
}
