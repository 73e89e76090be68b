package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fgwhEnv is an environment for running the binary on one database, with
// HOME and XDG_DATA_HOME inside dir so nothing outside it is touched.
func fgwhEnv(dir, db string, extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"XDG_DATA_HOME=" + filepath.Join(dir, ".data"),
		"FGWH_DB=" + db,
	}
	return append(env, extra...)
}

// transcript is one run of the binary.
type transcript struct {
	args           []string
	stdout, stderr string
	code           int
	// showsToken is set for the commands that print a token on purpose:
	// webhook create and webhook rotate-token.
	showsToken bool
}

// secretsRun runs the binary and keeps every transcript.
type secretsRun struct {
	t    *testing.T
	bin  string
	env  []string
	mu   sync.Mutex
	runs []*transcript
}

// run runs fgwh with args and stdin, checks its exit code and returns the
// transcript.
func (r *secretsRun) run(wantCode int, stdin string, args ...string) *transcript {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, r.bin, args...)
	c.Env = r.env
	c.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatalf("fgwh %s: %v", strings.Join(args, " "), err)
	}
	tr := &transcript{args: args, stdout: stdout.String(), stderr: stderr.String(), code: code}
	r.mu.Lock()
	r.runs = append(r.runs, tr)
	r.mu.Unlock()
	if code != wantCode {
		r.t.Fatalf("fgwh %s exited %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCode, tr.stdout, tr.stderr)
	}
	return tr
}

// both runs args with table output and with -o json.
func (r *secretsRun) both(wantCode int, args ...string) {
	r.t.Helper()
	r.run(wantCode, "", args...)
	r.run(wantCode, "", append([]string{"-o", "json"}, args...)...)
}

// jsonField reads a string field of the JSON object tr printed.
func (tr *transcript) jsonField(t *testing.T, field string) string {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal([]byte(tr.stdout), &obj); err != nil {
		t.Fatalf("fgwh %s: stdout is not a JSON object: %v\n%s", strings.Join(tr.args, " "), err, tr.stdout)
	}
	s, ok := obj[field].(string)
	if !ok {
		t.Fatalf("fgwh %s: no string %q in %s", strings.Join(tr.args, " "), field, tr.stdout)
	}
	return s
}

var tableToken = regexp.MustCompile(`(?m)^token:\s+(\S+)$`)

// tableToken reads the token from a table printed by create or rotate-token.
func (tr *transcript) tableToken(t *testing.T) string {
	t.Helper()
	m := tableToken.FindStringSubmatch(tr.stdout)
	if m == nil {
		t.Fatalf("fgwh %s: no token line in\n%s", strings.Join(tr.args, " "), tr.stdout)
	}
	return m[1]
}

// secretForms returns the ways a token could leak: as printed, without its
// whsec_ prefix, and its key bytes in hex and in other base64 alphabets.
func secretForms(token string) []string {
	forms := []string{token}
	rest, ok := strings.CutPrefix(token, "whsec_")
	if ok {
		forms = append(forms, rest)
	}
	if key, err := base64.StdEncoding.DecodeString(rest); err == nil && len(key) >= 16 {
		forms = append(forms,
			hex.EncodeToString(key),
			base64.RawStdEncoding.EncodeToString(key),
			base64.RawURLEncoding.EncodeToString(key))
	}
	return forms
}

// secretsReceiver is an in-process receiver that answers 200, except under
// /fail, and fails the test if a request carries a token in any form.
type secretsReceiver struct {
	t      *testing.T
	mu     sync.Mutex
	forms  []string
	count  int
	leaked []string
}

func (s *secretsReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var wire strings.Builder
	wire.WriteString(r.URL.String() + "\n")
	r.Header.Write(&wire)
	wire.Write(body)
	s.mu.Lock()
	s.count++
	for _, f := range s.forms {
		if strings.Contains(wire.String(), f) {
			s.leaked = append(s.leaked, wire.String())
		}
	}
	s.mu.Unlock()
	if strings.HasPrefix(r.URL.Path, "/fail") {
		// Echo the request headers back, so a token in them would be stored
		// as the attempt's response body and printed by deliveries show.
		w.WriteHeader(http.StatusInternalServerError)
		r.Header.Write(w)
		return
	}
	io.WriteString(w, "ok")
}

func (s *secretsReceiver) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

func (s *secretsReceiver) addTokens(tokens ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tok := range tokens {
		s.forms = append(s.forms, secretForms(tok)...)
	}
}

