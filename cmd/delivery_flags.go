package cmd

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fgwh/fgwh/store"
)

// parseAge parses an age such as "90m", "36h", "7d" or "1d12h": a Go
// duration, optionally led by whole days (24 h each). It must not be negative.
func parseAge(flag, s string) (time.Duration, error) {
	bad := withHint(usagef("invalid %s %q", flag, s), "use a duration such as 90m, 36h, 7d or 1d12h")
	var days time.Duration
	rest := s
	if i := strings.IndexByte(s, 'd'); i > 0 {
		// 16 bits of days (179 years) cannot overflow a time.Duration.
		n, err := strconv.ParseUint(s[:i], 10, 16)
		if err != nil {
			return 0, bad
		}
		days, rest = time.Duration(n)*24*time.Hour, s[i+1:]
		if rest == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(rest)
	if err != nil || d < 0 || days+d < days {
		return 0, bad
	}
	return days + d, nil
}

// parseSince parses --since: an age counted back from now (see parseAge),
// an RFC 3339 time, or a date (midnight UTC).
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	age, err := parseAge("--since", s)
	if err != nil {
		return time.Time{}, withHint(usagef("invalid --since %q", s),
			"use an age such as 90m, 36h or 7d, an RFC 3339 time such as 2026-01-02T15:04:05Z, or a date such as 2026-01-02")
	}
	return now.Add(-age), nil
}

// checkStatus rejects a status that SPEC.md does not define.
func checkStatus(s string) error {
	for _, v := range store.Statuses {
		if s == v {
			return nil
		}
	}
	return usagef("invalid status %q: use one of %s", s, strings.Join(store.Statuses, ", "))
}

// checkEventType rejects an event type that is not in the catalogue.
func checkEventType(t string) error {
	if _, ok := store.LookupEventType(t); ok {
		return nil
	}
	names := make([]string, len(store.EventTypes))
	for i, et := range store.EventTypes {
		names[i] = et.Name
	}
	return withHint(usagef("unknown event type %q", t), "use one of "+strings.Join(names, ", ")+"; see 'fgwh event types'")
}

// formatCount is "1 delivery" or "3 deliveries".
func formatCount(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
