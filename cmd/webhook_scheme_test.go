package cmd

import (
	"errors"
	"testing"
)

func TestNewCmdWebhookCreate_SignatureScheme(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		want    string
		wantErr string
	}{
		{"default", nil, "fgwh", ""},
		{"fgwh", []string{"--signature-scheme", "fgwh"}, "fgwh", ""},
		{"standard", []string{"--signature-scheme", "standard"}, "standard", ""},
		{"both", []string{"--signature-scheme=both"}, "both", ""},
		{"unknown", []string{"--signature-scheme", "svix"}, "", `invalid --signature-scheme "svix"`},
		{"case matters", []string{"--signature-scheme", "Both"}, "", `invalid --signature-scheme "Both"`},
		{"empty", []string{"--signature-scheme", ""}, "", `invalid --signature-scheme ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			io, _, _, _ := TestIO()
			var got *WebhookCreateOptions
			c := newCmdWebhookCreate(NewApp(io), func(o *WebhookCreateOptions) error { got = o; return nil })
			c.SetArgs(append([]string{"--url", "https://example.com/hooks", "--event", "recording.imported"}, tt.args...))
			c.SetOut(io.Out)
			c.SetErr(io.ErrOut)
			err := c.Execute()
			checkSchemeResult(t, err, tt.wantErr)
			if tt.wantErr == "" && got.SignatureScheme != tt.want {
				t.Fatalf("SignatureScheme = %q, want %q", got.SignatureScheme, tt.want)
			}
		})
	}
}

func TestNewCmdWebhookEdit_SignatureScheme(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		want    *string
		wantErr string
	}{
		{"unchanged", []string{"--name", "n"}, nil, ""},
		{"standard", []string{"--signature-scheme", "standard"}, schemePtr("standard"), ""},
		{"back to fgwh", []string{"--signature-scheme", "fgwh"}, schemePtr("fgwh"), ""},
		{"unknown", []string{"--signature-scheme", "v1"}, nil, `invalid --signature-scheme "v1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			io, _, _, _ := TestIO()
			var got *WebhookEditOptions
			c := newCmdWebhookEdit(NewApp(io), func(o *WebhookEditOptions) error { got = o; return nil })
			c.SetArgs(append([]string{"whk_0123456789abcdef"}, tt.args...))
			c.SetOut(io.Out)
			c.SetErr(io.ErrOut)
			err := c.Execute()
			checkSchemeResult(t, err, tt.wantErr)
			if tt.wantErr != "" {
				return
			}
			switch {
			case tt.want == nil && got.SignatureScheme != nil:
				t.Fatalf("SignatureScheme = %q, want nil", *got.SignatureScheme)
			case tt.want != nil && (got.SignatureScheme == nil || *got.SignatureScheme != *tt.want):
				t.Fatalf("SignatureScheme = %v, want %q", got.SignatureScheme, *tt.want)
			}
		})
	}
}

func checkSchemeResult(t *testing.T, err error, wantErr string) {
	t.Helper()
	if wantErr == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	var ue *usageError
	if !errors.As(err, &ue) || err.Error() != wantErr {
		t.Fatalf("error = %#v, want usage error %q", err, wantErr)
	}
	if exitCode(err) != ExitUsage {
		t.Fatalf("exit code %d, want %d", exitCode(err), ExitUsage)
	}
}

func schemePtr(s string) *string { return &s }
