package sign

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers (https://www.standardwebhooks.com).
const (
	// HeaderWebhookID carries the message id: stable across the retries of
	// one delivery, so receivers can use it as an idempotency key.
	HeaderWebhookID = "webhook-id"
	// HeaderWebhookTimestamp carries the attempt time in unix seconds.
	HeaderWebhookTimestamp = "webhook-timestamp"
	// HeaderWebhookSignature carries space-separated "v1,<base64>" signatures.
	HeaderWebhookSignature = "webhook-signature"
)

// SecretPrefix starts a Standard Webhooks symmetric secret; base64 of the
// key bytes follows it.
const SecretPrefix = "whsec_"

// TokenBytes is how many random bytes NewToken puts in a token.
const TokenBytes = 32

// signatureVersion tags HMAC-SHA256 signatures in webhook-signature.
const signatureVersion = "v1"

// NewToken returns a new random secret, "whsec_" followed by the standard
// base64 of TokenBytes bytes from crypto/rand. It serves as the webhook token
// of the fgwh scheme and as the secret of the Standard Webhooks scheme.
func NewToken() (string, error) {
	b := make([]byte, TokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new token: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// SignStandard returns the Standard Webhooks signature "v1,<base64>" of body
// for message msgID sent at ts (whole seconds; the fraction is dropped).
// secret is "whsec_<base64>" or the bare base64; the key is the bytes it
// encodes. msgID must be non-empty and must not contain '.', which would make
// the signed string "msgID.timestamp.body" ambiguous.
func SignStandard(secret, msgID string, ts time.Time, body []byte) (string, error) {
	sig, err := signStandard(secret, msgID, ts, body)
	if err != nil {
		return "", fmt.Errorf("sign standard: %w", err)
	}
	return sig, nil
}

// StandardSignatureHeader returns the webhook-signature value for body signed
// with each of secrets in turn, space-separated. While a secret is rotated,
// pass the new and the previous one: a receiver that holds either accepts
// the message.
func StandardSignatureHeader(secrets []string, msgID string, ts time.Time, body []byte) (string, error) {
	if len(secrets) == 0 {
		return "", errors.New("sign standard: no secrets")
	}
	sigs := make([]string, len(secrets))
	for i, secret := range secrets {
		sig, err := signStandard(secret, msgID, ts, body)
		if err != nil {
			return "", fmt.Errorf("sign standard: secret %d: %w", i, err)
		}
		sigs[i] = sig
	}
	return strings.Join(sigs, " "), nil
}

// SetStandardHeaders sets the three Standard Webhooks headers on h for body,
// sent at ts as message msgID and signed with each of secrets. The header
// names go out in canonical form (Webhook-Id); HTTP header names are
// case-insensitive. On error h is left unchanged.
func SetStandardHeaders(h http.Header, secrets []string, msgID string, ts time.Time, body []byte) error {
	sig, err := StandardSignatureHeader(secrets, msgID, ts, body)
	if err != nil {
		return err
	}
	h.Set(HeaderWebhookID, msgID)
	h.Set(HeaderWebhookTimestamp, unixString(ts))
	h.Set(HeaderWebhookSignature, sig)
	return nil
}

func signStandard(secret, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := standardKey(secret)
	if err != nil {
		return "", err
	}
	if err := checkMsgID(msgID); err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	return signatureVersion + "," + base64.StdEncoding.EncodeToString(standardMAC(mac, msgID, unixString(ts), body)), nil
}

// standardKey returns the key bytes a Standard Webhooks secret encodes. Like
// the reference libraries it accepts the base64 without the whsec_ prefix.
func standardKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return nil, fmt.Errorf("secret is not %s<base64>: %w", SecretPrefix, err)
	}
	if len(key) == 0 {
		return nil, errors.New("secret is empty")
	}
	return key, nil
}

func checkMsgID(msgID string) error {
	if msgID == "" {
		return errors.New("message id is empty")
	}
	if strings.Contains(msgID, ".") {
		return fmt.Errorf("message id %q contains '.'", msgID)
	}
	return nil
}

// standardMAC returns the HMAC of "msgID.timestamp.body", written in parts
// so that the body is not copied.
func standardMAC(mac hash.Hash, msgID, timestamp string, body []byte) []byte {
	mac.Reset()
	mac.Write([]byte(msgID))
	mac.Write([]byte{'.'})
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}

func unixString(ts time.Time) string {
	return strconv.FormatInt(ts.Unix(), 10)
}
