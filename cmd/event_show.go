package cmd

import (
	"context"
	"fmt"
	"strconv"

	"github.com/fgwh/fgwh/store"
	"github.com/spf13/cobra"
)

// EventShowOptions are the inputs of "fgwh event show".
type EventShowOptions struct {
	App *App
	ID  string
}

func newCmdEventShow(app *App, runF func(*EventShowOptions) error) *cobra.Command {
	opts := &EventShowOptions{App: app}
	return &cobra.Command{
		Use:     "show <id>",
		Short:   "Show an event, its payload and its deliveries",
		Example: "  fgwh event show whev_0123456789abcdef\n  fgwh -o json event show whev_0123456789abcdef | jq '.deliveries[].status'",
		Args:    exactArgs(1, "an event id"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return eventShowRun(c.Context(), opts)
		},
	}
}

func eventShowRun(ctx context.Context, opts *EventShowOptions) error {
	app := opts.App
	db, err := app.Store(ctx)
	if err != nil {
		return err
	}
	e, err := db.GetEvent(ctx, opts.ID)
	if err != nil {
		return err
	}
	ds, err := db.ListDeliveries(ctx, store.ListDeliveriesParams{EventID: e.ID})
	if err != nil {
		return err
	}
	if app.JSON() {
		v := eventShowView{eventView: newEventView(e), Deliveries: make([]deliveryView, len(ds))}
		for i, d := range ds {
			v.Deliveries[i] = newDeliveryView(d)
		}
		return writeJSON(app.IO.Out, v)
	}
	fields := [][2]string{
		{"id", e.ID},
		{"type", e.Type},
		{"timestamp", formatTime(e.Timestamp)},
		{"created", formatTime(e.CreatedAt)},
	}
	if e.IdempotencyKey != "" {
		fields = append(fields, [2]string{"idempotency key", e.IdempotencyKey})
	}
	fields = append(fields, [2]string{"payload", string(e.Payload)})
	writeFields(app.IO.Out, fields)
	fmt.Fprintln(app.IO.Out)
	if len(ds) == 0 {
		_, err := fmt.Fprintln(app.IO.Out, "No deliveries: no enabled webhook was subscribed to this type.")
		return err
	}
	rows := make([][]string, len(ds))
	for i, d := range ds {
		code := "-"
		if !d.LastAttemptAt.IsZero() && d.LastStatusCode != 0 {
			code = strconv.Itoa(d.LastStatusCode)
		}
		lastErr := d.LastError
		if lastErr == "" {
			lastErr = "-"
		}
		rows[i] = []string{d.ID, d.WebhookID, d.Status, strconv.Itoa(d.Attempts), code, formatTime(d.NextAttemptAt), lastErr}
	}
	return writeTable(app.IO.Out, []string{"DELIVERY", "WEBHOOK", "STATUS", "ATTEMPTS", "CODE", "NEXT ATTEMPT", "LAST ERROR"}, rows)
}
