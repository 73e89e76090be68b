package cmd

import (
	"context"

	"github.com/spf13/cobra"
)

// WebhookShowOptions are the inputs of "fgwh webhook show".
type WebhookShowOptions struct {
	App *App
	ID  string
}

func newCmdWebhookShow(app *App, runF func(*WebhookShowOptions) error) *cobra.Command {
	opts := &WebhookShowOptions{App: app}
	return &cobra.Command{
		Use:   "show <id>",
		Short: "Show a webhook and its delivery statistics",
		Long: `Show a webhook: its URL, subscription, whether it is enabled (and why not),
and statistics over its deliveries: how many are in each status, the
success rate of finished ones, attempt latency (p50, p95) over the last
1000 attempts, and the last error. The token is never shown.`,
		Example: "  fgwh webhook show whk_0123456789abcdef",
		Args:    exactArgs(1, "a webhook id"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return webhookShowRun(c.Context(), opts)
		},
	}
}

func webhookShowRun(ctx context.Context, opts *WebhookShowOptions) error {
	app := opts.App
	db, err := app.Store(ctx)
	if err != nil {
		return err
	}
	w, err := db.GetWebhook(ctx, opts.ID)
	if err != nil {
		return err
	}
	st, err := db.GetWebhookStats(ctx, opts.ID)
	if err != nil {
		return err
	}
	v := newWebhookView(w)
	v.Stats = newWebhookStatsView(st)
	if app.JSON() {
		return writeJSON(app.IO.Out, v)
	}
	writeFields(app.IO.Out, append(webhookFields(w), statsFields(v.Stats)...))
	return nil
}

// exactArgs is cobra.ExactArgs with a usage error that says what is missing.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		if len(args) < n {
			return withHint(usagef("%s needs %s", c.CommandPath(), what), "usage: "+c.UseLine())
		}
		return withHint(usagef("%s takes %d argument(s), got %d", c.CommandPath(), n, len(args)), "usage: "+c.UseLine())
	}
}
