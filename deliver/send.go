package deliver

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/fgwh/fgwh/sign"
)

// Error codes recorded on failed attempts. They are stable: scripts and the
// database rely on them. They are derived from the error chain with
// errors.As and errors.Is, never from error text.
const (
	// ErrCodeTimeout: the attempt did not finish within the timeout
	// (connecting, waiting for the response, or reading the body).
	ErrCodeTimeout = "timeout"
	// ErrCodeConnectionRefused: nothing listens on the port.
	ErrCodeConnectionRefused = "connection_refused"
	// ErrCodeConnectionReset: the connection was reset, or closed before a
	// complete response arrived.
	ErrCodeConnectionReset = "connection_reset"
	// ErrCodeDNS: the host name could not be resolved (including resolver
	// failures and DNS timeouts).
	ErrCodeDNS = "dns_error"
	// ErrCodeTLS: the TLS handshake failed, e.g. an untrusted certificate.
	ErrCodeTLS = "tls_error"
	// ErrCodeHTTPStatus: the receiver answered with a status that is neither
	// 2xx nor 3xx. HTTP 410 Gone also has this code, with Outcome.Permanent
	// set; StatusCode tells it apart.
	ErrCodeHTTPStatus = "http_status"
	// ErrCodeRedirect: the receiver answered 3xx. Redirects are not followed.
	ErrCodeRedirect = "redirect"
	// ErrCodeBlockedAddress: the host is or resolves to a private address and
	// private networks are not allowed.
	ErrCodeBlockedAddress = "blocked_address"
	// ErrCodeInvalidResponse: the server sent something that is not a valid
	// HTTP response (e.g. another protocol on the port, oversized headers).
	ErrCodeInvalidResponse = "invalid_response"
	// ErrCodeInvalidURL: the webhook URL cannot be requested (not an
	// absolute http or https URL).
	ErrCodeInvalidURL = "invalid_url"
	// ErrCodeCanceled: the caller's context was canceled (not timed out)
	// before the attempt finished, e.g. on a forced shutdown.
	ErrCodeCanceled = "canceled"
	// ErrCodeNetwork: any other failure to exchange the request and response.
	ErrCodeNetwork = "network_error"
)

// Limits on reading response bodies.
const (
	// DefaultResponseBodyLimit is the most of a response body kept in
	// Outcome.ResponseBody.
	DefaultResponseBodyLimit = 4 << 10
	// DefaultResponseDrainLimit is how much more of a body is read and
	// discarded so the connection can be reused. A longer body is abandoned
	// and its connection closed.
	DefaultResponseDrainLimit = 64 << 10
)

// Request is one notification to send.
type Request struct {
	URL       string
	Token     string
	WebhookID string
	EventID   string
	// EventTime is when the event occurred ("timestamp" in the body).
	EventTime time.Time
	// Payload is the exact bytes of the notification's JSON object, e.g.
	// {"type":"recording.imported","recordingId":"r1"}. It is copied into the
	// body verbatim; an empty Payload is sent as {}.
	Payload []byte
	// ExtraHeadersFunc, if set, returns headers to add to the request, e.g.
	// for another signature scheme. It gets the exact body and the attempt
	// time. It cannot replace Content-Type, User-Agent or
	// fg-webhook-signature.
	ExtraHeadersFunc func(body []byte, attemptedAt time.Time) http.Header
}

// AppendBody appends the notification body for an attempt at attemptedAt:
//
//	{"timestamp":"…","deliveryAttemptedAt":"…","webhookId":"…","eventId":"…","payload":{…}}
//
// Times are RFC 3339 UTC with exactly three fractional digits.
func (r Request) AppendBody(dst []byte, attemptedAt time.Time) []byte {
	dst = append(dst, `{"timestamp":"`...)
	dst = appendTime(dst, r.EventTime)
	dst = append(dst, `","deliveryAttemptedAt":"`...)
	dst = appendTime(dst, attemptedAt)
	dst = append(dst, `","webhookId":`...)
	dst = appendJSONString(dst, r.WebhookID)
	dst = append(dst, `,"eventId":`...)
	dst = appendJSONString(dst, r.EventID)
	dst = append(dst, `,"payload":`...)
	if len(r.Payload) == 0 {
		dst = append(dst, "{}"...)
	} else {
		dst = append(dst, r.Payload...)
	}
	return append(dst, '}')
}

// TimeLayout is the layout of every timestamp in a notification (SPEC.md).
const TimeLayout = "2006-01-02T15:04:05.000Z"

func appendTime(dst []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(dst, TimeLayout)
}

