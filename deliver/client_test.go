package deliver

import (
	"net/http"
	"testing"
	"time"
)

func TestNewClient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		opts        ClientOptions
		wantConns   int
		wantTimeout time.Duration
		wantUA      string
	}{
		{"Defaults", ClientOptions{}, DefaultMaxConnsPerHost, DefaultTimeout, DefaultUserAgent},
		{"Set", ClientOptions{AllowPrivate: true, MaxConnsPerHost: 32, Timeout: 2 * time.Second, UserAgent: "fgwh/1.0.0"}, 32, 2 * time.Second, "fgwh/1.0.0"},
		{"LongTimeout", ClientOptions{Timeout: time.Minute}, DefaultMaxConnsPerHost, time.Minute, DefaultUserAgent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := NewClient(tc.opts)
			tr := c.transport
			if tr.MaxIdleConnsPerHost != tc.wantConns || tr.MaxIdleConns < tc.wantConns {
				t.Errorf("MaxIdleConnsPerHost = %d, MaxIdleConns = %d; want %d", tr.MaxIdleConnsPerHost, tr.MaxIdleConns, tc.wantConns)
			}
			if c.Timeout() != tc.wantTimeout || tr.ResponseHeaderTimeout != tc.wantTimeout ||
				tr.TLSHandshakeTimeout != min(tc.wantTimeout, DefaultMaxTLSHandshake) {
				t.Errorf("timeouts = %v, %v, %v; want %v", c.Timeout(), tr.ResponseHeaderTimeout, tr.TLSHandshakeTimeout, tc.wantTimeout)
			}
			if c.userAgent != tc.wantUA {
				t.Errorf("user agent = %q, want %q", c.userAgent, tc.wantUA)
			}
			// No proxy from the environment: it would dial around the guard.
			if tr.Proxy != nil || !tr.ForceAttemptHTTP2 || tr.DisableKeepAlives {
				t.Errorf("Proxy set %v, ForceAttemptHTTP2 %v, DisableKeepAlives %v", tr.Proxy != nil, tr.ForceAttemptHTTP2, tr.DisableKeepAlives)
			}
			if err := c.HTTPClient().CheckRedirect(nil, nil); err != http.ErrUseLastResponse {
				t.Errorf("CheckRedirect = %v, want http.ErrUseLastResponse", err)
			}
		})
	}
}
