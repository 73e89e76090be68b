package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/fgwh/fgwh/store"
)

// TestDemo runs the README's first command and checks that it delivered
// every notification, verified with both signature schemes, and left
// nothing listening.
func TestDemo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run(context.Background(), dir, &out); err != nil {
		t.Fatalf("demo: %v\noutput:\n%s", err, out.String())
	}
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(dir, "fgwh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ds, err := db.ListDeliveries(ctx, store.ListDeliveriesParams{})
	if err != nil {
		t.Fatal(err)
	}
	// Three of the four events are subscribed to.
	if len(ds) != 3 {
		t.Fatalf("%d deliveries, want 3\noutput:\n%s", len(ds), out.String())
	}
	for _, d := range ds {
		if d.Status != store.StatusSucceeded || d.Attempts != 1 || d.LastStatusCode != 200 {
			t.Errorf("delivery %s: %s after %d attempts, last status %d; want succeeded after 1, 200",
				d.ID, d.Status, d.Attempts, d.LastStatusCode)
		}
	}
	text := out.String()
	if n := strings.Count(text, "  listen |   signature:     ok (fgwh, standard)\n"); n != 3 {
		t.Errorf("the receiver verified %d requests with both schemes, want 3\noutput:\n%s", n, text)
	}
	if !strings.Contains(text, "$ fgwh deliveries show "+ds[0].ID+"\n") {
		t.Errorf("the demo does not show the newest delivery %s\noutput:\n%s", ds[0].ID, text)
	}
	if !strings.Contains(text, "\n$ fgwh deliveries list\nID ") {
		t.Errorf("the demo does not list the deliveries\noutput:\n%s", text)
	}

	// Nothing is left listening where the receiver was.
	w, err := db.GetWebhook(ctx, ds[0].WebhookID)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(w.URL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err == nil {
		conn.Close()
		t.Fatalf("something still listens on %s after the demo", u.Host)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: %v, want connection refused", u.Host, err)
	}
}
