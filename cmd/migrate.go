package cmd

import (
	"context"
	"errors"
	"strconv"

	"github.com/fgwh/fgwh/store"
	"github.com/spf13/cobra"
)

// MigrateOptions are the inputs of "fgwh migrate".
type MigrateOptions struct {
	App *App
	// To names the target database: a SQLite file path or a postgres:// URL.
	To string
	// Replace empties a target that already holds data.
	Replace bool
}

func newCmdMigrate(app *App, runF func(*MigrateOptions) error) *cobra.Command {
	opts := &MigrateOptions{App: app}
	c := &cobra.Command{
		Use:   "migrate --to <dsn> [--replace]",
		Short: "Copy everything to another database",
		Long: `Copy every webhook (with its token), event, delivery and delivery attempt
from the current database (--db) to another one: a SQLite file or a
postgres:// URL, in either direction. The target is created if needed and
written in one transaction, so it ends up with everything or nothing; the
row counts of both sides are compared before it commits.

A target that already holds webhooks, events or deliveries is refused
unless --replace is given, which empties it first. Stop "fgwh deliver"
before migrating: on SQLite the copy holds the write lock while it reads,
and deliveries in flight are copied in flight (attempted again once their
lease expires in the target).`,
		Example: "  fgwh migrate --to postgres://fgwh@db.internal/fgwh\n" +
			"  fgwh --db postgres://fgwh@db.internal/fgwh migrate --to ./fgwh.db --replace",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if opts.To == "" {
				return usagef("--to is required: a SQLite file path or a postgres:// URL")
			}
			if runF != nil {
				return runF(opts)
			}
			return migrateRun(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.To, "to", "", "the target database: a SQLite file path or a postgres:// URL")
	c.Flags().BoolVar(&opts.Replace, "replace", false, "empty a target that already holds data")
	return c
}

func migrateRun(ctx context.Context, opts *MigrateOptions) error {
	app := opts.App
	src, err := app.Store(ctx)
	if err != nil {
		return err
	}
	dst, err := store.Open(ctx, opts.To)
	if err != nil {
		return err
	}
	defer dst.Close()
	res, err := store.Copy(ctx, src, dst, store.CopyParams{Replace: opts.Replace})
	if errors.Is(err, store.ErrTargetNotEmpty) {
		return withHint(usagef("%v", err), "add --replace to empty it first")
	}
	if err != nil {
		return err
	}
	if app.JSON() {
		return writeJSON(app.IO.Out, struct {
			From          string `json:"from"`
			To            string `json:"to"`
			Webhooks      int    `json:"webhooks"`
			Subscriptions int    `json:"subscriptions"`
			Events        int    `json:"events"`
			Deliveries    int    `json:"deliveries"`
			Attempts      int    `json:"attempts"`
		}{src.Where(), dst.Where(), res.Webhooks, res.Subscriptions, res.Events, res.Deliveries, res.Attempts})
	}
	writeFields(app.IO.Out, [][2]string{
		{"from", src.Where()},
		{"to", dst.Where()},
		{"webhooks", strconv.Itoa(res.Webhooks)},
		{"subscriptions", strconv.Itoa(res.Subscriptions)},
		{"events", strconv.Itoa(res.Events)},
		{"deliveries", strconv.Itoa(res.Deliveries)},
		{"attempts", strconv.Itoa(res.Attempts)},
	})
	return nil
}
