package cmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fgwh/fgwh/deliver"
	"github.com/fgwh/fgwh/store"
	"github.com/spf13/cobra"
)

// WebhookPingOptions are the inputs of "fgwh webhook ping".
type WebhookPingOptions struct {
	App *App
	ID  string
	// Wait delivers the ping at once and prints the outcome (webhook_ping_wait.go).
	Wait         bool
	Timeout      time.Duration
	AllowPrivate bool
}

func newCmdWebhookPing(app *App, runF func(*WebhookPingOptions) error) *cobra.Command {
	opts := &WebhookPingOptions{App: app}
	c := &cobra.Command{
		Use:   "ping <id>",
		Short: "Send a test notification to one webhook",
		Long: `Emit a ping event whose only delivery is to this webhook, whatever it
subscribes to. Its payload is {"type":"ping","webhookId":"<id>"}. The
webhook must be enabled. "fgwh deliver" sends it like any other delivery.

With --wait, ping sends it at once itself and prints the attempt's outcome:
status, HTTP status code, latency and error. It exits 0 when the receiver
answered 2xx and 1 otherwise, so it works as a health check; a failed ping
is retried by "fgwh deliver" like any delivery.`,
		Example: `  fgwh webhook ping whk_0123456789abcdef
  fgwh webhook ping whk_0123456789abcdef --wait --timeout 2s`,
		Args: exactArgs(1, "a webhook id"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.ID = args[0]
			if opts.Timeout <= 0 {
				return usagef("invalid --timeout %s: must be positive", opts.Timeout)
			}
			if !c.Flags().Changed("allow-private-networks") && app.Getenv("FGWH_ALLOW_PRIVATE_NETWORKS") == "1" {
				opts.AllowPrivate = true
			}
			if runF != nil {
				return runF(opts)
			}
			return webhookPingRun(c.Context(), opts)
		},
	}
	c.Flags().BoolVar(&opts.Wait, "wait", false, "deliver the ping now and print the outcome (exit 1 if it failed)")
	c.Flags().DurationVar(&opts.Timeout, "timeout", deliver.DefaultTimeout, "with --wait: time limit of the attempt")
	c.Flags().BoolVar(&opts.AllowPrivate, "allow-private-networks", false, "with --wait: allow loopback and private addresses (env FGWH_ALLOW_PRIVATE_NETWORKS=1)")
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
	if opts.Wait {
		return pingWait(ctx, opts, p)
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
