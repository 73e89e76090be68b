package cmd

import (
	"slices"

	"github.com/fgwh/fgwh/store"
)

// signatureSchemes are the values of --signature-scheme, in help order.
var signatureSchemes = []string{store.SchemeFGWH, store.SchemeStandard, store.SchemeBoth}

// signatureSchemeUsage is --signature-scheme's help text.
const signatureSchemeUsage = "how notifications are signed: {fgwh|standard|both} (fgwh: fg-webhook-signature; standard: Standard Webhooks headers; both)"

// validateSignatureScheme accepts the values of --signature-scheme.
func validateSignatureScheme(s string) error {
	if slices.Contains(signatureSchemes, s) {
		return nil
	}
	return withHint(usagef("invalid --signature-scheme %q", s), "use fgwh, standard or both")
}
