package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newCmdVersion(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print fgwh's version",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if app.JSON() {
				return writeJSON(app.IO.Out, map[string]string{"version": Version})
			}
			_, err := fmt.Fprintf(app.IO.Out, "fgwh %s\n", Version)
			return err
		},
	}
}
