package cmd

import "github.com/spf13/cobra"

func newCmdWebhook(app *App) *cobra.Command {
	c := groupCmd("webhook <subcommand>", "Create and manage webhooks")
	return c
}
