package sign

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
)

// Header is the name of the HTTP header that carries the fgwh signature.
const Header = "fg-webhook-signature"

// Sign returns the lower-case hex HMAC-SHA256 of body keyed with token's UTF-8 bytes.
func Sign(token string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether signature is Sign(token, body). It compares in
// constant time and accepts upper-case hex.
func Verify(token string, body []byte, signature string) bool {
	got, err := hex.DecodeString(signature)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// Signer computes fgwh signatures for one token, reusing its HMAC state
// between bodies: about twice as fast as Sign on notification-sized bodies.
//
// A Signer is not safe for concurrent use; give each goroutine its own.
type Signer struct {
	mac hash.Hash
	sum [sha256.Size]byte
	hex [2 * sha256.Size]byte
}

// NewSigner returns a Signer for token.
func NewSigner(token string) *Signer {
	return &Signer{mac: hmac.New(sha256.New, []byte(token))}
}

// Sign returns the same value as the package-level Sign with s's token.
func (s *Signer) Sign(body []byte) string {
	s.mac.Reset()
	s.mac.Write(body)
	hex.Encode(s.hex[:], s.mac.Sum(s.sum[:0]))
	return string(s.hex[:])
}
