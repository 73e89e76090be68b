package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

// WebhookRotateOptions are the inputs of "fgwh webhook rotate-token".
type WebhookRotateOptions struct {
	App *App
	ID  string
	// Grace keeps the old token valid for Standard Webhooks signatures this long.
	Grace time.Duration
}

func newCmdWebhookRotate(app *App, runF func(*WebhookRotateOptions) error) *cobra.Command {
	opts := &WebhookRotateOptions{App: app}
	c := &cobra.Command{
		Use:   "rotate-token <id> [--grace <duration>]",
		Short: "Give a webhook a new token",
		Long: `Replace a webhook's token with a new one, printed once. Notifications are
signed with the new token from now on, including retries of older
deliveries. With --grace, webhooks using Standard Webhooks signatures are
signed with both tokens until the grace period ends, so the receiver can
switch without rejecting anything.`,
		Example: "  fgwh webhook rotate-token whk_0123456789abcdef\n  fgwh webhook rotate-token whk_0123456789abcdef --grace 24h",
		Args:    exactArgs(1, "a webhook id"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.ID = args[0]
			if opts.Grace < 0 {
				return usagef("--grace must not be negative")
			}
			if runF != nil {
				return runF(opts)
			}
			return webhookRotateRun(c.Context(), opts)
		},
	}
	c.Flags().DurationVar(&opts.Grace, "grace", 0, "how long the old token stays valid for Standard Webhooks signatures, e.g. 24h")
	return c
}

func webhookRotateRun(ctx context.Context, opts *WebhookRotateOptions) error {
	app := opts.App
	db, err := app.Store(ctx)
	if err != nil {
		return err
	}
	now := app.now()
	token, err := db.RotateToken(ctx, opts.ID, opts.Grace, now)
	if err != nil {
		return err
	}
	w, err := db.GetWebhook(ctx, opts.ID)
	if err != nil {
		return err
	}
	note := "The old token stops working now."
	if opts.Grace > 0 {
		note = fmt.Sprintf("The old token stays valid for Standard Webhooks signatures until %s.", formatTime(now.Add(opts.Grace)))
	}
	if app.JSON() {
		v := newWebhookView(w)
		v.Token = token
		if opts.Grace > 0 {
			v.PreviousTokenExpiresAt = jsonTime(now.Add(opts.Grace))
		}
		return writeJSON(app.IO.Out, v)
	}
	return printWithToken(app, w, token, note)
}
