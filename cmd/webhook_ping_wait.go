package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/fgwh/fgwh/deliver"
	"github.com/fgwh/fgwh/store"
)

// pingWaitView is "webhook ping --wait -o json": the ping and its attempt.
type pingWaitView struct {
	emittedView
	DeliveryID string `json:"deliveryId"`
	// Status is the delivery's status after the attempt.
	Status     string  `json:"status"`
	StatusCode *int    `json:"statusCode"`
	LatencyMs  int64   `json:"latencyMs"`
	ErrorCode  *string `json:"errorCode"`
	Error      *string `json:"error"`
}

// pingWait delivers the ping at once and prints the attempt. If a running
// "fgwh deliver" claimed it first, it waits for that attempt instead.
func pingWait(ctx context.Context, opts *WebhookPingOptions, p pinged) error {
	db, err := opts.App.Store(ctx)
	if err != nil {
		return err
	}
	client := newDeliverClient(&DeliverOptions{AllowPrivate: opts.AllowPrivate, Concurrency: 1, Timeout: opts.Timeout})
	defer client.CloseIdleConnections()
	loop := deliver.NewLoop(deliver.Config{Store: db, Client: client, Concurrency: 1, Policy: deliver.DefaultPolicy(),
		AutoDisableAfter: deliver.DefaultAutoDisableAfter, NowFunc: opts.App.Now})
	a, ok, err := loop.DeliverNow(ctx, p.Delivery.ID)
	if err != nil {
		return err
	}
	if !ok {
		if a, err = waitForAttempt(ctx, db, p.Delivery.ID, 4*opts.Timeout+time.Second); err != nil {
			return err
		}
	}
	if err := printPingWait(opts.App, p, a); err != nil {
		return err
	}
	if !a.Outcome.Succeeded() {
		return &exitError{code: ExitError, msg: "ping failed: " + a.Outcome.Error}
	}
	return nil
}

// waitForAttempt polls a delivery another process is sending until its
// first attempt is recorded.
func waitForAttempt(ctx context.Context, db *store.DB, id string, within time.Duration) (deliver.Attempt, error) {
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		d, err := db.GetDelivery(ctx, id)
		if err != nil {
			return deliver.Attempt{}, err
		}
		if n := len(d.AttemptLog); n > 0 && d.Status != store.StatusDelivering {
			at := d.AttemptLog[n-1]
			return deliver.Attempt{DeliveryID: d.ID, WebhookID: d.WebhookID, EventType: d.EventType, Number: at.Number,
				Status: d.Status, Outcome: deliver.Outcome{AttemptedAt: at.AttemptedAt, Duration: at.Duration,
					StatusCode: at.StatusCode, ErrorCode: at.ErrorCode, Error: at.Error, ResponseBody: at.ResponseBody}}, nil
		}
		if time.Now().After(deadline) {
			return deliver.Attempt{}, fmt.Errorf("delivery %s: no attempt recorded within %s (is its webhook disabled?)", id, within)
		}
		select {
		case <-ctx.Done():
			return deliver.Attempt{}, ctx.Err()
		case <-tick.C:
		}
	}
}

func printPingWait(app *App, p pinged, a deliver.Attempt) error {
	o := a.Outcome
	if app.JSON() {
		v := pingWaitView{emittedView: emittedView{eventView: newEventView(p.Event), Deliveries: 1},
			DeliveryID: p.Delivery.ID, Status: a.Status, LatencyMs: o.Duration.Milliseconds()}
		if o.StatusCode != 0 {
			v.StatusCode = &o.StatusCode
		}
		if o.ErrorCode != "" {
			v.ErrorCode, v.Error = &o.ErrorCode, &o.Error
		}
		return writeJSON(app.IO.Out, v)
	}
	code, errText := "-", "-"
	if o.StatusCode != 0 {
		code = fmt.Sprint(o.StatusCode)
	}
	if o.Error != "" {
		errText = o.ErrorCode + ": " + o.Error
	}
	writeFields(app.IO.Out, [][2]string{
		{"event", p.Event.ID},
		{"delivery", p.Delivery.ID},
		{"webhook", p.Delivery.WebhookID},
		{"status", a.Status},
		{"status code", code},
		{"latency", o.Duration.Round(time.Millisecond).String()},
		{"error", errText},
	})
	return nil
}
