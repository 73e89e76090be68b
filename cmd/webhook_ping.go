package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/fgwh/fgwh/store"
	"github.com/spf13/cobra"
)

// WebhookPingOptions are the inputs of "fgwh webhook ping".
type WebhookPingOptions struct {
	App *App
	ID  string
}

func newCmdWebhookPing(app *App, runF func(*WebhookPingOptions) error) *cobra.Command {
	opts := &WebhookPingOptions{App: app}
	c := &cobra.Command{
		Use:   "ping <id>",
		Short: "Send a test notification to one webhook",
		Long: `Emit a ping event whose only delivery is to this webhook, whatever it
subscribes to. Its payload is {"type":"ping","webhookId":"<id>"}. The
webhook must be enabled. "fgwh deliver" sends it like any other delivery.`,
		Example: "  fgwh webhook ping whk_0123456789abcdef",
		Args:    exactArgs(1, "a webhook id"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return webhookPingRun(c.Context(), opts)
		},
	}
	return c
}

// pinged is what a ping queued: its event and its one delivery.
type pinged struct {
	Event    store.Event
	Delivery store.Delivery
}

func webhookPingRun(ctx context.Context, opts *WebhookPingOptions) error {
	p, err := emitPing(ctx, opts.App, opts.ID)
	if errors.Is(err, store.ErrWebhookDisabled) {
		return withHint(err, "run 'fgwh webhook enable "+opts.ID+"' first")
	}
	if err != nil {
		return err
	}
	return printPing(opts.App, p)
}

// emitPing emits a ping event for webhook id alone and returns it with its
// delivery. The store refuses unknown (ErrNotFound) and disabled
// (ErrWebhookDisabled) webhooks.
func emitPing(ctx context.Context, app *App, id string) (pinged, error) {
	db, err := app.Store(ctx)
	if err != nil {
		return pinged{}, err
	}
	payload := appendJSONString([]byte(`{"type":"ping","webhookId":`), id)
	payload = append(payload, '}')
	out, err := db.EmitEvents(ctx, []store.NewEvent{{
		Type:      store.PingEventType,
		Payload:   payload,
		WebhookID: id,
	}}, app.now())
	if err != nil {
		return pinged{}, err
	}
	ev := out[0].Event
	ds, err := db.ListDeliveries(ctx, store.ListDeliveriesParams{EventID: ev.ID})
	if err != nil {
		return pinged{}, err
	}
	if len(ds) != 1 {
		return pinged{}, fmt.Errorf("ping %s: queued %d deliveries, want 1", ev.ID, len(ds))
	}
	return pinged{Event: ev, Delivery: ds[0]}, nil
}

func printPing(app *App, p pinged) error {
	if app.JSON() {
		return writeJSON(app.IO.Out, struct {
			emittedView
			DeliveryID string `json:"deliveryId"`
		}{emittedView{eventView: newEventView(p.Event), Deliveries: 1}, p.Delivery.ID})
	}
	writeFields(app.IO.Out, [][2]string{
		{"event", p.Event.ID},
		{"delivery", p.Delivery.ID},
		{"webhook", p.Delivery.WebhookID},
		{"status", p.Delivery.Status},
	})
	return nil
}
