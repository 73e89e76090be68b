package cmd

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"unicode"

	"github.com/fgwh/fgwh/store"
	"github.com/spf13/cobra"
)

// WebhookCreateOptions are the inputs of "fgwh webhook create".
type WebhookCreateOptions struct {
	App        *App
	URL        string
	EventTypes []string
	Name       string
	Disabled   bool
	// SignatureScheme is store.SchemeFGWH, SchemeStandard or SchemeBoth.
	SignatureScheme string
}

func newCmdWebhookCreate(app *App, runF func(*WebhookCreateOptions) error) *cobra.Command {
	opts := &WebhookCreateOptions{App: app}
	var events []string
	c := &cobra.Command{
		Use:   "create --url <url> --event <type> [--event <type>...] [--name <name>] [--disabled] [--signature-scheme {fgwh|standard|both}]",
		Short: "Subscribe an HTTP endpoint to event types",
		Long: `Create a webhook: an http or https URL subscribed to one or more event types
(see "fgwh event types"; every webhook can also be pinged). Without --name,
a unique name is derived from the URL's host and path.

The webhook's token signs every notification. It is printed once, here,
and never shown again: store it with the receiver.

--signature-scheme picks the signature headers: fgwh (the default) sends
fg-webhook-signature; standard and both add the Standard Webhooks headers
webhook-id, webhook-timestamp and webhook-signature, keyed with the same token.`,
		Example: `  fgwh webhook create --url https://example.com/hooks --event recording.imported
  fgwh webhook create --url https://example.com/hooks --event device.created,device.updated --name devices
  fgwh -o json webhook create --url http://127.0.0.1:8787/ --event session.created --disabled`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if !c.Flags().Changed("url") {
				return withHint(usagef("--url is required"), "run 'fgwh webhook create --help' for usage")
			}
			if err := validateURL(opts.URL); err != nil {
				return err
			}
			types, err := parseEventTypes(events)
			if err != nil {
				return err
			}
			opts.EventTypes = types
			if c.Flags().Changed("name") {
				if err := validateName(opts.Name); err != nil {
					return err
				}
			}
			if err := validateSignatureScheme(opts.SignatureScheme); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return webhookCreateRun(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.URL, "url", "", "the endpoint notifications are POSTed to (http or https)")
	c.Flags().StringArrayVar(&events, "event", nil, "an event type to subscribe to; repeat it or separate types with commas")
	c.Flags().StringVar(&opts.Name, "name", "", "a unique name (default: derived from the URL)")
	c.Flags().BoolVar(&opts.Disabled, "disabled", false, "create the webhook disabled: it gets no deliveries until enabled")
	c.Flags().StringVar(&opts.SignatureScheme, "signature-scheme", store.SchemeFGWH, signatureSchemeUsage)
	return c
}

func webhookCreateRun(ctx context.Context, opts *WebhookCreateOptions) error {
	app := opts.App
	db, err := app.Store(ctx)
	if err != nil {
		return err
	}
	w, token, err := db.CreateWebhook(ctx, store.CreateWebhookParams{
		Name:       opts.Name,
		URL:        opts.URL,
		EventTypes: opts.EventTypes,
		Disabled:   opts.Disabled,

		SignatureScheme: opts.SignatureScheme,
	}, app.now())
	if err != nil {
		return err
	}
	return printWithToken(app, w, token, "")
}

// printWithToken prints a webhook and its new token, the only time the
// token is shown (create and rotate-token).
func printWithToken(app *App, w store.Webhook, token, note string) error {
	if app.JSON() {
		v := newWebhookView(w)
		v.Token = token
		return writeJSON(app.IO.Out, v)
	}
	writeFields(app.IO.Out, append(webhookFields(w), [2]string{"token", token}))
	fmt.Fprintln(app.IO.ErrOut, "Save the token now: it will not be shown again.")
	if note != "" {
		fmt.Fprintln(app.IO.ErrOut, note)
	}
	return nil
}

// validateURL accepts absolute http and https URLs with a host and no
// whitespace or control characters: anything else cannot be delivered to.
func validateURL(raw string) error {
	hint := "use an absolute http:// or https:// URL, such as https://example.com/hooks"
	if raw == "" {
		return withHint(usagef("invalid URL: empty"), hint)
	}
	if i := strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }); i >= 0 {
		return withHint(usagef("invalid URL %q: it contains whitespace or a control character", raw), hint)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return withHint(usagef("invalid URL %q: %v", raw, unwrapURLError(err)), hint)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return withHint(usagef("invalid URL %q: the scheme must be http or https", raw), hint)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return withHint(usagef("invalid URL %q: it has no host", raw), hint)
	}
	return nil
}

// unwrapURLError drops url.Error's repetition of the URL.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// validateName rejects names that would be awkward in tables and scripts.
func validateName(name string) error {
	if strings.TrimSpace(name) == "" {
		return usagef("--name must not be empty")
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return usagef("--name %q contains a control character", name)
	}
	return nil
}

// parseEventTypes reads repeated, comma-separated --event values into a
// list of subscribable catalogue types.
func parseEventTypes(values []string) ([]string, error) {
	var types []string
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				continue
			}
			et, ok := store.LookupEventType(t)
			if !ok {
				return nil, unknownTypeError(t, emittableTypes())
			}
			if !et.Subscribable {
				return nil, withHint(usagef("%s is not subscribable: every webhook can be pinged", t), "run 'fgwh webhook ping <id>' to send one")
			}
			types = append(types, t)
		}
	}
	if len(types) == 0 {
		return nil, withHint(usagef("at least one --event is required"), "valid types: "+strings.Join(emittableTypes(), ", "))
	}
	return types, nil
}