// TestSecrets_TokensNeverPrinted runs every command against a database with
// webhooks whose tokens were rotated, with table and JSON output, and checks
// that no token, old or new, appears anywhere except in what webhook create
// and webhook rotate-token print, nor on the wire. It also checks that the
// database, its WAL and shared-memory files are 0600 and its directory 0700,
// even when fgwh starts under umask 000.
func TestSecrets_TokensNeverPrinted(t *testing.T) {
	t.Parallel()
	bin := fgwhBinary(t)
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	db := filepath.Join(dataDir, "fgwh.db")
	r := &secretsRun{t: t, bin: bin, env: fgwhEnv(dir, db, "FGWH_ALLOW_PRIVATE_NETWORKS=1")}

	recv := &secretsReceiver{t: t}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)

	// The first command creates the database under umask 000.
	sh := exec.Command("/bin/sh", "-c", `umask 000; exec "$0" "$@"`, bin, "webhook", "list")
	sh.Env = r.env
	if out, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("webhook list under umask 000: %v\n%s", err, out)
	}
	var tokens []string
	create := func(args ...string) (id, token string) {
		t.Helper()
		tr := r.run(0, "", append([]string{"-o", "json", "webhook", "create"}, args...)...)
		tr.showsToken = true
		id, token = tr.jsonField(t, "id"), tr.jsonField(t, "token")
		tokens = append(tokens, token)
		return id, token
	}
	createTable := func(args ...string) (id, token string) {
		t.Helper()
		tr := r.run(0, "", append([]string{"webhook", "create"}, args...)...)
		tr.showsToken = true
		token = tr.tableToken(t)
		tokens = append(tokens, token)
		m := regexp.MustCompile(`(?m)^id:\s+(whk_\S+)$`).FindStringSubmatch(tr.stdout)
		if m == nil {
			t.Fatalf("no id in\n%s", tr.stdout)
		}
		return m[1], token
	}
	rotate := func(args ...string) string {
		t.Helper()
		tr := r.run(0, "", args...)
		tr.showsToken = true
		var token string
		if args[0] == "-o" {
			token = tr.jsonField(t, "token")
		} else {
			token = tr.tableToken(t)
		}
		tokens = append(tokens, token)
		return token
	}

	okA, _ := createTable("--url", srv.URL+"/a", "--event", "device.created,device.updated", "--name", "a")
	okB, _ := create("--url", srv.URL+"/b", "--event", "device.created", "--signature-scheme", "both")
	failC, _ := create("--url", srv.URL+"/fail/c", "--event", "device.created", "--name", "c")
	offD, _ := createTable("--url", srv.URL+"/d", "--event", "session.created", "--disabled")
	rotate("webhook", "rotate-token", okA)
	rotate("-o", "json", "webhook", "rotate-token", okB, "--grace", "1h")
	rotate("webhook", "rotate-token", failC)
	rotate("-o", "json", "webhook", "rotate-token", okA)
	recv.addTokens(tokens...)

	// A's notifications go to "fgwh listen", which verifies them with A's
	// current token and prints them; its output is checked like the rest.
	listenOut, stopListen := startListen(t, r, tokens[len(tokens)-1])
	r.run(0, "", "webhook", "edit", okA, "--url", listenOut)

	r.both(0, "event", "emit", "device.created", "--data", "deviceId=d1")
	r.both(0, "event", "emit", "device.updated", "--data-json", `{"deviceId":"d2","n":1}`)
	r.run(0, `{"type":"session.created","payload":{"sessionId":"s1"}}`+"\n", "event", "emit", "--file", "-")
	r.run(0, "", "-o", "json", "event", "emit", "--file", "-")
	r.both(0, "webhook", "ping", okA)
	r.both(0, "webhook", "ping", failC)
	// ping --wait sends at once and prints the outcome; C's receiver echoes
	// the request headers into the response body it prints.
	r.both(0, "webhook", "ping", okB, "--wait")
	r.both(1, "webhook", "ping", failC, "--wait")

	// Deliver: C answers 500, so its deliveries end failed (exit 4). It is
	// never disabled for it, so every retry below is attempted.
	r.run(4, "", "deliver", "--once", "--auto-disable-after", "0", "--retry-schedule", "none")
	r.both(0, "event", "emit", "device.created", "--data", "deviceId=d3")
	r.run(4, "", "deliver", "--once", "--auto-disable-after", "0", "--retry-schedule", "none", "--log-format", "json")
	r.run(0, "", "-o", "json", "deliver", "--once", "--auto-disable-after", "0")
	failed := r.run(0, "", "-o", "json", "deliveries", "list", "--status", "failed")
	var fs []struct{ ID string }
	if err := json.Unmarshal([]byte(failed.stdout), &fs); err != nil || len(fs) < 4 {
		t.Fatalf("want at least 4 failed deliveries: %v\n%s", err, failed.stdout)
	}
	r.both(0, "deliveries", "list", "--status", "failed")
	r.run(0, "", "deliveries", "retry", fs[0].ID)
	r.run(0, "", "-o", "json", "deliveries", "retry", fs[1].ID)
	r.run(4, "", "deliver", "--once", "--auto-disable-after", "0", "--log-format", "json")
	r.run(0, "", "deliveries", "retry", "--all-failed", "--webhook", failC)
	r.run(4, "", "deliver", "--once", "--auto-disable-after", "0")
	r.run(0, "", "-o", "json", "deliveries", "retry", "--all-failed")
	r.run(4, "", "-o", "json", "deliver", "--once", "--auto-disable-after", "0", "--log-format", "json")
	if recv.requests() == 0 {
		t.Fatal("the receiver got no requests")
	}

	if out := stopListen(); strings.Count(out, "ok (fgwh)") < 2 || strings.Contains(out, "FAILED") {
		t.Fatalf("fgwh listen did not verify A's notifications:\n%s", out)
	}

	// A deliver that keeps running, started under umask 000, has the WAL and
	// shared-memory files open: they must be as private as the database.
	checkRunningDeliverModes(t, r, db)

	r.both(0, "webhook", "list")
	for _, id := range []string{okA, okB, failC, offD} {
		r.both(0, "webhook", "show", id)
	}
	r.both(0, "webhook", "edit", okB, "--name", "b")
	r.both(0, "webhook", "edit", offD, "--url", srv.URL+"/d2", "--event", "session.created,device.created")
	r.both(0, "webhook", "enable", offD)
	r.both(0, "webhook", "disable", offD)
	r.both(0, "webhook", "enable", offD)

	events := r.run(0, "", "-o", "json", "event", "list")
	r.run(0, "", "event", "list")
	r.both(0, "event", "list", "--type", "device.created", "--limit", "1")
	r.both(0, "event", "types")
	var evs []struct{ ID string }
	if err := json.Unmarshal([]byte(events.stdout), &evs); err != nil || len(evs) == 0 {
		t.Fatalf("event list: %v\n%s", err, events.stdout)
	}
	for _, ev := range evs {
		r.both(0, "event", "show", ev.ID)
	}

	r.both(0, "deliveries", "list")
	r.both(0, "deliveries", "list", "--status", "pending", "--webhook", okA)
	dels := r.run(0, "", "-o", "json", "deliveries", "list")
	var ds []struct{ ID string }
	if err := json.Unmarshal([]byte(dels.stdout), &ds); err != nil || len(ds) == 0 {
		t.Fatalf("deliveries list: %v\n%s", err, dels.stdout)
	}
	for _, d := range ds {
		r.both(0, "deliveries", "show", d.ID)
	}
	r.both(0, "deliveries", "prune", "--older-than", "30d")

	// Deleting a webhook prints no token either.
	gone, _ := create("--url", srv.URL+"/e", "--event", "device.created", "--name", "e")
	r.run(0, "", "webhook", "delete", offD, "--yes")
	r.run(0, "", "-o", "json", "webhook", "delete", gone, "--yes")

	// Errors must not print tokens either.
	r.both(3, "webhook", "show", "whk_0000000000000000")
	r.both(2, "webhook", "create", "--url", "ftp://x", "--event", "device.created")
	r.both(2, "event", "emit", "device.created")
	body := `{"hello":"world"}`
	// The token is given on the command line here; echoing it would still
	// put it in CI logs.
	for _, tok := range tokens[len(tokens)-2:] {
		r.run(1, body, "verify", "--token", tok, "--signature", strings.Repeat("0", 64))
	}

	// A copy made by migrate is as private as the original.
	copyDB := filepath.Join(dir, "copy", "fgwh.db")
	r.both(0, "migrate", "--to", copyDB, "--replace")
	checkMode(t, copyDB, 0o600)
	checkMode(t, filepath.Dir(copyDB), 0o700|os.ModeDir)

	checkMode(t, db, 0o600)
	checkMode(t, dataDir, 0o700|os.ModeDir)

	checkNoTokens(t, r, recv, tokens)
}

