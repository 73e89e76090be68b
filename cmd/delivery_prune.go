package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

// DeliveriesPruneOptions are the inputs of "fgwh deliveries prune".
type DeliveriesPruneOptions struct {
	App *App
	// OlderThan is --older-than as given; Age is what it means.
	OlderThan string
	Age       time.Duration
}

// deliveriesPruneView is "deliveries prune -o json".
type deliveriesPruneView struct {
	// Pruned is how many deliveries were removed.
	Pruned int `json:"pruned"`
	// CompletedBefore is the cutoff: deliveries that finished before it went.
	CompletedBefore jsonTime `json:"completedBefore"`
}

func newCmdDeliveriesPrune(app *App, runF func(*DeliveriesPruneOptions) error) *cobra.Command {
	opts := &DeliveriesPruneOptions{App: app}
	c := &cobra.Command{
		Use:   "prune --older-than <age>",
		Short: "Remove finished deliveries",
		Long: `Prune removes deliveries that finished (succeeded or failed) longer ago than
--older-than, with their attempts, and events left with no deliveries. Pending,
retrying and in-flight deliveries are never removed. It prints how many
deliveries it removed.

--older-than takes a Go duration or days: 90m, 36h, 7d, 1d12h. It is required,
and is the only confirmation prune asks for, so that it can run from cron.`,
		Example: `  fgwh deliveries prune --older-than 30d`,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if !c.Flags().Changed("older-than") {
				return withHint(usagef("--older-than is required"), "for example: fgwh deliveries prune --older-than 30d")
			}
			age, err := parseAge("--older-than", opts.OlderThan)
			if err != nil {
				return err
			}
			opts.Age = age
			if runF != nil {
				return runF(opts)
			}
			return deliveriesPruneRun(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.OlderThan, "older-than", "", "remove deliveries that finished longer ago than this (30d, 36h)")
	return c
}

func deliveriesPruneRun(ctx context.Context, opts *DeliveriesPruneOptions) error {
	app := opts.App
	db, err := app.Store(ctx)
	if err != nil {
		return err
	}
	cutoff := app.now().Add(-opts.Age)
	n, err := db.PruneDeliveries(ctx, cutoff)
	if err != nil {
		return err
	}
	if app.JSON() {
		return writeJSON(app.IO.Out, deliveriesPruneView{Pruned: n, CompletedBefore: jsonTime(cutoff)})
	}
	_, err = fmt.Fprintf(app.IO.Out, "pruned %s completed before %s\n", formatCount(n, "delivery", "deliveries"), formatTime(cutoff))
	return err
}