// appendJSONString appends s as a JSON string. IDs are base62, so this is
// only there to keep the body valid whatever the store hands us; the fast
// path skips encoding/json for them.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			b, _ := json.Marshal(s) // a string always marshals
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// Outcome is the result of one attempt, ready to be recorded.
type Outcome struct {
	// AttemptedAt is the attempt time as sent in deliveryAttemptedAt
	// (UTC, truncated to milliseconds).
	AttemptedAt time.Time
	// Duration is how long the attempt took, measured on the monotonic clock.
	Duration time.Duration
	// StatusCode is the HTTP status, or 0 if no response arrived.
	StatusCode int
	// ErrorCode is one of the ErrCode* constants, or "" on success.
	ErrorCode string
	// Error is a one-line human-readable description, or "" on success.
	Error string
	// ResponseBody holds at most DefaultResponseBodyLimit bytes of the
	// response body, as valid UTF-8.
	ResponseBody string
	// RetryAfter is the delay the receiver asked for with Retry-After on a
	// non-2xx answer, or 0.
	RetryAfter time.Duration
	// Permanent is set when the receiver said the endpoint is gone for good
	// (HTTP 410): do not retry, and disable the webhook.
	Permanent bool
}

// Succeeded reports whether the receiver answered 2xx with a complete body.
func (o Outcome) Succeeded() bool {
	return o.ErrorCode == "" && o.StatusCode >= 200 && o.StatusCode < 300
}

// sendTrace records what happened on the wire, so errors that have no type of
// their own can be classified by the phase they happened in.
type sendTrace struct {
	gotFirstByte atomic.Bool
	tlsFailed    atomic.Bool
	// newConn is the connection if it was dialed for this attempt.
	newConn atomic.Pointer[net.Conn]
}

// spokeFirst reports whether a connection dialed for this attempt received
// bytes that net/http did not take as a response.
func (tr *sendTrace) spokeFirst() bool {
	conn := tr.newConn.Load()
	return conn != nil && bytesRead(*conn) > 0
}

// Send makes one attempt to deliver req, with attempt time now. It never
// returns an error: every failure is described by the Outcome. The attempt is
// bounded by the client's timeout and by ctx.
func (c *Client) Send(ctx context.Context, req Request, now time.Time) Outcome {
	start := time.Now()
	out := Outcome{AttemptedAt: now.UTC().Truncate(time.Millisecond)}
	c.send(ctx, req, &out)
	out.Duration = time.Since(start)
	return out
}

func (c *Client) send(parent context.Context, req Request, out *Outcome) {
	u, err := url.Parse(req.URL)
	if err != nil {
		// The error repeats the URL, which may hold a password.
		out.fail(ErrCodeInvalidURL, "invalid webhook URL: cannot be parsed")
		return
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		out.fail(ErrCodeInvalidURL, fmt.Sprintf("invalid webhook URL %q: not an absolute http or https URL", redactURL(req.URL, u)))
		return
	}
	body := req.AppendBody(make([]byte, 0, 192+len(req.Payload)), out.AttemptedAt)

	ctx, cancel := context.WithTimeout(parent, c.timeout)
	defer cancel()
	var tr sendTrace
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotFirstResponseByte: func() { tr.gotFirstByte.Store(true) },
		GotConn: func(info httptrace.GotConnInfo) {
			if !info.Reused {
				tr.newConn.Store(&info.Conn)
			}
		},
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if err != nil {
				tr.tlsFailed.Store(true)
			}
		},
	})
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, req.URL, bytes.NewReader(body))
	if err != nil {
		out.fail(ErrCodeInvalidURL, fmt.Sprintf("invalid webhook URL %q: %v", redactURL(req.URL, u), unwrapURLError(err)))
		return
	}
	if req.ExtraHeadersFunc != nil {
		// Add canonicalizes the names, so the Set and Del below win.
		for k, vs := range req.ExtraHeadersFunc(body, out.AttemptedAt) {
			for _, v := range vs {
				hreq.Header.Add(k, v)
			}
		}
		hreq.Header.Del(sign.Header)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("User-Agent", c.userAgent)
	// The header is written as SPEC.md spells it, in lower case.
	hreq.Header[sign.Header] = []string{sign.Sign(req.Token, body)}

	resp, err := c.http.Do(hreq)
	if err != nil {
		out.fail(c.classify(parent, err, &tr, u, false))
		return
	}
	out.StatusCode = resp.StatusCode
	stored, err := readBody(resp.Body)
	out.ResponseBody = stored
	if err != nil {
		out.fail(c.classify(parent, err, &tr, u, true))
		return
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return
	}
	out.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), out.AttemptedAt)
	status := fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	status = strings.TrimSpace(status)
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		loc := resp.Header.Get("Location")
		if loc == "" {
			loc = "(no Location)"
		}
		out.fail(ErrCodeRedirect, fmt.Sprintf("receiver answered %s redirecting to %s; redirects are not followed", status, oneLine(loc)))
	case resp.StatusCode == http.StatusGone:
		out.Permanent = true
		out.fail(ErrCodeHTTPStatus, fmt.Sprintf("receiver answered %s: the endpoint is gone, no more retries", status))
	default:
		out.fail(ErrCodeHTTPStatus, "receiver answered "+status)
	}
}

