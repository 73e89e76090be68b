package cmd

import (
	"github.com/fgwh/fgwh/store"
	"github.com/spf13/cobra"
)

// EventTypesOptions are the inputs of "fgwh event types".
type EventTypesOptions struct {
	App *App
}

func newCmdEventTypes(app *App, runF func(*EventTypesOptions) error) *cobra.Command {
	opts := &EventTypesOptions{App: app}
	return &cobra.Command{
		Use:   "types",
		Short: "List the event types and their required payload keys",
		Long: `List the event catalogue: each type, the payload key every event of that
type must carry, and when it happens. ping cannot be subscribed to or
emitted with "event emit": "fgwh webhook ping" sends it to one webhook.`,
		Example: "  fgwh event types\n  fgwh -o json event types | jq -r '.[].type'",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return eventTypesRun(opts)
		},
	}
}

func eventTypesRun(opts *EventTypesOptions) error {
	app := opts.App
	if app.JSON() {
		views := make([]eventTypeView, len(store.EventTypes))
		for i, t := range store.EventTypes {
			views[i] = eventTypeView{Type: t.Name, RequiredKey: t.RequiredKey, Description: t.Description, Subscribable: t.Subscribable}
		}
		return writeJSON(app.IO.Out, views)
	}
	rows := make([][]string, len(store.EventTypes))
	for i, t := range store.EventTypes {
		rows[i] = []string{t.Name, t.RequiredKey, t.Description}
	}
	return writeTable(app.IO.Out, []string{"TYPE", "REQUIRED KEY", "DESCRIPTION"}, rows)
}
