package deliver

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fgwh/fgwh/sign"
)

const testPayload = `{"type":"recording.imported","recordingId":"r1"}`

func testRequest(url string) Request {
	return Request{
		URL:       url,
		Token:     "tok_secret",
		WebhookID: "whk_0123456789abcdef",
		EventID:   "whev_0123456789abcdef",
		EventTime: time.Date(2022, 10, 1, 6, 50, 0, 123_456_789, time.FixedZone("CEST", 2*3600)),
		Payload:   []byte(testPayload),
	}
}

// captured is what a receiver saw of one request.
type captured struct {
	header http.Header
	body   []byte
	proto  int
}

// startReceiver starts a server that records each request and answers with h
// (200 "ok" if h is nil).
func startReceiver(t *testing.T, h http.HandlerFunc) (*httptest.Server, chan captured) {
	t.Helper()
	got := make(chan captured, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- captured{header: r.Header.Clone(), body: body, proto: r.ProtoMajor}
		if h == nil {
			io.WriteString(w, "ok")
			return
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func hmacHex(token string, body []byte) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func checkOutcome(t *testing.T, got Outcome, wantStatus int, wantCode, wantErr string) {
	t.Helper()
	if got.StatusCode != wantStatus || got.ErrorCode != wantCode || got.Error != wantErr {
		t.Fatalf("outcome = status %d, code %q, error %q\nwant     status %d, code %q, error %q",
			got.StatusCode, got.ErrorCode, got.Error, wantStatus, wantCode, wantErr)
	}
	if !got.AttemptedAt.Equal(testNow.Truncate(time.Millisecond)) {
		t.Fatalf("AttemptedAt = %v, want %v", got.AttemptedAt, testNow.Truncate(time.Millisecond))
	}
	if got.Succeeded() != (wantCode == "") {
		t.Fatalf("Succeeded() = %v with code %q", got.Succeeded(), wantCode)
	}
	if got.Duration <= 0 {
		t.Fatalf("Duration = %v, want > 0", got.Duration)
	}
	if strings.ContainsAny(got.Error, "\r\n") {
		t.Fatalf("Error is not one line: %q", got.Error)
	}
}

func TestClient_Send_Body(t *testing.T) {
	t.Parallel()
	srv, got := startReceiver(t, nil)
	c := newTestClient(t, ClientOptions{AllowPrivate: true, UserAgent: "fgwh/1.2.3"})

	out := c.Send(context.Background(), testRequest(srv.URL+"/hook?x=1"), testNow)
	checkOutcome(t, out, 200, "", "")
	if out.ResponseBody != "ok" {
		t.Fatalf("ResponseBody = %q, want %q", out.ResponseBody, "ok")
	}
	r := <-got
	wantBody := `{"timestamp":"2022-10-01T04:50:00.123Z","deliveryAttemptedAt":"2022-10-01T06:54:29.078Z",` +
		`"webhookId":"whk_0123456789abcdef","eventId":"whev_0123456789abcdef",` +
		`"payload":{"type":"recording.imported","recordingId":"r1"}}`
	if string(r.body) != wantBody {
		t.Fatalf("body =\n%s\nwant\n%s", r.body, wantBody)
	}
	for name, want := range map[string]string{
		"Content-Type":         "application/json",
		"User-Agent":           "fgwh/1.2.3",
		"Fg-Webhook-Signature": hmacHex("tok_secret", []byte(wantBody)),
		"Content-Length":       strconv.Itoa(len(wantBody)),
	} {
		if v := r.header.Values(name); len(v) != 1 || v[0] != want {
			t.Errorf("header %s = %q, want [%q]", name, v, want)
		}
	}
	if v := r.header.Values("Accept-Encoding"); len(v) != 0 {
		t.Errorf("Accept-Encoding = %q, want none", v)
	}
}

func TestRequest_AppendBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		req  Request
		want string
	}{
		{
			name: "EmptyPayload",
			req:  Request{WebhookID: "whk_a", EventID: "whev_b", EventTime: time.Unix(0, 0)},
			want: `{"timestamp":"1970-01-01T00:00:00.000Z","deliveryAttemptedAt":"2022-10-01T06:54:29.078Z","webhookId":"whk_a","eventId":"whev_b","payload":{}}`,
		},
		{
			name: "EscapedIDs",
			req:  Request{WebhookID: "a\"b\\c\n\x01", EventID: "é\xff", EventTime: time.Unix(1, 999_999_999), Payload: []byte(`{"k":"v"}`)},
			want: `{"timestamp":"1970-01-01T00:00:01.999Z","deliveryAttemptedAt":"2022-10-01T06:54:29.078Z","webhookId":"a\"b\\c\n\u0001","eventId":"é\ufffd","payload":{"k":"v"}}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := string(tc.req.AppendBody(nil, testNow))
			if got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestClient_Send_ExtraHeaders(t *testing.T) {
	t.Parallel()
	srv, got := startReceiver(t, nil)
	c := newTestClient(t, ClientOptions{AllowPrivate: true})
	req := testRequest(srv.URL)
	var seenBody []byte
	var seenAt time.Time
	req.ExtraHeadersFunc = func(body []byte, at time.Time) http.Header {
		seenBody, seenAt = append([]byte(nil), body...), at
		return http.Header{
			"Webhook-Id":           {"msg_1"},
			"Fg-Webhook-Signature": {"forged"},
			"fg-webhook-signature": {"forged"},
			"Content-Type":         {"text/plain"},
			"user-agent":           {"evil/1.0"},
		}
	}
	out := c.Send(context.Background(), req, testNow)
	checkOutcome(t, out, 200, "", "")
	r := <-got
	if string(seenBody) != string(r.body) || !seenAt.Equal(out.AttemptedAt) {
		t.Fatalf("hook saw body %q at %v; sent %q at %v", seenBody, seenAt, r.body, out.AttemptedAt)
	}
	if v := r.header.Get("Webhook-Id"); v != "msg_1" {
		t.Fatalf("Webhook-Id = %q", v)
	}
	if v := r.header.Values("Fg-Webhook-Signature"); len(v) != 1 || v[0] != hmacHex("tok_secret", r.body) {
		t.Fatalf("signature = %q", v)
	}
	if v := r.header.Values("Content-Type"); len(v) != 1 || v[0] != "application/json" {
		t.Fatalf("Content-Type = %q", v)
	}
	if v := r.header.Values("User-Agent"); len(v) != 1 || v[0] != "fgwh/test" {
		t.Fatalf("User-Agent = %q", v)
	}
}

func TestClient_Send_Status(t *testing.T) {
	t.Parallel()
	// The redirect target must never be reached.
	var redirected atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirected.Add(1)
	}))
	t.Cleanup(other.Close)

	retryDate := testNow.Add(90 * time.Second).Truncate(time.Second)
	for _, tc := range []struct {
		name           string
		status         int
		header         map[string]string
		body           string
		wantCode       string
		wantErr        string
		wantRetryAfter time.Duration
		wantPermanent  bool
	}{
		{name: "200", status: 200, body: `{"ok":true}`},
		{name: "204", status: 204},
		{name: "202", status: 202, body: "queued"},
		{name: "500", status: 500, body: "boom", wantCode: ErrCodeHTTPStatus, wantErr: "receiver answered 500 Internal Server Error"},
		{name: "400", status: 400, body: "bad", wantCode: ErrCodeHTTPStatus, wantErr: "receiver answered 400 Bad Request"},
		{name: "599", status: 599, wantCode: ErrCodeHTTPStatus, wantErr: "receiver answered 599"},
		{
			name: "503RetryAfterSeconds", status: 503, header: map[string]string{"Retry-After": "120"},
			wantCode: ErrCodeHTTPStatus, wantErr: "receiver answered 503 Service Unavailable", wantRetryAfter: 120 * time.Second,
		},
		{
			name: "429RetryAfterDate", status: 429, header: map[string]string{"Retry-After": retryDate.Format(http.TimeFormat)},
			wantCode: ErrCodeHTTPStatus, wantErr: "receiver answered 429 Too Many Requests",
			wantRetryAfter: retryDate.Sub(testNow.Truncate(time.Millisecond)),
		},
		{
			name: "429RetryAfterInvalid", status: 429, header: map[string]string{"Retry-After": "soon"},
			wantCode: ErrCodeHTTPStatus, wantErr: "receiver answered 429 Too Many Requests",
		},
		{
			name: "200RetryAfterIgnored", status: 200, header: map[string]string{"Retry-After": "120"},
		},
		{
			name: "410", status: 410, body: "gone", wantCode: ErrCodeHTTPStatus,
			wantErr: "receiver answered 410 Gone: the endpoint is gone, no more retries", wantPermanent: true,
		},
		{
			name: "301", status: 301, header: map[string]string{"Location": other.URL + "/moved"},
			wantCode: ErrCodeRedirect, wantErr: "receiver answered 301 Moved Permanently redirecting to " + other.URL + "/moved; redirects are not followed",
		},
		{
			name: "302", status: 302, header: map[string]string{"Location": other.URL + "/"},
			wantCode: ErrCodeRedirect, wantErr: "receiver answered 302 Found redirecting to " + other.URL + "/; redirects are not followed",
		},
		{
			name: "307NoLocation", status: 307,
			wantCode: ErrCodeRedirect, wantErr: "receiver answered 307 Temporary Redirect redirecting to (no Location); redirects are not followed",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, got := startReceiver(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			c := newTestClient(t, ClientOptions{AllowPrivate: true})
			out := c.Send(context.Background(), testRequest(srv.URL), testNow)
			checkOutcome(t, out, tc.status, tc.wantCode, tc.wantErr)
			if out.ResponseBody != tc.body {
				t.Errorf("ResponseBody = %q, want %q", out.ResponseBody, tc.body)
			}
			if out.RetryAfter != tc.wantRetryAfter {
				t.Errorf("RetryAfter = %v, want %v", out.RetryAfter, tc.wantRetryAfter)
			}
			if out.Permanent != tc.wantPermanent {
				t.Errorf("Permanent = %v, want %v", out.Permanent, tc.wantPermanent)
			}
			if n := len(got); n != 1 {
				t.Errorf("receiver got %d requests, want 1", n)
			}
		})
	}
	t.Cleanup(func() {
		if n := redirected.Load(); n != 0 {
			t.Errorf("redirect target got %d requests, want 0", n)
		}
	})
}

func TestClient_Send_ResponseBody(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", DefaultResponseBodyLimit-1)
	for _, tc := range []struct {
		name string
		body string
		want string
	}{
		{name: "Short", body: "hello", want: "hello"},
		{name: "ExactLimit", body: long + "b", want: long + "b"},
		{name: "Truncated", body: long + "bcdef", want: long + "b"},
		{name: "CutRune", body: long + "é", want: long},
		{name: "InvalidBytes", body: "a\xffb\xfe\xfd", want: "a\uFFFDb\uFFFD"},
		{name: "InvalidAtLimit", body: strings.Repeat("\xff", DefaultResponseBodyLimit+10), want: "\uFFFD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := startReceiver(t, func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, tc.body)
			})
			c := newTestClient(t, ClientOptions{AllowPrivate: true})
			out := c.Send(context.Background(), testRequest(srv.URL), testNow)
			checkOutcome(t, out, 200, "", "")
			if out.ResponseBody != tc.want {
				t.Fatalf("ResponseBody = %q (%d bytes), want %q (%d bytes)", out.ResponseBody, len(out.ResponseBody), tc.want, len(tc.want))
			}
			if !utf8.ValidString(out.ResponseBody) || len(out.ResponseBody) > DefaultResponseBodyLimit {
				t.Fatalf("ResponseBody invalid or too long: %d bytes", len(out.ResponseBody))
			}
		})
	}
}

// TestClient_Send_HugeBody checks that a 50 MiB answer is cut off after the
// stored and drained parts instead of being read to the end.
func TestClient_Send_HugeBody(t *testing.T) {
	t.Parallel()
	const total = 50 << 20
	written := make(chan int64, 1)
	srv, _ := startReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(total))
		chunk := []byte(strings.Repeat("x", 32<<10))
		var n int64
		for n < total {
			m, err := w.Write(chunk)
			n += int64(m)
			if err != nil {
				break
			}
		}
		written <- n
	})
	c := newTestClient(t, ClientOptions{AllowPrivate: true})
	out := c.Send(context.Background(), testRequest(srv.URL), testNow)
	checkOutcome(t, out, 200, "", "")
	if want := strings.Repeat("x", DefaultResponseBodyLimit); out.ResponseBody != want {
		t.Fatalf("ResponseBody has %d bytes, want %d", len(out.ResponseBody), len(want))
	}
	if n := <-written; n >= total {
		t.Fatalf("server wrote all %d bytes: the client read the whole body", n)
	}
}

func TestClient_Send_ConnectionRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := newTestClient(t, ClientOptions{AllowPrivate: true})
	out := c.Send(context.Background(), testRequest("http://"+addr+"/"), testNow)
	checkOutcome(t, out, 0, ErrCodeConnectionRefused, "connection refused by "+addr)
}

// hijacker returns a handler that takes over the connection and runs f on it.
func hijacker(f func(conn net.Conn, rw *bufio.ReadWriter)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		f(conn, rw)
	}
}

func TestClient_Send_ConnectionDropped(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		f          func(conn net.Conn, rw *bufio.ReadWriter)
		wantStatus int
		wantErr    string
	}{
		{
			name: "ResetBeforeResponse",
			f: func(conn net.Conn, _ *bufio.ReadWriter) {
				conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
			},
			wantErr: "connection reset by %s",
		},
		{
			name:    "ClosedBeforeResponse",
			f:       func(conn net.Conn, _ *bufio.ReadWriter) { conn.Close() },
			wantErr: "connection closed by %s before a response",
		},
		{
			name: "ClosedMidBody",
			f: func(conn net.Conn, rw *bufio.ReadWriter) {
				rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
				rw.Flush()
				conn.Close()
			},
			wantStatus: 200,
			wantErr:    "connection closed by %s while sending the response body",
		},
		{
			name: "ResetMidBody",
			f: func(conn net.Conn, rw *bufio.ReadWriter) {
				rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
				rw.Flush()
				conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
			},
			wantStatus: 200,
			wantErr:    "connection reset by %s",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := startReceiver(t, hijacker(tc.f))
			c := newTestClient(t, ClientOptions{AllowPrivate: true})
			out := c.Send(context.Background(), testRequest(srv.URL), testNow)
			checkOutcome(t, out, tc.wantStatus, ErrCodeConnectionReset, fmt.Sprintf(tc.wantErr, srv.Listener.Addr()))
		})
	}
}

func TestClient_Send_Timeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		h          http.HandlerFunc
		wantStatus int
		wantErr    string
	}{
		{
			name: "NoAnswer", wantErr: "no response from %s within 500ms",
			h: func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
		},
		{
			name: "StalledBody", wantStatus: 200, wantErr: "timed out after 500ms reading the response body from %s",
			h: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "100")
				io.WriteString(w, "partial")
				http.NewResponseController(w).Flush()
				<-r.Context().Done()
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := startReceiver(t, tc.h)
			c := newTestClient(t, ClientOptions{AllowPrivate: true, Timeout: 500 * time.Millisecond})
			out := c.Send(context.Background(), testRequest(srv.URL), testNow)
			wantErr := tc.wantErr
			if strings.Contains(wantErr, "%s") {
				wantErr = fmt.Sprintf(wantErr, srv.Listener.Addr())
			}
			checkOutcome(t, out, tc.wantStatus, ErrCodeTimeout, wantErr)
			if out.Duration < 500*time.Millisecond {
				t.Fatalf("Duration = %v, shorter than the timeout", out.Duration)
			}
		})
	}
}

// TestClient_Send_AcceptNeverAnswer uses a raw listener that accepts and
// never reads or writes.
func TestClient_Send_AcceptNeverAnswer(t *testing.T) {
	t.Parallel()
	ln := rawServer(t, func(conn net.Conn) {
		io.Copy(io.Discard, conn)
	})
	c := newTestClient(t, ClientOptions{AllowPrivate: true, Timeout: 100 * time.Millisecond})
	out := c.Send(context.Background(), testRequest("http://"+ln.Addr().String()+"/"), testNow)
	checkOutcome(t, out, 0, ErrCodeTimeout, "no response from "+ln.Addr().String()+" within 100ms")
}

// rawServer accepts TCP connections on 127.0.0.1 and runs f on each, closing
// it afterwards. Cleanup closes the listener and open connections and waits
// for every f to return.
func rawServer(t *testing.T, f func(net.Conn)) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				f(conn)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln
}

func TestClient_Send_NotHTTP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		f       func(net.Conn)
		wantErr string // after "invalid HTTP response from ADDR: "; "" means any
	}{
		{
			name: "GarbageAfterRequest",
			f: func(conn net.Conn) {
				br := bufio.NewReader(conn)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				io.WriteString(conn, "220 smtp.example ESMTP ready\r\n\r\n")
			},
		},
		{
			name: "BannerFirst",
			f: func(conn net.Conn) {
				io.WriteString(conn, "SSH-2.0-OpenSSH_9.6\r\n")
				br := bufio.NewReader(conn)
				if req, err := http.ReadRequest(br); err == nil {
					io.Copy(io.Discard, req.Body)
				}
				io.WriteString(conn, "Protocol mismatch.\n")
			},
			// The banner is either read as a malformed response or, if it
			// arrives before the request is queued, reported as unsolicited.
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ln := rawServer(t, tc.f)
			c := newTestClient(t, ClientOptions{AllowPrivate: true})
			out := c.Send(context.Background(), testRequest("http://"+ln.Addr().String()+"/"), testNow)
			if out.ErrorCode != ErrCodeInvalidResponse || out.StatusCode != 0 {
				t.Fatalf("outcome = status %d, code %q, error %q; want code %q", out.StatusCode, out.ErrorCode, out.Error, ErrCodeInvalidResponse)
			}
			if want := "invalid HTTP response from " + ln.Addr().String() + ": "; !strings.HasPrefix(out.Error, want) ||
				(tc.wantErr != "" && out.Error != want+tc.wantErr) {
				t.Fatalf("Error = %q, want %q", out.Error, want+tc.wantErr)
			}
		})
	}
}

func TestClient_Send_TLS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "proto "+strconv.Itoa(r.ProtoMajor))
	}))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)

	t.Run("Untrusted", func(t *testing.T) {
		t.Parallel()
		c := newTestClient(t, ClientOptions{AllowPrivate: true})
		out := c.Send(context.Background(), testRequest(srv.URL), testNow)
		checkOutcome(t, out, 0, ErrCodeTLS, "TLS handshake with "+srv.Listener.Addr().String()+
			" failed: tls: failed to verify certificate: x509: certificate signed by unknown authority")
	})
	t.Run("TrustedHTTP2", func(t *testing.T) {
		t.Parallel()
		c := newTestClient(t, ClientOptions{AllowPrivate: true, TLSConfig: srv.Client().Transport.(*http.Transport).TLSClientConfig})
		out := c.Send(context.Background(), testRequest(srv.URL), testNow)
		checkOutcome(t, out, 200, "", "")
		if out.ResponseBody != "proto 2" {
			t.Fatalf("ResponseBody = %q, want %q", out.ResponseBody, "proto 2")
		}
	})
	t.Run("PlainHTTPToTLS", func(t *testing.T) {
		t.Parallel()
		c := newTestClient(t, ClientOptions{AllowPrivate: true})
		out := c.Send(context.Background(), testRequest("http://"+srv.Listener.Addr().String()+"/"), testNow)
		checkOutcome(t, out, 400, ErrCodeHTTPStatus, "receiver answered 400 Bad Request")
	})
}

func TestClient_Send_DNS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		resolver func(t *testing.T) *net.Resolver
		wantErr  string
	}{
		{
			name:     "NXDOMAIN",
			resolver: func(t *testing.T) *net.Resolver { return startDNSStub(t, nil).resolver() },
			wantErr:  `cannot resolve host "nowhere.fgwh.invalid": no such host`,
		},
		{
			name:     "ResolverUnreachable",
			resolver: func(*testing.T) *net.Resolver { return brokenResolver() },
			wantErr:  `cannot resolve host "nowhere.fgwh.invalid": no DNS server in tests`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newTestClient(t, ClientOptions{AllowPrivate: true, Resolver: tc.resolver(t)})
			out := c.Send(context.Background(), testRequest("http://nowhere.fgwh.invalid/hook"), testNow)
			checkOutcome(t, out, 0, ErrCodeDNS, tc.wantErr)
		})
	}
}

func TestClient_Send_InvalidURL(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, ClientOptions{AllowPrivate: true})
	for _, tc := range []struct{ url, want string }{
		{"ftp://example.com/", `invalid webhook URL "ftp://example.com/": not an absolute http or https URL`},
		{"/relative", `invalid webhook URL "/relative": not an absolute http or https URL`},
		{"http://", `invalid webhook URL "http://": not an absolute http or https URL`},
		{"", `invalid webhook URL "": not an absolute http or https URL`},
		{"ftp://us:pw@example.com/", `invalid webhook URL "ftp://us:xxxxx@example.com/": not an absolute http or https URL`},
		{"http://us:pw@[::1/", "invalid webhook URL: cannot be parsed"},
		{"http://a b/", "invalid webhook URL: cannot be parsed"},
	} {
		out := c.Send(context.Background(), testRequest(tc.url), testNow)
		if out.ErrorCode != ErrCodeInvalidURL || out.Error != tc.want || out.StatusCode != 0 {
			t.Errorf("URL %q: code %q, error %q; want code %q, error %q", tc.url, out.ErrorCode, out.Error, ErrCodeInvalidURL, tc.want)
		}
	}
}

func TestClient_Send_Canceled(t *testing.T) {
	t.Parallel()
	srv, got := startReceiver(t, nil)
	c := newTestClient(t, ClientOptions{AllowPrivate: true})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := c.Send(ctx, testRequest(srv.URL), testNow)
	checkOutcome(t, out, 0, ErrCodeCanceled, "attempt canceled before it finished")
	if n := len(got); n != 0 {
		t.Fatalf("receiver got %d requests, want 0", n)
	}
}

// TestClient_Send_KeepAlive checks that sequential attempts reuse one
// connection, bodies drained.
func TestClient_Send_KeepAlive(t *testing.T) {
	t.Parallel()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("y", 10<<10))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c := newTestClient(t, ClientOptions{AllowPrivate: true})
	for range 5 {
		checkOutcome(t, c.Send(context.Background(), testRequest(srv.URL), testNow), 200, "", "")
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("server saw %d connections, want 1", n)
	}
}

// TestClient_Send_Verifier checks a notification with the receiving side of
// package sign: the fgwh scheme with the attempt time checked, and Standard
// Webhooks headers added through ExtraHeadersFunc.
func TestClient_Send_Verifier(t *testing.T) {
	t.Parallel()
	token, err := sign.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	v := &sign.Verifier{Secrets: []string{token}, CheckAttemptTime: true, NowFunc: func() time.Time { return testNow }}
	verified := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := v.VerifyRequest(r) // puts the body back for the next check
		if err == nil {
			_, err = v.VerifyStandardRequest(r)
		}
		verified <- err
	}))
	t.Cleanup(srv.Close)
	c := newTestClient(t, ClientOptions{AllowPrivate: true})
	req := testRequest(srv.URL)
	req.Token = token
	req.ExtraHeadersFunc = func(body []byte, at time.Time) http.Header {
		h := http.Header{}
		if err := sign.SetStandardHeaders(h, []string{token}, req.EventID, at, body); err != nil {
			t.Error(err)
		}
		return h
	}
	checkOutcome(t, c.Send(context.Background(), req, testNow), 200, "", "")
	if err := <-verified; err != nil {
		t.Fatalf("receiver rejected the notification: %v", err)
	}
}
