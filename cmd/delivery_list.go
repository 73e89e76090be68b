package cmd

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/fgwh/fgwh/store"
	"github.com/spf13/cobra"
)

// DefaultDeliveriesListLimit is how many deliveries "deliveries list" shows
// without --limit.
const DefaultDeliveriesListLimit = 50

// DeliveriesListOptions are the inputs of "fgwh deliveries list".
type DeliveriesListOptions struct {
	App       *App
	Status    string
	WebhookID string
	EventID   string
	Type      string
	// Since is --since as given; SinceTime is what it means.
	Since     string
	SinceTime time.Time
	// Limit is the most deliveries shown; 0 shows all.
	Limit int
}

func newCmdDeliveriesList(app *App, runF func(*DeliveriesListOptions) error) *cobra.Command {
	opts := &DeliveriesListOptions{App: app}
	c := &cobra.Command{
		Use:   "list [--status <status>] [--webhook <id>] [--event <id>] [--type <type>] [--since <age|time>] [--limit <n>]",
		Short: "List deliveries, newest first",
		Long: `List deliveries, newest first, with their status, attempts and last outcome.

Statuses: pending (waiting for its first or a manual attempt), retrying (an
attempt failed, another is scheduled), delivering (in flight), succeeded,
failed (attempts exhausted, or a manual retry's attempt failed).

--since takes an age counted back from now (90m, 36h, 7d, 1d12h), an RFC 3339
time or a date, and keeps deliveries created since then.`,
		Example: `  fgwh deliveries list --status failed
  fgwh deliveries list --webhook whk_… --since 7d
  fgwh deliveries list --event whev_… -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if opts.Status != "" {
				if err := checkStatus(opts.Status); err != nil {
					return err
				}
			}
			if opts.Type != "" {
				if err := checkEventType(opts.Type); err != nil {
					return err
				}
			}
			if c.Flags().Changed("since") {
				t, err := parseSince(opts.Since, app.now())
				if err != nil {
					return err
				}
				opts.SinceTime = t
			}
			if opts.Limit < 0 {
				return usagef("invalid --limit %d: use a positive number, or 0 for all", opts.Limit)
			}
			if runF != nil {
				return runF(opts)
			}
			return deliveriesListRun(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Status, "status", "", "only deliveries with this status: {pending|retrying|delivering|succeeded|failed}")
	c.Flags().StringVar(&opts.WebhookID, "webhook", "", "only deliveries to this webhook")
	c.Flags().StringVar(&opts.EventID, "event", "", "only deliveries of this event")
	c.Flags().StringVar(&opts.Type, "type", "", "only deliveries of events of this type")
	c.Flags().StringVar(&opts.Since, "since", "", "only deliveries created since this age or time (7d, 36h, 2026-01-02T15:04:05Z)")
	c.Flags().IntVar(&opts.Limit, "limit", DefaultDeliveriesListLimit, "the most deliveries to show; 0 shows all")
	return c
}

func deliveriesListRun(ctx context.Context, opts *DeliveriesListOptions) error {
	app := opts.App
	db, err := app.Store(ctx)
	if err != nil {
		return err
	}
	// A filter naming a webhook or event that does not exist is most likely
	// a typo: say so rather than print an empty list.
	if opts.WebhookID != "" {
		if _, err := db.GetWebhook(ctx, opts.WebhookID); err != nil {
			return err
		}
	}
	if opts.EventID != "" {
		if _, err := db.GetEvent(ctx, opts.EventID); err != nil {
			return err
		}
	}
	ds, err := db.ListDeliveries(ctx, store.ListDeliveriesParams{
		Status:    opts.Status,
		WebhookID: opts.WebhookID,
		EventID:   opts.EventID,
		Type:      opts.Type,
		Since:     opts.SinceTime,
		Limit:     opts.Limit,
	})
	if err != nil {
		return err
	}
	if app.JSON() {
		views := make([]deliveryView, len(ds))
		for i, d := range ds {
			views[i] = newDeliveryView(d)
		}
		return writeJSON(app.IO.Out, views)
	}
	if len(ds) == 0 {
		fmt.Fprintln(app.IO.ErrOut, "no deliveries")
		return nil
	}
	rows := make([][]string, len(ds))
	for i, d := range ds {
		rows[i] = []string{
			d.ID, d.WebhookID, d.EventType, d.Status, strconv.Itoa(d.Attempts),
			formatStatusCode(d.LastStatusCode), shorten(d.LastError, 40), deliveryWhen(d),
		}
	}
	return writeTable(app.IO.Out, []string{"ID", "WEBHOOK", "TYPE", "STATUS", "ATTEMPTS", "CODE", "LAST ERROR", "NEXT OR COMPLETED"}, rows)
}

// deliveryWhen is the time that matters for a delivery's status: when it is
// next due, or when it finished.
func deliveryWhen(d store.Delivery) string {
	switch d.Status {
	case store.StatusSucceeded, store.StatusFailed:
		return formatTime(d.CompletedAt)
	case store.StatusDelivering:
		return "in flight"
	}
	return formatTime(d.NextAttemptAt)
}
