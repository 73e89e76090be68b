package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fgwh/fgwh/deliver"
	"github.com/fgwh/fgwh/store"
)

// runIn runs the command line in-process on the database at path.
func runIn(t *testing.T, path string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	io, _, out, errOut := TestIO()
	code = Main(context.Background(), append([]string{"--db", path}, args...), io)
	return code, out.String(), errOut.String()
}

func TestDeliverCmd_Flags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		env  string
		want DeliverOptions
		err  string
	}{
		{args: nil, want: DeliverOptions{Concurrency: 128, Timeout: 5 * time.Second, RetrySchedule: "5s,5m,30m,2h,5h",
			Schedule: deliver.DefaultSchedule(), AutoDisableAfter: 10, LogFormat: "text"}},
		{args: []string{"--once", "--concurrency", "8", "--max-per-webhook", "3", "--timeout", "2s", "--retry-schedule", "1s, 1m",
			"--allow-private-networks", "--auto-disable-after", "0", "--log-format", "json"},
			want: DeliverOptions{Once: true, Concurrency: 8, MaxPerWebhook: 3, Timeout: 2 * time.Second, RetrySchedule: "1s, 1m",
				Schedule: []time.Duration{time.Second, time.Minute}, AllowPrivate: true, LogFormat: "json"}},
		{args: []string{"--retry-schedule", "none"}, want: DeliverOptions{Concurrency: 128, Timeout: 5 * time.Second,
			RetrySchedule: "none", Schedule: []time.Duration{}, AutoDisableAfter: 10, LogFormat: "text"}},
		{env: "1", want: DeliverOptions{Concurrency: 128, Timeout: 5 * time.Second, RetrySchedule: "5s,5m,30m,2h,5h",
			Schedule: deliver.DefaultSchedule(), AllowPrivate: true, AutoDisableAfter: 10, LogFormat: "text"}},
		{args: []string{"--concurrency", "0"}, err: "invalid --concurrency 0: must be at least 1"},
		{args: []string{"--timeout", "-1s"}, err: "invalid --timeout -1s: must be positive"},
		{args: []string{"--retry-schedule", "5s,0s"}, err: `invalid --retry-schedule: retry schedule item 2 "0s" must be positive`},
		{args: []string{"--log-format", "yaml"}, err: `invalid --log-format "yaml": use text or json`},
		{args: []string{"--auto-disable-after", "-2"}, err: "invalid --auto-disable-after -2: must be 0 (off) or more"},
	} {
		t.Run(strings.Join(tc.args, " ")+tc.env, func(t *testing.T) {
			io, _, _, _ := TestIO()
			app := NewApp(io)
			app.Getenv = func(k string) string {
				if k == "FGWH_ALLOW_PRIVATE_NETWORKS" {
					return tc.env
				}
				return ""
			}
			var got *DeliverOptions
			c := deliverCmd(app, func(o *DeliverOptions) error { got = o; return nil })
			c.SetArgs(tc.args)
			c.SetOut(io.Out)
			c.SetErr(io.ErrOut)
			err := c.Execute()
			if tc.err != "" {
				if err == nil || err.Error() != tc.err || exitCode(err) != ExitUsage {
					t.Fatalf("error %v, want usage error %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.App, got.NotifyFunc = nil, nil
			if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", tc.want) {
				t.Fatalf("options\n got %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

// TestWebhookPing_Wait: --wait sends the ping at once and prints the
// outcome; a failed ping exits 1 and stays retrying for "fgwh deliver".
func TestWebhookPing_Wait(t *testing.T) {
	t.Parallel()
	var gotBody []byte
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { gotBody, _ = io.ReadAll(r.Body) }))
	t.Cleanup(ok.Close)
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	t.Cleanup(bad.Close)
	path := filepath.Join(t.TempDir(), "fgwh.db")
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	okHook, _, _ := db.CreateWebhook(context.Background(), store.CreateWebhookParams{URL: ok.URL, EventTypes: []string{"device.created"}}, time.Now())
	badHook, _, _ := db.CreateWebhook(context.Background(), store.CreateWebhookParams{URL: bad.URL, EventTypes: []string{"device.created"}}, time.Now())
	db.Close()

	code, out, errOut := runIn(t, path, "webhook", "ping", okHook.ID, "--wait", "--allow-private-networks")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{"status:       succeeded\n", "status code:  200\n", "error:        -\n", "webhook:      " + okHook.ID + "\n"} {
		if !strings.Contains(out, want) {
			t.Fatalf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(string(gotBody), `"payload":{"type":"ping","webhookId":"`+okHook.ID+`"}`) {
		t.Fatalf("receiver got %s", gotBody)
	}

	code, out, errOut = runIn(t, path, "-o", "json", "webhook", "ping", badHook.ID, "--wait", "--allow-private-networks")
	if code != 1 || errOut != "fgwh: ping failed: receiver answered 503 Service Unavailable\n" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var v struct {
		DeliveryID string  `json:"deliveryId"`
		Status     string  `json:"status"`
		StatusCode int     `json:"statusCode"`
		ErrorCode  string  `json:"errorCode"`
		Error      *string `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if v.Status != store.StatusRetrying || v.StatusCode != 503 || v.ErrorCode != "http_status" || v.Error == nil {
		t.Fatalf("json %+v", v)
	}

	// Without --allow-private-networks the guard refuses 127.0.0.1.
	code, out, _ = runIn(t, path, "webhook", "ping", okHook.ID, "--wait")
	if code != 1 || !strings.Contains(out, "blocked_address") {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
}

// TestProgress: on a terminal, "deliver --once" keeps a status line that
// log lines are written above.
func TestProgress(t *testing.T) {
	var buf strings.Builder
	p := &progress{w: &buf}
	p.attempt(deliver.Attempt{Status: store.StatusSucceeded})
	io.WriteString(p, "log line\n")
	p.clear()
	want := "\r\x1b[K1 attempts: 1 succeeded, 0 retrying, 0 failed" +
		"\r\x1b[Klog line\n1 attempts: 1 succeeded, 0 retrying, 0 failed" +
		"\r\x1b[K"
	if buf.String() != want {
		t.Fatalf("wrote %q\nwant  %q", buf.String(), want)
	}
	var nilProgress *progress
	nilProgress.clear()
}
