package cmd

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// WebhookDeleteOptions are the inputs of "fgwh webhook delete".
type WebhookDeleteOptions struct {
	App *App
	ID  string
	// Yes skips the confirmation.
	Yes bool
}

func newCmdWebhookDelete(app *App, runF func(*WebhookDeleteOptions) error) *cobra.Command {
	opts := &WebhookDeleteOptions{App: app}
	c := &cobra.Command{
		Use:   "delete <id> [--yes]",
		Short: "Delete a webhook and its deliveries",
		Long: `Delete a webhook with all its deliveries and their attempts. On a terminal
it asks first; without one (scripts, CI) it needs --yes.`,
		Example: "  fgwh webhook delete whk_0123456789abcdef\n  fgwh webhook delete whk_0123456789abcdef --yes",
		Args:    exactArgs(1, "a webhook id"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.ID = args[0]
			if !opts.Yes && !app.IO.InTTY {
				return withHint(usagef("--yes is required to delete without a terminal"), "run 'fgwh webhook delete "+opts.ID+" --yes'")
			}
			if runF != nil {
				return runF(opts)
			}
			return webhookDeleteRun(c.Context(), opts)
		},
	}
	c.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "delete without asking")
	return c
}

func webhookDeleteRun(ctx context.Context, opts *WebhookDeleteOptions) error {
	app := opts.App
	db, err := app.Store(ctx)
	if err != nil {
		return err
	}
	w, err := db.GetWebhook(ctx, opts.ID)
	if err != nil {
		return err
	}
	if !opts.Yes {
		st, err := db.GetWebhookStats(ctx, w.ID)
		if err != nil {
			return err
		}
		n := 0
		for _, c := range st.ByStatus {
			n += c
		}
		fmt.Fprintf(app.IO.ErrOut, "Delete webhook %s (%s) and its %d deliveries? [y/N] ", w.ID, w.Name, n)
		answer, _ := bufio.NewReader(app.IO.In).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return &exitError{code: ExitError, msg: "not deleted"}
		}
	}
	if err := db.DeleteWebhook(ctx, w.ID); err != nil {
		return err
	}
	if app.JSON() {
		return writeJSON(app.IO.Out, struct {
			ID      string `json:"id"`
			Deleted bool   `json:"deleted"`
		}{w.ID, true})
	}
	_, err = fmt.Fprintf(app.IO.Out, "Deleted webhook %s (%s)\n", w.ID, w.Name)
	return err
}
