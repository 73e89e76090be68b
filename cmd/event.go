package cmd

import "github.com/spf13/cobra"

func newCmdEvent(app *App) *cobra.Command {
	c := groupCmd("event <subcommand>", "Emit and inspect events")
	return c
}
