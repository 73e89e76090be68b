package cmd

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fgwh/fgwh/store"
	"github.com/spf13/cobra"
)

// deliveriesBundle is a database holding deliveries in every status, made
// through the store's own methods (emit, claim, complete), for states the
// command line cannot make without a receiver.
type deliveriesBundle struct {
	dbPath string
	t0     time.Time
	hookA  string // subscribes to recording.imported
	hookB  string // subscribes to device.created
	// Deliveries by status; all to hookA except retrying (hookB).
	succeeded, failed, delivering, pending, retrying string
	// Events of the deliveries above.
	succeededEvent string
}

// setupDeliveries makes, at t0 = 2026-01-02T03:04:05Z:
//
//	t0+1m  hookA recording.imported  succeeded (200 "ok")
//	t0+2m  hookA recording.imported  failed (500, http_status)
//	t0+3m  hookA recording.imported  delivering
//	t0+4m  hookB device.created      retrying (connection refused), due t0+1h
//	t0+5m  hookA recording.imported  pending
func setupDeliveries(t *testing.T) deliveriesBundle {
	t.Helper()
	ctx := context.Background()
	b := deliveriesBundle{dbPath: filepath.Join(t.TempDir(), "fgwh.db"), t0: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	db, err := store.Open(ctx, b.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustHook := func(url, typ string) string {
		w, _, err := db.CreateWebhook(ctx, store.CreateWebhookParams{URL: url, EventTypes: []string{typ}}, b.t0)
		if err != nil {
			t.Fatal(err)
		}
		return w.ID
	}
	b.hookA = mustHook("http://127.0.0.1:1/a", "recording.imported")
	b.hookB = mustHook("http://127.0.0.1:1/b", "device.created")
	emit := func(at time.Time, typ, payload string) string {
		em, err := db.EmitEvents(ctx, []store.NewEvent{{Type: typ, Payload: []byte(payload)}}, at)
		if err != nil {
			t.Fatal(err)
		}
		if em[0].Deliveries != 1 {
			t.Fatalf("emit %s queued %d deliveries, want 1", typ, em[0].Deliveries)
		}
		return em[0].Event.ID
	}
	evs := []string{
		emit(b.t0.Add(1*time.Minute), "recording.imported", `{"type":"recording.imported","recordingId":"r1"}`),
		emit(b.t0.Add(2*time.Minute), "recording.imported", `{"type":"recording.imported","recordingId":"r2"}`),
		emit(b.t0.Add(3*time.Minute), "recording.imported", `{"type":"recording.imported","recordingId":"r3"}`),
		emit(b.t0.Add(4*time.Minute), "device.created", `{"type":"device.created","deviceId":"d1"}`),
	}
	b.succeededEvent = evs[0]
	at := b.t0.Add(10 * time.Minute)
	claimed, err := db.ClaimDeliveries(ctx, store.ClaimParams{Owner: "test", Now: at, Lease: time.Hour, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) != 4 {
		t.Fatalf("claimed %d deliveries, want 4", len(claimed))
	}
	byEvent := map[string]store.Claimed{}
	for _, c := range claimed {
		byEvent[c.EventID] = c
	}
	complete := func(c store.Claimed, status string, code int, errCode, errText, body string, next time.Time) {
		_, err := db.CompleteDeliveries(ctx, store.CompleteParams{Owner: "test", Now: at}, []store.Completion{{
			ID: c.ID, WebhookID: c.WebhookID, Attempt: c.Attempt, AttemptedAt: at, Duration: 12 * time.Millisecond,
			StatusCode: code, ErrorCode: errCode, Error: errText, ResponseBody: body, Status: status, NextAttemptAt: next,
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	complete(byEvent[evs[0]], store.StatusSucceeded, 200, "", "", "ok", time.Time{})
	complete(byEvent[evs[1]], store.StatusFailed, 500, "http_status", "HTTP 500 Internal Server Error: the receiver is having a very bad day indeed", "boom", time.Time{})
	complete(byEvent[evs[3]], store.StatusRetrying, 0, "connection_refused", "dial tcp 127.0.0.1:1: connection refused", "", b.t0.Add(time.Hour))
	b.succeeded, b.failed, b.delivering, b.retrying = byEvent[evs[0]].ID, byEvent[evs[1]].ID, byEvent[evs[2]].ID, byEvent[evs[3]].ID
	emit(b.t0.Add(5*time.Minute), "recording.imported", `{"type":"recording.imported","recordingId":"r4"}`)
	ds, err := db.ListDeliveries(ctx, store.ListDeliveriesParams{Status: store.StatusPending})
	if err != nil || len(ds) != 1 {
		t.Fatalf("pending deliveries: %v, %v", ds, err)
	}
	b.pending = ds[0].ID
	return b
}

// runFGWH runs the command line in-process on the bundle's database.
func (b deliveriesBundle) run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	io, _, out, errOut := TestIO()
	code = Main(context.Background(), append([]string{"--db", b.dbPath}, args...), io)
	return code, out.String(), errOut.String()
}

// mustRun runs args and fails the test unless they exit 0 with nothing on stderr.
func (b deliveriesBundle) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := b.run(t, args...)
	if code != 0 || errOut != "" {
		t.Fatalf("fgwh %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
	}
	return out
}

func TestDeliveriesList_Table(t *testing.T) {
	t.Parallel()
	b := setupDeliveries(t)
	got := b.mustRun(t, "deliveries", "list")
	want := strings.Join([]string{
		"ID                    WEBHOOK               TYPE                STATUS      ATTEMPTS  CODE  LAST ERROR                                NEXT OR COMPLETED",
		b.pending + "  " + b.hookA + "  recording.imported  pending     0         -     -                                         2026-01-02T03:09:05.000Z",
		b.retrying + "  " + b.hookB + "  device.created      retrying    1         -     dial tcp 127.0.0.1:1: connection refused  2026-01-02T04:04:05.000Z",
		b.delivering + "  " + b.hookA + "  recording.imported  delivering  1         -     -                                         in flight",
		b.failed + "  " + b.hookA + "  recording.imported  failed      1         500   HTTP 500 Internal Server Error: the rec…  2026-01-02T03:14:05.012Z",
		b.succeeded + "  " + b.hookA + "  recording.imported  succeeded   1         200   -                                         2026-01-02T03:14:05.012Z",
	}, "\n") + "\n"
	if got != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", got, want)
	}
}

func TestDeliveriesList_JSON(t *testing.T) {
	t.Parallel()
	b := setupDeliveries(t)
	got := b.mustRun(t, "-o", "json", "deliveries", "list", "--webhook", b.hookA, "--status", "failed")
	want := fmt.Sprintf(`[
  {
    "id": %q,
    "webhookId": %q,
    "eventId": %q,
    "eventType": "recording.imported",
    "status": "failed",
    "attempts": 1,
    "createdAt": "2026-01-02T03:06:05.000Z",
    "nextAttemptAt": null,
    "lastAttemptAt": "2026-01-02T03:14:05.000Z",
    "lastStatusCode": 500,
    "lastError": "HTTP 500 Internal Server Error: the receiver is having a very bad day indeed",
    "completedAt": "2026-01-02T03:14:05.012Z"
  }
]
`, b.failed, b.hookA, b.eventOf(t, b.failed))
	if got != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", got, want)
	}
	got = b.mustRun(t, "-o", "json", "deliveries", "list", "--status", "pending")
	if !strings.Contains(got, `"lastStatusCode": null`) || !strings.Contains(got, `"lastError": null`) || !strings.Contains(got, `"lastAttemptAt": null`) {
		t.Errorf("a pending delivery's absent values are not null:\n%s", got)
	}
	if got := b.mustRun(t, "-o", "json", "deliveries", "list", "--type", "session.created"); got != "[]\n" {
		t.Errorf("an empty listing is %q, want []", got)
	}
}

// eventOf returns a delivery's event id, read through the command line.
func (b deliveriesBundle) eventOf(t *testing.T, id string) string {
	t.Helper()
	out := b.mustRun(t, "deliveries", "show", id)
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "event:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no event line in:\n%s", out)
	return ""
}

// listIDs runs "deliveries list" with args and returns the ids it printed, in order.
func (b deliveriesBundle) listIDs(t *testing.T, args ...string) []string {
	t.Helper()
	out := b.mustRun(t, append([]string{"deliveries", "list"}, args...)...)
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		ids = append(ids, strings.Fields(line)[0])
	}
	return ids
}

func TestDeliveriesList_Filters(t *testing.T) {
	t.Parallel()
	b := setupDeliveries(t)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"status", []string{"--status", "failed"}, []string{b.failed}},
		{"webhook", []string{"--webhook", b.hookB}, []string{b.retrying}},
		{"event", []string{"--event", b.succeededEvent}, []string{b.succeeded}},
		{"type", []string{"--type", "recording.imported", "--status", "delivering"}, []string{b.delivering}},
		{"since time", []string{"--since", "2026-01-02T03:07:05Z"}, []string{b.pending, b.retrying, b.delivering}},
		{"since date", []string{"--since", "2026-01-02"}, []string{b.pending, b.retrying, b.delivering, b.failed, b.succeeded}},
		{"limit", []string{"--limit", "2"}, []string{b.pending, b.retrying}},
		{"limit 0 is all", []string{"--limit", "0", "--webhook", b.hookA}, []string{b.pending, b.delivering, b.failed, b.succeeded}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := b.listIDs(t, tt.args...)
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	// An age: every delivery was created long before an hour ago.
	code, out, errOut := b.run(t, "deliveries", "list", "--since", "1h")
	if code != 0 || out != "" || errOut != "no deliveries\n" {
		t.Errorf("--since 1h: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestDeliveriesShow(t *testing.T) {
	t.Parallel()
	b := setupDeliveries(t)
	got := b.mustRun(t, "-o", "json", "deliveries", "show", b.failed)
	want := fmt.Sprintf(`{
  "id": %q,
  "webhookId": %q,
  "eventId": %q,
  "eventType": "recording.imported",
  "status": "failed",
  "attempts": 1,
  "createdAt": "2026-01-02T03:06:05.000Z",
  "nextAttemptAt": null,
  "lastAttemptAt": "2026-01-02T03:14:05.000Z",
  "lastStatusCode": 500,
  "lastError": "HTTP 500 Internal Server Error: the receiver is having a very bad day indeed",
  "completedAt": "2026-01-02T03:14:05.012Z",
  "attemptLog": [
    {
      "number": 1,
      "attemptedAt": "2026-01-02T03:14:05.000Z",
      "durationMs": 12,
      "statusCode": 500,
      "errorCode": "http_status",
      "error": "HTTP 500 Internal Server Error: the receiver is having a very bad day indeed",
      "responseBody": "boom",
      "manual": false
    }
  ]
}
`, b.failed, b.hookA, b.eventOf(t, b.failed))
	if got != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", got, want)
	}

	got = b.mustRun(t, "deliveries", "show", b.succeeded)
	want = fmt.Sprintf(`id:                %s
webhook:           %s
event:             %s
type:              recording.imported
status:            succeeded
attempts:          1
created:           2026-01-02T03:05:05.000Z
next attempt:      -
last attempt:      2026-01-02T03:14:05.000Z
last status code:  200
last error:        -
completed:         2026-01-02T03:14:05.012Z

#  ATTEMPTED AT              DURATION  KIND  CODE  ERROR  RESPONSE
1  2026-01-02T03:14:05.000Z  12ms      auto  200   -      ok
`, b.succeeded, b.hookA, b.succeededEvent)
	if got != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", got, want)
	}

	got = b.mustRun(t, "-o", "json", "deliveries", "show", b.pending)
	if !strings.Contains(got, `"attemptLog": []`) {
		t.Errorf("a delivery without attempts has no empty attemptLog:\n%s", got)
	}
	code, out, errOut := b.run(t, "deliveries", "show", "whd_nosuchdelivery00")
	if code != ExitNotFound || out != "" || errOut != "fgwh: delivery whd_nosuchdelivery00: not found\n" {
		t.Errorf("unknown id: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestDeliveriesRetry(t *testing.T) {
	t.Parallel()

	t.Run("failed and in flight", func(t *testing.T) {
		t.Parallel()
		b := setupDeliveries(t)
		code, out, errOut := b.run(t, "deliveries", "retry", b.failed, b.delivering, b.failed)
		if code != ExitError || out != b.failed+"\n" {
			t.Errorf("exit %d, stdout %q; want 1 and the failed id", code, out)
		}
		wantErr := "fgwh: left alone 1 delivery being delivered right now: " + b.delivering + "\n" +
			"hint: see how the attempt ends with 'fgwh deliveries show ID', and retry it then if it failed\n"
		if errOut != wantErr {
			t.Errorf("stderr %q, want %q", errOut, wantErr)
		}
		if got := b.listIDs(t, "--status", "pending"); strings.Join(got, " ") != b.pending+" "+b.failed {
			t.Errorf("pending after retry: %v", got)
		}
		if got := b.listIDs(t, "--status", "delivering"); strings.Join(got, " ") != b.delivering {
			t.Errorf("delivering after retry: %v", got)
		}
	})

	t.Run("unknown id changes nothing", func(t *testing.T) {
		t.Parallel()
		b := setupDeliveries(t)
		before := b.mustRun(t, "-o", "json", "deliveries", "list")
		code, out, errOut := b.run(t, "deliveries", "retry", b.failed, "whd_nosuchdelivery00")
		if code != ExitNotFound || out != "" || errOut != "fgwh: delivery whd_nosuchdelivery00: not found\n" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if after := b.mustRun(t, "-o", "json", "deliveries", "list"); after != before {
			t.Errorf("the database changed:\n%s\nwas:\n%s", after, before)
		}
	})

	t.Run("all failed", func(t *testing.T) {
		t.Parallel()
		b := setupDeliveries(t)
		code, out, errOut := b.run(t, "deliveries", "retry", "--all-failed", "--webhook", b.hookB)
		if code != 0 || out != "" || errOut != "no failed deliveries to retry\n" {
			t.Errorf("hookB: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		got := b.mustRun(t, "-o", "json", "deliveries", "retry", "--all-failed", "--since", "2026-01-02T03:06:05Z")
		want := "{\n  \"retried\": [\n    \"" + b.failed + "\"\n  ],\n  \"inFlight\": []\n}\n"
		if got != want {
			t.Errorf("stdout %q, want %q", got, want)
		}
		show := b.mustRun(t, "-o", "json", "deliveries", "show", b.failed)
		if !strings.Contains(show, `"status": "pending"`) || !strings.Contains(show, `"completedAt": null`) {
			t.Errorf("retried delivery is not pending again:\n%s", show)
		}
	})
}

func TestDeliveriesRetry_DisabledWebhook(t *testing.T) {
	t.Parallel()
	b := setupDeliveries(t)
	ctx := context.Background()
	db, err := store.Open(ctx, b.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.SetWebhookEnabled(ctx, b.hookA, false, "410 Gone", b.t0)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := b.run(t, "deliveries", "retry", "--all-failed")
	wantErr := "warning: webhook " + b.hookA + " is disabled (410 Gone): 1 retried delivery will wait until 'fgwh webhook enable " + b.hookA + "'\n"
	if code != 0 || out != b.failed+"\n" || errOut != wantErr {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0, %q, %q", code, out, errOut, b.failed+"\n", wantErr)
	}
	// The other webhook is enabled: no warning.
	code, out, errOut = b.run(t, "deliveries", "retry", b.retrying)
	if code != 0 || out != b.retrying+"\n" || errOut != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestDeliveriesPrune(t *testing.T) {
	t.Parallel()
	b := setupDeliveries(t)
	// Every finished delivery completed in January 2026, long before a day ago.
	got := b.mustRun(t, "-o", "json", "deliveries", "prune", "--older-than", "1d")
	if !strings.HasPrefix(got, "{\n  \"pruned\": 2,\n") {
		t.Errorf("stdout %q", got)
	}
	ids := b.listIDs(t)
	if strings.Join(ids, " ") != b.pending+" "+b.retrying+" "+b.delivering {
		t.Errorf("left %v, want the unfinished deliveries", ids)
	}
	code, out, errOut := b.run(t, "deliveries", "show", b.succeeded)
	if code != ExitNotFound {
		t.Errorf("a pruned delivery: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// Nothing more to prune; a far cutoff keeps everything.
	got = b.mustRun(t, "deliveries", "prune", "--older-than", "1d")
	if !strings.HasPrefix(got, "pruned 0 deliveries completed before ") {
		t.Errorf("stdout %q", got)
	}
}

func TestDeliveriesCmd_Flags(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	newApp := func() *App {
		io, _, _, _ := TestIO()
		app := NewApp(io)
		app.Now = func() time.Time { return now }
		return app
	}

	listTests := []struct {
		args    []string
		want    DeliveriesListOptions
		wantErr string
	}{
		{args: nil, want: DeliveriesListOptions{Limit: 50}},
		{args: []string{"--since", "7d", "--limit", "3", "--status", "retrying"},
			want: DeliveriesListOptions{Since: "7d", SinceTime: now.Add(-7 * 24 * time.Hour), Limit: 3, Status: "retrying"}},
		{args: []string{"--since", "1d12h"}, want: DeliveriesListOptions{Since: "1d12h", SinceTime: now.Add(-36 * time.Hour), Limit: 50}},
		{args: []string{"--since", "90m"}, want: DeliveriesListOptions{Since: "90m", SinceTime: now.Add(-90 * time.Minute), Limit: 50}},
		{args: []string{"--since", "2026-01-02T03:04:05.5+01:00"},
			want: DeliveriesListOptions{Since: "2026-01-02T03:04:05.5+01:00", SinceTime: time.Date(2026, 1, 2, 2, 4, 5, 5e8, time.UTC), Limit: 50}},
		{args: []string{"--since", "yesterday"}, wantErr: `invalid --since "yesterday"`},
		{args: []string{"--since", "-1h"}, wantErr: `invalid --since "-1h"`},
		{args: []string{"--since", "1.5d"}, wantErr: `invalid --since "1.5d"`},
		{args: []string{"--since", ""}, wantErr: `invalid --since ""`},
		{args: []string{"--status", "done"}, wantErr: `invalid status "done": use one of pending, retrying, delivering, succeeded, failed`},
		{args: []string{"--type", "recording.deleted"}, wantErr: `unknown event type "recording.deleted"`},
		{args: []string{"--limit", "-1"}, wantErr: `invalid --limit -1: use a positive number, or 0 for all`},
	}
	for _, tt := range listTests {
		t.Run("list "+strings.Join(tt.args, " "), func(t *testing.T) {
			var got *DeliveriesListOptions
			c := newCmdDeliveriesList(newApp(), func(o *DeliveriesListOptions) error { got = o; return nil })
			quiet(c, tt.args)
			err := c.Execute()
			checkFlagErr(t, err, tt.wantErr)
			if tt.wantErr != "" {
				return
			}
			got.App = nil
			if fmt.Sprint(*got) != fmt.Sprint(tt.want) {
				t.Errorf("options %+v, want %+v", *got, tt.want)
			}
		})
	}

	retryTests := []struct {
		args    []string
		want    DeliveriesRetryOptions
		wantErr string
	}{
		{args: []string{"whd_a", "whd_b", "whd_a"}, want: DeliveriesRetryOptions{IDs: []string{"whd_a", "whd_b"}}},
		{args: []string{"--all-failed", "--webhook", "whk_a", "--since", "2d"},
			want: DeliveriesRetryOptions{AllFailed: true, WebhookID: "whk_a", Since: "2d", SinceTime: now.Add(-48 * time.Hour)}},
		{args: nil, wantErr: "give delivery ids or --all-failed"},
		{args: []string{"--all-failed", "whd_a"}, wantErr: "give delivery ids or --all-failed, not both"},
		{args: []string{"whd_a", "--webhook", "whk_a"}, wantErr: "--webhook and --since go with --all-failed; to retry given ids, name only the ids"},
		{args: []string{"--all-failed", "--since", "7"}, wantErr: `invalid --since "7"`},
	}
	for _, tt := range retryTests {
		t.Run("retry "+strings.Join(tt.args, " "), func(t *testing.T) {
			var got *DeliveriesRetryOptions
			c := newCmdDeliveriesRetry(newApp(), func(o *DeliveriesRetryOptions) error { got = o; return nil })
			quiet(c, tt.args)
			err := c.Execute()
			checkFlagErr(t, err, tt.wantErr)
			if tt.wantErr != "" {
				return
			}
			got.App = nil
			if fmt.Sprint(*got) != fmt.Sprint(tt.want) {
				t.Errorf("options %+v, want %+v", *got, tt.want)
			}
		})
	}

	pruneTests := []struct {
		args    []string
		want    time.Duration
		wantErr string
	}{
		{args: []string{"--older-than", "30d"}, want: 30 * 24 * time.Hour},
		{args: []string{"--older-than", "0s"}, want: 0},
		{args: []string{"--older-than", "2h30m"}, want: 150 * time.Minute},
		{args: nil, wantErr: "--older-than is required"},
		{args: []string{"--older-than", "30"}, wantErr: `invalid --older-than "30"`},
		{args: []string{"--older-than", "d"}, wantErr: `invalid --older-than "d"`},
		{args: []string{"--older-than", "1d-1h"}, wantErr: `invalid --older-than "1d-1h"`},
		{args: []string{"--older-than", "99999d"}, wantErr: `invalid --older-than "99999d"`},
	}
	for _, tt := range pruneTests {
		t.Run("prune "+strings.Join(tt.args, " "), func(t *testing.T) {
			var got time.Duration
			c := newCmdDeliveriesPrune(newApp(), func(o *DeliveriesPruneOptions) error { got = o.Age; return nil })
			quiet(c, tt.args)
			checkFlagErr(t, c.Execute(), tt.wantErr)
			if tt.wantErr == "" && got != tt.want {
				t.Errorf("age %s, want %s", got, tt.want)
			}
		})
	}
}

// quiet sets a command's arguments and keeps Cobra from printing errors and usage.
func quiet(c *cobra.Command, args []string) {
	c.SetArgs(args)
	c.SilenceErrors, c.SilenceUsage = true, true
	c.SetOut(io.Discard)
	c.SetErr(io.Discard)
}

// checkFlagErr checks that err is a usage error with message want, or nil
// when want is "".
func checkFlagErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("no error, want %q", want)
	case want != "" && (err.Error() != want || exitCode(err) != ExitUsage):
		t.Fatalf("error %q (exit %d), want %q (exit 2)", err, exitCode(err), want)
	}
}
