package examples

import (
	"net/http"
	"testing"
	"time"

	"github.com/fgwh/fgwh/deliver"
	"github.com/fgwh/fgwh/sign"
	"github.com/fgwh/fgwh/store"
)

// deliverDue makes one attempt at every due delivery. TEMPORARY stand-in
// until the deliver loop lands on main: claim, send, complete.
func (b *testBundle) deliverDue(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	client := deliver.NewClient(deliver.ClientOptions{AllowPrivate: true})
	now := time.Now()
	cl, err := b.db.ClaimDeliveries(ctx, store.ClaimParams{Owner: "test", Now: now, Lease: time.Minute, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var cs []store.Completion
	for _, c := range cl {
		req := deliver.Request{URL: c.URL, Token: c.Token, WebhookID: c.WebhookID, EventID: c.EventID,
			EventTime: c.EventTime, Payload: c.Payload}
		if c.SignatureScheme != store.SchemeFGWH {
			secrets := []string{c.Token}
			if c.PreviousToken != "" {
				secrets = append(secrets, c.PreviousToken)
			}
			id := c.ID
			req.ExtraHeadersFunc = func(body []byte, at time.Time) http.Header {
				h := http.Header{}
				if err := sign.SetStandardHeaders(h, secrets, id, at, body); err != nil {
					t.Error(err)
				}
				return h
			}
		}
		out := client.Send(ctx, req, time.Now())
		status := store.StatusFailed
		if out.Succeeded() {
			status = store.StatusSucceeded
		}
		cs = append(cs, store.Completion{ID: c.ID, WebhookID: c.WebhookID, Attempt: c.Attempt, Manual: c.Manual,
			AttemptedAt: out.AttemptedAt, Duration: out.Duration, StatusCode: out.StatusCode, ErrorCode: out.ErrorCode,
			Error: out.Error, ResponseBody: out.ResponseBody, Status: status})
	}
	if _, err := b.db.CompleteDeliveries(ctx, store.CompleteParams{Owner: "test", Now: time.Now()}, cs); err != nil {
		t.Fatal(err)
	}
}
