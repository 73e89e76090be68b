package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// WebhookListOptions are the inputs of "fgwh webhook list".
type WebhookListOptions struct {
	App *App
}

func newCmdWebhookList(app *App, runF func(*WebhookListOptions) error) *cobra.Command {
	opts := &WebhookListOptions{App: app}
	return &cobra.Command{
		Use:     "list",
		Short:   "List webhooks, oldest first",
		Example: "  fgwh webhook list\n  fgwh -o json webhook list | jq -r '.[].id'",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return webhookListRun(c.Context(), opts)
		},
	}
}

func webhookListRun(ctx context.Context, opts *WebhookListOptions) error {
	app := opts.App
	db, err := app.Store(ctx)
	if err != nil {
		return err
	}
	ws, err := db.ListWebhooks(ctx)
	if err != nil {
		return err
	}
	if app.JSON() {
		views := make([]webhookView, len(ws))
		for i, w := range ws {
			views[i] = newWebhookView(w)
		}
		return writeJSON(app.IO.Out, views)
	}
	if len(ws) == 0 {
		_, err := fmt.Fprintln(app.IO.ErrOut, "no webhooks")
		return err
	}
	rows := make([][]string, len(ws))
	for i, w := range ws {
		status := "enabled"
		if !w.Enabled {
			status = "disabled"
		}
		rows[i] = []string{w.ID, w.Name, status, strings.Join(w.EventTypes, ","), w.URL}
	}
	return writeTable(app.IO.Out, []string{"ID", "NAME", "STATUS", "EVENTS", "URL"}, rows)
}
