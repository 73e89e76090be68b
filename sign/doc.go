// Package sign computes and verifies the signatures on fgwh webhook
// notifications. It serves both ends: the sender (fgwh deliver) and the
// receivers that want to check that a request really came from fgwh.
//
// The package does no I/O of its own: the only reading it does is of an
// *http.Request body handed to a Verifier, and it never reads the clock
// except through Verifier.NowFunc.
//
// # The fgwh scheme
//
// Every notification carries the header fg-webhook-signature (Header): the
// lower-case hex HMAC-SHA256 of the exact body bytes, keyed with the
// webhook's token as UTF-8 bytes (the whole token, "whsec_" prefix
// included). Sign and Verify implement it; Signer is a faster Sign for a
// sender that signs many bodies with one token.
//
// The signature covers the body only. The body's deliveryAttemptedAt field
// tells when the attempt was made; a receiver that wants protection against
// replayed requests sets Verifier.CheckAttemptTime.
//
// # The Standard Webhooks scheme
//
// Standard Webhooks (https://www.standardwebhooks.com) puts three headers on
// a request:
//
//	webhook-id:        msg_2KWPBgLlAfxdpx2AI54pPJ85f4W
//	webhook-timestamp: 1674087231
//	webhook-signature: v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=
//
// The signature is the standard base64 HMAC-SHA256 of "id.timestamp.body",
// keyed with the bytes that the secret "whsec_<base64>" encodes. The header
// may hold several space-separated signatures, so that a sender can sign with
// a new and an old secret while a secret is rotated. SignStandard,
// StandardSignatureHeader and SetStandardHeaders produce them.
//
// Tokens made by NewToken ("whsec_" and 32 random bytes in base64) work for
// both schemes, so one secret per webhook serves both.
//
// # Receiving
//
// A receiver builds one Verifier with its secret (two while rotating) and
// calls VerifyRequest (fgwh scheme) or VerifyStandardRequest (Standard
// Webhooks) at the top of its handler:
//
//	v := &sign.Verifier{Secrets: []string{token}}
//	http.HandleFunc("POST /hooks", func(w http.ResponseWriter, r *http.Request) {
//		body, err := v.VerifyRequest(r)
//		if err != nil {
//			http.Error(w, err.Error(), http.StatusBadRequest)
//			return
//		}
//		// body holds the verified bytes; r.Body can still be read too.
//	})
//
// Within the tolerance a captured request can still be replayed, and fgwh
// delivers at least once anyway: deduplicate on the body's eventId (fgwh) or
// the webhook-id header (Standard Webhooks).
//
// Verification errors are *VerifyError values whose Reason says what was
// wrong; errors.Is matches them against ErrMissingHeader, ErrBadSignature,
// ErrTimestampTooOld and the other sentinels. Pick the scheme explicitly:
// a receiver that accepted either would let an attacker strip the Standard
// Webhooks headers from a captured request and replay it under the fgwh
// scheme, whose signature does not cover a timestamp.
package sign
