package sign

import "strings"

// Reason says why a message failed verification. Its values are stable
// snake_case strings, fit for logs and metrics.
type Reason string

// The reasons a Verifier gives.
const (
	// ReasonMissingHeader means a required header is absent or empty.
	ReasonMissingHeader Reason = "missing_header"
	// ReasonMalformedHeader means a header is present but cannot be parsed, such
	// as a signature that is not 64 hex digits, a timestamp that is not unix
	// seconds, or a webhook-signature without a "v1," signature.
	ReasonMalformedHeader Reason = "malformed_header"
	// ReasonBadSignature means the signature is well formed but matches none of
	// the secrets; the body or headers were changed, or the secret is wrong.
	ReasonBadSignature Reason = "bad_signature"
	// ReasonTimestampTooOld means the signature matched, but the message was sent
	// longer ago than the tolerance allows; it may be a replay.
	ReasonTimestampTooOld Reason = "timestamp_too_old"
	// ReasonTimestampTooNew means the signature matched, but the message claims to
	// be sent further in the future than the tolerance allows; a clock is off.
	ReasonTimestampTooNew Reason = "timestamp_too_new"
	// ReasonBadSecret means the Verifier's own secrets are unusable (none, an
	// empty one, or a Standard Webhooks secret that is not base64). This is
	// the receiver's configuration error, not the sender's.
	ReasonBadSecret Reason = "bad_secret"
	// ReasonBodyTooLarge means the request body is longer than MaxBodyBytes.
	ReasonBodyTooLarge Reason = "body_too_large"
	// ReasonMalformedBody means CheckAttemptTime is set and the signed body has no
	// RFC 3339 deliveryAttemptedAt field.
	ReasonMalformedBody Reason = "malformed_body"
)

// VerifyError reports why a message failed verification.
type VerifyError struct {
	// Reason classifies the failure.
	Reason Reason
	// Header names the header at fault, if one is.
	Header string
	// Err holds details or the underlying cause; it may be nil.
	Err error
}

// Sentinel errors, one per Reason, for errors.Is: a *VerifyError matches
// the sentinel with the same Reason, whatever its Header and Err.
var (
	ErrMissingHeader   error = &VerifyError{Reason: ReasonMissingHeader}
	ErrMalformedHeader error = &VerifyError{Reason: ReasonMalformedHeader}
	ErrBadSignature    error = &VerifyError{Reason: ReasonBadSignature}
	ErrTimestampTooOld error = &VerifyError{Reason: ReasonTimestampTooOld}
	ErrTimestampTooNew error = &VerifyError{Reason: ReasonTimestampTooNew}
	ErrBadSecret       error = &VerifyError{Reason: ReasonBadSecret}
	ErrBodyTooLarge    error = &VerifyError{Reason: ReasonBodyTooLarge}
	ErrMalformedBody   error = &VerifyError{Reason: ReasonMalformedBody}
)

// Error reads like "webhook-id: missing header", "bad signature" or
// "webhook-timestamp: timestamp too old: 1614265330 is 360s before now,
// tolerance 300s".
func (e *VerifyError) Error() string {
	var b strings.Builder
	if e.Header != "" {
		b.WriteString(e.Header + ": ")
	}
	b.WriteString(strings.ReplaceAll(string(e.Reason), "_", " "))
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Is reports whether target is a *VerifyError with the same Reason.
func (e *VerifyError) Is(target error) bool {
	t, ok := target.(*VerifyError)
	return ok && t.Reason == e.Reason
}

// Unwrap returns e.Err.
func (e *VerifyError) Unwrap() error { return e.Err }
