package cmd

import (
	"context"

	"github.com/fgwh/fgwh/store"
	"github.com/spf13/cobra"
)

// WebhookEditOptions are the inputs of "fgwh webhook edit". Nil fields
// stay as they are.
type WebhookEditOptions struct {
	App  *App
	ID   string
	Name *string
	URL  *string
	// EventTypes, when non-nil, replaces the subscription.
	EventTypes []string
	// SignatureScheme, when non-nil, changes how notifications are signed.
	SignatureScheme *string
}

func newCmdWebhookEdit(app *App, runF func(*WebhookEditOptions) error) *cobra.Command {
	opts := &WebhookEditOptions{App: app}
	var name, rawURL, scheme string
	var events []string
	c := &cobra.Command{
		Use:   "edit <id> [--name <name>] [--url <url>] [--event <type>...] [--signature-scheme {fgwh|standard|both}]",
		Short: "Change a webhook's name, URL or subscription",
		Long: `Change a webhook. A new URL applies to deliveries not yet made; --event
replaces the subscription (repeat it or separate types with commas) and
applies to events emitted from now on.`,
		Example: `  fgwh webhook edit whk_0123456789abcdef --url https://example.com/v2/hooks
  fgwh webhook edit whk_0123456789abcdef --event recording.imported,recording.created`,
		Args: exactArgs(1, "a webhook id"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.ID = args[0]
			f := c.Flags()
			if !f.Changed("name") && !f.Changed("url") && !f.Changed("event") && !f.Changed("signature-scheme") {
				return withHint(usagef("nothing to change"), "give at least one of --name, --url, --event, --signature-scheme")
			}
			if f.Changed("name") {
				if err := validateName(name); err != nil {
					return err
				}
				opts.Name = &name
			}
			if f.Changed("url") {
				if err := validateURL(rawURL); err != nil {
					return err
				}
				opts.URL = &rawURL
			}
			if f.Changed("event") {
				types, err := parseEventTypes(events)
				if err != nil {
					return err
				}
				opts.EventTypes = types
			}
			if f.Changed("signature-scheme") {
				if err := validateSignatureScheme(scheme); err != nil {
					return err
				}
				opts.SignatureScheme = &scheme
			}
			if runF != nil {
				return runF(opts)
			}
			return webhookEditRun(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&name, "name", "", "a new unique name")
	c.Flags().StringVar(&rawURL, "url", "", "a new endpoint URL (http or https)")
	c.Flags().StringArrayVar(&events, "event", nil, "the new subscription; repeat it or separate types with commas")
	c.Flags().StringVar(&scheme, "signature-scheme", "", signatureSchemeUsage)
	return c
}

func webhookEditRun(ctx context.Context, opts *WebhookEditOptions) error {
	app := opts.App
	db, err := app.Store(ctx)
	if err != nil {
		return err
	}
	w, err := db.UpdateWebhook(ctx, store.UpdateWebhookParams{
		ID: opts.ID, Name: opts.Name, URL: opts.URL, EventTypes: opts.EventTypes,
		SignatureScheme: opts.SignatureScheme,
	}, app.now())
	if err != nil {
		return err
	}
	return printWebhook(app, w)
}

// printWebhook prints one webhook, without statistics or token.
func printWebhook(app *App, w store.Webhook) error {
	if app.JSON() {
		return writeJSON(app.IO.Out, newWebhookView(w))
	}
	writeFields(app.IO.Out, webhookFields(w))
	return nil
}
