package cmd

import (
	"context"
	"fmt"

	"github.com/fgwh/fgwh/store"
	"github.com/spf13/cobra"
)

// DefaultEventListLimit is how many events "event list" shows without --limit.
const DefaultEventListLimit = 50

// EventListOptions are the inputs of "fgwh event list".
type EventListOptions struct {
	App  *App
	Type string
	// Limit is the most events listed; 0 lists all.
	Limit int
}

func newCmdEventList(app *App, runF func(*EventListOptions) error) *cobra.Command {
	opts := &EventListOptions{App: app}
	c := &cobra.Command{
		Use:   "list [--type <type>] [--limit <n>]",
		Short: "List events, newest first",
		Long: `List events, newest first: the last 50 unless --limit says otherwise
(--limit 0 lists all of them).`,
		Example: "  fgwh event list\n  fgwh event list --type recording.imported --limit 10\n  fgwh -o json event list --limit 0",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if opts.Limit < 0 {
				return usagef("--limit must be 0 (all) or more")
			}
			if opts.Type != "" {
				if _, ok := store.LookupEventType(opts.Type); !ok {
					return unknownTypeError(opts.Type, allTypes())
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return eventListRun(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Type, "type", "", "only events of this `type`")
	c.Flags().IntVar(&opts.Limit, "limit", DefaultEventListLimit, "the most events to list; 0 lists all")
	return c
}

func eventListRun(ctx context.Context, opts *EventListOptions) error {
	app := opts.App
	db, err := app.Store(ctx)
	if err != nil {
		return err
	}
	evs, err := db.ListEvents(ctx, store.ListEventsParams{Type: opts.Type, Limit: opts.Limit})
	if err != nil {
		return err
	}
	if app.JSON() {
		views := make([]eventView, len(evs))
		for i, e := range evs {
			views[i] = newEventView(e)
		}
		return writeJSON(app.IO.Out, views)
	}
	if len(evs) == 0 {
		_, err := fmt.Fprintln(app.IO.ErrOut, "no events")
		return err
	}
	rows := make([][]string, len(evs))
	for i, e := range evs {
		rows[i] = []string{e.ID, e.Type, formatTime(e.Timestamp), formatTime(e.CreatedAt)}
	}
	return writeTable(app.IO.Out, []string{"ID", "TYPE", "TIMESTAMP", "CREATED"}, rows)
}
