package sign

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultTolerance is how far a message's time may be from the receiver's
// clock, either way, when Verifier.Tolerance is zero. It is the value the
// Standard Webhooks reference libraries use.
const DefaultTolerance = 5 * time.Minute

// DefaultMaxBodyBytes is how much of a request body a Verifier reads when
// Verifier.MaxBodyBytes is zero. fgwh notifications are far smaller.
const DefaultMaxBodyBytes = 1 << 20

// A Verifier checks signed webhook requests for a receiver. Build one per
// endpoint and share it: its methods do not modify it and are safe for
// concurrent use. The zero value holds no secret and rejects everything.
type Verifier struct {
	// Secrets are the webhook's tokens. A message signed with any one of them
	// verifies: hold the new and the previous token while a token is rotated.
	Secrets []string

	// Tolerance bounds how far the time a message was sent may lie from now,
	// in the past or in the future. Zero or negative means DefaultTolerance.
	// Standard Webhooks timestamps are whole seconds, so for them it is
	// checked to the second.
	Tolerance time.Duration

	// CheckAttemptTime makes the fgwh scheme (Verify, VerifyRequest) also
	// require the body's deliveryAttemptedAt field, an RFC 3339 time, to lie
	// within Tolerance of now. It protects against replays, which the fgwh
	// signature alone does not. The Standard Webhooks scheme always checks
	// its timestamp.
	CheckAttemptTime bool

	// MaxBodyBytes caps how many body bytes VerifyRequest and
	// VerifyStandardRequest read. Zero or negative means DefaultMaxBodyBytes.
	MaxBodyBytes int64

	// NowFunc returns the current time. Nil means time.Now; tests set it.
	NowFunc func() time.Time
}

// Verify checks an fgwh signature (the fg-webhook-signature header's value)
// on body against each of v.Secrets, then, if v.CheckAttemptTime is set, the
// body's deliveryAttemptedAt. It returns nil or a *VerifyError.
func (v *Verifier) Verify(body []byte, signature string) error {
	if err := v.checkSecrets(); err != nil {
		return err
	}
	if signature == "" {
		return &VerifyError{Reason: ReasonMissingHeader, Header: Header}
	}
	got, err := hex.DecodeString(signature)
	if err != nil || len(got) != sha256.Size {
		return &VerifyError{Reason: ReasonMalformedHeader, Header: Header,
			Err: fmt.Errorf("want %d hex digits, got %q", 2*sha256.Size, truncate(signature))}
	}
	matched := false
	for _, token := range v.Secrets {
		mac := hmac.New(sha256.New, []byte(token))
		mac.Write(body)
		// Compare with every secret, not stopping at a match, so the time
		// taken does not tell which secret matched.
		if hmac.Equal(got, mac.Sum(nil)) {
			matched = true
		}
	}
	if !matched {
		return &VerifyError{Reason: ReasonBadSignature, Header: Header}
	}
	if v.CheckAttemptTime {
		return v.checkAttemptTime(body)
	}
	return nil
}

// VerifyRequest verifies an fgwh notification: it reads r's body (at most
// v.MaxBodyBytes) and checks it with Verify against r's fg-webhook-signature
// header. It returns the body, which is also put back in r.Body so that the
// handler can read it again. Verification failures are *VerifyError values;
// an error reading the body is returned as it is.
func (v *Verifier) VerifyRequest(r *http.Request) ([]byte, error) {
	if err := v.checkSecrets(); err != nil {
		return nil, err
	}
	sig := r.Header.Get(Header)
	if sig == "" {
		return nil, &VerifyError{Reason: ReasonMissingHeader, Header: Header}
	}
	body, err := v.readBody(r)
	if err != nil {
		return nil, err
	}
	if err := v.Verify(body, sig); err != nil {
		return nil, err
	}
	return body, nil
}

