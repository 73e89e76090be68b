package main

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fgwh/fgwh/sign"
)

// TestListenProcess runs the real binary: it prints where it listens,
// answers a signed request 200 and a tampered one 400, and exits 0 on
// SIGINT and on SIGTERM.
func TestListenProcess(t *testing.T) {
	t.Parallel()
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			token, err := sign.NewToken()
			if err != nil {
				t.Fatal(err)
			}
			c := exec.Command(fgwhBinary(t), "listen", "--addr", "127.0.0.1:0", "--token", token)
			dbPath := filepath.Join(t.TempDir(), "unused.db")
			c.Env = append(os.Environ(), "FGWH_DB="+dbPath)
			var stdout bytes.Buffer
			c.Stdout = &stdout
			stderr, err := c.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			t.Cleanup(func() {
				c.Process.Kill()
			})
			// Reading the first line waits for listen to be ready; a
			// failure to start closes the pipe and ends the read.
			first, _ := bufio.NewReader(stderr).ReadString('\n')
			go func() { exited <- c.Wait() }()
			url, ok := strings.CutPrefix(strings.TrimSpace(first), "listening on ")
			if !ok {
				t.Fatalf("first stderr line %q", first)
			}
			body := []byte(`{"timestamp":"2026-01-02T03:04:05.000Z","deliveryAttemptedAt":"2026-01-02T03:04:06.000Z","webhookId":"whk_a","eventId":"whev_b","payload":{"type":"ping","webhookId":"whk_a"}}`)
			post := func(b []byte) int {
				req, _ := http.NewRequest("POST", url+"/", bytes.NewReader(b))
				req.Header.Set(sign.Header, sign.Sign(token, body))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if code := post(body); code != 200 {
				t.Errorf("signed request: %d, want 200", code)
			}
			if code := post(bytes.Replace(body, []byte("whev_b"), []byte("whev_c"), 1)); code != 400 {
				t.Errorf("tampered request: %d, want 400", code)
			}
			if err := c.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("listen exited with %v after %s, want exit 0", err, sig)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("listen still running 10s after %s", sig)
			}
			out := stdout.String()
			if strings.Count(out, "  signature:     ok (fgwh)\n") != 1 ||
				strings.Count(out, "  signature:     FAILED: fg-webhook-signature: bad signature\n") != 1 {
				t.Errorf("stdout:\n%s", out)
			}
			if _, err := os.Stat(dbPath); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("listen touched the database: %v", err)
			}
		})
	}
}
