package cmd

import "github.com/spf13/cobra"

func newCmdWebhook(app *App) *cobra.Command {
	c := groupCmd("webhook <subcommand>", "Create and manage webhooks")
	c.AddCommand(
		newCmdWebhookCreate(app, nil),
		newCmdWebhookList(app, nil),
		newCmdWebhookShow(app, nil),
		newCmdWebhookEdit(app, nil),
		newCmdWebhookDisable(app, nil),
		newCmdWebhookEnable(app, nil),
		newCmdWebhookDelete(app, nil),
		newCmdWebhookPing(app, nil),
		newCmdWebhookRotate(app, nil),
	)
	return c
}
