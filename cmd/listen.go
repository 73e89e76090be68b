package cmd

import "github.com/spf13/cobra"

func newCmdListen(app *App) *cobra.Command {
	return &cobra.Command{
		Use:    "listen",
		Short:  "Run a local receiver that verifies and prints notifications",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return usagef("listen is not built yet")
		},
	}
}
