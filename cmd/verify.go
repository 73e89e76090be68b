package cmd

import (
	"fmt"
	"io"
	"os"

	"github.com/fgwh/fgwh/sign"
	"github.com/spf13/cobra"
)

// VerifyOptions are the inputs of "fgwh verify".
type VerifyOptions struct {
	App       *App
	Token     string
	Signature string
	// File is the body's path; "" or "-" reads stdin.
	File string
}

func newCmdVerify(app *App) *cobra.Command {
	opts := &VerifyOptions{App: app}
	c := &cobra.Command{
		Use:   "verify --token <token> --signature <hex> [<file>]",
		Short: "Check a notification body against its fg-webhook-signature",
		Long: `Verify recomputes the hex HMAC-SHA256 of a body (FILE, or stdin) keyed with
the webhook's token and compares it, in constant time, with the signature
from the fg-webhook-signature header. It exits 0 when they match and 1 when
they do not.`,
		Example: `  fgwh verify --token "$TOKEN" --signature 3f1c… body.json
  curl … | fgwh verify --token "$TOKEN" --signature "$SIG"`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.File = args[0]
			}
			if opts.Token == "" {
				return usagef("--token is required")
			}
			if opts.Signature == "" {
				return usagef("--signature is required")
			}
			return verifyRun(opts)
		},
	}
	c.Flags().StringVar(&opts.Token, "token", "", "the webhook's token (whsec_…)")
	c.Flags().StringVar(&opts.Signature, "signature", "", "the fg-webhook-signature header's value")
	return c
}

func verifyRun(opts *VerifyOptions) error {
	var r io.Reader = opts.App.IO.In
	if opts.File != "" && opts.File != "-" {
		f, err := os.Open(opts.File)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	body, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	valid := sign.Verify(opts.Token, body, opts.Signature)
	if opts.App.JSON() {
		if err := writeJSON(opts.App.IO.Out, map[string]bool{"valid": valid}); err != nil {
			return err
		}
	} else if valid {
		fmt.Fprintln(opts.App.IO.Out, "signature is valid")
	}
	if !valid {
		return &exitError{code: ExitError, msg: "signature does not match the body and token"}
	}
	return nil
}
