package cmd

import "github.com/spf13/cobra"

func newCmdDeliveries(app *App) *cobra.Command {
	c := groupCmd("deliveries <subcommand>", "Inspect, retry and prune deliveries")
	return c
}
