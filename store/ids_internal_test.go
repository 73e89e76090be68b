package store

import (
	"regexp"
	"strings"
	"testing"
)

func TestNewIDsIn_AllHeads(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^whd_[0-9A-Za-z]{16}$`)
	ids := newIDsIn(DeliveryIDPrefix, 10_000, 0, idHeads)
	if len(ids) != 10_000 {
		t.Fatalf("%d ids, want 10000", len(ids))
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if !re.MatchString(id) {
			t.Fatalf("id %q is not whd_ and 16 base62 characters", id)
		}
		if seen[id] {
			t.Fatalf("id %q twice", id)
		}
		seen[id] = true
	}
	if got := newIDsIn(EventIDPrefix, 0, 0, idHeads); len(got) != 0 {
		t.Fatalf("newIDsIn(0) = %v", got)
	}
}

// TestNewIDsIn checks that the first two random characters stay in their
// range, cover it evenly, and that the rest is as newID makes it.
func TestNewIDsIn(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^whev_[0-9A-Za-z]{16}$`)
	const lo, hi, n = 1000, 1010, 20_000
	counts := make(map[int]int)
	for _, id := range newIDsIn(EventIDPrefix, n, lo, hi) {
		if !re.MatchString(id) {
			t.Fatalf("id %q is not whev_ and 16 base62 characters", id)
		}
		v := strings.IndexByte(base62, id[5])*62 + strings.IndexByte(base62, id[6])
		if v < lo || v >= hi {
			t.Fatalf("id %q starts with %d, want [%d, %d)", id, v, lo, hi)
		}
		counts[v]++
	}
	for v := lo; v < hi; v++ {
		// 2,000 expected each; 5 standard deviations is about 212.
		if c := counts[v]; c < 1750 || c > 2250 {
			t.Fatalf("%d ids start with %d, want about %d: %v", c, v, n/(hi-lo), counts)
		}
	}
}
