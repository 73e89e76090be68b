package cmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fgwh/fgwh/sign"
)

// lockedBuffer is a bytes.Buffer that handlers may write while a test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// listenProcess is "fgwh listen" running in-process.
type listenProcess struct {
	url    string
	cancel context.CancelFunc
	done   chan int
	stdout *lockedBuffer
	// stderr holds what listen wrote to stderr after its first line.
	stderr   *lockedBuffer
	stderrOK chan struct{}
}

// startListen runs "fgwh <args>" (a listen command) in-process and waits
// for it to print the address it listens on.
func startListen(t *testing.T, args ...string) *listenProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	p := &listenProcess{cancel: cancel, done: make(chan int, 1), stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, stderrOK: make(chan struct{})}
	ios := &IO{In: strings.NewReader(""), Out: p.stdout, ErrOut: pw}
	go func() {
		code := Main(ctx, args, ios)
		pw.Close()
		p.done <- code
	}()
	first := make(chan string, 1)
	go func() {
		defer close(p.stderrOK)
		r := bufio.NewReader(pr)
		line, _ := r.ReadString('\n')
		first <- line
		io.Copy(p.stderr, r)
	}()
	t.Cleanup(func() { p.stop(t) })
	select {
	case line := <-first:
		url, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "listening on ")
		if !ok || !regexp.MustCompile(`^http://127\.0\.0\.1:\d+$`).MatchString(url) {
			t.Fatalf("first stderr line %q, want listening on http://127.0.0.1:PORT", line)
		}
		p.url = url
	case <-time.After(10 * time.Second):
		t.Fatal("listen did not print its address within 10s")
	}
	return p
}

// stop cancels listen (as Ctrl-C does) and returns its exit code.
func (p *listenProcess) stop(t *testing.T) int {
	t.Helper()
	p.cancel()
	select {
	case code := <-p.done:
		p.done <- code // later calls (Cleanup) see it too
		<-p.stderrOK
		return code
	case <-time.After(10 * time.Second):
		t.Fatal("listen did not stop within 10s of its context's end")
		return -1
	}
}

