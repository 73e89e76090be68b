package cmd

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// parseFlags runs a command built with a capturing runF on args and
// returns what runF received, or the error with its exit code.
func parseFlags[O any](t *testing.T, newCmd func(*App, func(*O) error) *cobra.Command, args []string, inTTY bool) (*O, error) {
	t.Helper()
	io, _, _, _ := TestIO()
	io.InTTY = inTTY
	var got *O
	c := newCmd(NewApp(io), func(o *O) error { got = o; return nil })
	c.SetArgs(args)
	c.SetOut(io.Out)
	c.SetErr(io.ErrOut)
	err := c.Execute()
	return got, err
}

// checkErr fails unless err is nil and wantErr empty, or err's message
// contains wantErr and maps to exit code 2.
func checkErr(t *testing.T, err error, wantErr string) {
	t.Helper()
	switch {
	case wantErr == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case wantErr != "" && err == nil:
		t.Fatalf("no error, want one containing %q", wantErr)
	case wantErr != "" && !strings.Contains(err.Error(), wantErr):
		t.Fatalf("error %q, want it to contain %q", err, wantErr)
	case wantErr != "" && exitCode(err) != ExitUsage:
		t.Fatalf("error %q: exit code %d, want %d", err, exitCode(err), ExitUsage)
	}
}

