// Package examples tests the example receivers in examples/go,
// examples/python and examples/node: each runs as a real process on
// 127.0.0.1 and receives real deliveries from fgwh.
package examples

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fgwh/fgwh/sign"
	"github.com/fgwh/fgwh/store"
)

// receiverCmd says how to start one example receiver on a free port.
type receiverCmd struct {
	name string
	// command returns the program and arguments, or skips the test.
	command func(t *testing.T) []string
}

var receivers = []receiverCmd{
	{"go", func(t *testing.T) []string {
		goTool, err := exec.LookPath("go")
		if err != nil {
			t.Skip("go not found in PATH: cannot build the Go example")
		}
		bin := filepath.Join(t.TempDir(), "receiver")
		out, err := exec.Command(goTool, "build", "-o", bin, "./go").CombinedOutput()
		if err != nil {
			t.Fatalf("go build ./go: %v\n%s", err, out)
		}
		return []string{bin, "0"}
	}},
	{"python", func(t *testing.T) []string {
		if _, err := exec.LookPath("python3"); err != nil {
			t.Skip("python3 not found in PATH: the Python example is not tested")
		}
		return []string{"python3", "python/receiver.py", "0"}
	}},
	{"node", func(t *testing.T) []string {
		if _, err := exec.LookPath("node"); err != nil {
			t.Skip("node not found in PATH: the Node example is not tested")
		}
		return []string{"node", "node/receiver.js", "0"}
	}},
}

// schemes are the signature schemes each receiver is tested with: one
// webhook per scheme, all pointing at the same receiver.
var schemes = []string{store.SchemeFGWH, store.SchemeStandard, store.SchemeBoth}

func TestReceivers(t *testing.T) {
	t.Parallel()
	for _, rc := range receivers {
		t.Run(rc.name, func(t *testing.T) {
			t.Parallel()
			testReceiver(t, rc)
		})
	}
}