// VerifyStandard checks a Standard Webhooks message given the values of its
// webhook-id, webhook-timestamp and webhook-signature headers. It accepts the
// message when any "v1," signature in signatures matches any of v.Secrets
// (each "whsec_<base64>" or bare base64) and the timestamp lies within
// v.Tolerance of now. Signatures of other versions are skipped. It returns
// nil or a *VerifyError; a timestamp error means the signature was good.
func (v *Verifier) VerifyStandard(msgID, timestamp, signatures string, body []byte) error {
	keys, err := v.standardKeys()
	if err != nil {
		return err
	}
	if err := checkStandardHeaders(msgID, timestamp, signatures); err != nil {
		return err
	}
	sent, err := parseUnix(timestamp)
	if err != nil {
		return &VerifyError{Reason: ReasonMalformedHeader, Header: HeaderWebhookTimestamp, Err: err}
	}
	sigs := parseStandardSignatures(signatures)
	if len(sigs) == 0 {
		return &VerifyError{Reason: ReasonMalformedHeader, Header: HeaderWebhookSignature,
			Err: fmt.Errorf("no %s signature in %q", signatureVersion, truncate(signatures))}
	}
	matched := false
	for _, key := range keys {
		want := standardMAC(hmac.New(sha256.New, key), msgID, timestamp, body)
		for _, sig := range sigs {
			if hmac.Equal(sig, want) {
				matched = true
			}
		}
	}
	if !matched {
		return &VerifyError{Reason: ReasonBadSignature, Header: HeaderWebhookSignature}
	}
	return v.checkUnix(sent)
}

// VerifyStandardRequest verifies a Standard Webhooks request: it reads r's
// body (at most v.MaxBodyBytes) and checks it with VerifyStandard against r's
// headers. It returns the body, which is also put back in r.Body so that the
// handler can read it again. Verification failures are *VerifyError values;
// an error reading the body is returned as it is.
func (v *Verifier) VerifyStandardRequest(r *http.Request) ([]byte, error) {
	if _, err := v.standardKeys(); err != nil {
		return nil, err
	}
	msgID := r.Header.Get(HeaderWebhookID)
	timestamp := r.Header.Get(HeaderWebhookTimestamp)
	// The signature list may arrive split over several header lines.
	signatures := strings.Join(r.Header.Values(HeaderWebhookSignature), " ")
	if err := checkStandardHeaders(msgID, timestamp, signatures); err != nil {
		return nil, err
	}
	body, err := v.readBody(r)
	if err != nil {
		return nil, err
	}
	if err := v.VerifyStandard(msgID, timestamp, signatures, body); err != nil {
		return nil, err
	}
	return body, nil
}

func (v *Verifier) now() time.Time {
	if v.NowFunc != nil {
		return v.NowFunc()
	}
	return time.Now()
}

func (v *Verifier) tolerance() time.Duration {
	if v.Tolerance <= 0 {
		return DefaultTolerance
	}
	return v.Tolerance
}

func (v *Verifier) maxBodyBytes() int64 {
	if v.MaxBodyBytes <= 0 {
		return DefaultMaxBodyBytes
	}
	return v.MaxBodyBytes
}

// checkSecrets rejects a Verifier without secrets, or with an empty one: an
// HMAC keyed with nothing is one anybody can compute.
func (v *Verifier) checkSecrets() error {
	if len(v.Secrets) == 0 {
		return &VerifyError{Reason: ReasonBadSecret, Err: errors.New("no secrets")}
	}
	for i, s := range v.Secrets {
		if s == "" {
			return &VerifyError{Reason: ReasonBadSecret, Err: fmt.Errorf("secret %d is empty", i)}
		}
	}
	return nil
}

func (v *Verifier) standardKeys() ([][]byte, error) {
	if err := v.checkSecrets(); err != nil {
		return nil, err
	}
	keys := make([][]byte, len(v.Secrets))
	for i, s := range v.Secrets {
		key, err := standardKey(s)
		if err != nil {
			return nil, &VerifyError{Reason: ReasonBadSecret, Err: fmt.Errorf("secret %d: %w", i, err)}
		}
		keys[i] = key
	}
	return keys, nil
}

