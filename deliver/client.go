package deliver

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Tunables of the HTTP client.
const (
	// DefaultTimeout bounds one attempt: connect, TLS, request, response
	// headers and the bounded body read (SPEC.md: --timeout defaults to 5s).
	DefaultTimeout = 5 * time.Second
	// DefaultMaxConnsPerHost is used when ClientOptions.MaxConnsPerHost is 0.
	DefaultMaxConnsPerHost = 16
	// DefaultUserAgent is sent when ClientOptions.UserAgent is empty.
	DefaultUserAgent = "fgwh/dev"
	// DefaultMaxTLSHandshake caps the TLS handshake inside an attempt.
	DefaultMaxTLSHandshake = 10 * time.Second
	// DefaultMaxResponseHeaderBytes caps the response headers we accept.
	DefaultMaxResponseHeaderBytes = 64 << 10
)

// ClientOptions configures NewClient.
type ClientOptions struct {
	// AllowPrivate turns off the dial-time guard against loopback, private,
	// link-local and similar addresses (--allow-private-networks).
	AllowPrivate bool
	// MaxConnsPerHost is the number of idle keep-alive connections kept per
	// host; set it to the worker concurrency. Go's default of 2 makes
	// concurrent workers open and close connections and costs about a third
	// of throughput (DESIGN.md). It does not limit connections in use.
	MaxConnsPerHost int
	// Timeout bounds each attempt; 0 means DefaultTimeout.
	Timeout time.Duration
	// UserAgent is sent on every request, e.g. "fgwh/1.2.3".
	UserAgent string
	// Resolver resolves host names; nil means net.DefaultResolver. Tests set
	// it to a local DNS server so they never query the machine's resolver.
	Resolver *net.Resolver
	// TLSConfig is cloned into the transport; nil means Go's defaults
	// (system roots, TLS 1.2 minimum).
	TLSConfig *tls.Config
}

// Client sends notifications. It is safe for concurrent use and is meant to
// be shared by all workers of a process so connections are reused.
type Client struct {
	http      *http.Client
	transport *http.Transport
	timeout   time.Duration
	userAgent string
}

// NewClient returns a Client with keep-alive connection pooling sized for
// opts.MaxConnsPerHost concurrent attempts.
//
// Redirects are never followed: a 3xx answer is returned as is and recorded
// as a failed attempt (SPEC.md, "The notification").
//
// Proxy settings from the environment (HTTP_PROXY, HTTPS_PROXY) are ignored on
// purpose: a proxy would make the connections for us, out of reach of the
// dial-time address guard, and would see every signed notification.
func NewClient(opts ClientOptions) *Client {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	conns := opts.MaxConnsPerHost
	if conns <= 0 {
		conns = DefaultMaxConnsPerHost
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	dialer := &net.Dialer{
		Timeout:   timeout,
		KeepAlive: 30 * time.Second,
		Resolver:  opts.Resolver,
	}
	if !opts.AllowPrivate {
		dialer.Control = guardControl
	}
	var tlsConfig *tls.Config
	if opts.TLSConfig != nil {
		tlsConfig = opts.TLSConfig.Clone()
	}
	t := &http.Transport{
		Proxy:                  nil,
		DialContext:            countingDial(dialer),
		TLSClientConfig:        tlsConfig,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           max(100, 2*conns),
		MaxIdleConnsPerHost:    conns,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    min(timeout, DefaultMaxTLSHandshake),
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: DefaultMaxResponseHeaderBytes,
		// We store at most DefaultResponseBodyLimit bytes of the body; asking
		// for gzip would only spend CPU on decompressing it.
		DisableCompression: true,
	}
	return &Client{
		http: &http.Client{
			Transport: t,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		transport: t,
		timeout:   timeout,
		userAgent: ua,
	}
}

// HTTPClient returns the underlying *http.Client, with the same guard, pool
// and redirect policy, for callers that need plain requests.
func (c *Client) HTTPClient() *http.Client { return c.http }

// Timeout returns the per-attempt timeout.
func (c *Client) Timeout() time.Duration { return c.timeout }

// CloseIdleConnections closes pooled connections that are not in use.
func (c *Client) CloseIdleConnections() { c.transport.CloseIdleConnections() }

// countingConn counts the bytes read from a connection, so that Send can tell
// a server that spoke first in another protocol (an SSH or SMTP banner) from
// one that said nothing: net/http gives both errors no type.
type countingConn struct {
	net.Conn
	read atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func countingDial(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: conn}, nil
	}
}

// bytesRead returns how many bytes were read from conn, if it (or the
// connection under its TLS layer) is one of ours.
func bytesRead(conn net.Conn) int64 {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	if cc, ok := conn.(*countingConn); ok {
		return cc.read.Load()
	}
	return 0
}
