package cmd

import "github.com/spf13/cobra"

func newCmdEvent(app *App) *cobra.Command {
	c := groupCmd("event <subcommand>", "Emit and inspect events")
	c.AddCommand(
		newCmdEventEmit(app, nil),
		newCmdEventList(app, nil),
		newCmdEventShow(app, nil),
		newCmdEventTypes(app, nil),
	)
	return c
}