// readBody reads r.Body up to the cap and leaves r.Body readable from its
// first byte whatever happens, so that the handler sees the whole body.
func (v *Verifier) readBody(r *http.Request) ([]byte, error) {
	limit := v.maxBodyBytes()
	tooLarge := &VerifyError{Reason: ReasonBodyTooLarge, Err: fmt.Errorf("more than %d bytes", limit)}
	if r.Body == nil || r.Body == http.NoBody {
		return []byte{}, nil
	}
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	orig := r.Body
	// Read one byte past the cap to tell "exactly at the cap" from "over it".
	body, err := io.ReadAll(io.LimitReader(orig, min(limit, math.MaxInt64-1)+1))
	if err != nil || int64(len(body)) > limit {
		r.Body = readCloser{io.MultiReader(bytes.NewReader(body), orig), orig}
		if err != nil {
			return nil, fmt.Errorf("read body: %w", err)
		}
		return nil, tooLarge
	}
	r.Body = readCloser{bytes.NewReader(body), orig}
	return body, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// checkAttemptTime checks the deliveryAttemptedAt field of an fgwh
// notification body. It runs only after the signature matched, so it never
// parses JSON from an unauthenticated sender.
func (v *Verifier) checkAttemptTime(body []byte) error {
	var n struct {
		DeliveryAttemptedAt string `json:"deliveryAttemptedAt"`
	}
	if err := json.Unmarshal(body, &n); err != nil {
		return &VerifyError{Reason: ReasonMalformedBody, Err: err}
	}
	if n.DeliveryAttemptedAt == "" {
		return &VerifyError{Reason: ReasonMalformedBody, Err: errors.New("no deliveryAttemptedAt")}
	}
	at, err := time.Parse(time.RFC3339, n.DeliveryAttemptedAt)
	if err != nil {
		return &VerifyError{Reason: ReasonMalformedBody, Err: fmt.Errorf("deliveryAttemptedAt: %w", err)}
	}
	now, tol := v.now(), v.tolerance()
	switch d := now.Sub(at); {
	case d > tol:
		return &VerifyError{Reason: ReasonTimestampTooOld,
			Err: fmt.Errorf("deliveryAttemptedAt %s is %s before now, tolerance %s", n.DeliveryAttemptedAt, d, tol)}
	case d < -tol:
		return &VerifyError{Reason: ReasonTimestampTooNew,
			Err: fmt.Errorf("deliveryAttemptedAt %s is %s after now, tolerance %s", n.DeliveryAttemptedAt, -d, tol)}
	}
	return nil
}

// checkUnix checks a webhook-timestamp against the clock, to the second.
// It works in unsigned differences so that no timestamp can overflow it.
func (v *Verifier) checkUnix(sent int64) error {
	now := v.now().Unix()
	tol := uint64(v.tolerance() / time.Second)
	if sent < now {
		if d := uint64(now) - uint64(sent); d > tol {
			return &VerifyError{Reason: ReasonTimestampTooOld, Header: HeaderWebhookTimestamp,
				Err: fmt.Errorf("%d is %ds before now, tolerance %ds", sent, d, tol)}
		}
	} else if d := uint64(sent) - uint64(now); d > tol {
		return &VerifyError{Reason: ReasonTimestampTooNew, Header: HeaderWebhookTimestamp,
			Err: fmt.Errorf("%d is %ds after now, tolerance %ds", sent, d, tol)}
	}
	return nil
}

func checkStandardHeaders(msgID, timestamp, signatures string) error {
	for _, h := range []struct{ name, value string }{
		{HeaderWebhookID, msgID},
		{HeaderWebhookTimestamp, timestamp},
		{HeaderWebhookSignature, signatures},
	} {
		if h.value == "" {
			return &VerifyError{Reason: ReasonMissingHeader, Header: h.name}
		}
	}
	if err := checkMsgID(msgID); err != nil {
		return &VerifyError{Reason: ReasonMalformedHeader, Header: HeaderWebhookID, Err: err}
	}
	return nil
}

// parseUnix parses unix seconds written the way senders write them: decimal
// digits without sign, spaces or leading zeros. The signature covers the
// header's text, so only one spelling of a time may verify.
func parseUnix(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, fmt.Errorf("%q is not unix seconds", truncate(s))
	}
	return n, nil
}

// parseStandardSignatures returns the decoded "v1," signatures of a
// webhook-signature value, skipping other versions and malformed entries.
func parseStandardSignatures(header string) [][]byte {
	var sigs [][]byte
	for _, entry := range strings.Fields(header) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != signatureVersion {
			continue
		}
		// Strict decoding: one MAC has exactly one accepted spelling.
		b, err := base64.StdEncoding.Strict().DecodeString(sig)
		if err != nil || len(b) != sha256.Size {
			continue
		}
		sigs = append(sigs, b)
	}
	return sigs
}

// truncate shortens attacker-supplied text quoted in an error.
func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