func TestNewCmdWebhookCreate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		want    WebhookCreateOptions
		wantErr string
	}{
		{"one event", []string{"--url", "https://example.com/h", "--event", "recording.imported"},
			WebhookCreateOptions{URL: "https://example.com/h", EventTypes: []string{"recording.imported"}, SignatureScheme: "fgwh"}, ""},
		{"repeated and comma-separated", []string{"--url", "http://127.0.0.1:9/x", "--event", "device.created, device.updated", "--event", "session.created,"},
			WebhookCreateOptions{URL: "http://127.0.0.1:9/x", EventTypes: []string{"device.created", "device.updated", "session.created"}, SignatureScheme: "fgwh"}, ""},
		{"name and disabled", []string{"--url", "https://example.com", "--event", "event.created", "--name", "ops", "--disabled"},
			WebhookCreateOptions{URL: "https://example.com", EventTypes: []string{"event.created"}, Name: "ops", Disabled: true, SignatureScheme: "fgwh"}, ""},
		{"no url", []string{"--event", "event.created"}, WebhookCreateOptions{}, "--url is required"},
		{"ftp", []string{"--url", "ftp://x", "--event", "event.created"}, WebhookCreateOptions{}, "the scheme must be http or https"},
		{"spaces", []string{"--url", "not a url", "--event", "event.created"}, WebhookCreateOptions{}, "whitespace"},
		{"empty host", []string{"--url", "http://", "--event", "event.created"}, WebhookCreateOptions{}, "no host"},
		{"opaque", []string{"--url", "http:example.com", "--event", "event.created"}, WebhookCreateOptions{}, "no host"},
		{"control character", []string{"--url", "https://example.com/\x7f", "--event", "event.created"}, WebhookCreateOptions{}, "control character"},
		{"no event", []string{"--url", "https://example.com"}, WebhookCreateOptions{}, "at least one --event is required"},
		{"unknown event", []string{"--url", "https://example.com", "--event", "event.created,event.deleted"}, WebhookCreateOptions{}, `unknown event type "event.deleted"`},
		{"ping", []string{"--url", "https://example.com", "--event", "ping"}, WebhookCreateOptions{}, "ping is not subscribable"},
		{"empty name", []string{"--url", "https://example.com", "--event", "event.created", "--name", " "}, WebhookCreateOptions{}, "--name must not be empty"},
		{"argument", []string{"--url", "https://example.com", "--event", "event.created", "extra"}, WebhookCreateOptions{}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseFlags(t, newCmdWebhookCreate, tt.args, false)
			if tt.name == "argument" {
				if err == nil {
					t.Fatal("no error for an extra argument")
				}
				return
			}
			checkErr(t, err, tt.wantErr)
			if tt.wantErr != "" {
				return
			}
			got.App = nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Fatalf("options = %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestNewCmdWebhookEdit(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	tests := []struct {
		name    string
		args    []string
		want    WebhookEditOptions
		wantErr string
	}{
		{"name", []string{"whk_1", "--name", "n"}, WebhookEditOptions{ID: "whk_1", Name: s("n")}, ""},
		{"url", []string{"whk_1", "--url", "https://example.com/v2"}, WebhookEditOptions{ID: "whk_1", URL: s("https://example.com/v2")}, ""},
		{"events replace", []string{"whk_1", "--event", "device.created,device.updated"}, WebhookEditOptions{ID: "whk_1", EventTypes: []string{"device.created", "device.updated"}}, ""},
		{"nothing", []string{"whk_1"}, WebhookEditOptions{}, "nothing to change"},
		{"bad url", []string{"whk_1", "--url", "ftp://x"}, WebhookEditOptions{}, "invalid URL"},
		{"no events", []string{"whk_1", "--event", ","}, WebhookEditOptions{}, "at least one --event is required"},
		{"ping", []string{"whk_1", "--event", "ping"}, WebhookEditOptions{}, "ping is not subscribable"},
		{"empty name", []string{"whk_1", "--name", ""}, WebhookEditOptions{}, "--name must not be empty"},
		{"no id", []string{"--name", "n"}, WebhookEditOptions{}, "needs a webhook id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseFlags(t, newCmdWebhookEdit, tt.args, false)
			checkErr(t, err, tt.wantErr)
			if tt.wantErr != "" {
				return
			}
			got.App = nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Fatalf("options = %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestNewCmdWebhookDelete(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		inTTY   bool
		want    WebhookDeleteOptions
		wantErr string
	}{
		{"yes", []string{"whk_1", "--yes"}, false, WebhookDeleteOptions{ID: "whk_1", Yes: true}, ""},
		{"-y", []string{"-y", "whk_1"}, false, WebhookDeleteOptions{ID: "whk_1", Yes: true}, ""},
		{"terminal asks", []string{"whk_1"}, true, WebhookDeleteOptions{ID: "whk_1"}, ""},
		{"no terminal needs --yes", []string{"whk_1"}, false, WebhookDeleteOptions{}, "--yes is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseFlags(t, newCmdWebhookDelete, tt.args, tt.inTTY)
			checkErr(t, err, tt.wantErr)
			if tt.wantErr != "" {
				return
			}
			got.App = nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Fatalf("options = %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestNewCmdWebhookRotate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		want    WebhookRotateOptions
		wantErr string
	}{
		{"no grace", []string{"whk_1"}, WebhookRotateOptions{ID: "whk_1"}, ""},
		{"grace", []string{"whk_1", "--grace", "24h"}, WebhookRotateOptions{ID: "whk_1", Grace: 24 * time.Hour}, ""},
		{"negative", []string{"whk_1", "--grace", "-1s"}, WebhookRotateOptions{}, "--grace must not be negative"},
		{"not a duration", []string{"whk_1", "--grace", "1 day"}, WebhookRotateOptions{}, "invalid argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseFlags(t, newCmdWebhookRotate, tt.args, false)
			if tt.name == "not a duration" {
				// Cobra's own flag error; Main turns it into a usage error.
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			checkErr(t, err, tt.wantErr)
			if tt.wantErr != "" {
				return
			}
			got.App = nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Fatalf("options = %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestNewCmdWebhookDisable(t *testing.T) {
	t.Parallel()
	got, err := parseFlags(t, newCmdWebhookDisable, []string{"whk_1"}, false)
	checkErr(t, err, "")
	if got.ID != "whk_1" || got.Enabled || got.Reason != DefaultDisabledReason {
		t.Fatalf("options = %+v", *got)
	}
	got, err = parseFlags(t, newCmdWebhookDisable, []string{"whk_1", "--reason", "moving"}, false)
	checkErr(t, err, "")
	if got.Reason != "moving" {
		t.Fatalf("Reason = %q, want moving", got.Reason)
	}
	_, err = parseFlags(t, newCmdWebhookDisable, []string{"whk_1", "--reason", ""}, false)
	checkErr(t, err, "--reason must not be empty")
	got, err = parseFlags(t, newCmdWebhookEnable, []string{"whk_1"}, false)
	checkErr(t, err, "")
	if got.ID != "whk_1" || !got.Enabled {
		t.Fatalf("enable options = %+v", *got)
	}
}
