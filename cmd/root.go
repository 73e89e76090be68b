// Package cmd is fgwh's command line: one Cobra command per file, each with
// an Options struct and a run function (STYLE.md).
package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Version is fgwh's version, set at build time with
// -ldflags "-X github.com/fgwh/fgwh/cmd.Version=…".
var Version = "0.1.0-dev"

// Main runs fgwh with args (without the program name) and returns the exit
// code. Only main calls os.Exit.
func Main(ctx context.Context, args []string, io *IO) int {
	app := NewApp(io)
	root := NewRootCmd(app)
	root.SetArgs(args)
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.ErrOut)
	c, err := root.ExecuteContextC(ctx)
	if cerr := app.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil {
		return ExitOK
	}
	if !app.ran {
		// Cobra rejected the command line before any command ran.
		err = &usageError{msg: err.Error(), hint: fmt.Sprintf("run '%s --help' for usage", c.CommandPath())}
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintf(io.ErrOut, "fgwh: %s\n", oneLine(msg))
	}
	if hint := hintOf(err); hint != "" {
		fmt.Fprintf(io.ErrOut, "hint: %s\n", hint)
	}
	return exitCode(err)
}

// oneLine keeps an error on one line, as SPEC.md promises.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// NewRootCmd returns the fgwh command tree.
func NewRootCmd(app *App) *cobra.Command {
	root := &cobra.Command{
		Use:   "fgwh <command> <subcommand> [flags]",
		Short: "Webhook delivery in one binary",
		Long: `fgwh delivers webhooks: subscribe HTTP endpoints to event types, emit events,
and let "fgwh deliver" POST each notification as signed JSON, with retries,
until it succeeds. Everything is kept in one SQLite file by default, or in
PostgreSQL with --db postgres://….`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(c *cobra.Command, args []string) error {
			if app.output != formatTable && app.output != formatJSON {
				return usagef("invalid output format %q: use table or json", app.output)
			}
			if !c.Flags().Changed("db") {
				app.dsn = app.Getenv("FGWH_DB")
			}
			app.ran = true
			return nil
		},
	}
	root.PersistentFlags().StringVar(&app.dsn, "db", "", "SQLite file or postgres:// URL (env FGWH_DB; default ~/.local/share/fgwh/fgwh.db)")
	root.PersistentFlags().StringVarP(&app.output, "output", "o", formatTable, "output format: {table|json}")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{msg: err.Error(), hint: fmt.Sprintf("run '%s --help' for usage", c.CommandPath())}
	})
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(
		newCmdWebhook(app),
		newCmdEvent(app),
		newCmdDeliver(app),
		newCmdDeliveries(app),
		newCmdVerify(app),
		newCmdListen(app),
		newCmdMigrate(app, nil),
		newCmdVersion(app),
	)
	return root
}

// groupCmd returns a noun command that only holds verbs. Run without a
// verb, or with an unknown one, it is a usage error.
func groupCmd(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return &usageError{msg: fmt.Sprintf("%s needs a subcommand", c.CommandPath()),
				hint: fmt.Sprintf("run '%s --help' to see them", c.CommandPath())}
		},
	}
}
