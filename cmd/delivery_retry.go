package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fgwh/fgwh/store"
	"github.com/spf13/cobra"
)

// DeliveriesRetryOptions are the inputs of "fgwh deliveries retry".
type DeliveriesRetryOptions struct {
	App *App
	// IDs are the deliveries to retry, without duplicates; empty with AllFailed.
	IDs       []string
	AllFailed bool
	// WebhookID and SinceTime narrow AllFailed.
	WebhookID string
	Since     string
	SinceTime time.Time
}

// deliveriesRetryView is "deliveries retry -o json".
type deliveriesRetryView struct {
	// Retried are the deliveries now due at once.
	Retried []string `json:"retried"`
	// InFlight were being delivered and were left alone.
	InFlight []string `json:"inFlight"`
}

func newCmdDeliveriesRetry(app *App, runF func(*DeliveriesRetryOptions) error) *cobra.Command {
	opts := &DeliveriesRetryOptions{App: app}
	c := &cobra.Command{
		Use:   "retry {<id>... | --all-failed [--webhook <id>] [--since <age|time>]}",
		Short: "Send deliveries again",
		Long: `Retry makes deliveries due at once; a running "fgwh deliver" (or the next
"fgwh deliver --once") sends them.

A failed or succeeded delivery gets one manual attempt: if it fails, the
delivery is failed again, with no automatic retries after it. A pending or
retrying delivery keeps its schedule but is attempted now.

A delivery being delivered right now is never touched. Retry reports it on
stderr, retries the other ids, and exits 1, so a script notices that not
everything it asked for was done; look at it with "fgwh deliveries show"
once the attempt is over. An unknown id exits 3 before anything is retried.
Deliveries of a disabled webhook wait until it is enabled; retry warns.

--all-failed retries every failed delivery, or those of one webhook
(--webhook) or created since a time (--since, as in "deliveries list").
It prints the ids it retried, one a line.`,
		Example: `  fgwh deliveries retry whd_… whd_…
  fgwh deliveries retry --all-failed --webhook whk_… --since 1d`,
		RunE: func(c *cobra.Command, args []string) error {
			switch {
			case opts.AllFailed && len(args) > 0:
				return withHint(usagef("give delivery ids or --all-failed, not both"), "run 'fgwh deliveries retry --help' for usage")
			case !opts.AllFailed && len(args) == 0:
				return withHint(usagef("give delivery ids or --all-failed"), "run 'fgwh deliveries retry --help' for usage")
			case !opts.AllFailed && (c.Flags().Changed("webhook") || c.Flags().Changed("since")):
				return usagef("--webhook and --since go with --all-failed; to retry given ids, name only the ids")
			}
			seen := map[string]bool{}
			for _, id := range args {
				if !seen[id] {
					seen[id] = true
					opts.IDs = append(opts.IDs, id)
				}
			}
			if c.Flags().Changed("since") {
				t, err := parseSince(opts.Since, app.now())
				if err != nil {
					return err
				}
				opts.SinceTime = t
			}
			if runF != nil {
				return runF(opts)
			}
			return deliveriesRetryRun(c.Context(), opts)
		},
	}
	c.Flags().BoolVar(&opts.AllFailed, "all-failed", false, "retry every failed delivery (narrowed by --webhook and --since)")
	c.Flags().StringVar(&opts.WebhookID, "webhook", "", "with --all-failed: only this webhook's deliveries")
	c.Flags().StringVar(&opts.Since, "since", "", "with --all-failed: only deliveries created since this age or time (7d, 2026-01-02T15:04:05Z)")
	return c
}

func deliveriesRetryRun(ctx context.Context, opts *DeliveriesRetryOptions) error {
	app := opts.App
	db, err := app.Store(ctx)
	if err != nil {
		return err
	}
	res := store.RetryResult{Retried: []string{}, InFlight: []string{}}
	if opts.AllFailed {
		if opts.WebhookID != "" {
			if _, err := db.GetWebhook(ctx, opts.WebhookID); err != nil {
				return err
			}
		}
		ids, err := db.RetryFailed(ctx, store.RetryFailedParams{WebhookID: opts.WebhookID, Since: opts.SinceTime}, app.now())
		if err != nil {
			return err
		}
		res.Retried = ids
	} else if res, err = db.RetryDeliveries(ctx, opts.IDs, app.now()); err != nil {
		return err
	}
	if app.JSON() {
		if err := writeJSON(app.IO.Out, deliveriesRetryView{Retried: res.Retried, InFlight: res.InFlight}); err != nil {
			return err
		}
	} else {
		for _, id := range res.Retried {
			fmt.Fprintln(app.IO.Out, id)
		}
		if opts.AllFailed && len(res.Retried) == 0 {
			fmt.Fprintln(app.IO.ErrOut, "no failed deliveries to retry")
		}
	}
	if err := warnDisabledWebhooks(ctx, app, db, res.Retried); err != nil {
		return err
	}
	if len(res.InFlight) > 0 {
		return &hintError{
			err: &exitError{code: ExitError, msg: fmt.Sprintf("left alone %s being delivered right now: %s",
				formatCount(len(res.InFlight), "delivery", "deliveries"), strings.Join(res.InFlight, " "))},
			hint: "see how the attempt ends with 'fgwh deliveries show ID', and retry it then if it failed",
		}
	}
	return nil
}

// warnDisabledWebhooks says on stderr which retried deliveries will wait
// because their webhook is disabled: deliver skips disabled webhooks.
func warnDisabledWebhooks(ctx context.Context, app *App, db *store.DB, retried []string) error {
	if len(retried) == 0 {
		return nil
	}
	hooks, err := db.ListWebhooks(ctx)
	if err != nil {
		return err
	}
	want := make(map[string]bool, len(retried))
	for _, id := range retried {
		want[id] = true
	}
	for _, w := range hooks {
		if w.Enabled {
			continue
		}
		ds, err := db.ListDeliveries(ctx, store.ListDeliveriesParams{WebhookID: w.ID, Status: store.StatusPending})
		if err != nil {
			return err
		}
		n := 0
		for _, d := range ds {
			if want[d.ID] {
				n++
			}
		}
		if n == 0 {
			continue
		}
		reason := ""
		if w.DisabledReason != "" {
			reason = " (" + w.DisabledReason + ")"
		}
		fmt.Fprintf(app.IO.ErrOut, "warning: webhook %s is disabled%s: %s will wait until 'fgwh webhook enable %s'\n",
			w.ID, reason, formatCount(n, "retried delivery", "retried deliveries"), w.ID)
	}
	return nil
}
