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

// idHeads is the number of values of an id's first two random characters.
const idHeads = 62 * 62

// newIDsIn returns n ids as newID makes them, reading crypto/rand in large
// blocks (a bulk emit makes hundreds of thousands), with the first two
// random characters, read as the number 62×first + second, drawn uniformly
// from [lo, hi) (0 <= lo < hi <= idHeads). The other 14 characters are
// uniformly random; with lo = 0 and hi = idHeads, all 16 are.
func newIDsIn(prefix string, n, lo, hi int) []string {
	ids := make([]string, n)
	id := make([]byte, 0, len(prefix)+idLen)
	r := randBytes{used: len(randBytes{}.buf)}
	for i := range ids {
		id = append(id[:0], prefix...)
		if lo != 0 || hi != idHeads {
			v := lo + r.intn(hi-lo)
			id = append(id, base62[v/62], base62[v%62])
		}
		for len(id) < cap(id) {
			c := r.byte()
			if c >= 248 {
				continue
			}
			id = append(id, base62[c%62])
		}
		ids[i] = string(id)
	}
	return ids
}

// randBytes hands out bytes from crypto/rand, read a block at a time.
type randBytes struct {
	buf  [4096]byte
	used int
}

func (r *randBytes) byte() byte {
	if r.used == len(r.buf) {
		rand.Read(r.buf[:])
		r.used = 0
	}
	r.used++
	return r.buf[r.used-1]
}

// intn returns a uniformly random int in [0, n), 0 < n <= 1<<16.
func (r *randBytes) intn(n int) int {
	limit := 1 << 16 / n * n // below it, every remainder is equally likely
	for {
		v := int(r.byte())<<8 | int(r.byte())
		if v < limit {
			return v % n
		}
	}
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
