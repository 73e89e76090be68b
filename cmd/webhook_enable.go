package cmd

import (
	"context"

	"github.com/spf13/cobra"
)

// DefaultDisabledReason is recorded by "webhook disable" without --reason.
const DefaultDisabledReason = "disabled by hand"

// WebhookEnableOptions are the inputs of "fgwh webhook enable" and
// "fgwh webhook disable".
type WebhookEnableOptions struct {
	App     *App
	ID      string
	Enabled bool
	// Reason is recorded when disabling.
	Reason string
}

func newCmdWebhookEnable(app *App, runF func(*WebhookEnableOptions) error) *cobra.Command {
	opts := &WebhookEnableOptions{App: app, Enabled: true}
	return &cobra.Command{
		Use:   "enable <id>",
		Short: "Enable a webhook again",
		Long: `Enable a webhook: later events are delivered to it again, its waiting
deliveries resume, and its disabled reason is cleared.`,
		Example: "  fgwh webhook enable whk_0123456789abcdef",
		Args:    exactArgs(1, "a webhook id"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return webhookEnableRun(c.Context(), opts)
		},
	}
}

func newCmdWebhookDisable(app *App, runF func(*WebhookEnableOptions) error) *cobra.Command {
	opts := &WebhookEnableOptions{App: app, Enabled: false}
	c := &cobra.Command{
		Use:   "disable <id> [--reason <text>]",
		Short: "Disable a webhook",
		Long: `Disable a webhook: later events queue nothing for it, and its waiting
deliveries are not attempted until it is enabled again. It can no longer
be pinged.`,
		Example: "  fgwh webhook disable whk_0123456789abcdef --reason 'endpoint being migrated'",
		Args:    exactArgs(1, "a webhook id"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.ID = args[0]
			if opts.Reason == "" {
				return usagef("--reason must not be empty")
			}
			if runF != nil {
				return runF(opts)
			}
			return webhookEnableRun(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Reason, "reason", DefaultDisabledReason, "why it is disabled, shown by list and show")
	return c
}

func webhookEnableRun(ctx context.Context, opts *WebhookEnableOptions) error {
	app := opts.App
	db, err := app.Store(ctx)
	if err != nil {
		return err
	}
	w, err := db.SetWebhookEnabled(ctx, opts.ID, opts.Enabled, opts.Reason, app.now())
	if err != nil {
		return err
	}
	return printWebhook(app, w)
}
