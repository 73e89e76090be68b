package cmd

import "github.com/spf13/cobra"

func newCmdDeliveries(app *App) *cobra.Command {
	c := groupCmd("deliveries <subcommand>", "Inspect, retry and prune deliveries")
	c.AddCommand(
		newCmdDeliveriesList(app, nil),
		newCmdDeliveriesShow(app, nil),
		newCmdDeliveriesRetry(app, nil),
		newCmdDeliveriesPrune(app, nil),
	)
	return c
}
