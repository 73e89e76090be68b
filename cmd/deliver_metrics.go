package cmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/fgwh/fgwh/deliver"
	"github.com/fgwh/fgwh/store"
)

// metricsShutdownTimeout bounds how long a scrape in progress may delay exit.
const metricsShutdownTimeout = 2 * time.Second

// validateMetricsAddr accepts HOST:PORT, HOST possibly empty (every
// interface) and PORT a number (0 picks a free one; the log names it).
// from names where addr came from in the error.
func validateMetricsAddr(from, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		if n, perr := strconv.Atoi(port); perr != nil || n < 0 || n > 65535 {
			err = fmt.Errorf("port %q is not a number from 0 to 65535", port)
		}
	}
	if err != nil {
		return withHint(usagef("invalid %s %q: %v", from, addr, err), "use HOST:PORT, e.g. 127.0.0.1:9464")
	}
	return nil
}

// metricsServer serves /metrics and /healthz for "deliver --metrics-addr".
type metricsServer struct {
	m   *deliver.Metrics
	srv *http.Server
	// own is the handle the scrapes read, when it is not the loop's.
	own *store.DB
}

// listenMetrics listens on --metrics-addr before anything else happens, so
// that a port in use fails the start at once (exit 1). It returns nil when
// the flag is not set.
func listenMetrics(opts *DeliverOptions) (net.Listener, error) {
	if opts.MetricsAddr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", opts.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return ln, nil
}

// startMetrics serves the metrics on ln and hooks them into cfg. On SQLite
// the scrapes read through a handle of their own: the loop's handle has one
// connection, which a scrape's count would hold while the loop waits.
func startMetrics(ctx context.Context, app *App, ln net.Listener, cfg *deliver.Config, opts *DeliverOptions, log *slog.Logger) (*metricsServer, error) {
	if ln == nil {
		return nil, nil
	}
	s := &metricsServer{}
	queue := cfg.Store
	if queue.Dialect() == store.SQLite {
		db, err := store.Open(ctx, app.dsn)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("metrics: %w", err)
		}
		s.own, queue = db, db
	}
	s.m = deliver.NewMetrics(deliver.MetricsOptions{
		Queue: queue,
		// The loop iterates at least once a timeout (a quarter lease) even
		// when idle; allow a few missed ones before calling it unhealthy.
		HealthyWithin: max(deliver.DefaultLeaseTimeouts*opts.Timeout, deliver.DefaultHealthyWithin),
		NowFunc:       cfg.NowFunc,
		Logger:        log,
	})
	onAttempt := cfg.OnAttemptFunc
	cfg.OnAttemptFunc = func(a deliver.Attempt) {
		s.m.OnAttempt(a)
		if onAttempt != nil {
			onAttempt(a)
		}
	}
	cfg.OnIterationFunc = s.m.OnIteration
	s.srv = &http.Server{Handler: s.m.Handler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "error", err)
		}
	}()
	log.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return s, nil
}

// stop marks the loop stopped and closes the server.
func (s *metricsServer) stop() {
	if s == nil {
		return
	}
	s.m.Stopped()
	ctx, cancel := context.WithTimeout(context.Background(), metricsShutdownTimeout)
	defer cancel()
	s.srv.Shutdown(ctx)
	if s.own != nil {
		s.own.Close()
	}
}