// startListen starts "fgwh listen" on a free port with token and returns
// its URL and a function that stops it, records its transcript and returns
// its stdout.
func startListen(t *testing.T, r *secretsRun, token string) (string, func() string) {
	t.Helper()
	c := exec.Command(r.bin, "listen", "--addr", "127.0.0.1:0", "--token", token)
	c.Env = r.env
	var stdout lockedBuffer
	stderr, err := c.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.Stdout = &stdout
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	// The first line on stderr is "listening on http://127.0.0.1:PORT".
	var errOut lockedBuffer
	first := make(chan string, 1)
	go func() {
		buf := make([]byte, 4096)
		var line []byte
		sent := false
		for {
			n, err := stderr.Read(buf)
			errOut.Write(buf[:n])
			if !sent {
				line = append(line, buf[:n]...)
				if i := bytes.IndexByte(line, '\n'); i >= 0 {
					first <- string(line[:i])
					sent = true
				}
			}
			if err != nil {
				if !sent {
					first <- string(line)
				}
				return
			}
		}
	}()
	var url string
	select {
	case l := <-first:
		var ok bool
		if url, ok = strings.CutPrefix(l, "listening on "); !ok {
			c.Process.Kill()
			t.Fatalf("fgwh listen said %q", l)
		}
	case <-time.After(10 * time.Second):
		c.Process.Kill()
		t.Fatal("fgwh listen did not say where it listens within 10s")
	}
	stopped := false
	stop := func() string {
		if !stopped {
			stopped = true
			c.Process.Signal(syscall.SIGTERM)
			c.Wait()
			r.mu.Lock()
			r.runs = append(r.runs, &transcript{args: []string{"listen", "--token", "…"}, stdout: stdout.String(), stderr: errOut.String()})
			r.mu.Unlock()
		}
		return stdout.String()
	}
	t.Cleanup(func() { stop() })
	return url + "/a", stop
}

