package examples

import (
	"context"
	"testing"
	"time"

	"github.com/fgwh/fgwh/deliver"
)

// deliverDue runs fgwh's deliver loop until nothing is due, as
// "fgwh deliver --once --allow-private-networks" does, with now as its clock.
func (b *testBundle) deliverDue(t *testing.T, now func() time.Time) deliver.Summary {
	t.Helper()
	l := deliver.NewLoop(deliver.Config{
		Store:   b.db,
		Client:  deliver.NewClient(deliver.ClientOptions{AllowPrivate: true, Timeout: 10 * time.Second}),
		Policy:  deliver.Policy{Schedule: []time.Duration{5 * time.Second, 5 * time.Minute}},
		Once:    true,
		NowFunc: now,
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := l.Run(ctx); err != nil {
		t.Fatalf("deliver: %v", err)
	}
	return l.Summary()
}
