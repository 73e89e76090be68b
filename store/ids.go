package store

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// ID prefixes (SPEC.md, "Identifiers and times").
const (
	WebhookIDPrefix  = "whk_"
	EventIDPrefix    = "whev_"
	DeliveryIDPrefix = "whd_"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// idLen is the number of random base62 characters after the prefix.
const idLen = 16

// newID returns prefix followed by 16 base62 characters from crypto/rand.
// Bytes at or above 248 are rejected so every character is equally likely.
func newID(prefix string) string {
	b := make([]byte, 0, len(prefix)+idLen)
	b = append(b, prefix...)
	var buf [32]byte
	for len(b) < len(prefix)+idLen {
		rand.Read(buf[:])
		for _, c := range buf {
			if c >= 248 {
				continue
			}
			b = append(b, base62[c%62])
			if len(b) == len(prefix)+idLen {
				break
			}
		}
	}
	return string(b)
}

// newIDs returns n ids as newID makes them, reading crypto/rand in large
// blocks: a bulk emit makes hundreds of thousands.
func newIDs(prefix string, n int) []string {
	ids := make([]string, n)
	id := make([]byte, 0, len(prefix)+idLen)
	var buf [4096]byte
	used := len(buf)
	for i := range ids {
		id = append(id[:0], prefix...)
		for len(id) < cap(id) {
			if used == len(buf) {
				rand.Read(buf[:])
				used = 0
			}
			c := buf[used]
			used++
			if c >= 248 {
				continue
			}
			id = append(id, base62[c%62])
		}
		ids[i] = string(id)
	}
	return ids
}

// NewToken returns a webhook token: "whsec_" and the standard base64 of 32
// bytes from crypto/rand, the secret form Standard Webhooks uses.
func NewToken() string {
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		// crypto/rand.Read never fails on supported platforms (Go 1.24+ crashes instead).
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(key[:])
}
