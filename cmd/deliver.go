package cmd

import "github.com/spf13/cobra"

func newCmdDeliver(app *App) *cobra.Command {
	return &cobra.Command{
		Use:    "deliver",
		Short:  "Deliver due notifications",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return usagef("deliver is not built yet")
		},
	}
}
