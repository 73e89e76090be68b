package cmd

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
)

// showResponseRunes is how much of a response body "deliveries show" puts
// in its table; -o json gives the whole stored (already truncated) body.
const showResponseRunes = 60

// DeliveriesShowOptions are the inputs of "fgwh deliveries show".
type DeliveriesShowOptions struct {
	App *App
	ID  string
}

func newCmdDeliveriesShow(app *App, runF func(*DeliveriesShowOptions) error) *cobra.Command {
	opts := &DeliveriesShowOptions{App: app}
	return &cobra.Command{
		Use:   "show <id>",
		Short: "Show a delivery and every attempt",
		Long: `Show a delivery and every attempt at it, oldest first: when it was made, how
long it took, the status code, the error, and the start of the response body
(the whole stored body, up to 4 KiB, with -o json).`,
		Example: `  fgwh deliveries show whd_…
  fgwh deliveries show whd_… -o json | jq '.attemptLog[-1]'`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return deliveriesShowRun(c.Context(), opts)
		},
	}
}

func deliveriesShowRun(ctx context.Context, opts *DeliveriesShowOptions) error {
	app := opts.App
	db, err := app.Store(ctx)
	if err != nil {
		return err
	}
	d, err := db.GetDelivery(ctx, opts.ID)
	if err != nil {
		return err
	}
	if app.JSON() {
		return writeJSON(app.IO.Out, newDeliveryDetailView(d))
	}
	w := app.IO.Out
	writeFields(w, [][2]string{
		{"id", d.ID},
		{"webhook", d.WebhookID},
		{"event", d.EventID},
		{"type", d.EventType},
		{"status", d.Status},
		{"attempts", strconv.Itoa(d.Attempts)},
		{"created", formatTime(d.CreatedAt)},
		{"next attempt", formatTime(d.NextAttemptAt)},
		{"last attempt", formatTime(d.LastAttemptAt)},
		{"last status code", formatStatusCode(d.LastStatusCode)},
		{"last error", oneLineOrDash(d.LastError)},
		{"completed", formatTime(d.CompletedAt)},
	})
	if len(d.AttemptLog) == 0 {
		fmt.Fprintln(w, "\nno attempts yet")
		return nil
	}
	fmt.Fprintln(w)
	rows := make([][]string, len(d.AttemptLog))
	for i, a := range d.AttemptLog {
		kind := "auto"
		if a.Manual {
			kind = "manual"
		}
		errText := a.Error
		if a.ErrorCode != "" && errText == "" {
			errText = a.ErrorCode
		} else if a.ErrorCode != "" {
			errText = a.ErrorCode + ": " + errText
		}
		rows[i] = []string{
			strconv.Itoa(a.Number), formatTime(a.AttemptedAt), formatDuration(a.Duration), kind,
			formatStatusCode(a.StatusCode), oneLineOrDash(errText), shorten(a.ResponseBody, showResponseRunes),
		}
	}
	return writeTable(w, []string{"#", "ATTEMPTED AT", "DURATION", "KIND", "CODE", "ERROR", "RESPONSE"}, rows)
}

// oneLineOrDash puts s on one line; "" becomes "-".
func oneLineOrDash(s string) string {
	if s = oneLine(s); s == "" {
		return "-"
	}
	return s
}