// checkRunningDeliverModes starts "fgwh deliver" under umask 000, waits for
// the -wal and -shm files, checks they are 0600, stops it with SIGTERM and
// keeps its log.
func checkRunningDeliverModes(t *testing.T, r *secretsRun, db string) {
	t.Helper()
	c := exec.Command("/bin/sh", "-c", `umask 000; exec "$0" "$@"`, r.bin, "deliver", "--log-format", "json")
	c.Env = r.env
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	defer func() {
		c.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("deliver after SIGTERM: %v\nstderr: %s", err, &stderr)
			}
		case <-time.After(15 * time.Second):
			c.Process.Kill()
			t.Errorf("deliver did not stop within 15s of SIGTERM")
		}
		r.mu.Lock()
		r.runs = append(r.runs, &transcript{args: []string{"deliver", "(running)"}, stdout: stdout.String(), stderr: stderr.String()})
		r.mu.Unlock()
	}()
	deadline := time.Now().Add(10 * time.Second)
	for _, suffix := range []string{"-wal", "-shm"} {
		for {
			if _, err := os.Stat(db + suffix); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s%s not there 10s after deliver started", db, suffix)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		checkMode(t, db+suffix, 0o600)
	}
}

// checkNoTokens fails if any transcript, other than the output of create
// and rotate-token, holds a token in any form, or a request carried one.
func checkNoTokens(t *testing.T, r *secretsRun, recv *secretsReceiver, tokens []string) {
	t.Helper()
	var forms []string
	for _, tok := range tokens {
		forms = append(forms, secretForms(tok)...)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, tr := range r.runs {
		for _, f := range forms {
			if tr.showsToken {
				continue
			}
			if strings.Contains(tr.stdout, f) || strings.Contains(tr.stderr, f) {
				t.Errorf("fgwh %s printed a token (%q)\nstdout: %s\nstderr: %s", strings.Join(tr.args, " "), f, tr.stdout, tr.stderr)
			}
		}
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	for _, w := range recv.leaked {
		t.Errorf("a request carried a token:\n%s", w)
	}
	t.Logf("%d commands run, %d tokens (%d forms each) checked, %d requests received", len(r.runs), len(tokens), len(forms)/len(tokens), recv.count)
}

// checkMode fails unless path has exactly mode (type and permission bits).
func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode() & (os.ModeType | os.ModePerm); got != want {
		t.Errorf("%s has mode %v, want %v", path, got, want)
	}
}

// lockedBuffer is a bytes.Buffer safe to read while a process writes to it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
