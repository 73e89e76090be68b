package store

import (
	"regexp"
	"testing"
)

func TestNewIDs(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^whd_[0-9A-Za-z]{16}$`)
	ids := newIDs(DeliveryIDPrefix, 10_000)
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
	if got := newIDs(EventIDPrefix, 0); len(got) != 0 {
		t.Fatalf("newIDs(0) = %v", got)
	}
}