// post sends body to listen with headers and returns the status and response body.
func (p *listenProcess) post(t *testing.T, method, path string, body []byte, h http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
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

const listenTestBody = `{"timestamp":"2026-01-02T03:04:05.000Z","deliveryAttemptedAt":"2026-01-02T03:04:06.000Z","webhookId":"whk_aaaaaaaaaaaaaaaa","eventId":"whev_bbbbbbbbbbbbbbbb","payload":{"type":"recording.imported","recordingId":"r1"}}`

// fgwhHeaders signs body with token in SPEC.md's scheme.
func fgwhHeaders(token string, body []byte) http.Header {
	return http.Header{http.CanonicalHeaderKey(sign.Header): {sign.Sign(token, body)}}
}

// withStandard adds Standard Webhooks headers for body signed with secret.
func withStandard(t *testing.T, h http.Header, secret string, body []byte) http.Header {
	t.Helper()
	if err := sign.SetStandardHeaders(h, []string{secret}, "whd_cccccccccccccccc", time.Now(), body); err != nil {
		t.Fatal(err)
	}
	return h
}

func newTestToken(t *testing.T) string {
	t.Helper()
	tok, err := sign.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestListen_Text(t *testing.T) {
	t.Parallel()
	oldTok, newTok, otherTok := newTestToken(t), newTestToken(t), newTestToken(t)
	p := startListen(t, "listen", "--addr", "127.0.0.1:0", "--token", oldTok, "--token", newTok)
	body := []byte(listenTestBody)
	tampered := bytes.Replace(body, []byte(`"r1"`), []byte(`"r2"`), 1)

	requests := []struct {
		name     string
		method   string
		body     []byte
		header   http.Header
		want     int
		wantBody string
	}{
		{"old token", "POST", body, fgwhHeaders(oldTok, body), 200, "ok\n"},
		{"tampered", "POST", tampered, fgwhHeaders(oldTok, body), 400, "fgwh listen: fg-webhook-signature: bad signature\n"},
		{"new token and standard", "POST", body, withStandard(t, fgwhHeaders(newTok, body), newTok, body), 200, "ok\n"},
		{"no signature", "POST", body, nil, 400, "fgwh listen: fg-webhook-signature: missing header\n"},
		{"standard with another secret", "POST", body, withStandard(t, fgwhHeaders(oldTok, body), otherTok, body), 400,
			"fgwh listen: webhook-signature: bad signature\n"},
		{"standard alone", "POST", body, withStandard(t, http.Header{}, oldTok, body), 200, "ok\n"},
		{"GET", "GET", nil, nil, 405, "fgwh listen: notifications are POSTed\n"},
	}
	for _, r := range requests {
		code, got := p.post(t, r.method, "/hooks?x=1", r.body, r.header)
		if code != r.want || got != r.wantBody {
			t.Errorf("%s: answered %d %q, want %d %q", r.name, code, got, r.want, r.wantBody)
		}
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit %d after cancel, want 0", code)
	}
	if s := p.stderr.String(); s != "" {
		t.Errorf("stderr after the address: %q", s)
	}
	prettyBody := func(recordingID string) string {
		return `  {
    "timestamp": "2026-01-02T03:04:05.000Z",
    "deliveryAttemptedAt": "2026-01-02T03:04:06.000Z",
    "webhookId": "whk_aaaaaaaaaaaaaaaa",
    "eventId": "whev_bbbbbbbbbbbbbbbb",
    "payload": {
      "type": "recording.imported",
      "recordingId": "` + recordingID + `"
    }
  }
`
	}
	fields := func(messageID, signature string) string {
		s := "  type:          recording.imported\n" +
			"  webhook:       whk_aaaaaaaaaaaaaaaa\n" +
			"  event:         whev_bbbbbbbbbbbbbbbb\n"
		if messageID != "" {
			s += "  webhook-id:    " + messageID + "\n"
		}
		return s + "  timestamp:     2026-01-02T03:04:05.000Z\n" +
			"  attempted at:  2026-01-02T03:04:06.000Z\n" +
			"  signature:     " + signature + "\n"
	}
	want := "TIME  POST /hooks?x=1  200 OK\n" + fields("", "ok (fgwh)") + prettyBody("r1") + "\n" +
		"TIME  POST /hooks?x=1  400 Bad Request\n" + fields("", "FAILED: fg-webhook-signature: bad signature") + prettyBody("r2") + "\n" +
		"TIME  POST /hooks?x=1  200 OK\n" + fields("whd_cccccccccccccccc", "ok (fgwh, standard)") + prettyBody("r1") + "\n" +
		"TIME  POST /hooks?x=1  400 Bad Request\n" + fields("", "FAILED: fg-webhook-signature: missing header") + prettyBody("r1") + "\n" +
		"TIME  POST /hooks?x=1  400 Bad Request\n" + fields("whd_cccccccccccccccc", "FAILED: webhook-signature: bad signature (fgwh verified)") + prettyBody("r1") + "\n" +
		"TIME  POST /hooks?x=1  200 OK\n" + fields("whd_cccccccccccccccc", "ok (standard)") + prettyBody("r1") + "\n" +
		"TIME  GET /hooks?x=1  405 Method Not Allowed\n" +
		"  error:  notifications are POSTed\n\n"
	got := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z  `).ReplaceAllString(p.stdout.String(), "TIME  ")
	if got != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", got, want)
	}
}

func TestListen_JSON(t *testing.T) {
	t.Parallel()
	tok := newTestToken(t)
	p := startListen(t, "-o", "json", "listen", "--addr", "127.0.0.1:0", "--token", tok)
	body := []byte(listenTestBody)
	if code, _ := p.post(t, "POST", "/", body, withStandard(t, fgwhHeaders(tok, body), tok, body)); code != 200 {
		t.Errorf("signed request answered %d", code)
	}
	if code, _ := p.post(t, "POST", "/", []byte("not json"), fgwhHeaders(tok, body)); code != 400 {
		t.Errorf("tampered request answered %d", code)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit %d after cancel, want 0", code)
	}
	lines := strings.Split(strings.TrimSuffix(p.stdout.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 JSON lines, got:\n%s", p.stdout.String())
	}
	stamp := regexp.MustCompile(`"receivedAt":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"`)
	want := []string{
		`{"receivedAt":"TIME","method":"POST","path":"/","status":200,"verified":true,"schemes":["fgwh","standard"],"error":null,"reason":null,` +
			`"eventType":"recording.imported","webhookId":"whk_aaaaaaaaaaaaaaaa","eventId":"whev_bbbbbbbbbbbbbbbb","messageId":"whd_cccccccccccccccc",` +
			`"timestamp":"2026-01-02T03:04:05.000Z","deliveryAttemptedAt":"2026-01-02T03:04:06.000Z","body":` + listenTestBody + `}`,
		`{"receivedAt":"TIME","method":"POST","path":"/","status":400,"verified":false,"schemes":[],"error":"fg-webhook-signature: bad signature","reason":"bad_signature",` +
			`"eventType":null,"webhookId":null,"eventId":null,"messageId":null,"timestamp":null,"deliveryAttemptedAt":null,"body":"not json"}`,
	}
	for i, line := range lines {
		if !json.Valid([]byte(line)) {
			t.Errorf("line %d is not JSON: %s", i+1, line)
		}
		if got := stamp.ReplaceAllString(line, `"receivedAt":"TIME"`); got != want[i] {
			t.Errorf("line %d:\n%s\nwant:\n%s", i+1, got, want[i])
		}
	}
}

func TestListen_Flags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args     []string
		wantAddr string
		wantToks []string
		wantErr  string
	}{
		{args: []string{"--token", "a"}, wantAddr: "127.0.0.1:8787", wantToks: []string{"a"}},
		{args: []string{"--token", "a,b", "--token", "c", "--addr", "[::1]:0"}, wantAddr: "[::1]:0", wantToks: []string{"a,b", "c"}},
		{args: nil, wantErr: "--token is required"},
		{args: []string{"--token", ""}, wantErr: "--token must not be empty"},
		{args: []string{"--token", "a", "--addr", "8787"}, wantErr: `invalid --addr "8787": missing port in address`},
		{args: []string{"--token", "a", "--addr", "localhost:http"}, wantErr: `invalid --addr "localhost:http": the port must be a number from 0 to 65535`},
		{args: []string{"--token", "a", "--addr", "127.0.0.1:65536"}, wantErr: `invalid --addr "127.0.0.1:65536": the port must be a number from 0 to 65535`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			io, _, _, _ := TestIO()
			var got *ListenOptions
			c := newCmdListenF(NewApp(io), func(o *ListenOptions) error { got = o; return nil })
			quiet(c, tt.args)
			checkFlagErr(t, c.Execute(), tt.wantErr)
			if tt.wantErr != "" {
				return
			}
			if got.Addr != tt.wantAddr || strings.Join(got.Tokens, "|") != strings.Join(tt.wantToks, "|") {
				t.Errorf("addr %q tokens %q, want %q %q", got.Addr, got.Tokens, tt.wantAddr, tt.wantToks)
			}
		})
	}
}

// TestListen_AddressInUse: a second listen on the same address fails with
// exit 1 and says why.
func TestListen_AddressInUse(t *testing.T) {
	t.Parallel()
	p := startListen(t, "listen", "--addr", "127.0.0.1:0", "--token", "a")
	io, _, out, errOut := TestIO()
	code := Main(context.Background(), []string{"listen", "--addr", strings.TrimPrefix(p.url, "http://"), "--token", "a"}, io)
	if code != ExitError || out.String() != "" || !strings.Contains(errOut.String(), "address already in use") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