func testReceiver(t *testing.T, rc receiverCmd) {
	ctx := t.Context()
	b := setup(t)
	args := rc.command(t)

	hooks := map[string]store.Webhook{} // by scheme
	tokens := map[string]string{}       // by webhook id
	var allTokens []string
	for _, scheme := range schemes {
		w, token, err := b.db.CreateWebhook(ctx, store.CreateWebhookParams{
			Name:            scheme,
			URL:             b.capture.server.URL + "/hooks",
			EventTypes:      []string{"recording.imported"},
			SignatureScheme: scheme,
		}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		hooks[scheme], tokens[w.ID] = w, token
		allTokens = append(allTokens, token)
	}
	proc := startReceiver(t, args, strings.Join(allTokens, ","))
	b.capture.setTarget(proc.url)

	emit := func(rec string, now time.Time) string {
		t.Helper()
		em, err := b.db.EmitEvents(ctx, []store.NewEvent{{
			Type:    "recording.imported",
			Payload: []byte(`{"type":"recording.imported","recordingId":"` + rec + `"}`),
		}}, now)
		if err != nil {
			t.Fatal(err)
		}
		if em[0].Deliveries != len(schemes) {
			t.Fatalf("emit queued %d deliveries, want %d", em[0].Deliveries, len(schemes))
		}
		return em[0].Event.ID
	}

	// Two events, each to the three webhooks: six deliveries, each
	// verified and processed once.
	events := []string{emit("rec_1", time.Now()), emit("rec_2", time.Now())}
	if sum := b.deliverDue(t, time.Now); sum.Attempts != 6 || sum.Succeeded != 6 {
		t.Errorf("deliver made %d attempts, %d succeeded; want 6, 6", sum.Attempts, sum.Succeeded)
	}

	ds := b.deliveries(t)
	if len(ds) != 2*len(schemes) {
		t.Fatalf("%d deliveries, want %d", len(ds), 2*len(schemes))
	}
	var want []string
	for _, d := range ds {
		if d.Status != store.StatusSucceeded || d.Attempts != 1 || d.LastStatusCode != 200 {
			t.Errorf("delivery %s to %s: status %s after %d attempts, last status code %d (%s), want succeeded after 1 with 200",
				d.ID, d.WebhookID, d.Status, d.Attempts, d.LastStatusCode, d.LastError)
		}
	}
	for _, scheme := range schemes {
		for _, ev := range events {
			want = append(want, fmt.Sprintf("notification webhookId=%s eventId=%s type=recording.imported verified=%s",
				hooks[scheme].ID, ev, verifiedFor(scheme)))
		}
	}
	sort.Strings(want)
	got := proc.waitStdout(t, len(want))
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("receiver printed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	for _, scheme := range schemes {
		req := b.capture.first(t, hooks[scheme].ID)
		if hasStd := req.header.Get(sign.HeaderWebhookSignature) != ""; hasStd != (scheme != store.SchemeFGWH) {
			t.Errorf("%s: webhook-signature sent = %v", scheme, hasStd)
		}

		// The exact request again, as an attacker or a confused proxy would
		// send it: acknowledged, not processed again.
		status, answer := send(t, proc.url, req.header, req.body)
		if status != 200 || answer != "duplicate" {
			t.Errorf("%s: replayed request answered %d %q, want 200 \"duplicate\"", scheme, status, answer)
		}

		// A changed body fails the signature check.
		tampered := bytes.Replace(req.body, []byte(`"recordingId":"rec_`), []byte(`"recordingId":"REC_`), 1)
		if bytes.Equal(tampered, req.body) {
			t.Fatalf("%s: body %s has no recordingId to change", scheme, req.body)
		}
		if status, answer := send(t, proc.url, req.header, tampered); status != 401 {
			t.Errorf("%s: tampered body answered %d %q, want 401", scheme, status, answer)
		}

		// A request signed with the right token but attempted ten minutes
		// ago is refused.
		stale := staleRequest(t, tokens[hooks[scheme].ID], scheme, req, time.Now().Add(-10*time.Minute))
		if status, answer := send(t, proc.url, stale.header, stale.body); status != 400 {
			t.Errorf("%s: stale attempt answered %d %q, want 400", scheme, status, answer)
		}

		// Standard Webhooks alone: a webhook-timestamp ten minutes old is
		// refused even though the body's deliveryAttemptedAt is fresh.
		if scheme != store.SchemeFGWH {
			h := req.header.Clone()
			h.Del(sign.Header)
			err := sign.SetStandardHeaders(h, []string{tokens[hooks[scheme].ID]}, req.header.Get(sign.HeaderWebhookID),
				time.Now().Add(-10*time.Minute), req.body)
			if err != nil {
				t.Fatal(err)
			}
			if status, answer := send(t, proc.url, h, req.body); status != 400 {
				t.Errorf("%s: stale webhook-timestamp answered %d %q, want 400", scheme, status, answer)
			}
		}

		// Unsigned: 401.
		unsigned := req.header.Clone()
		unsigned.Del(sign.Header)
		unsigned.Del(sign.HeaderWebhookSignature)
		if status, answer := send(t, proc.url, unsigned, req.body); status != 401 {
			t.Errorf("%s: unsigned request answered %d %q, want 401", scheme, status, answer)
		}
	}

	// fgwh itself delivers a notification again (a manual retry of a
	// succeeded delivery): the receiver acknowledges it and does not
	// process it twice.
	first := ds[0]
	if _, err := b.db.RetryDeliveries(ctx, []string{first.ID}, time.Now()); err != nil {
		t.Fatal(err)
	}
	b.deliverDue(t, time.Now)
	again, err := b.db.GetDelivery(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if again.Status != store.StatusSucceeded || again.Attempts != 2 || again.LastStatusCode != 200 {
		t.Errorf("retried delivery: status %s after %d attempts, last status code %d, want succeeded after 2 with 200",
			again.Status, again.Attempts, again.LastStatusCode)
	}
	proc.waitStderr(t, "duplicate webhookId="+first.WebhookID+" eventId="+first.EventID)

	// fgwh attempts deliveries with a clock ten minutes slow: the receiver
	// refuses every stale attempt with 400 and processes nothing. The
	// retries, made on time, go through once.
	late := func() time.Time { return time.Now().Add(-10 * time.Minute) }
	staleEvent := emit("rec_3", late())
	if sum := b.deliverDue(t, late); sum.Attempts != 3 || sum.Retrying != 3 {
		t.Errorf("late deliver made %d attempts, %d retrying; want 3, 3", sum.Attempts, sum.Retrying)
	}
	for _, scheme := range schemes {
		d := b.deliveryOf(t, hooks[scheme].ID, staleEvent)
		if d.Status != store.StatusRetrying || d.LastStatusCode != 400 {
			t.Errorf("%s: stale delivery %s, last status code %d (%s); want retrying after 400",
				scheme, d.Status, d.LastStatusCode, d.LastError)
		}
	}
	if sum := b.deliverDue(t, time.Now); sum.Attempts != 3 || sum.Succeeded != 3 {
		t.Errorf("deliver on time made %d attempts, %d succeeded; want 3, 3", sum.Attempts, sum.Succeeded)
	}
	for _, scheme := range schemes {
		want = append(want, fmt.Sprintf("notification webhookId=%s eventId=%s type=recording.imported verified=%s",
			hooks[scheme].ID, staleEvent, verifiedFor(scheme)))
	}
	sort.Strings(want)
	got = proc.waitStdout(t, len(want))
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("receiver printed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Nothing more was processed: stop the receiver and count its lines.
	out := proc.stop(t)
	if n := strings.Count(out, "notification "); n != len(want) {
		t.Errorf("receiver printed %d notification lines, want %d:\n%s", n, len(want), out)
	}
}

// verifiedFor is what a receiver reports for a webhook's scheme: every
// scheme whose headers the delivery carries.
func verifiedFor(scheme string) string {
	switch scheme {
	case store.SchemeStandard:
		return "fgwh,standard"
	case store.SchemeBoth:
		return "fgwh,standard"
	}
	return "fgwh"
}

// staleRequest re-signs a captured request's notification with its
// deliveryAttemptedAt (and webhook-timestamp) set to at.
func staleRequest(t *testing.T, token, scheme string, req capturedRequest, at time.Time) capturedRequest {
	t.Helper()
	re := regexp.MustCompile(`"deliveryAttemptedAt":"[^"]*"`)
	body := re.ReplaceAll(req.body, []byte(`"deliveryAttemptedAt":"`+at.UTC().Format("2006-01-02T15:04:05.000Z")+`"`))
	if bytes.Equal(body, req.body) {
		t.Fatalf("body %s has no deliveryAttemptedAt", req.body)
	}
	h := req.header.Clone()
	h.Set(sign.Header, sign.Sign(token, body))
	if scheme != store.SchemeFGWH {
		if err := sign.SetStandardHeaders(h, []string{token}, req.header.Get(sign.HeaderWebhookID), at, body); err != nil {
			t.Fatal(err)
		}
	}
	return capturedRequest{header: h, body: body}
}

// send POSTs body with header to url and returns the status and the answer's
// first line.
func send(t *testing.T, url string, header http.Header, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/hooks", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Content-Length" {
			continue
		}
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	first, _, _ := strings.Cut(string(answer), "\n")
	return resp.StatusCode, first
}

type testBundle struct {
	db      *store.DB
	capture *capture
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	db, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "fgwh.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := &capture{}
	c.server = httptest.NewServer(c)
	t.Cleanup(c.server.Close)
	return &testBundle{db: db, capture: c}
}

// deliveryOf returns the delivery of an event to a webhook.
func (b *testBundle) deliveryOf(t *testing.T, webhookID, eventID string) store.Delivery {
	t.Helper()
	ds, err := b.db.ListDeliveries(t.Context(), store.ListDeliveriesParams{WebhookID: webhookID, EventID: eventID})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 {
		t.Fatalf("%d deliveries of event %s to webhook %s, want 1", len(ds), eventID, webhookID)
	}
	return ds[0]
}

func (b *testBundle) deliveries(t *testing.T) []store.Delivery {
	t.Helper()
	ds, err := b.db.ListDeliveries(t.Context(), store.ListDeliveriesParams{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// capture is a pass-through proxy in front of a receiver that records each
// request fgwh sends, so the test can replay and tamper with real ones.
type capture struct {
	server *httptest.Server

	mu     sync.Mutex
	target string
	reqs   []capturedRequest
}

type capturedRequest struct {
	header http.Header
	body   []byte
}

func (c *capture) setTarget(url string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.target = url
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	c.mu.Lock()
	target := c.target
	c.reqs = append(c.reqs, capturedRequest{header: r.Header.Clone(), body: body})
	c.mu.Unlock()
	out, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.Path, bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// first returns the first request captured for a webhook.
func (c *capture) first(t *testing.T, webhookID string) capturedRequest {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.reqs {
		if bytes.Contains(r.body, []byte(`"webhookId":"`+webhookID+`"`)) {
			return r
		}
	}
	t.Fatalf("no request captured for webhook %s", webhookID)
	return capturedRequest{}
}

// process is a running example receiver.
type process struct {
	cmd *exec.Cmd
	url string
	// done is closed when the process has exited and its output is read.
	done chan struct{}

	mu             sync.Mutex
	stdout, stderr []string
	changed        chan struct{}
}

// startReceiver starts an example receiver with FGWH_TOKEN set to tokens
// and waits until it says where it listens.
func startReceiver(t *testing.T, args []string, tokens string) *process {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "FGWH_TOKEN="+tokens, "HOST=127.0.0.1", "PORT=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan struct{}), changed: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Add(2)
	go p.read(&wg, stdout, &p.stdout)
	go p.read(&wg, stderr, &p.stderr)
	go func() {
		wg.Wait()
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	line := p.waitStderr(t, "listening on ")
	p.url = "http://" + strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	return p
}

func (p *process) read(wg *sync.WaitGroup, r io.Reader, lines *[]string) {
	defer wg.Done()
	s := bufio.NewScanner(r)
	for s.Scan() {
		p.mu.Lock()
		*lines = append(*lines, s.Text())
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}
}

// waitFor waits until match finds something in the process's output.
func (p *process) waitFor(t *testing.T, what string, match func() (string, bool)) string {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		got, ok := match()
		changed := p.changed
		p.mu.Unlock()
		if ok {
			return got
		}
		select {
		case <-changed:
		case <-p.done:
			p.mu.Lock()
			got, ok = match()
			p.mu.Unlock()
			if ok {
				return got
			}
			t.Fatalf("receiver exited before %s\n%s", what, p.dump())
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s\n%s", what, p.dump())
		}
	}
}

// waitStderr waits for a stderr line starting with prefix and returns it.
func (p *process) waitStderr(t *testing.T, prefix string) string {
	t.Helper()
	return p.waitFor(t, fmt.Sprintf("stderr line %q", prefix), func() (string, bool) {
		for _, l := range p.stderr {
			if strings.HasPrefix(l, prefix) {
				return l, true
			}
		}
		return "", false
	})
}

// waitStdout waits for n stdout lines and returns them.
func (p *process) waitStdout(t *testing.T, n int) []string {
	t.Helper()
	p.waitFor(t, fmt.Sprintf("%d stdout lines", n), func() (string, bool) {
		return "", len(p.stdout) >= n
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.stdout...)
}

func (p *process) output() string { return strings.Join(p.stdout, "\n") }

// dump returns all output so far, for failure messages.
func (p *process) dump() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return "stdout:\n" + p.output() + "\nstderr:\n" + strings.Join(p.stderr, "\n")
}

// stop ends the process with SIGTERM, waits for it and returns its stdout.
func (p *process) stop(t *testing.T) string {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatal("receiver did not exit after SIGTERM")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output()
}