func (o *Outcome) fail(code, msg string) {
	o.ErrorCode = code
	o.Error = oneLine(msg)
}

// readBody reads at most DefaultResponseBodyLimit bytes to keep, then drains
// at most DefaultResponseDrainLimit more so the connection can be reused, and
// closes the body. It returns the kept part as valid UTF-8 and the first read
// error other than io.EOF.
func readBody(body io.ReadCloser) (string, error) {
	defer body.Close()
	kept, err := io.ReadAll(io.LimitReader(body, DefaultResponseBodyLimit))
	if err == nil {
		_, err = io.CopyN(io.Discard, body, DefaultResponseDrainLimit)
		if err == io.EOF {
			err = nil
		}
	}
	return validUTF8(kept, DefaultResponseBodyLimit), err
}

// validUTF8 returns b as a string of valid UTF-8 of at most limit bytes,
// dropping a rune cut by truncation and replacing other invalid bytes.
func validUTF8(b []byte, limit int) string {
	if len(b) == limit {
		for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
			if utf8.RuneStart(b[i]) {
				if !utf8.FullRune(b[i:]) {
					b = b[:i]
				}
				break
			}
		}
	}
	if utf8.Valid(b) {
		return string(b)
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	for len(s) > limit {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// classify turns a transport error into an error code and a message.
// inBody reports whether the error came while reading the response body.
func (c *Client) classify(parent context.Context, err error, tr *sendTrace, u *url.URL, inBody bool) (string, string) {
	hostPort := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		hostPort = net.JoinHostPort(u.Hostname(), port)
	}
	var (
		blocked *BlockedAddressError
		dnsErr  *net.DNSError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &blocked):
		return ErrCodeBlockedAddress, blocked.Error()
	case errors.As(err, &dnsErr):
		return ErrCodeDNS, fmt.Sprintf("cannot resolve host %q: %s", u.Hostname(), dnsErr.Err)
	case parent.Err() != nil && !errors.Is(parent.Err(), context.DeadlineExceeded):
		return ErrCodeCanceled, "attempt canceled before it finished"
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ETIMEDOUT) ||
		(errors.As(err, &netErr) && netErr.Timeout()):
		switch {
		case inBody:
			return ErrCodeTimeout, fmt.Sprintf("timed out after %s reading the response body from %s", c.timeout, hostPort)
		case tr.gotFirstByte.Load():
			return ErrCodeTimeout, fmt.Sprintf("timed out after %s reading the response headers from %s", c.timeout, hostPort)
		default:
			return ErrCodeTimeout, fmt.Sprintf("no response from %s within %s", hostPort, c.timeout)
		}
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrCodeConnectionRefused, "connection refused by " + hostPort
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		return ErrCodeConnectionReset, "connection reset by " + hostPort
	case tr.tlsFailed.Load() || isTLSError(err):
		return ErrCodeTLS, fmt.Sprintf("TLS handshake with %s failed: %s", hostPort, unwrapURLError(err))
	case inBody && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		return ErrCodeConnectionReset, fmt.Sprintf("connection closed by %s while sending the response body", hostPort)
	case !inBody && tr.gotFirstByte.Load():
		return ErrCodeInvalidResponse, fmt.Sprintf("invalid HTTP response from %s: %s", hostPort, unwrapURLError(err))
	case !inBody && tr.spokeFirst():
		return ErrCodeInvalidResponse, fmt.Sprintf("invalid HTTP response from %s: the server sent data before the request (not an HTTP server?)", hostPort)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return ErrCodeConnectionReset, fmt.Sprintf("connection closed by %s before a response", hostPort)
	default:
		return ErrCodeNetwork, fmt.Sprintf("request to %s failed: %s", hostPort, unwrapURLError(err))
	}
}

func isTLSError(err error) bool {
	var (
		certErr    *tls.CertificateVerificationError
		recordErr  tls.RecordHeaderError
		alertErr   tls.AlertError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
	)
	return errors.As(err, &certErr) || errors.As(err, &recordErr) || errors.As(err, &alertErr) ||
		errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &invalidErr)
}

// unwrapURLError drops the *url.Error wrapper, whose text repeats the method
// and the full URL (which may carry credentials).
func unwrapURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// redactURL returns raw, or u with its password hidden if it has userinfo.
func redactURL(raw string, u *url.URL) string {
	if u.User == nil {
		return raw
	}
	return u.Redacted()
}

// oneLine replaces line breaks so a message stays on one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}
