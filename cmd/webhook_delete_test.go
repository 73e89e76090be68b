package cmd

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestWebhookDelete_AsksOnATerminal(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "fgwh.db")
	run := func(stdin string, tty bool, args ...string) (int, string, string) {
		t.Helper()
		io, in, out, errOut := TestIO()
		io.InTTY = tty
		in.WriteString(stdin)
		code := Main(context.Background(), append([]string{"--db", db}, args...), io)
		return code, out.String(), errOut.String()
	}
	code, out, _ := run("", false, "-o", "json", "webhook", "create", "--url", "https://example.com/h", "--event", "device.created", "--name", "h")
	if code != 0 {
		t.Fatalf("create: exit %d", code)
	}
	var w struct{ ID string }
	if err := json.Unmarshal([]byte(out), &w); err != nil {
		t.Fatal(err)
	}
	prompt := "Delete webhook " + w.ID + " (h) and its 0 deliveries? [y/N] "

	for _, answer := range []string{"", "n\n", "no\n", "yes please\n"} {
		code, out, errOut := run(answer, true, "webhook", "delete", w.ID)
		if code != ExitError || out != "" || errOut != prompt+"fgwh: not deleted\n" {
			t.Fatalf("answer %q: exit %d, stdout %q, stderr %q", answer, code, out, errOut)
		}
	}
	if code, _, _ := run("", false, "webhook", "show", w.ID); code != 0 {
		t.Fatalf("webhook gone after declined deletes: exit %d", code)
	}

	code, out, errOut := run(" Y \n", true, "webhook", "delete", w.ID)
	if code != 0 || out != "Deleted webhook "+w.ID+" (h)\n" || errOut != prompt {
		t.Fatalf("answer y: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = run("", false, "webhook", "show", w.ID)
	if code != ExitNotFound || !strings.Contains(errOut, "not found") {
		t.Fatalf("show after delete: exit %d, stderr %q", code, errOut)
	}
}
